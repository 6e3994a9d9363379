"""A circuit breaker: after N failures in a row, fail fast for a while, then let one call try."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

BreakerState = Literal["closed", "open", "half_open"]
Pass = Literal["call", "trial"]
"""What `allow()` hands out: an ordinary call, or the one trial call of a half-open circuit."""


class CircuitBreaker:
    """Closed lets every call through; open rejects them; half-open lets one trial through.

    A call asks `allow()` first and, when let through, reports back with the pass it got:
    `success(p)`, `failure(p)` or, when cancelled before it had an answer, `abandon(p)`.
    """

    def __init__(
        self, failures: int, open_seconds: float, clock: Callable[[], float] = time.monotonic
    ):
        self.max_failures = failures
        self.open_seconds = open_seconds
        self._clock = clock
        self.state: BreakerState = "closed"
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self.times_opened = 0
        self._trial_running = False

    def allow(self) -> Pass | None:
        """A pass if a call may go ahead now, else None (open, or a trial already running)."""
        if self.state == "open":
            if self.retry_in() > 0:
                return None
            self.state = "half_open"
        if self.state == "half_open":
            if self._trial_running:
                return None
            self._trial_running = True
            return "trial"
        return "call"

    def success(self, granted: Pass) -> None:
        """A call worked: the server answers, so close the circuit."""
        if granted == "trial":
            self._trial_running = False
        self.state = "closed"
        self.consecutive_failures = 0
        self.opened_at = None

    def failure(self, granted: Pass) -> bool:
        """A call failed; returns True when this failure opened the circuit."""
        self.consecutive_failures += 1
        if granted == "trial":
            self._trial_running = False
            return self._open()
        # A call let through before the circuit opened may fail late: it changes nothing then.
        if self.state == "closed" and self.consecutive_failures >= self.max_failures:
            return self._open()
        return False

    def abandon(self, granted: Pass) -> None:
        """A call ended without an answer (cancelled): a trial's slot goes to the next caller."""
        if granted == "trial":
            self._trial_running = False

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a trial call through (0 when not open)."""
        if self.state != "open" or self.opened_at is None:
            return 0.0
        return max(0.0, self.open_seconds - (self._clock() - self.opened_at))

    def _open(self) -> bool:
        self.state = "open"
        self.opened_at = self._clock()
        self.times_opened += 1
        return True
