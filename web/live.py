"""`/api/ws`: bus events pushed to the panel as JSON over a WebSocket, newest first when slow."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Collection
from typing import Any

from aiohttp import WSMsgType, web

from hub.core import Hub
from hub.events import Event
from web import access
from web.keys import HUB_KEY

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
QUEUE_SIZE = 256
HEARTBEAT_SECONDS = 20.0


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return None  # pictures travel by URL, never inside events
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def event_json(event: Event) -> str:
    """One event as the JSON text the panel receives."""
    return json.dumps(event.as_dict(), default=_json_default)


# Hub administration news (failing plugins, devices on the LAN) and other hubs' news (the
# site: a viewer's grants name this hub's cameras only) are for admins only.
ADMIN_ONLY_EVENTS = frozenset(
    {"plugin_failed", "device_discovered", "device_lost", "peer_changed", "peer_event"}
)


def visible_to(who: access.Principal | None, event: Event, cameras: Collection[str]) -> bool:
    """A viewer hears nothing about cameras not granted to them: events naming a camera,
    and state changes of entities named after one (`camera.yard`, `motion.yard`)."""
    if who is not None and who.role == "admin":
        return True
    if who is None or event.event_type in ADMIN_ONLY_EVENTS:
        return False
    camera = getattr(event, "camera", None)
    if isinstance(camera, str):
        return who.can_view(camera)
    entity = getattr(event, "entity_id", None)
    if isinstance(entity, str):
        object_id = entity.partition(".")[2]
        return object_id not in cameras or who.can_view(object_id)
    return True


async def _event_camera_visible(hub: Hub, who: access.Principal | None, event: Event) -> bool:
    """A notification about a stored event reaches a viewer only if they may see its camera."""
    event_id = getattr(event, "event_id", None)
    if who is None or who.role == "admin" or hasattr(event, "camera") or not event_id:
        return True
    stored = await hub.event_log.async_get(str(event_id))
    return stored is not None and who.can_view(str(stored["camera"]))


@routes.get("/api/ws")
@access.viewer
async def live(request: web.Request) -> web.WebSocketResponse:
    """Stream bus events; `?types=a,b` keeps only those event types.

    Each client has its own bounded queue: a slow phone drops its oldest
    events (counted on the bus like any subscriber) and never slows the hub.
    """
    hub = request.app[HUB_KEY]
    wanted = {t for t in request.query.get("types", "").split(",") if t}
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await socket.prepare(request)
    peer = request.remote or "?"
    subscription = hub.bus.subscribe(f"ws:{peer}:{id(socket)}", maxsize=QUEUE_SIZE)

    who = access.principal(request)

    async def forward() -> None:
        async for event in subscription:
            if wanted and event.event_type not in wanted:
                continue
            if not visible_to(who, event, hub.cameras):
                continue
            if not await _event_camera_visible(hub, who, event):
                continue
            await socket.send_str(event_json(event))

    sender = asyncio.get_running_loop().create_task(forward(), name="ws-forward")
    try:
        async for message in socket:
            if message.type == WSMsgType.ERROR:
                break  # the client is gone; nothing it sends is acted on
    finally:
        subscription.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await sender
    return socket
