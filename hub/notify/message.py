"""What a notifier plugin receives and the errors it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hub.events import Context, new_id


@dataclass(frozen=True)
class Message:
    """One notification: text, optional picture and link, and the context that caused it."""

    title: str
    body: str
    priority: int = 3
    """1 (lowest) to 5 (urgent), as in ntfy."""
    tags: tuple[str, ...] = ()
    snapshot_jpeg: bytes | None = None
    clip_url: str | None = None
    event_id: str | None = None
    context: Context = field(default_factory=Context)
    id: str = field(default_factory=new_id)
    """Stable across retries and restarts: notifiers send it as an idempotency key."""

    def as_dict(self) -> dict[str, Any]:
        """The text fields as JSON-ready data (the picture travels separately)."""
        return {
            "id": self.id,
            "title": self.title,
            "body": self.body,
            "priority": self.priority,
            "tags": list(self.tags),
            "event_id": self.event_id,
            "context_id": self.context.id,
            "clip_url": self.clip_url,
        }


class NotifyError(Exception):
    """Delivery failed."""


class TemporaryNotifyError(NotifyError):
    """Delivery failed but may succeed later (timeout, 5xx, broker down): retry."""


class PermanentNotifyError(NotifyError):
    """Delivery can never succeed as configured (401, bad address): do not retry."""


def raise_for_status(where: str, status: int, reason: str) -> None:
    """The delivery error an answer's status code means, for notifiers that speak HTTP.

    5xx, 408 and 429 may pass (retry); any other 4xx will not (give up).
    """
    if status >= 500 or status in (408, 429):
        raise TemporaryNotifyError(f"{where} answered HTTP {status}: {reason}")
    if status >= 400:
        raise PermanentNotifyError(f"{where} answered HTTP {status}: {reason}")


@runtime_checkable
class Notifier(Protocol):
    """A configured notifier (`notifiers.<id>`), built by its type's `create`."""

    async def async_send(self, message: Message) -> None:
        """Deliver `message` or raise a NotifyError subclass."""
        ...
