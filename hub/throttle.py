"""Login throttling: after repeated failures a user name or an address is locked for a while."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Bounded memory even under a flood of made-up names from many addresses.
MAX_TRACKED = 10_000


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    """Counts failures per key (an address, a user name); locks keys exponentially.

    After `max_failures` failures in a row a key is locked for `base_lock`
    seconds, and each further failure doubles that, up to `max_lock`. A
    success clears the keys; quiet keys are forgotten after `forget_after`.
    Kept in memory: a restart forgives, which costs an attacker a restart
    they cannot cause from outside.
    """

    def __init__(
        self,
        max_failures: int = 5,
        base_lock: float = 30.0,
        max_lock: float = 3600.0,
        forget_after: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.base_lock = base_lock
        self.max_lock = max_lock
        self.forget_after = forget_after
        self.clock = clock
        self._records: dict[str, _Record] = {}

    def locked_for(self, *keys: str) -> float:
        """Seconds until every key may try again (0 when none is locked)."""
        now = self.clock()
        waits = [r.locked_until - now for k in keys if (r := self._records.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, *keys: str) -> float:
        """Count a failure on each key; returns the lock (seconds) now in force, if any."""
        now = self.clock()
        self._prune(now)
        for key in keys:
            record = self._records.setdefault(key, _Record())
            if now - record.last_failure > self.forget_after:
                record.failures = 0
            record.failures += 1
            record.last_failure = now
            over = record.failures - self.max_failures
            if over >= 0:
                lock = min(self.max_lock, self.base_lock * 2 ** min(over, 32))
                record.locked_until = now + lock
        return self.locked_for(*keys)

    def succeeded(self, *keys: str) -> None:
        """A good login clears its keys."""
        for key in keys:
            self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        if len(self._records) < MAX_TRACKED:
            return
        stale = [
            k
            for k, r in self._records.items()
            if r.locked_until < now and now - r.last_failure > self.forget_after / 4
        ]
        for key in stale:
            del self._records[key]
        while len(self._records) >= MAX_TRACKED:
            # Still full: drop the oldest entries (dicts keep insertion order).
            del self._records[next(iter(self._records))]
