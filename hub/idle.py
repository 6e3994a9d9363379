"""Waiting until the hub is idle: the loop behind `Hub.async_block_till_done`.

Idle means no work the hub itself started is still under way: every bus
listener has handled what was queued for it, short-lived tasks have ended,
batched writes are flushed. Work paced by the outside world (a camera's next
frame, a broker's answer, a timer not yet due) is not waited for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

DEFAULT_IDLE_TIMEOUT = 15.0


@dataclass(frozen=True)
class Pending:
    """One piece of work under way: what it is (for the timeout message) and a future
    that is done as soon as it is no longer under way (ended, or waiting on the outside):
    the idle loop looks again only when one of these futures is done."""

    what: str
    done: asyncio.Future[Any]


PendingSource = Callable[[], Iterable[Pending]]
"""Lists what one part of the hub has under way now; cheap, called on every pass."""
Flush = Callable[[], Awaitable[None]]
"""Writes out what one part of the hub batches (traces, queued SQL)."""


class NotIdleError(TimeoutError):
    """The hub did not become idle in time; the message names what was still busy."""


async def async_wait_idle(
    sources: Iterable[PendingSource], flushes: Iterable[Flush], timeout: float
) -> None:
    """Wait until no source lists pending work, flush, and repeat until a flush starts nothing.

    The calling task never waits for itself, so a task the hub tracks may call this.
    Raises NotIdleError after `timeout` seconds.
    """
    sources, flushes = list(sources), list(flushes)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    me = asyncio.current_task()
    while True:
        pending = await _async_settle(sources, me, deadline)
        if pending:
            raise NotIdleError(
                f"hub not idle after {timeout:g} s; still busy: "
                + ", ".join(sorted({p.what for p in pending}))
            )
        for flush in flushes:
            await asyncio.wait_for(flush(), max(0.0, deadline - loop.time()))
        # A flush may have started work (a write's `event_stored` hook, a listener):
        # idle only when a pass after the flushes finds nothing.
        await asyncio.sleep(0)
        if not _pending(sources, me):
            return


async def _async_settle(
    sources: list[PendingSource], me: asyncio.Task[Any] | None, deadline: float
) -> list[Pending]:
    """Wait while anything is pending; returns what still is at the deadline (else [])."""
    loop = asyncio.get_running_loop()
    while True:
        # Callbacks scheduled with call_soon (a done task's listeners, a new task's first
        # step) run before anything is counted.
        await asyncio.sleep(0)
        pending = _pending(sources, me)
        if not pending:
            return []
        remaining = deadline - loop.time()
        if remaining <= 0:
            return pending
        # Each finished piece may start the next (a listener publishes, a run notifies):
        # look again as soon as any is done.
        await asyncio.wait(
            {p.done for p in pending}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
        )


def _pending(sources: list[PendingSource], me: asyncio.Task[Any] | None) -> list[Pending]:
    return [p for source in sources for p in source() if not p.done.done() and p.done is not me]
