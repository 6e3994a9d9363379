"""Discovery routes: devices found on the LAN, and adding one as a camera with its password."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.cameras.discovery import configured_hosts, device_view
from hub.cameras.onboarding import OnboardingError, async_add_discovered
from hub.security.redact import redact_url
from web import access
from web.body import read_json_object
from web.errors import http_error
from web.keys import HUB_KEY

routes = web.RouteTableDef()
MAX_SCAN_SECONDS = 30


@routes.get("/api/discovery")
@access.admin
async def discovery(request: web.Request) -> web.Response:
    """Devices known now; `?scan=SECONDS` scans first (at most 30 s). Each says whether it is
    already a configured camera (`configured`, `camera`)."""
    hub = request.app[HUB_KEY]
    scan = request.query.get("scan")
    if scan is not None:
        try:
            seconds = float(scan)
        except ValueError:
            raise web.HTTPBadRequest(text="scan must be a number of seconds") from None
        if not 0 < seconds <= MAX_SCAN_SECONDS:
            raise web.HTTPBadRequest(text="scan must be between 0 and 30 seconds")
        devices = await hub.async_discover(seconds)
    else:
        devices = sorted(hub.discovered.values(), key=lambda d: (d.host, d.name))
    hosts = configured_hosts(hub)
    return web.json_response({"devices": [device_view(d, hosts) for d in devices]})


def _optional_string(body: dict[str, Any], name: str, max_length: int = 256) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise web.HTTPBadRequest(text=f"'{name}' must be a string of at most {max_length}")
    return value


@routes.post("/api/discovery/{device_id}/add")
@access.admin
async def add_device(request: web.Request) -> web.Response:
    """Probe a discovered device with `{username, password}` (+ optional `camera_id`, `name`,
    `motion_source`, `record_mode`), store it with the password as a secret, start it now."""
    hub = request.app[HUB_KEY]
    device_id = request.match_info["device_id"]
    body = await read_json_object(request)
    username = _optional_string(body, "username") or ""
    password = _optional_string(body, "password") or ""
    motion_source = _optional_string(body, "motion_source")
    if motion_source not in (None, "hub", "camera"):
        raise web.HTTPBadRequest(text="'motion_source' must be hub or camera")
    record_mode = _optional_string(body, "record_mode")
    if record_mode not in (None, "off", "events", "continuous"):
        raise web.HTTPBadRequest(text="'record_mode' must be off, events or continuous")
    try:
        added = await async_add_discovered(
            hub,
            device_id,
            username,
            password,
            camera_id=_optional_string(body, "camera_id", 64),
            name=_optional_string(body, "name"),
            motion_source=motion_source,
            record_mode=record_mode,
        )
    except OnboardingError as exc:
        await access.audit(request, "camera.add_failed", device_id, reason=str(exc))
        raise http_error(exc) from None
    await access.audit(request, "camera.add", added.camera_id, device=device_id)
    runtime = hub.cameras[added.camera_id]
    device = _probe_view(added.probe.as_dict())
    device["notes"] = [hub.redactor(note) for note in added.probe.notes]
    return web.json_response({"camera": runtime.as_dict(hub), "device": device}, status=201)


def _probe_view(probe: dict[str, Any]) -> dict[str, Any]:
    """The probe without stream URIs' credentials (the device gives none, but be sure)."""
    for profile in probe["profiles"]:
        for key in ("stream_uri", "snapshot_uri"):
            if profile.get(key):
                profile[key] = redact_url(profile[key])
    for key in ("main", "sub"):
        if probe.get(key):
            probe[key] = {**probe[key]}
            for uri in ("stream_uri", "snapshot_uri"):
                if probe[key].get(uri):
                    probe[key][uri] = redact_url(probe[key][uri])
    return probe
