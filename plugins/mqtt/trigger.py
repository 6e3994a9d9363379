"""The `mqtt` automation trigger: a message on a topic (optionally with a given payload)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator

from hub import AutomationType, Context, PluginOptions
from plugins.mqtt.notifier import MqttNotifier

_LOGGER = logging.getLogger(__name__)
MAX_PAYLOAD_CHARS = 2000
Listener = Callable[[str, str], None]


def _topic_filter(value: str) -> str:
    levels = value.split("/")
    bad_plus = any("+" in level and level != "+" for level in levels)
    bad_hash = any("#" in level for level in levels[:-1]) or (
        "#" in levels[-1] and levels[-1] != "#"
    )
    if not value or bad_plus or bad_hash:
        raise ValueError(
            "must be an MQTT topic filter (+ for one level, # at the end for the rest)"
        )
    return value


class MqttTriggerOptions(PluginOptions):
    """Options of the `mqtt` trigger."""

    topic: str = Field(description="Topic filter; + matches one level, # the rest.")
    payload: str | None = Field(None, description="Fire only for this exact payload.")
    notifier: str | None = Field(
        None, description="Which `mqtt` notifier's connection to use; default: the first."
    )

    _check_topic = field_validator("topic")(_topic_filter)


class MqttTrigger:
    """Listens through an `mqtt` notifier's connection (it subscribes on every connect)."""

    def __init__(self, connection: Any, options: MqttTriggerOptions):
        self.connection = connection
        self.options = options

    def attach(self, fire: Callable[[dict[str, Any], Context | None], None]) -> Callable[[], None]:
        """Subscribe; returns the function that stops."""
        wanted = self.options.payload

        def on_message(topic: str, payload: str) -> None:
            if wanted is not None and payload.strip() != wanted:
                return
            variables = {
                "trigger": "mqtt",
                "topic": topic,
                "payload": payload[:MAX_PAYLOAD_CHARS],
            }
            fire(variables, Context())

        remove: Callable[[], None] = self.connection.add_listener(self.options.topic, on_message)
        return remove


def _create(hub: Any, automation_id: str, options: MqttTriggerOptions) -> MqttTrigger:
    connections = {
        name: n for name, n in getattr(hub, "notifiers", {}).items() if isinstance(n, MqttNotifier)
    }
    if options.notifier is not None:
        if options.notifier not in connections:
            known = ", ".join(sorted(connections)) or "none configured"
            raise ValueError(f"no mqtt notifier '{options.notifier}' (mqtt notifiers: {known})")
        return MqttTrigger(connections[options.notifier], options)
    if not connections:
        raise ValueError("needs an `mqtt` notifier for its broker connection")
    return MqttTrigger(next(iter(connections.values())), options)


MQTT_TRIGGER = AutomationType(
    name="mqtt",
    kind="trigger",
    options=MqttTriggerOptions,
    create=_create,
    description="A message on an MQTT topic (through an `mqtt` notifier's connection).",
    title="An MQTT message arrives",
    icon="📨",
    placeholders={"topic": "the message's topic", "payload": "the message's text"},
)
