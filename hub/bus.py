"""Event bus: publish never blocks; every subscriber has its own bounded queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from hub.events import Event
from hub.idle import Pending
from hub.tasks import OwnedTasks

_LOGGER = logging.getLogger(__name__)
DEFAULT_QUEUE_SIZE = 256


@dataclass
class SubscriberStats:
    """Counters for one subscriber, shown in /metrics and /api/health."""

    name: str
    delivered: int = 0
    dropped: int = 0
    queued: int = 0


class Subscription:
    """A bounded queue of events of the types asked for; iterate it to consume."""

    def __init__(
        self,
        bus: EventBus,
        name: str,
        event_types: frozenset[type[Event]] | None,
        maxsize: int,
    ):
        self._bus = bus
        self.name = name
        self.event_types = event_types
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.stats = SubscriberStats(name)
        # Queued or being handled; only listeners mark events done (see `task_done`).
        self._unfinished = 0
        self._handled: asyncio.Future[None] | None = None

    def wants(self, event: Event) -> bool:
        """True when this subscription takes events of this type."""
        return self.event_types is None or isinstance(event, tuple(self.event_types))

    def offer(self, event: Event) -> None:
        """Queue an event; when full, the oldest queued event is dropped and counted."""
        if self._queue.full():
            self._queue.get_nowait()
            self._queue.task_done()
            self._unfinished -= 1
            self.stats.dropped += 1
            if self.stats.dropped in (1, 100) or self.stats.dropped % 1000 == 0:
                _LOGGER.warning(
                    "Bus subscriber %s is slow: %d events dropped", self.name, self.stats.dropped
                )
        self._queue.put_nowait(event)
        self._unfinished += 1
        self.stats.queued = self._queue.qsize()

    async def get(self) -> Event:
        """Wait for the next event."""
        event = await self._queue.get()
        self.stats.delivered += 1
        self.stats.queued = self._queue.qsize()
        return event

    def task_done(self) -> None:
        """Mark the last event from `get` as handled (listeners do; see `EventBus.async_drain`)."""
        self._queue.task_done()
        self._unfinished -= 1
        if self._unfinished == 0:
            self._mark_handled()

    def _mark_handled(self) -> None:
        if self._handled is not None and not self._handled.done():
            self._handled.set_result(None)

    @property
    def unfinished(self) -> int:
        """Events queued, or taken and not yet marked done."""
        return self._unfinished

    def handled(self) -> asyncio.Future[None]:
        """A future done once every event offered so far is marked done (listeners only)."""
        if self._handled is None or self._handled.done():
            self._handled = asyncio.get_running_loop().create_future()
            if self._unfinished == 0:
                self._handled.set_result(None)
        return self._handled

    async def async_join(self) -> None:
        """Wait until every queued event was handled."""
        await self._queue.join()

    def close(self) -> None:
        """Stop receiving events (what is still queued will not be handled)."""
        self._bus.unsubscribe(self)
        self._mark_handled()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.get()


class EventBus:
    """Fans events out to subscriptions. `publish` is synchronous and never waits."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._tasks = OwnedTasks("bus", _LOGGER)
        self._listeners: dict[object, tuple[Subscription, asyncio.Task[None]]] = {}
        self.published = 0

    def subscribe(
        self,
        name: str,
        event_types: tuple[type[Event], ...] | None = None,
        maxsize: int = DEFAULT_QUEUE_SIZE,
    ) -> Subscription:
        """A new subscription; `event_types` None means every event."""
        subscription = Subscription(
            self, name, frozenset(event_types) if event_types else None, maxsize
        )
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscription (idempotent)."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def async_listen(
        self,
        name: str,
        callback: Callable[[Event], Awaitable[None] | None],
        event_types: tuple[type[Event], ...] | None = None,
        maxsize: int = DEFAULT_QUEUE_SIZE,
    ) -> Callable[[], None]:
        """Run `callback` for each event in a task of its own; returns a function to stop it.

        An exception in the callback is logged and the listener keeps going.
        """
        subscription = self.subscribe(name, event_types, maxsize)

        async def consume() -> None:
            async for event in subscription:
                try:
                    result = callback(event)
                    if result is not None:
                        await result
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("Bus listener %s failed on %s", name, event.event_type)
                finally:
                    subscription.task_done()

        task = self._tasks.spawn(consume(), f"bus:{name}")
        key = object()
        self._listeners[key] = (subscription, task)

        def stop() -> None:
            subscription.close()
            task.cancel()
            self._listeners.pop(key, None)

        return stop

    async def async_drain(self, timeout: float) -> bool:
        """Wait up to `timeout` s for listeners to handle what is queued; False if they did not."""
        joins = [s.async_join() for s, _ in self._listeners.values()]
        if not joins:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*joins), timeout)
        except TimeoutError:
            return False
        return True

    def pending(self) -> list[Pending]:
        """Listeners with events queued or being handled (see `hub.idle`)."""
        return [
            Pending(f"bus listener {s.name} ({s.unfinished} event(s))", s.handled())
            for s, _ in self._listeners.values()
            if s.unfinished
        ]

    def publish(self, event: Event) -> None:
        """Deliver to every interested subscription without waiting (loop thread only)."""
        self.published += 1
        for subscription in list(self._subscriptions):
            if subscription.wants(event):
                subscription.offer(event)

    def stats(self) -> list[SubscriberStats]:
        """Per-subscriber counters."""
        return [s.stats for s in self._subscriptions]

    async def async_close(self) -> None:
        """Cancel every listener task and wait for them."""
        await self._tasks.async_cancel()
        for subscription, _ in self._listeners.values():
            subscription.close()
        self._listeners.clear()
        self._subscriptions.clear()
