"""Built-in `panel` notifier: notifications appear live in the web panel (no setup needed)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from aiohttp import web

from hub import Hub, Message, NotificationPosted, PluginOptions, Route, TypeSpec, hookimpl

__version__ = "1.1.0"
PICTURES_KEPT = 20
"""Pictures of the latest messages kept (in memory only) for the panel's pop-ups."""


class PanelOptions(PluginOptions):
    """The `panel` notifier has no options: open panels receive its messages."""


class PanelNotifier:
    """Puts each message on the bus; the panel's WebSocket shows it to whoever is looking."""

    def __init__(self, hub: Any, notifier_id: str):
        self.hub = hub
        self.notifier_id = notifier_id
        self.pictures: OrderedDict[str, bytes] = OrderedDict()

    async def async_send(self, message: Message) -> None:
        """Publish the message for open panels (a closed panel finds it in the delivery log)."""
        snapshot_url = None
        if message.snapshot_jpeg:
            # Never written to disk: the picture lives as long as a pop-up is worth showing.
            self.pictures[message.id] = message.snapshot_jpeg
            while len(self.pictures) > PICTURES_KEPT:
                self.pictures.popitem(last=False)
            snapshot_url = f"/api/x/panel_notifier/snapshots/{message.id}"
        self.hub.bus.publish(
            NotificationPosted(
                notifier=self.notifier_id,
                message_id=message.id,
                title=message.title,
                body=message.body,
                priority=message.priority,
                tags=message.tags,
                event_id=message.event_id,
                clip_url=message.clip_url,
                snapshot_url=snapshot_url,
                context=message.context,
            )
        )


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `panel` notifier type."""
    return [
        TypeSpec(
            name="panel",
            options=PanelOptions,
            create=lambda hub, notifier_id, options: PanelNotifier(hub, notifier_id),
            description="Show notifications live in the web panel.",
        )
    ]


@hookimpl
def web_routes(hub: Hub) -> list[Route]:
    """`GET /api/x/panel_notifier/snapshots/<message id>`: a message's picture (admins)."""

    async def snapshot(request: web.Request) -> web.Response:
        message_id = request.match_info["message_id"]
        for notifier in hub.notifiers.values():
            if isinstance(notifier, PanelNotifier) and message_id in notifier.pictures:
                return web.Response(
                    body=notifier.pictures[message_id],
                    content_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"},
                )
        raise web.HTTPNotFound(text=f"no picture (only the last {PICTURES_KEPT} are kept)")

    return [Route("GET", "snapshots/{message_id}", snapshot, access="admin")]
