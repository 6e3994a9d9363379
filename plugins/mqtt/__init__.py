"""Built-in `mqtt` notifier (camhub on an MQTT broker, Home Assistant discovery) and trigger."""

from __future__ import annotations

import asyncio
from typing import Any

from hub import AutomationType, TypeSpec, hookimpl
from plugins.mqtt.notifier import MqttNotifier, tls_context
from plugins.mqtt.options import MqttOptions
from plugins.mqtt.trigger import MQTT_TRIGGER

__version__ = "1.0.0"

__all__ = ["MqttNotifier", "MqttOptions"]


def _create(hub: Any, notifier_id: str, options: MqttOptions) -> MqttNotifier:
    # Runs in a worker thread: no event loop work here; `startup` connects.
    return MqttNotifier(notifier_id, options, tls_context(options))


def _notifiers(hub: Any) -> list[MqttNotifier]:
    return [n for n in getattr(hub, "notifiers", {}).values() if isinstance(n, MqttNotifier)]


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `mqtt` notifier type."""
    return [
        TypeSpec(
            name="mqtt",
            options=MqttOptions,
            create=_create,
            description="Publish motion, events and notifications to an MQTT broker, "
            "with Home Assistant discovery; obey mode and detection commands.",
        )
    ]


@hookimpl
def automation_types() -> list[AutomationType]:
    """Offer the `mqtt` automation trigger (it listens through an `mqtt` notifier)."""
    return [MQTT_TRIGGER]


@hookimpl
def startup(hub: Any) -> None:
    """Connect every `mqtt` notifier of this hub (each keeps reconnecting on its own)."""
    for notifier in _notifiers(hub):
        notifier.start(hub)


@hookimpl
async def shutdown(hub: Any) -> None:
    """Publish `offline` and disconnect this hub's `mqtt` notifiers."""
    await asyncio.gather(*(notifier.async_stop() for notifier in _notifiers(hub)))
