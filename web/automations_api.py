"""Automations over HTTP: CRUD with per-field errors, enable/snooze/run, traces, types, webhooks."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from hub.automations.catalog import COMMON_PLACEHOLDERS
from hub.automations.engine import FileOwnedError
from hub.automations.recipes import CAMERA, NOTIFIER, RECIPES
from hub.config.issues import Issue
from hub.config.loading import ConfigError
from hub.core import Hub
from hub.events import Context
from web import access
from web.body import parse_json, read_body, read_json_object
from web.keys import HUB_KEY
from web.query import int_param

routes = web.RouteTableDef()

MAX_TRACES = 1000
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_SNOOZE_SECONDS = 366 * 86400.0


def _hub(request: web.Request) -> Hub:
    return request.app[HUB_KEY]


def _invalid(issues: list[Issue]) -> web.Response:
    return web.json_response({"errors": [issue.as_dict() for issue in issues]}, status=422)


def _automation_id(request: web.Request) -> str:
    automation_id = request.match_info["automation_id"]
    if automation_id not in _hub(request).automations.automations:
        raise web.HTTPNotFound(text=f"no automation '{automation_id}'")
    return automation_id


def _view(hub: Hub, automation_id: str) -> dict[str, Any]:
    view = hub.automations.automations[automation_id].as_dict()
    view["errors"] = [{**e, "message": hub.redactor(e["message"])} for e in view["errors"]]
    return view


@routes.get("/api/automations")
@access.admin
async def list_automations(request: web.Request) -> web.Response:
    """Every automation with its state (on/off/snoozed/invalid), errors and config."""
    hub = _hub(request)
    return web.json_response(
        {
            "automations": [
                _view(hub, automation_id) for automation_id in hub.automations.automations
            ]
        }
    )


@routes.get("/api/automations/types")
@access.admin
async def automation_types(request: web.Request) -> web.Response:
    """Every trigger, condition and action type with its JSON schema (for the panel's forms),
    and the placeholders every run fills whatever its trigger."""
    return web.json_response(
        {
            "types": _hub(request).automations.types_info(),
            "common_placeholders": COMMON_PLACEHOLDERS,
        }
    )


HOUSE_MODES = ("home", "away", "night", "vacation")
"""Modes offered in the pickers; any 1-32 lowercase letters, digits or _ is allowed."""


def _detector_labels(hub: Hub) -> dict[str, list[str]]:
    """Per camera, every label its object detector knows (when the detector says)."""
    found: dict[str, list[str]] = {}
    for loop in hub.object_loops:
        # Cameras that detect objects themselves have no detector of the hub's.
        labels = getattr(getattr(loop, "detector", None), "labels", None)
        if isinstance(labels, list | tuple):
            found[loop.runtime.camera_id] = [str(label) for label in labels]
    return found


@routes.get("/api/automations/choices")
@access.admin
async def automation_choices(request: web.Request) -> web.Response:
    """What the editor's pickers offer: cameras with their zones, the labels they make events
    for and those their detector knows; notifiers; house modes; ready-made recipes."""
    hub = _hub(request)
    known = _detector_labels(hub)
    cameras = [
        {
            "id": camera_id,
            "name": runtime.config.name or camera_id,
            "zones": sorted(runtime.config.zones),
            "labels": list(runtime.config.objects.labels),
            "detector_labels": known.get(camera_id, []),
        }
        for camera_id, runtime in hub.cameras.items()
    ]
    notifiers = [
        {"id": notifier_id, "type": entry.type, "running": notifier_id in hub.notifiers}
        for notifier_id, entry in hub.config.notifiers.items()
    ]
    modes = list(dict.fromkeys([*HOUSE_MODES, hub.mode]))
    return web.json_response(
        {
            "cameras": cameras,
            "notifiers": notifiers,
            "modes": modes,
            "recipes": [recipe.as_dict() for recipe in RECIPES],
            "recipe_slots": {"camera": CAMERA, "notifier": NOTIFIER},
            "defined_in": hub.automations.file_name,
        }
    )


@routes.post("/api/automations/validate")
@access.admin
async def validate_automation(request: web.Request) -> web.Response:
    """Check an automation without saving it: `{"errors": [...]}` (empty when fine)."""
    data = await read_json_object(request)
    issues = _hub(request).automations.validate(data)
    return web.json_response({"errors": [issue.as_dict() for issue in issues]})


@routes.post("/api/automations")
@access.admin
async def create_automation(request: web.Request) -> web.Response:
    """Create an automation; 201, or 422 with `errors: [{path, message}]`; 409 if the id exists."""
    hub = _hub(request)
    data = await read_json_object(request)
    if isinstance(data.get("id"), str) and data["id"] in hub.automations.automations:
        raise web.HTTPConflict(text=f"an automation '{data['id']}' exists already")
    issues = await hub.automations.async_save(data, create=True)
    if issues:
        return _invalid(issues)
    await access.audit(request, "automation.create", data["id"])
    return web.json_response(_view(hub, data["id"]), status=201)


@routes.post("/api/automations/reload")
@access.admin
async def reload_automations(request: web.Request) -> web.Response:
    """Read the config file's `automations:` again; `{"added", "changed", "removed",
    "taken_over"}`, or 422 with the file's problems (nothing changed then)."""
    hub = _hub(request)
    try:
        report = await hub.automations.async_reload_file()
    except ConfigError as exc:
        errors = [{"path": i.path, "message": hub.redactor(str(i))} for i in exc.issues]
        return web.json_response({"errors": errors}, status=422)
    await access.audit(request, "automation.reload", hub.automations.file_name)
    return web.json_response(
        {
            "added": report.added,
            "changed": report.changed,
            "removed": report.removed,
            "taken_over": report.taken_over,
            "summary": report.summary(),
        }
    )


@routes.get("/api/automations/{automation_id}")
@access.admin
async def get_automation(request: web.Request) -> web.Response:
    """One automation."""
    return web.json_response(_view(_hub(request), _automation_id(request)))


@routes.put("/api/automations/{automation_id}")
@access.admin
async def update_automation(request: web.Request) -> web.Response:
    """Replace an automation's config; applies at once (running runs are stopped)."""
    hub = _hub(request)
    automation_id = _automation_id(request)
    if hub.automations.automations[automation_id].source == "file":
        raise web.HTTPConflict(text=hub.automations.file_owned_message())
    data = await read_json_object(request)
    data.setdefault("id", automation_id)
    if data["id"] != automation_id:
        return _invalid([Issue("id", "cannot change an automation's id (create a new one)")])
    issues = await hub.automations.async_save(data, create=False)
    if issues:
        return _invalid(issues)
    await access.audit(request, "automation.update", automation_id)
    return web.json_response(_view(hub, automation_id))


@routes.delete("/api/automations/{automation_id}")
@access.admin
async def delete_automation(request: web.Request) -> web.Response:
    """Delete an automation with its traces."""
    automation_id = _automation_id(request)
    try:
        await _hub(request).automations.async_delete(automation_id)
    except FileOwnedError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    await access.audit(request, "automation.delete", automation_id)
    return web.json_response({"deleted": automation_id})


async def _set_enabled(request: web.Request, enabled: bool) -> web.Response:
    hub = _hub(request)
    automation_id = _automation_id(request)
    await hub.automations.async_set_enabled(automation_id, enabled)
    await access.audit(
        request, "automation.enable" if enabled else "automation.disable", automation_id
    )
    return web.json_response(_view(hub, automation_id))


@routes.post("/api/automations/{automation_id}/enable")
@access.admin
async def enable_automation(request: web.Request) -> web.Response:
    """Turn an automation on."""
    return await _set_enabled(request, True)


@routes.post("/api/automations/{automation_id}/disable")
@access.admin
async def disable_automation(request: web.Request) -> web.Response:
    """Turn an automation off (its running runs stop)."""
    return await _set_enabled(request, False)


@routes.post("/api/automations/{automation_id}/snooze")
@access.admin
async def snooze_automation(request: web.Request) -> web.Response:
    """Ignore triggers until `until` (epoch seconds) or for `seconds`; `until: null` wakes it."""
    hub = _hub(request)
    automation_id = _automation_id(request)
    data = await read_json_object(request)
    now = hub.automations.clock.now()
    until: Any
    if "seconds" in data:
        seconds = data["seconds"]
        if not isinstance(seconds, int | float) or not 0 < seconds <= MAX_SNOOZE_SECONDS:
            return _invalid(
                [Issue("seconds", f"must be a number in (0, {MAX_SNOOZE_SECONDS:.0f}]")]
            )
        until = now + float(seconds)
    elif "until" in data:
        until = data["until"]
        if until is not None and (not isinstance(until, int | float) or isinstance(until, bool)):
            return _invalid([Issue("until", "must be epoch seconds or null")])
    else:
        return _invalid([Issue("", "give `until` (epoch seconds, or null) or `seconds`")])
    await hub.automations.async_snooze(automation_id, float(until) if until is not None else None)
    await access.audit(request, "automation.snooze", automation_id, until=until)
    return web.json_response(_view(hub, automation_id))


@routes.post("/api/automations/{automation_id}/run")
@access.admin
async def run_automation(request: web.Request) -> web.Response:
    """Run now: `{"skip_conditions": bool, "variables": {...}}`; 202 with the trace id."""
    hub = _hub(request)
    automation_id = _automation_id(request)
    data = await read_json_object(request) if request.can_read_body else {}
    skip = data.get("skip_conditions", False)
    variables = data.get("variables", {})
    if not isinstance(skip, bool):
        return _invalid([Issue("skip_conditions", "must be true or false")])
    if not isinstance(variables, dict):
        return _invalid([Issue("variables", "must be a mapping")])
    runtime = hub.automations.automations[automation_id]
    if runtime.built is None:
        raise web.HTTPConflict(text="the automation is invalid; fix it first")
    who = access.principal(request)
    context = Context(user_id=who.name if who else None)
    trace = hub.automations.async_run(automation_id, variables, skip, context)
    await access.audit(request, "automation.run", automation_id, skip_conditions=skip)
    if trace is None:
        raise web.HTTPConflict(text="not started: the run mode refused it (already running?)")
    return web.json_response({"trace_id": trace.id, "state": trace.state}, status=202)


@routes.get("/api/automations/{automation_id}/traces")
@access.admin
async def automation_traces(request: web.Request) -> web.Response:
    """Traces newest first (`?limit=`, default 50)."""
    hub = _hub(request)
    automation_id = _automation_id(request)
    limit = int_param(request, "limit", 50, 1, MAX_TRACES)
    traces = await hub.automations.async_traces(automation_id, limit)
    return web.json_response({"traces": traces})


@routes.post("/api/webhook/{webhook_id}")
@routes.put("/api/webhook/{webhook_id}")
@access.public
async def webhook(request: web.Request) -> web.Response:
    """Fire the `webhook` trigger whose secret id this is (JSON, form or text body)."""
    hub = _hub(request)
    raw = await read_body(request, MAX_WEBHOOK_BYTES)
    payload: Any = raw.decode("utf-8", errors="replace")
    if request.content_type == "application/json" and raw:
        payload = parse_json(raw)
    if not hub.automations.call_webhook(request.match_info["webhook_id"], payload):
        # Same answer for a wrong id as for no trigger: ids are not to be guessed one by one.
        raise web.HTTPNotFound(text="no such webhook")
    return web.json_response({"ok": True, "time": time.time()})
