"""Routes the panel needs beyond the core API: house mode, a camera's zones, storage use, YAML."""

from __future__ import annotations

import functools
import json
from typing import Any

import yaml
from aiohttp import web

from web import access
from web.body import read_json_object
from web.keys import HUB_KEY

routes = web.RouteTableDef()
MAX_MODE_LENGTH = 32
MAX_YAML_CHARS = 64 * 1024


@routes.get("/api/mode")
@access.viewer
async def get_mode(request: web.Request) -> web.Response:
    """The house mode now (`home`, `away`, `night`, ...)."""
    return web.json_response({"mode": request.app[HUB_KEY].mode})


@routes.put("/api/mode")
@access.admin
async def set_mode(request: web.Request) -> web.Response:
    """`{"mode": "away"}`: switch the house mode (automations can react to `mode.house`)."""
    body = await read_json_object(request)
    mode = body.get("mode")
    if not isinstance(mode, str) or not mode.strip() or len(mode) > MAX_MODE_LENGTH:
        raise web.HTTPBadRequest(text=f"mode must be a word of at most {MAX_MODE_LENGTH} letters")
    hub = request.app[HUB_KEY]
    previous = hub.mode
    hub.async_set_mode(mode.strip())
    await access.audit(request, "mode.set", mode.strip(), previous=previous)
    return web.json_response({"mode": hub.mode})


@routes.get("/api/cameras/{camera}/zones")
@access.viewer
async def camera_zones(request: web.Request) -> web.Response:
    """A camera's zones and masks in use: the config file's, or the panel's saved edits over it
    (points 0..1 from the top left)."""
    config = access.camera_runtime(request, request.match_info["camera"]).config
    return web.json_response(
        {
            "zones": {
                name: {"points": [list(p) for p in zone.points], "labels": list(zone.labels)}
                for name, zone in config.zones.items()
            },
            "masks": [[list(p) for p in polygon] for polygon in config.masks],
            "privacy_masks": [[list(p) for p in polygon] for polygon in config.privacy_masks],
        }
    )


@routes.get("/api/storage")
@access.admin
async def storage_use(request: web.Request) -> web.Response:
    """Footage per camera, free space and the retention rules that apply."""
    hub = request.app[HUB_KEY]
    rows = await hub.recordings.async_use_by_camera()
    storage = hub.config.storage
    retention = {
        "max_days": storage.max_days,
        "max_gb": storage.max_gb,
        "min_free_gb": storage.min_free_gb,
        "cameras": {
            camera_id: {
                "mode": runtime.config.record.mode,
                "max_days": runtime.config.record.max_days,
                "max_gb": runtime.config.record.max_gb,
            }
            for camera_id, runtime in hub.cameras.items()
        },
    }
    return web.json_response(
        {
            "cameras": rows,
            "total_bytes": sum(int(r["bytes"]) for r in rows),
            "free_bytes": hub.footage.free_bytes(),
            "paused": bool(hub.retention.paused),
            "retention": retention,
        }
    )


class _YamlRefused(ValueError):
    """YAML the panel will not take (syntax, anchors), with a message that says where."""


def _line_map(node: yaml.Node, path: str, lines: dict[str, int], seen: set[int]) -> None:
    if id(node) in seen:
        # An alias: shared subtrees would be copied out once per use (a "billion laughs").
        raise _YamlRefused(
            f"line {node.start_mark.line + 1}: anchors and aliases are not used here"
        )
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            lines[child] = key.start_mark.line + 1
            _line_map(value, child, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = f"{path}.{index}" if path else str(index)
            lines[child] = item.start_mark.line + 1
            _line_map(item, child, lines, seen)


def parse_with_lines(text: str) -> tuple[Any, dict[str, int]]:
    """Plain YAML (no tags, no anchors, no `${ENV}` expansion) and the line of each key path."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines: dict[str, int] = {}
        if node is not None:
            _line_map(node, "", lines, set())
        return yaml.safe_load(text), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise _YamlRefused(f"{where}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise _YamlRefused(str(exc)) from None


@routes.post("/api/yaml/parse")
@access.admin
async def parse_yaml_text(request: web.Request) -> web.Response:
    """`{"text": "..."}` -> `{"data", "lines"}`: the panel's YAML tab, checked like any body.

    Nothing is expanded: the server's environment and secrets never reach what a user
    typed, so they cannot be read back through an automation.
    """
    body = await read_json_object(request)
    text = body.get("text")
    if not isinstance(text, str) or len(text) > MAX_YAML_CHARS:
        raise web.HTTPBadRequest(text=f"'text' must be YAML of at most {MAX_YAML_CHARS} characters")
    try:
        data, lines = parse_with_lines(text)
    except _YamlRefused as exc:
        return web.json_response({"errors": [{"path": "yaml", "message": str(exc)}]}, status=422)
    # Dates and times come back as text, like the config loader's strings would be checked.
    dumps = functools.partial(json.dumps, default=str)
    return web.json_response({"data": data, "lines": lines}, dumps=dumps)
