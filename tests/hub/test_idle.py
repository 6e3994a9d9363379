"""`hub.async_block_till_done`: returns once the hub's own work is done, and not before."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import pytest

from hub.automations import ManualClock
from hub.events import Context, Event
from hub.hookspecs import hookimpl
from hub.idle import NotIdleError
from hub.notify.message import Message

AUTOMATIONS = """\
notifiers:
  phone:
    type: log
automations:
  - id: ring
    mode: parallel
    triggers:
      - type: webhook
        webhook_id: idle-test-0123456789
    actions:
      - type: set_mode
        mode: away
      - type: notify
        notifier: phone
        message: "rang"
  - id: later
    triggers:
      - type: webhook
        webhook_id: idle-later-0123456789
    actions:
      - type: delay
        seconds: 600
      - type: set_mode
        mode: night
"""


@dataclass(frozen=True, kw_only=True)
class Ring(Event):
    event_type: ClassVar[str] = "idle_ring"
    n: int


@dataclass(frozen=True, kw_only=True)
class Echo(Event):
    event_type: ClassVar[str] = "idle_echo"
    n: int


async def _rows(hub, table: str) -> list[dict]:
    return await hub.storage.async_read(lambda db: list(db.table(table).rows))


async def test_waits_for_a_slow_listener_to_handle_what_was_published(started_hub):
    handled: list[int] = []

    async def slow(event: Event) -> None:
        assert isinstance(event, Ring)
        # Several real waits: a wait that returned after one loop pass would miss these.
        for _ in range(3):
            await asyncio.sleep(0.05)
        handled.append(event.n)

    started_hub.bus.async_listen("slow", slow, (Ring,))
    for n in range(3):
        started_hub.bus.publish(Ring(n=n))
    assert handled == []
    await started_hub.async_block_till_done()
    assert handled == [0, 1, 2]


async def test_follows_work_that_work_starts(started_hub):
    """A listener publishes, the next listener starts a task, the task stores a row later."""
    hub = started_hub

    def ring(event: Event) -> None:
        assert isinstance(event, Ring)
        hub.bus.publish(Echo(n=event.n))

    async def store(n: int) -> None:
        await asyncio.sleep(0.05)
        hub.async_store_later("events", {"id": f"e{n}", "camera": "x", "kind": "t", "start": n})

    def echo(event: Event) -> None:
        assert isinstance(event, Echo)
        hub.async_create_task(store(event.n), f"store:{event.n}")

    hub.bus.async_listen("ring", ring, (Ring,))
    hub.bus.async_listen("echo", echo, (Echo,))
    hub.bus.publish(Ring(n=1))
    hub.bus.publish(Ring(n=2))
    await hub.async_block_till_done()
    assert sorted(r["id"] for r in await _rows(hub, "events")) == ["e1", "e2"]


async def test_event_published_hooks_have_run(make_hub):
    seen: list[int] = []

    class Plugin:
        @hookimpl
        async def event_published(self, hub, event):
            if isinstance(event, Ring):
                await asyncio.sleep(0.05)
                seen.append(event.n)

    hub = make_hub()
    hub.plugins.register(Plugin(), "plugin")
    await hub.async_start()
    try:
        hub.bus.publish(Ring(n=7))
        await hub.async_block_till_done()
        assert seen == [7]
    finally:
        await hub.async_stop()


async def test_background_tasks_are_not_waited_for_and_stuck_work_is_named(started_hub):
    hub = started_hub
    hub.async_create_background_task(asyncio.Event().wait(), "a loop")
    await hub.async_block_till_done()

    stuck = hub.async_create_task(asyncio.Event().wait(), "stuck-worker")
    with pytest.raises(NotIdleError, match="stuck-worker"):
        await hub.async_block_till_done(timeout=0.2)
    assert isinstance(NotIdleError("x"), TimeoutError)
    stuck.cancel()
    await hub.async_block_till_done()


async def test_a_hub_task_may_wait_without_waiting_for_itself(started_hub):
    hub = started_hub
    done: list[str] = []

    async def worker() -> None:
        await asyncio.sleep(0.05)
        done.append("worker")

    async def waiter() -> None:
        hub.async_create_task(worker(), "worker")
        await hub.async_block_till_done(timeout=5)
        done.append("waiter")

    await hub.async_create_task(waiter(), "waiter")
    assert done == ["worker", "waiter"]


async def test_automation_runs_notifications_and_traces_are_done(tmp_path, make_hub):
    hub = make_hub(AUTOMATIONS)
    hub.automations.clock = ManualClock(1717416000.0)
    await hub.async_start()
    try:
        assert hub.automations.call_webhook("idle-test-0123456789", {})
        await hub.async_block_till_done()
        assert hub.mode == "away"
        # Delivered by the outbox, marked so, and the trace written (not only queued).
        assert [m.body for m in hub.notifiers["phone"].sent] == ["rang"]
        assert [r["state"] for r in await _rows(hub, "notifications")] == ["delivered"]
        stored = [r for r in await _rows(hub, "traces") if r["automation_id"] == "ring"]
        assert [r["state"] for r in stored] == ["finished"]
    finally:
        await hub.async_stop()


async def test_a_run_waiting_in_a_delay_is_not_waited_for(make_hub):
    hub = make_hub(AUTOMATIONS)
    clock = ManualClock(1717416000.0)
    hub.automations.clock = clock
    await hub.async_start()
    try:
        assert hub.automations.call_webhook("idle-later-0123456789", {})
        await hub.async_block_till_done()
        assert clock.sleepers == 1 and hub.mode == "home"
        await clock.async_advance(600)
        await hub.async_block_till_done()
        assert hub.mode == "night"
    finally:
        await hub.async_stop()


async def test_a_message_enqueued_is_sent_before_it_returns(make_hub):
    hub = make_hub(AUTOMATIONS)
    await hub.async_start()
    try:
        message = Message(title="t", body="hello", context=Context())
        await hub.outbox.async_enqueue("phone", message)
        await hub.async_block_till_done()
        assert [m.body for m in hub.notifiers["phone"].sent] == ["hello"]
        row = await hub.outbox.async_get(message.id)
        assert row is not None and row["state"] == "delivered"
    finally:
        await hub.async_stop()


async def test_idle_before_start_and_after_stop(make_hub):
    hub = make_hub()
    await hub.async_block_till_done()
    await hub.async_start()
    await hub.async_block_till_done()
    await hub.async_stop()
    await hub.async_block_till_done()
