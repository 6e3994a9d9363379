"""Frames handed from a camera source to detectors: newest wins, drops are counted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Frame:
    """One decoded frame, scaled to the camera's `detect.height`.

    `gray` is the luma plane (what motion detection needs, nearly free to get);
    `rgb()` converts on demand, for object detectors only.
    """

    camera_id: str
    time: float
    """Wall-clock capture time (seconds since the epoch)."""
    gray: Gray
    rgb_factory: Callable[[], npt.NDArray[np.uint8]] = field(repr=False, compare=False)
    source_size: tuple[int, int] = (0, 0)
    """Width and height of the stream before scaling."""

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of `gray`."""
        return int(self.gray.shape[1]), int(self.gray.shape[0])

    def rgb(self) -> npt.NDArray[np.uint8]:
        """An H x W x 3 RGB array of the same size as `gray`."""
        return self.rgb_factory()


class FrameSlot:
    """A one-frame mailbox: a new frame replaces an unread one, and that drop is counted.

    Producers run in worker threads and call `put_threadsafe`; one consumer
    awaits `get`. Memory stays at one frame however slow the consumer is.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self._loop = loop
        self._frame: Frame | None = None
        self._ready = asyncio.Event()
        self.consumers = 0
        self.delivered = 0
        self.dropped = 0

    @property
    def wanted(self) -> bool:
        """True while a consumer is attached; sources skip decoding for detection otherwise."""
        return self.consumers > 0

    def attach(self) -> None:
        """Register a consumer (detectors call this before their first `get`)."""
        self.consumers += 1

    def detach(self) -> None:
        """Unregister a consumer."""
        self.consumers = max(0, self.consumers - 1)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver `put_threadsafe` frames on this loop (sources call this as they start)."""
        self._loop = loop

    def put(self, frame: Frame) -> None:
        """Offer a frame (loop thread)."""
        if self._frame is not None:
            self.dropped += 1
        self._frame = frame
        self._ready.set()

    def put_threadsafe(self, frame: Frame) -> None:
        """Offer a frame from a worker thread."""
        if self._loop is None:
            raise RuntimeError("FrameSlot has no loop to deliver to")
        with contextlib.suppress(RuntimeError):  # the loop closed: the frame no longer matters
            self._loop.call_soon_threadsafe(self.put, frame)

    async def get(self) -> Frame:
        """Wait for the newest frame not yet read."""
        while self._frame is None:
            self._ready.clear()
            await self._ready.wait()
        frame, self._frame = self._frame, None
        self.delivered += 1
        return frame
