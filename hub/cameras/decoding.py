"""Adaptive decoding: what a camera's source should decode for detection, and what it does.

Most of a home camera's day nothing moves. With `detect.decode: adaptive` an idle camera's
source decodes keyframes only (a fraction of the cost of every frame) and motion detection
runs on those; anything that needs every frame asks for full decoding for a while with
`request_full(reason, seconds)`: motion and open events (the detection loops), snapshots,
automations, plugins (a camera's own motion signal). The source reads `full_wanted()` per
packet and reports back the mode it is in and the frames it decodes, for the API and metrics.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

DecodeSetting = Literal["adaptive", "always"]
DecodeMode = Literal["off", "idle", "full"]
"""off: nothing is decoded (no detector or snapshot wants frames); idle: keyframes only;
full: every frame."""

RATE_WINDOW_SECONDS = 5
MAX_REASONS = 32
"""Distinct reasons remembered at once; a plugin inventing a new one per call cannot grow
the table without bound (the oldest-expiring goes)."""


class FrameRate:
    """Frames counted per whole second over the last few (written by one thread, read by any)."""

    def __init__(self) -> None:
        self.total = 0
        size = RATE_WINDOW_SECONDS + 1
        self._seconds = [-1] * size
        self._counts = [0] * size

    def add(self, count: int = 1, now: float | None = None) -> None:
        """Count frames decoded now."""
        second = int(time.monotonic() if now is None else now)
        slot = second % len(self._seconds)
        if self._seconds[slot] != second:
            self._counts[slot] = 0
            self._seconds[slot] = second
        self._counts[slot] += count
        self.total += count

    def per_second(self, now: float | None = None) -> float:
        """Frames per second over the last `RATE_WINDOW_SECONDS` whole seconds."""
        second = int(time.monotonic() if now is None else now)
        first = second - RATE_WINDOW_SECONDS
        counted = sum(
            n for s, n in zip(self._seconds, self._counts, strict=True) if first <= s < second
        )
        return counted / RATE_WINDOW_SECONDS


class DecodeControl:
    """One camera's decoding demand (set on the event loop) and state (set by its source).

    `request_full` may be called from any thread; the source's per-packet check,
    `full_wanted`, is one comparison of floats.
    """

    def __init__(self, setting: DecodeSetting = "adaptive", idle_after: float = 10.0):
        self.setting: DecodeSetting = setting
        self.idle_after = idle_after
        self.mode: DecodeMode = "off"
        """What the source does now; sources without adaptive decoding leave it `off`."""
        self.supported = False
        """True once a source that decodes keyframes only when idle runs this camera."""
        self.frames = FrameRate()
        """Frames the source decoded (all of them: detection, snapshots, replays)."""
        self.wakeups = 0
        """Times the source went from keyframes only to every frame."""
        self.replayed = 0
        """Frames decoded again from the held packets when waking up."""
        self._until: dict[str, float] = {}
        self._full_until = 0.0
        self._lock = threading.Lock()

    def configure(self, setting: DecodeSetting, idle_after: float) -> None:
        """Apply the camera's `detect.decode` and `detect.idle_after`."""
        self.setting, self.idle_after = setting, idle_after

    def request_full(self, reason: str, seconds: float) -> None:
        """Decode every frame for at least `seconds` from now (extends, never shortens)."""
        until = time.time() + max(0.0, seconds)
        with self._lock:
            if until <= self._until.get(reason, 0.0):
                return
            if reason not in self._until and len(self._until) >= MAX_REASONS:
                self._until.pop(min(self._until, key=self._until.__getitem__))
            self._until[reason] = until
            self._full_until = max(self._full_until, until)

    def full_wanted(self, now: float | None = None) -> bool:
        """True while every frame should be decoded: always, or while someone asked for it."""
        if self.setting == "always":
            return True
        return (time.time() if now is None else now) < self._full_until

    def reasons(self, now: float | None = None) -> dict[str, float]:
        """Why the camera decodes every frame: reason -> seconds left."""
        now = time.time() if now is None else now
        with self._lock:
            return {r: round(u - now, 1) for r, u in self._until.items() if u > now}

    def set_mode(self, mode: DecodeMode) -> None:
        """The source says what it decodes now (`full` from `idle` counts a wake-up)."""
        if mode == "full" and self.mode == "idle":
            self.wakeups += 1
        self.mode = mode

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: setting, mode, decoded frames per second, why it decodes fully."""
        return {
            "setting": self.setting,
            "mode": self.mode,
            "adaptive": self.supported,
            "idle_after": self.idle_after,
            "fps": round(self.frames.per_second(), 2),
            "frames": self.frames.total,
            "wakeups": self.wakeups,
            "replayed": self.replayed,
            "reasons": self.reasons(),
        }
