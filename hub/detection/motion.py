"""Runs each camera's motion detector on its detection frames and turns boxes into motion events.

A motion event starts with the first frame that has boxes and ends after
`motion.end_after` seconds without any. While it lasts, the camera's `events`
recording is held open (plus `record.post_seconds`), `motion.<camera>` is `on`,
and the `events` table has a row of kind `motion`. Segments overlapping motion
are indexed with `has_motion`. Its snapshot is the first frame, replaced at
the end by the frame where the most moved (the camera's own picture when the
camera reports the motion).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from hub import hookspecs
from hub.detection.frames import Frame, Gray
from hub.detection.outlines import MOTION_COLOR, Outline
from hub.detection.snapshots import EventSnapshot
from hub.events import Context, MotionEnded, MotionStarted, new_id

if TYPE_CHECKING:
    from hub.cameras.manager import CameraRuntime
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
Box = tuple[int, int, int, int]
RECENT_INTERVALS = 200
SIGNAL_TICK = 0.5
SIGNAL_BOX = (0, 0, 0, 0)
"""Stands for "the camera says something moves" in the box list."""


@runtime_checkable
class MotionDetector(Protocol):
    """What the `motion_detector` hook returns: boxes of motion in a luma frame."""

    def detect(self, gray: Gray) -> list[Box]:
        """Boxes (x0, y0, x1, y1; x1, y1 exclusive) of what moved, in `gray`'s pixels."""
        ...


@runtime_checkable
class TimedMotionDetector(Protocol):
    """A motion detector that also takes each frame's capture time (optional; preferred).

    Frames do not come at a steady rate: `detect.fps` while something moves, one per
    keyframe (every 1 to 10 s) while an adaptive camera is idle, and, on waking, the
    frames since the keyframe before, which are older than the last one seen. A detector
    that knows the times can keep its background's rate of change per second.
    """

    def detect_at(self, gray: Gray, time: float) -> list[Box]:
        """Like `MotionDetector.detect`, for a frame captured at `time` (epoch seconds)."""
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

    def __init__(
        self,
        hub: Hub,
        runtime: CameraRuntime,
        detector: MotionDetector | None = None,
        signals: AsyncIterator[bool] | None = None,
    ):
        self.hub = hub
        self.runtime = runtime
        self.detector = detector
        self.signals = signals
        self.signal_active = False
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
        self.snapshot: EventSnapshot | None = None
        # The frame of the current event where the largest area moved, and its boxes.
        self.best: tuple[int, Frame, list[Box]] | None = None
        self.last_event_id: str | None = None
        """The latest motion event, ended or not (object events name it as their start)."""
        self.last_event_end: float | None = None

    def stop(self) -> None:
        """Cancel the loop; an open motion event is ended and stored."""
        if self.task is not None:
            self.task.cancel()

    async def async_run(self) -> None:
        """Follow the camera's motion until cancelled; an open motion event is then ended."""
        self.hub.states.async_set(motion_entity(self.camera_id), "off")
        try:
            if self.signals is not None:
                await self._follow_signals(self.signals)
            else:
                await self._detect_in_frames()
        finally:
            if self.event_id is not None:
                self._end(time.time())

    async def _follow_signals(self, signals: AsyncIterator[bool]) -> None:
        """The camera says when motion starts and stops (ONVIF); no frame is decoded."""
        while True:
            try:
                self.signal_active = await asyncio.wait_for(anext(signals), SIGNAL_TICK)
            except TimeoutError:
                pass
            except StopAsyncIteration:
                _LOGGER.warning("Camera %s stopped sending motion signals", self.camera_id)
                self.signal_active = False
                await asyncio.sleep(SIGNAL_TICK)
            # Motion lasts from "on" to "off": while on, it is seen at every tick.
            self.update(time.time(), [] if not self.signal_active else [SIGNAL_BOX])

    async def _detect_in_frames(self) -> None:
        assert self.detector is not None
        slot = self.runtime.frames.attach()
        try:
            while True:
                frame = await slot.get()
                if not self.runtime.armed:
                    self.update(frame.time, [])  # an open motion event still ends
                    continue
                try:
                    boxes = await asyncio.to_thread(self._detect, frame)
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
                self.update(frame.time, boxes, frame)
        finally:
            slot.detach()

    def _detect(self, frame: Frame) -> list[Box]:
        assert self.detector is not None
        if isinstance(self.detector, TimedMotionDetector):
            return self.detector.detect_at(frame.gray, frame.time)
        return self.detector.detect(frame.gray)

    def update(self, now: float, boxes: list[Box], frame: Frame | None = None) -> None:
        """Advance the state machine with one frame's boxes (and the frame, for snapshots).

        A frame older than the event's start (replayed on waking from keyframes-only
        decoding) with motion moves the start back to it: the event starts when the
        motion did, not at the keyframe that showed it.
        """
        if boxes:
            # Camera signals carry no position: object detection then looks at the whole frame.
            shown = [] if boxes == [SIGNAL_BOX] else boxes
            if self.event_id is not None and now < self.started:
                self._start_earlier(now)
            if now >= self.last_motion:
                self.last_motion = now
                self.last_boxes = shown
                self.last_boxes_time = now
            if self.event_id is None:
                self._start(now, shown)
                self._first_snapshot(frame)
            self._keep_best(frame, shown)
            record = self.runtime.config.record
            self.hub.cameras.hold_recording(
                self.camera_id, self.last_motion + self.config.end_after + record.post_seconds
            )
        elif self.event_id is not None and now - self.last_motion >= self.config.end_after:
            self._end(now)
        if self.event_id is not None:
            # Adaptive decoding: every frame while motion lasts, and `idle_after` beyond.
            self.runtime.decode.request_full("motion", self.runtime.decode.idle_after)

    def _start_earlier(self, when: float) -> None:
        self.started = when
        if self.runtime.motion.intervals:
            self.runtime.motion.intervals[-1][0] = when
        self._store(None)

    def _start(self, now: float, boxes: list[Box]) -> None:
        self.event_id = self.last_event_id = new_id()
        self.last_event_end = None
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

    def _first_snapshot(self, frame: Frame | None) -> None:
        assert self.event_id is not None
        self.snapshot = EventSnapshot(self.hub, self.camera_id, self.event_id)
        if frame is not None:
            self.best = None
            self.snapshot.take(frame, self._outlines(frame, self.last_boxes))
        else:
            snapshot = self.snapshot
            self.hub.async_create_task(
                self._camera_picture(snapshot), f"motion-snapshot:{self.event_id}"
            )

    async def _camera_picture(self, snapshot: EventSnapshot) -> None:
        """The camera reported the motion (no frame here): keep its picture of the moment."""
        jpeg = await self.hub.cameras.async_snapshot(self.camera_id)
        if jpeg is not None:
            snapshot.take_jpeg(jpeg)

    def _keep_best(self, frame: Frame | None, boxes: list[Box]) -> None:
        if frame is None:
            return
        area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in boxes)
        if self.best is None or area > self.best[0]:
            self.best = (area, frame, list(boxes))

    def _outlines(self, frame: Frame, boxes: list[Box]) -> list[Outline]:
        if not self.runtime.config.snapshots.motion_boxes:
            return []
        return [Outline.around(box, frame.size, MOTION_COLOR) for box in boxes]

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
        if self.snapshot is not None and self.best is not None:
            _, frame, boxes = self.best
            if self.snapshot.frame is not frame:
                self.snapshot.take(frame, self._outlines(frame, boxes))
        self.last_event_id, self.last_event_end = self.event_id, end
        self.event_id, self.snapshot, self.best = None, None, None


async def async_start_motion(hub: Hub, camera_ids: list[str] | None = None) -> list[CameraMotion]:
    """Ask plugins for a motion detector per camera (or just `camera_ids`) and start the loops."""
    loops = []
    # A copy: plugins are awaited in here, and cameras may be added or removed meanwhile.
    for camera_id, runtime in list(hub.cameras.items()):
        if camera_ids is not None and camera_id not in camera_ids:
            continue
        config = runtime.config
        if not (config.enabled and config.detect.enabled and config.motion.enabled):
            continue
        if runtime.source is None:
            continue
        if config.motion.source == "camera":
            signals = await hub.plugins.async_call_first(
                hookspecs.camera_motion, hub=hub, camera_id=camera_id, config=config
            )
            if signals is None:
                problem = (
                    f"camera {camera_id}: motion.source is camera, but no plugin reads its motion"
                )
                hub.problems.append(problem)
                _LOGGER.error("%s", problem)
                continue
            loop = CameraMotion(hub, runtime, signals=signals)
            loop.task = hub.async_create_background_task(loop.async_run(), f"motion:{camera_id}")
            loops.append(loop)
            continue
        detector = await hub.plugins.async_call_first(
            hookspecs.motion_detector, hub=hub, camera_id=camera_id, config=config
        )
        if detector is None:
            _LOGGER.info("No motion detector plugin for camera %s", camera_id)
            continue
        loop = CameraMotion(hub, runtime, detector)
        loop.task = hub.async_create_background_task(loop.async_run(), f"motion:{camera_id}")
        loops.append(loop)
    return loops
