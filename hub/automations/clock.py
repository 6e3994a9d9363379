"""The automations' sense of time: a real clock, and a manual one tests advance by hand."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol

REAL_SLEEP_SLICE = 60.0
"""A real sleep re-reads the wall clock at least this often (NTP steps, suspend)."""


class Clock(Protocol):
    """Wall-clock time and sleeping until a wall-clock instant."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline`."""
        ...


class RealClock:
    """The system clock."""

    def now(self) -> float:
        """`time.time()`."""
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        """Sleep in slices, so a wall-clock jump is noticed within a minute."""
        while (left := deadline - time.time()) > 0:  # noqa: ASYNC110 - a timer, not a poll
            await asyncio.sleep(min(left, REAL_SLEEP_SLICE))


class ManualClock:
    """A clock that only moves when told to (`async_advance`): tests and benchmarks."""

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        """The manual time."""
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        """Wait until the clock is advanced past `deadline`."""
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        """Sleeps still waiting."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def async_advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order and letting them run."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
            await _settle()
        self._now = target
        await _settle()


async def _settle() -> None:
    # Woken tasks may schedule more work (a next sleep, a bus event): let it happen.
    for _ in range(20):
        await asyncio.sleep(0)
