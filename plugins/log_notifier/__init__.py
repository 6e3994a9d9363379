"""Built-in `log` notifier: writes notifications to the hub's log (for testing automations)."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import Field

from hub import Message, PluginOptions, TypeSpec, hookimpl

__version__ = "1.0.0"


class LogNotifierOptions(PluginOptions):
    """Options of a `log` notifier."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Log level the notification is written at."
    )


class LogNotifier:
    """Writes each message as one log line; never fails."""

    def __init__(self, notifier_id: str, options: LogNotifierOptions):
        self.logger = logging.getLogger(f"camhub.notify.{notifier_id}")
        self.level = logging.getLevelNamesMapping()[options.level.upper()]
        self.sent: list[Message] = []

    async def async_send(self, message: Message) -> None:
        """Log the message."""
        self.logger.log(self.level, "%s: %s", message.title, message.body)
        self.sent.append(message)
        del self.sent[:-100]


def _create(hub: Any, notifier_id: str, options: LogNotifierOptions) -> LogNotifier:
    return LogNotifier(notifier_id, options)


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `log` notifier type."""
    return [
        TypeSpec(
            name="log",
            options=LogNotifierOptions,
            create=_create,
            description="Write notifications to the hub's log.",
        )
    ]
