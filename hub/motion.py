"""Runs each camera's motion detector on its detection frames and turns boxes into motion events.

A motion event starts with the first frame that has boxes and ends after
`motion.end_after` seconds without any. While it lasts, the camera's `events`
recording is held open (plus `record.post_seconds`), `motion.<camera>` is `on`,
and the `events` table has a row of kind `motion`. Segments overlapping motion
are indexed with `has_motion`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hub.events import Context, MotionEnded, MotionStarted, new_id
from hub.frames import Gray

if TYPE_CHECKING:
    from hub.cameras import CameraRuntime
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
Box = tuple[int, int, int, int]
RECENT_INTERVALS = 200


@runtime_checkable
class MotionDetector(Protocol):
    """What the `motion_detector` hook returns: boxes of motion in a luma frame."""

    def detect(self, gray: Gray) -> list[Box]:
        """Boxes (x0, y0, x1, y1; x1, y1 exclusive) of what moved, in `gray`'s pixels."""
        ...


def motion_entity(camera_id: str) -> str:
    """The state entity of a camera's motion (`on`/`off`)."""
    return f"motion.{camera_id}"


@dataclass
class MotionTimeline:
    """Recent motion intervals of one camera, to flag recording segments."""

    intervals: collections.deque[list[float | None]] = field(
        default_factory=lambda: collections.deque(maxlen=RECENT_INTERVALS)
    )

    def overlaps(self, start: float, end: float) -> bool:
        """True if motion happened between `start` and `end`."""
        return any(
            begin < end and (stop is None or stop > start)
            for begin, stop in self.intervals
            if begin is not None
        )


class CameraMotion:
    """The motion loop of one camera."""

    def __init__(self, hub: Hub, runtime: CameraRuntime, detector: MotionDetector):
        self.hub = hub
        self.runtime = runtime
        self.detector = detector
        self.camera_id = runtime.camera_id
        self.config = runtime.config.motion
        self.event_id: str | None = None
        self.started = 0.0
        self.last_motion = 0.0
        self.context = Context()
        self.frames = 0
        self.failures = 0
        self.task: asyncio.Task[None] | None = None
        # The latest boxes: object detection looks around them.
        self.last_boxes: list[Box] = []
        self.last_boxes_time = 0.0

    def stop(self) -> None:
        """Cancel the loop; an open motion event is ended and stored."""
        if self.task is not None:
            self.task.cancel()

    async def async_run(self) -> None:
        """Take frames until cancelled; a detector error skips the frame, never the camera."""
        slot = self.runtime.frames.attach()
        self.hub.states.async_set(motion_entity(self.camera_id), "off")
        try:
            while True:
                frame = await slot.get()
                try:
                    boxes = await asyncio.to_thread(self.detector.detect, frame.gray)
                except Exception:
                    self.failures += 1
                    if self.failures in (1, 10) or self.failures % 1000 == 0:
                        _LOGGER.exception(
                            "Motion detector failed on camera %s (%d)",
                            self.camera_id,
                            self.failures,
                        )
                    continue
                self.frames += 1
                self.update(frame.time, boxes)
        finally:
            slot.detach()
            if self.event_id is not None:
                self._end(time.time())

    def update(self, now: float, boxes: list[Box]) -> None:
        """Advance the state machine with one frame's boxes."""
        if boxes:
            self.last_motion = now
            self.last_boxes, self.last_boxes_time = boxes, now
            if self.event_id is None:
                self._start(now, boxes)
            record = self.runtime.config.record
            self.hub.cameras.hold_recording(
                self.camera_id, now + self.config.end_after + record.post_seconds
            )
        elif self.event_id is not None and now - self.last_motion >= self.config.end_after:
            self._end(now)

    def _start(self, now: float, boxes: list[Box]) -> None:
        self.event_id = new_id()
        self.started = now
        self.context = Context()
        self.runtime.motion.intervals.append([now, None])
        self.hub.states.async_set(motion_entity(self.camera_id), "on", context=self.context)
        self.hub.bus.publish(
            MotionStarted(
                camera=self.camera_id,
                event_id=self.event_id,
                boxes=tuple(boxes),
                context=self.context,
            )
        )
        self._store(None)

    def _store(self, end: float | None) -> None:
        assert self.event_id is not None
        row = {
            "id": self.event_id,
            "camera": self.camera_id,
            "kind": "motion",
            "label": "motion",
            "start": self.started,
            "end": end,
            "context_id": self.context.id,
        }
        self.hub.async_store_later("events", row)

    def _end(self, now: float) -> None:
        assert self.event_id is not None
        end = self.last_motion or now
        if self.runtime.motion.intervals:
            self.runtime.motion.intervals[-1][1] = end
        self.hub.states.async_set(motion_entity(self.camera_id), "off", context=self.context)
        self.hub.bus.publish(
            MotionEnded(
                camera=self.camera_id,
                event_id=self.event_id,
                duration=end - self.started,
                context=self.context,
            )
        )
        self._store(end)
        self.event_id = None


async def async_start_motion(hub: Hub) -> list[CameraMotion]:
    """Ask plugins for a motion detector per camera and start each camera's loop."""
    loops = []
    for camera_id, runtime in hub.cameras.cameras.items():
        config = runtime.config
        if not (config.enabled and config.detect.enabled and config.motion.enabled):
            continue
        if runtime.source is None:
            continue
        detector = await hub.plugins.async_call_first(
            "motion_detector", hub=hub, camera_id=camera_id, config=config
        )
        if detector is None:
            _LOGGER.info("No motion detector plugin for camera %s", camera_id)
            continue
        loop = CameraMotion(hub, runtime, detector)
        loop.task = hub.async_create_task(loop.async_run(), f"motion:{camera_id}")
        loops.append(loop)
    return loops
