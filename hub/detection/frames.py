"""Frames handed from a camera source to detectors: newest wins, drops are counted.

A source waking from keyframes-only decoding (adaptive decoding) also hands over the
frames since the previous keyframe, decoded late: those are queued in order (bounded) ahead of
the live frame, so a consumer sees what happened before the keyframe that showed motion.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hub.detection.outlines import Outline

Gray = npt.NDArray[np.uint8]
SnapshotFactory = Callable[[Sequence[Outline], int | None], bytes]
"""Makes a JPEG of the full-size frame with outlines drawn, scaled to a width if given."""


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
    jpeg_factory: Callable[[], bytes] | None = field(default=None, repr=False, compare=False)
    snapshot_factory: SnapshotFactory | None = field(default=None, repr=False, compare=False)
    """Sources that can draw on and scale their JPEGs give this (event snapshots use it)."""
    replayed: bool = False
    """Decoded late, from packets held while the camera was idle: older than frames already
    delivered (see `FrameFeed.replay_threadsafe`)."""

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of `gray`."""
        return int(self.gray.shape[1]), int(self.gray.shape[0])

    def rgb(self) -> npt.NDArray[np.uint8]:
        """An H x W x 3 RGB array of the same size as `gray`."""
        return self.rgb_factory()

    def jpeg(self, outlines: Sequence[Outline] = (), width: int | None = None) -> bytes | None:
        """The full-size frame as JPEG (for event snapshots), if the source can make one.

        With a `snapshot_factory`, `outlines` are drawn and a `width` scales the picture
        down (thumbnails); a source without one gives its plain JPEG, or None.
        """
        if self.snapshot_factory is not None:
            return self.snapshot_factory(tuple(outlines), width)
        if width is not None:
            return None  # a full-size picture is no thumbnail
        return self.jpeg_factory() if self.jpeg_factory is not None else None


MAX_REPLAYED_FRAMES = 100
"""Replayed frames a slot holds at most (a 10 s GOP at 10 fps); beyond, the oldest go."""


class FrameSlot:
    """One consumer's one-frame mailbox: a new frame replaces an unread one, and that drop
    is counted. Memory stays at one frame however slow the consumer is, plus at most
    `MAX_REPLAYED_FRAMES` replayed ones, which are read first, oldest first."""

    def __init__(self, feed: FrameFeed):
        self.feed = feed
        self._frame: Frame | None = None
        self._replayed: collections.deque[Frame] = collections.deque()
        self._ready = asyncio.Event()
        self.delivered = 0
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        """Offer a frame (loop thread)."""
        if self._frame is not None:
            self.dropped += 1
        self._frame = frame
        self._ready.set()

    def replay(self, frames: list[Frame]) -> None:
        """Queue frames decoded late, in order, ahead of the live frame (loop thread)."""
        self._replayed.extend(frames)
        while len(self._replayed) > MAX_REPLAYED_FRAMES:
            self._replayed.popleft()
            self.dropped += 1
        if frames:
            self._ready.set()

    async def get(self) -> Frame:
        """Wait for the next replayed frame, else the newest frame not yet read."""
        while self._frame is None and not self._replayed:
            self._ready.clear()
            await self._ready.wait()
        if self._replayed:
            frame = self._replayed.popleft()
        else:
            assert self._frame is not None
            frame, self._frame = self._frame, None
        self.delivered += 1
        return frame

    def detach(self) -> None:
        """Stop receiving frames."""
        self.feed.detach(self)


class FrameFeed:
    """A camera's detection frames, fanned out to every attached consumer's FrameSlot.

    The source runs in a worker thread and calls `put_threadsafe`; each consumer
    (motion, an object detector) attaches its own slot, so a slow one drops its
    own frames and never another's.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.slots: list[FrameSlot] = []
        self._gone_delivered = 0
        self._gone_dropped = 0

    @property
    def wanted(self) -> bool:
        """True while a consumer is attached; sources skip decoding for detection otherwise."""
        return bool(self.slots)

    @property
    def delivered(self) -> int:
        """Frames read by consumers, over the feed's life."""
        return self._gone_delivered + sum(s.delivered for s in self.slots)

    @property
    def dropped(self) -> int:
        """Frames replaced before a consumer read them, over the feed's life."""
        return self._gone_dropped + sum(s.dropped for s in self.slots)

    def attach(self) -> FrameSlot:
        """A new consumer's slot."""
        slot = FrameSlot(self)
        self.slots.append(slot)
        return slot

    def detach(self, slot: FrameSlot) -> None:
        """Remove a consumer, keeping its counts in the totals."""
        if slot in self.slots:
            self.slots.remove(slot)
            self._gone_delivered += slot.delivered
            self._gone_dropped += slot.dropped

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver `put_threadsafe` frames on this loop (sources call this as they start)."""
        self._loop = loop

    def put(self, frame: Frame) -> None:
        """Offer a frame to every consumer (loop thread)."""
        for slot in self.slots:
            slot.put(frame)

    def put_threadsafe(self, frame: Frame) -> None:
        """Offer a frame from a worker thread."""
        if self._loop is None:
            raise RuntimeError("FrameFeed has no loop to deliver to")
        with contextlib.suppress(RuntimeError):  # the loop closed: the frame no longer matters
            self._loop.call_soon_threadsafe(self.put, frame)

    def replay(self, frames: list[Frame]) -> None:
        """Queue frames decoded late for every consumer, ahead of live ones (loop thread)."""
        for slot in self.slots:
            slot.replay(frames)

    def replay_threadsafe(self, frames: list[Frame]) -> None:
        """Hand over, from a worker thread, frames older than those already delivered: the
        ones a source decodes from held packets when it wakes from keyframes-only decoding.
        Call before `put_threadsafe` of any newer frame, so each consumer reads them first."""
        if self._loop is None:
            raise RuntimeError("FrameFeed has no loop to deliver to")
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self.replay, frames)
