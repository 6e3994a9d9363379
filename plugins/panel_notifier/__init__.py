"""Built-in `panel` notifier: notifications appear live in the web panel (no setup needed)."""

from __future__ import annotations

from typing import Any

from hub import Message, NotificationPosted, PluginOptions, TypeSpec, hookimpl

__version__ = "1.0.0"


class PanelOptions(PluginOptions):
    """The `panel` notifier has no options: open panels receive its messages."""


class PanelNotifier:
    """Puts each message on the bus; the panel's WebSocket shows it to whoever is looking."""

    def __init__(self, hub: Any, notifier_id: str):
        self.hub = hub
        self.notifier_id = notifier_id

    async def async_send(self, message: Message) -> None:
        """Publish the message for open panels (a closed panel finds it in the delivery log)."""
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
