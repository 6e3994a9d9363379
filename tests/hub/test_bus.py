"""The event bus: fan-out, type filters, bounded queues that drop oldest and count it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from hub.bus import EventBus
from hub.events import Context, Event, HubStarted, StateChanged


@dataclass(frozen=True, kw_only=True)
class Ping(Event):
    event_type: ClassVar[str] = "ping"
    n: int


async def test_every_subscriber_gets_every_event_in_order():
    bus = EventBus()
    first, second = bus.subscribe("a"), bus.subscribe("b")
    for n in range(3):
        bus.publish(Ping(n=n))
    assert [(await first.get()).n for _ in range(3)] == [0, 1, 2]
    assert [(await second.get()).n for _ in range(3)] == [0, 1, 2]


async def test_type_filter_delivers_only_wanted_types():
    bus = EventBus()
    pings = bus.subscribe("pings", (Ping,))
    bus.publish(HubStarted())
    bus.publish(Ping(n=7))
    event = await asyncio.wait_for(pings.get(), 1)
    assert isinstance(event, Ping) and event.n == 7
    assert pings.stats.queued == 0


async def test_slow_subscriber_drops_oldest_and_never_blocks_others():
    bus = EventBus()
    slow = bus.subscribe("slow", maxsize=5)
    fast_seen: list[int] = []
    stop = bus.async_listen("fast", lambda e: fast_seen.append(e.n), (Ping,), maxsize=1000)
    for n in range(100):
        bus.publish(Ping(n=n))  # returns at once: publish never awaits a subscriber
    assert fast_seen == []
    assert await bus.async_drain(5)
    assert fast_seen == list(range(100))
    assert slow.stats.dropped == 95
    # The newest events survive; the oldest were dropped.
    assert [(await slow.get()).n for _ in range(5)] == [95, 96, 97, 98, 99]
    assert {s.name: s.dropped for s in bus.stats()}["slow"] == 95
    stop()


async def test_failing_listener_is_logged_and_keeps_listening(caplog):
    bus = EventBus()
    seen: list[int] = []

    def listener(event: Event) -> None:
        assert isinstance(event, Ping)
        if event.n == 1:
            raise RuntimeError("boom")
        seen.append(event.n)

    bus.async_listen("flaky", listener, (Ping,))
    for n in range(3):
        bus.publish(Ping(n=n))
    assert await bus.async_drain(5)
    assert seen == [0, 2]
    assert "Bus listener flaky failed on ping" in caplog.text
    await bus.async_close()


async def test_async_listener_is_awaited():
    bus = EventBus()
    done = asyncio.Event()

    async def listener(event: Event) -> None:
        await asyncio.sleep(0)
        done.set()

    bus.async_listen("async", listener)
    bus.publish(Ping(n=1))
    await asyncio.wait_for(done.wait(), 1)
    await bus.async_close()


async def test_unsubscribed_gets_nothing_more():
    bus = EventBus()
    sub = bus.subscribe("gone")
    sub.close()
    bus.publish(Ping(n=1))
    assert sub.stats.queued == 0 and bus.stats() == []


def test_context_links_child_to_parent_and_events_serialise():
    trigger = Context(user_id="alice")
    action = trigger.child()
    assert action.parent_id == trigger.id and action.user_id == "alice"
    assert action.id != trigger.id
    event = StateChanged(entity_id="camera.x", old_state=None, new_state="online", context=action)
    data = event.as_dict()
    assert data["event_type"] == "state_changed"
    assert data["context"] == {"id": action.id, "parent_id": trigger.id, "user_id": "alice"}
