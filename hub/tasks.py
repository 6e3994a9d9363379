"""Owned background tasks: kept referenced until they end, failures logged, cancelled at stop.

asyncio holds only a weak reference to a running task, so a task nobody keeps may be
collected mid-run; and a task that fails with nobody awaiting it fails silently. The hub,
its engines and plugins keep their background tasks in an `OwnedTasks` instead:

    self.tasks = OwnedTasks("discovery", _LOGGER)
    self.tasks.spawn(self._resolve(name), f"resolve:{name}")
    ...
    await self.tasks.async_cancel(timeout=0.5)   # at stop
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
Start = Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]]
"""Starts a named task (the hub's `async_create_task`)."""


class OwnedTasks:
    """The running tasks of one owner; a task leaves the set when it ends."""

    def __init__(
        self,
        owner: str,
        logger: logging.Logger | None = None,
        failure_level: int = logging.ERROR,
        start: Start | None = None,
    ):
        """`start` starts each task instead of the loop: a plugin passes
        `hub.async_create_task`, so the hub owns its tasks too (`async_block_till_done`
        waits for them) and logs their failures, and the plugin can still end its own."""
        self.owner = owner
        self._logger = logger or _LOGGER
        self._failure_level = failure_level
        self._start = start
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str | None = None) -> asyncio.Task[T]:
        """Start `coro` as a task this owner keeps until it ends (loop thread only)."""
        if self._start is not None:
            task: asyncio.Task[T] = self._start(coro, name or self.owner)
        else:
            task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled() or self._start is not None:
            return  # a task started elsewhere has its failure logged there
        error = task.exception()
        if error is not None:
            self._logger.log(
                self._failure_level,
                "%s: task %s failed",
                self.owner,
                task.get_name(),
                exc_info=error,
            )

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        # A copy: tasks leave the set as they end, also while the caller iterates.
        return iter(list(self._tasks))

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    def cancel(self) -> None:
        """Ask every task to stop, without waiting for them."""
        for task in self._tasks:
            task.cancel()

    async def async_wait(self, timeout: float | None = None) -> set[asyncio.Task[Any]]:
        """Wait up to `timeout` s (None: for ever) for every task to end; the ones still running."""
        tasks = set(self._tasks)
        if not tasks:
            return set()
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return pending

    async def async_cancel(self, timeout: float | None = None) -> set[asyncio.Task[Any]]:
        """Cancel every task and wait up to `timeout` s for them; those that ignored it.

        A task that swallows its cancellation must not hold its owner's stop hostage: it is
        logged and left behind.
        """
        self.cancel()
        stuck = await self.async_wait(timeout)
        for task in stuck:
            self._logger.error(
                "%s: task %s ignored cancellation; leaving it behind", self.owner, task.get_name()
            )
        return stuck
