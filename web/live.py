"""`/api/ws`: bus events pushed to the panel as JSON over a WebSocket, newest first when slow."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

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
            # A viewer hears nothing about cameras not granted to them.
            camera = getattr(event, "camera", None)
            if isinstance(camera, str) and (who is None or not who.can_view(camera)):
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
