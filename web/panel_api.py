"""Routes the panel needs beyond the core API: house mode, a camera's zones, storage use."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from web import access
from web.body import read_json_object
from web.keys import HUB_KEY

routes = web.RouteTableDef()
MAX_MODE_LENGTH = 32


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
    """A camera's zones and motion masks as configured (points 0..1 from the top left)."""
    hub = request.app[HUB_KEY]
    camera_id = request.match_info["camera"]
    runtime = hub.cameras.cameras.get(camera_id)
    if runtime is None:
        raise web.HTTPNotFound(text=f"no camera '{camera_id}'")
    access.require_camera(request, camera_id)
    config = runtime.config
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


def _storage_rows(db: Any) -> list[dict[str, Any]]:
    sql = (
        "SELECT camera, COUNT(*) AS segments, COALESCE(SUM(bytes), 0) AS bytes, "
        'MIN(start) AS oldest, MAX(COALESCE("end", start)) AS newest '
        "FROM recordings GROUP BY camera ORDER BY camera"
    )
    return [dict(row) for row in db.query(sql)]


@routes.get("/api/storage")
@access.admin
async def storage_use(request: web.Request) -> web.Response:
    """Footage per camera, free space and the retention rules that apply."""
    hub = request.app[HUB_KEY]
    rows = await hub.storage.async_read(_storage_rows)
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
            for camera_id, runtime in hub.cameras.cameras.items()
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
