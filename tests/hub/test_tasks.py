"""Owned background tasks: referenced until they end, failures logged, cancelled at stop."""

from __future__ import annotations

import asyncio
import gc
import logging

from hub import OwnedTasks


async def test_a_task_is_kept_until_it_ends_even_when_nobody_else_holds_it():
    tasks = OwnedTasks("test")
    finished = asyncio.Event()
    release = asyncio.Event()

    async def work():
        await release.wait()
        finished.set()

    tasks.spawn(work(), "work")
    gc.collect()  # the loop's weak reference alone would let the task go
    assert len(tasks) == 1 and [t.get_name() for t in tasks] == ["work"]
    release.set()
    await finished.wait()
    await tasks.async_wait()
    assert len(tasks) == 0


async def test_a_failure_is_logged_with_owner_and_task_name(caplog):
    tasks = OwnedTasks("outbox")

    async def broken():
        raise RuntimeError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="hub.tasks"):
        task = tasks.spawn(broken(), "send:phone")
        await tasks.async_wait()
    assert task.done() and task not in tasks
    [record] = [r for r in caplog.records if "send:phone" in r.getMessage()]
    assert record.getMessage() == "outbox: task send:phone failed"
    assert record.exc_info is not None and "disk on fire" in str(record.exc_info[1])


async def test_failures_can_be_routine_and_logged_lower(caplog):
    logger = logging.getLogger("tests.tasks")
    tasks = OwnedTasks("resolves", logger, logging.DEBUG)

    async def unanswered():
        raise TimeoutError

    with caplog.at_level(logging.DEBUG, logger="tests.tasks"):
        tasks.spawn(unanswered(), "resolve")
        await tasks.async_wait()
    assert [r.levelno for r in caplog.records if r.name == "tests.tasks"] == [logging.DEBUG]


async def test_cancel_stops_every_task_and_a_cancelled_task_is_no_failure(caplog):
    tasks = OwnedTasks("timers")
    spawned = [tasks.spawn(asyncio.sleep(3600), f"t{i}") for i in range(3)]
    await asyncio.sleep(0)
    with caplog.at_level(logging.DEBUG, logger="hub.tasks"):
        assert await tasks.async_cancel() == set()
    assert all(t.cancelled() for t in spawned) and len(tasks) == 0
    assert caplog.records == []


async def test_a_task_that_swallows_cancellation_is_reported_and_left_behind(caplog):
    tasks = OwnedTasks("hub")
    release = asyncio.Event()

    async def stubborn():
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue

    task = tasks.spawn(stubborn(), "stubborn")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="hub.tasks"):
        stuck = await tasks.async_cancel(timeout=0.01)
    assert stuck == {task} and not task.done()
    assert "hub: task stubborn ignored cancellation; leaving it behind" in caplog.text
    release.set()
    await tasks.async_wait()
    assert task.done() and not task.cancelled()


async def test_waiting_does_not_cancel_and_returns_what_is_still_running():
    tasks = OwnedTasks("writes")
    release = asyncio.Event()
    task = tasks.spawn(release.wait(), "write")
    assert await tasks.async_wait(timeout=0.01) == {task}
    assert not task.done()
    release.set()
    assert await tasks.async_wait() == set()
    assert task.result() is True


async def test_tasks_started_through_the_hub_are_the_hubs_too(started_hub, caplog):
    # A plugin's own tasks, started by the hub: the hub waits for them when idling and
    # logs their failures once; the plugin can still end its own at its stop.
    tasks = OwnedTasks("plugin", start=started_hub.async_create_task)
    done = asyncio.Event()

    async def send():
        done.set()

    async def broken():
        raise RuntimeError("no route to broker")

    with caplog.at_level(logging.ERROR):
        tasks.spawn(send(), "send")
        failing = tasks.spawn(broken(), "publish")
        await started_hub.async_block_till_done()
    assert done.is_set() and failing.done() and len(tasks) == 0
    assert [r.getMessage() for r in caplog.records if "publish" in r.getMessage()] == [
        "hub: task publish failed"
    ]
    waiting = tasks.spawn(asyncio.Event().wait(), "wait")
    await tasks.async_cancel()
    assert waiting.cancelled()
