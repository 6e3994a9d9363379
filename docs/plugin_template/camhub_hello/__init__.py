"""camhub-hello: an example plugin offering a `hello` notifier that logs each message."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import Field

from hub import Message, PluginOptions, TypeSpec, hookimpl

__version__ = "0.1.0"

_LOGGER = logging.getLogger(__name__)
KEEP_MESSAGES = 100


class HelloOptions(PluginOptions):
    """Options of a `hello` notifier (everything under `notifiers.<id>` but `type`)."""

    greeting: str = Field("Hello", description="Written in front of every message.")


class HelloNotifier:
    """Logs each message and keeps the last ones in `sent` (handy in tests)."""

    def __init__(self, notifier_id: str, options: HelloOptions):
        self.notifier_id = notifier_id
        self.greeting = options.greeting
        self.sent: list[Message] = []

    async def async_send(self, message: Message) -> None:
        """Deliver one message: here, a log line."""
        _LOGGER.info("%s [%s] %s: %s", self.greeting, self.notifier_id, message.title, message.body)
        self.sent.append(message)
        del self.sent[:-KEEP_MESSAGES]  # bounded, like every queue in camhub


def _create(hub: Any, notifier_id: str, options: HelloOptions) -> HelloNotifier:
    return HelloNotifier(notifier_id, options)


@hookimpl
def startup(hub: Any) -> None:
    """Say which `hello` notifiers the hub built from the config."""
    mine = sorted(i for i, n in hub.notifiers.items() if isinstance(n, HelloNotifier))
    _LOGGER.info("camhub-hello %s started; hello notifiers: %s", __version__, mine or "none")


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `hello` notifier type."""
    return [
        TypeSpec(
            name="hello",
            options=HelloOptions,
            create=_create,
            description="Write notifications to the hub's log, with a greeting.",
        )
    ]
