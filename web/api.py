"""Core JSON API routes: health, cameras, plugins, metrics (discovery: web/discovery_api.py)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from hub.core import Hub
from web import access
from web.keys import HUB_KEY

routes = web.RouteTableDef()


def camhub_version() -> str:
    """The installed distribution's version."""
    try:
        return version("camhub")
    except PackageNotFoundError:
        return "0+unknown"


@routes.get("/api/health")
@access.public
async def health(request: web.Request) -> web.Response:
    """Liveness for anyone (`status` only); signed in, the version and uptime with the
    states of the cameras one may see; for admins also failed plugins, problems and the
    bus counters."""
    hub = request.app[HUB_KEY]
    who = access.principal(request)
    data = hub.health()
    if who is None:
        # Anyone on the network may ask: whether it is up, nothing about the home.
        return web.json_response({"status": data["status"]})
    data["version"] = camhub_version()
    if who.role == "admin":
        return web.json_response(data)
    cameras = {
        entity: state
        for entity, state in data["cameras"].items()
        if who.can_view(entity.split(".", 1)[1])
    }
    return web.json_response(
        {
            "status": data["status"],
            "uptime": data["uptime"],
            "version": data["version"],
            "cameras": cameras,
        }
    )


@routes.get("/api/cameras")
@access.viewer
async def cameras(request: web.Request) -> web.Response:
    """Configured cameras (a viewer's granted ones) with their state; URLs without passwords."""
    hub = request.app[HUB_KEY]
    visible = [c for c in hub.cameras.values() if access.can_view(request, c.camera_id)]
    return web.json_response({"cameras": [c.as_dict(hub) for c in visible]})


@routes.get("/api/plugins")
@access.admin
async def plugins(request: web.Request) -> web.Response:
    """Every plugin seen: name, version, source, hooks and state."""
    hub = request.app[HUB_KEY]
    return web.json_response({"plugins": [p.as_dict() for p in hub.plugins.list_plugins()]})


@routes.get("/metrics")
@access.admin
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: bus traffic and drops, plugin failures, camera states."""
    hub = request.app[HUB_KEY]
    lines = [
        "# HELP camhub_bus_published_total Events published on the bus.",
        "# TYPE camhub_bus_published_total counter",
        f"camhub_bus_published_total {hub.bus.published}",
        "# HELP camhub_bus_dropped_total Events dropped because a subscriber was slow.",
        "# TYPE camhub_bus_dropped_total counter",
    ]
    lines += [
        f'camhub_bus_dropped_total{{subscriber="{s.name}"}} {s.dropped}' for s in hub.bus.stats()
    ]
    lines += [
        "# HELP camhub_plugin_failures_total Exceptions raised by a plugin's hooks.",
        "# TYPE camhub_plugin_failures_total counter",
    ]
    lines += [
        f'camhub_plugin_failures_total{{plugin="{p.name}",state="{p.state}"}} {p.failures}'
        for p in hub.plugins.list_plugins()
    ]
    lines += [
        "# HELP camhub_camera_online 1 when the camera delivers video.",
        "# TYPE camhub_camera_online gauge",
    ]
    lines += [
        f'camhub_camera_online{{camera="{s.entity_id.split(".", 1)[1]}"}} '
        f"{int(s.state == 'online')}"
        for s in hub.states.all("camera")
    ]
    lines += decoding_metrics(hub)
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


DECODE_MODES = ("off", "idle", "full")


def decoding_metrics(hub: Hub) -> list[str]:
    """Each camera's decode mode (one gauge per mode, 1 for the current one), decoded frames
    per second, frames decoded and wake-ups (adaptive decoding)."""
    cameras = list(hub.cameras.values())
    lines = [
        "# HELP camhub_camera_decode_mode 1 for the camera's decode mode: off (nothing "
        "decoded), idle (keyframes only), full (every frame).",
        "# TYPE camhub_camera_decode_mode gauge",
    ]
    lines += [
        f'camhub_camera_decode_mode{{camera="{c.camera_id}",mode="{mode}"}} '
        f"{int(c.decode.mode == mode)}"
        for c in cameras
        for mode in DECODE_MODES
    ]
    lines += [
        "# HELP camhub_camera_decoded_fps Frames decoded per second, last 5 s.",
        "# TYPE camhub_camera_decoded_fps gauge",
    ]
    lines += [
        f'camhub_camera_decoded_fps{{camera="{c.camera_id}"}} {c.decode.frames.per_second():.2f}'
        for c in cameras
    ]
    lines += [
        "# HELP camhub_camera_frames_decoded_total Frames decoded (detection, snapshots, "
        "replays on waking).",
        "# TYPE camhub_camera_frames_decoded_total counter",
    ]
    lines += [
        f'camhub_camera_frames_decoded_total{{camera="{c.camera_id}"}} {c.decode.frames.total}'
        for c in cameras
    ]
    lines += [
        "# HELP camhub_camera_decode_wakeups_total Times an idle camera started decoding "
        "every frame.",
        "# TYPE camhub_camera_decode_wakeups_total counter",
    ]
    lines += [
        f'camhub_camera_decode_wakeups_total{{camera="{c.camera_id}"}} {c.decode.wakeups}'
        for c in cameras
    ]
    return lines
