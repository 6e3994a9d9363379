"""Runs a camera's object detector on regions around motion and turns tracks into events.

The detector is only called while something moves (or a moving object seen in the
last second is being followed), at most `objects.max_fps` times a second, on crops around the
motion boxes (the whole frame when motion covers most of it). Detections are
mapped back to the detection frame, filtered by label and score, and tracked;
a confirmed track is an event (`event_started`, `event_updated` when its
score or zones improve, `event_ended` after `objects.end_after` seconds
unseen) with the best-scored frame as its snapshot. An object is in a zone
when the bottom centre of its box is inside the zone's polygon.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub import hookspecs
from hub.detection.camera_objects import CameraObjectSignals
from hub.detection.frames import Frame, FrameSlot
from hub.detection.object_detector import Detection, DetectorError, ObjectDetector
from hub.detection.outlines import Outline
from hub.detection.snapshots import EventSnapshot
from hub.detection.tracker import Box, Track, Tracker, iou
from hub.events import (
    Context,
    EventEnded,
    EventStarted,
    EventUpdated,
    ObjectDetected,
    ObjectEventChanged,
    new_id,
)

if TYPE_CHECKING:
    from hub.cameras.manager import CameraRuntime
    from hub.core import Hub
    from hub.detection.motion import CameraMotion

_LOGGER = logging.getLogger(__name__)
# Crops smaller than this (detection-frame pixels) give detectors too little to see.
MIN_REGION = 96
# Motion covering more than this share of the frame is looked at whole.
WHOLE_FRAME_SHARE = 0.5
MOTION_RECENT_SECONDS = 1.0
FOLLOW_SECONDS = 1.0
"""A moving object is looked for this long after it was last seen, motion or not: enough
for two calls at the default max_fps, not the whole `end_after` (an object that left the
picture would keep the detector busy for nothing)."""
IDLE_CHECK_SECONDS = 0.25
"""How often an idle on-demand loop looks whether motion began."""


def point_in_polygon(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    """Even-odd rule test of a point against a polygon (same units)."""
    inside = False
    j = len(polygon) - 1
    for i, (xi, yi) in enumerate(polygon):
        xj, yj = polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def regions_for(boxes: list[Box], width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Crops around motion: each box widened by half, at least MIN_REGION, merged if touching."""
    regions: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        side = max(x1 - x0, y1 - y0) * 1.5
        side = min(max(side, MIN_REGION), width, height)
        regions.append([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])
    merged = True
    while merged:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    regions[i] = [
                        min(a[0], b[0]),
                        min(a[1], b[1]),
                        max(a[2], b[2]),
                        max(a[3], b[3]),
                    ]
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    clipped = []
    for x0, y0, x1, y1 in regions:
        # Shift (not shrink) a region that pokes out of the frame.
        dx = max(0.0, -x0) - max(0.0, x1 - width)
        dy = max(0.0, -y0) - max(0.0, y1 - height)
        x0, x1, y0, y1 = x0 + dx, x1 + dx, y0 + dy, y1 + dy
        clipped.append(
            (
                max(0, int(x0)),
                max(0, int(y0)),
                min(width, int(x1 + 0.5)),
                min(height, int(y1 + 0.5)),
            )
        )
    area = sum((r[2] - r[0]) * (r[3] - r[1]) for r in clipped)
    if area > WHOLE_FRAME_SHARE * width * height:
        return [(0, 0, width, height)]
    return clipped


def stored_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """An `events` row as JSON-ready data: zones and data decoded, keep as a bool."""
    data = dict(row)
    for key in ("zones", "data"):
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    data["keep"] = bool(data.get("keep"))
    return data


class CameraObjects:
    """The object loop of one camera."""

    def __init__(
        self,
        hub: Hub,
        runtime: CameraRuntime,
        detector: ObjectDetector,
        motion: CameraMotion | None,
    ):
        self.hub = hub
        self.runtime = runtime
        self.camera_id = runtime.camera_id
        self.config = runtime.config.objects
        self.detector = detector
        self.motion = motion
        self.tracker = Tracker(
            min_hits=self.config.min_hits,
            end_after=self.config.end_after,
            stationary_seconds=self.config.stationary_seconds,
        )
        self.events: dict[int, _ObjectEvent] = {}
        self.calls = 0
        self.failures = 0
        self.task: asyncio.Task[None] | None = None

    def _busy(self, now: float) -> bool:
        """True while there is reason to look: recent motion, or a moving object followed."""
        motion = self.motion
        recent = motion is not None and now - motion.last_boxes_time < MOTION_RECENT_SECONDS
        return recent or any(
            not t.stationary and now - t.last_seen < FOLLOW_SECONDS for t in self.tracker.tracks
        )

    def _on_demand(self) -> bool:
        """A camera that reports its own motion is decoded for objects only while it lasts:
        choosing `motion.source: camera` means not decoding an idle camera."""
        return self.motion is not None and self.motion.signals is not None

    async def async_run(self) -> None:
        """Take frames until cancelled; a failing detector skips frames, never the camera."""
        slot: FrameSlot | None = None
        interval = 1.0 / self.config.max_fps
        replayed_at = -math.inf
        try:
            while True:
                if self._on_demand() and not (self.runtime.armed and self._busy(time.time())):
                    if slot is not None:
                        slot.detach()  # the source stops decoding when no one is attached
                        slot = None
                    for track in self.tracker.update([], time.time()).ended:
                        self._ended(track, track.last_seen)
                    await asyncio.sleep(IDLE_CHECK_SECONDS)
                    continue
                if slot is None:
                    slot = self.runtime.frames.attach()
                try:
                    frame = await asyncio.wait_for(slot.get(), IDLE_CHECK_SECONDS * 4)
                except TimeoutError:
                    continue  # a stalled camera: look at the motion state again
                if frame.replayed:
                    # Frames from before the keyframe that woke the camera, queued: look at
                    # max_fps of them per second of video, without pausing, so the loop is
                    # back on live frames in a moment.
                    if abs(frame.time - replayed_at) < interval:
                        continue
                    replayed_at = frame.time
                if not self.runtime.armed or not self._busy(frame.time):
                    self._advance(frame, [])
                    continue
                started = time.monotonic()
                detections = await self._detect(frame)
                if detections is not None:
                    self._advance(frame, detections)
                if not frame.replayed:
                    # Keep to max_fps: frames arriving meanwhile replace each other in the slot.
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            if slot is not None:
                slot.detach()
            for track in self.tracker.end_all():
                self._ended(track, time.time())

    async def _detect(self, frame: Frame) -> list[tuple[str, float, Box]] | None:
        width, height = frame.size
        boxes: list[Box] = [
            (float(x0), float(y0), float(x1), float(y1))
            for x0, y0, x1, y1 in (self.motion.last_boxes if self.motion else [])
        ]
        boxes += [t.box for t in self.tracker.tracks if not t.stationary]
        regions = regions_for(boxes, width, height) if boxes else [(0, 0, width, height)]
        rgb = await asyncio.to_thread(frame.rgb)
        crops = [rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in regions]
        self.calls += 1
        try:
            answers = await self.detector.async_detect(crops)
        except DetectorError as exc:
            self._failed(str(exc))
            return None
        except Exception as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return None
        found = []
        for (x0, y0, _, _), detections in zip(regions, answers, strict=False):
            found += [self._in_frame(d, x0, y0) for d in detections if self._wanted(d)]
        if found:
            self.hub.bus.publish(ObjectDetected(camera=self.camera_id, detections=tuple(found)))
        return _dedupe(found)

    def _wanted(self, detection: Detection) -> bool:
        return (
            detection.label in self.config.labels
            and detection.score >= self.config.min_score_for(detection.label)
        )

    @staticmethod
    def _in_frame(detection: Detection, x: int, y: int) -> tuple[str, float, Box]:
        x0, y0, x1, y1 = detection.box
        return detection.label, detection.score, (x0 + x, y0 + y, x1 + x, y1 + y)

    def _failed(self, reason: str) -> None:
        self.failures += 1
        if self.failures in (1, 10) or self.failures % 1000 == 0:
            _LOGGER.error(
                "Object detector failed on camera %s (%d so far): %s",
                self.camera_id,
                self.failures,
                self.hub.redactor(reason),
            )

    def _advance(self, frame: Frame, detections: list[tuple[str, float, Box]]) -> None:
        update = self.tracker.update(detections, frame.time)
        for track in update.confirmed:
            track.zones = self._zones(track, frame)
            event_id = new_id()
            snapshot = EventSnapshot(self.hub, self.camera_id, event_id)
            parent_id, context = self._story(frame.time)
            self.events[track.id] = _ObjectEvent(
                event_id, track, frame, track.box, context, snapshot, parent_id
            )
            self._publish(EventStarted, track)
            # At once, so the event list shows the object while it is still there.
            snapshot.take(frame, self._outlines(track.box, frame))
        for track in update.seen:
            event = self.events.get(track.id)
            if event is None:
                continue
            zones = self._zones(track, frame)
            improved = track in update.improved
            if improved:
                event.best, event.best_box = frame, track.box
            if improved or not zones <= track.zones:
                track.zones |= zones
                self._publish(EventUpdated, track)
            if not track.stationary:
                record = self.runtime.config.record
                self.hub.cameras.hold_recording(
                    self.camera_id, frame.time + self.config.end_after + record.post_seconds
                )
        for track in update.ended:
            self._ended(track, track.last_seen)
        if self.events:
            # Adaptive decoding: every frame while an object event is open, `idle_after` beyond.
            self.runtime.decode.request_full("object event", self.runtime.decode.idle_after)

    def _zones(self, track: Track, frame: Frame) -> set[str]:
        width, height = frame.size
        x0, _, x1, y1 = track.box
        foot = ((x0 + x1) / 2 / width, y1 / height)
        return {
            name
            for name, zone in self.runtime.config.zones.items()
            if (not zone.labels or track.label in zone.labels)
            and point_in_polygon(*foot, list(zone.points))
        }

    def _publish(self, kind: type[ObjectEventChanged], track: Track, **extra: Any) -> None:
        event = self.events[track.id]
        self.hub.bus.publish(
            kind(
                camera=self.camera_id,
                event_id=event.id,
                label=track.label,
                top_score=track.top_score,
                zones=tuple(sorted(track.zones)),
                start=track.first_seen,
                context=event.context,
                **extra,
            )
        )
        self._store(track, extra.get("end"))

    def _ended(self, track: Track, end: float) -> None:
        if track.id not in self.events:
            return
        self._publish(EventEnded, track, end=end)
        event = self.events.pop(track.id)
        if event.snapshot.frame is not event.best:
            event.snapshot.take(event.best, self._outlines(event.best_box, event.best))

    def _story(self, now: float) -> tuple[str | None, Context]:
        """The motion event this object event grew out of (its own context a child of that
        event's), if motion is on now or ended within `objects.end_after`."""
        motion = self.motion
        if motion is None or motion.last_event_id is None:
            return None, Context()
        ended = motion.last_event_end
        if ended is not None and now - ended > self.config.end_after:
            return None, Context()
        return motion.last_event_id, motion.context.child()

    def _outlines(self, box: Box, frame: Frame) -> list[Outline]:
        if not self.runtime.config.snapshots.object_box:
            return []
        return [Outline.around(box, frame.size)]

    def _store(self, track: Track, end: float | None) -> None:
        event = self.events[track.id]
        self.hub.async_store_later(
            "events",
            {
                "id": event.id,
                "camera": self.camera_id,
                "kind": "object",
                "label": track.label,
                "start": track.first_seen,
                "end": end,
                "top_score": track.top_score,
                "zones": sorted(track.zones),
                "context_id": event.context.id,
                "parent_id": event.parent_id,
                # `box` where it was last seen; `snapshot_box` on the snapshot (best frame).
                "data": {
                    "track": track.id,
                    "box": list(track.box),
                    "snapshot_box": list(event.best_box),
                },
            },
        )

    def stop(self) -> None:
        """Cancel the loop; open events end and are stored."""
        if self.task is not None:
            self.task.cancel()


@dataclass
class _ObjectEvent:
    id: str
    track: Track
    best: Frame
    """The frame where the object scored best: the snapshot kept when the event ends."""
    best_box: Box
    context: Context
    snapshot: EventSnapshot
    parent_id: str | None = None
    """The motion event it grew out of."""


def _dedupe(found: list[tuple[str, float, Box]]) -> list[tuple[str, float, Box]]:
    """Drop a detection that overlaps a better one of its label (from overlapping crops)."""
    kept: list[tuple[str, float, Box]] = []
    for item in sorted(found, key=lambda d: -d[1]):
        if all(k[0] != item[0] or iou(k[2], item[2]) < 0.5 for k in kept):
            kept.append(item)
    return kept


ObjectLoop = CameraObjects | CameraObjectSignals


async def async_start_objects(hub: Hub, camera_ids: list[str] | None = None) -> list[ObjectLoop]:
    """Start an object loop for every camera (or just `camera_ids`) with a detector to use,
    or, for `objects.source: camera`, with a plugin reading the camera's own detections."""
    loops: list[ObjectLoop] = []
    motion_by_camera = {m.camera_id: m for m in hub.motion_loops}
    # A copy: plugins are awaited and the default detector is built in here, and cameras may
    # be added or removed meanwhile.
    for camera_id, runtime in list(hub.cameras.items()):
        if camera_ids is not None and camera_id not in camera_ids:
            continue
        if runtime.source is None:
            continue
        config = runtime.config
        if config.objects.source == "camera":
            if not (config.enabled and config.detect.enabled and config.objects.enabled):
                continue
            signals = await hub.plugins.async_call_first(
                hookspecs.camera_objects, hub=hub, camera_id=camera_id, config=config
            )
            if signals is None:
                problem = (
                    f"camera {camera_id}: objects.source is camera, but no plugin reads "
                    "its detections"
                )
                hub.problems.append(problem)
                _LOGGER.error("%s", problem)
                continue
            from_camera = CameraObjectSignals(hub, runtime, signals)
            from_camera.task = hub.async_create_background_task(
                from_camera.async_run(), f"objects:{camera_id}"
            )
            loops.append(from_camera)
            continue
        choice = hub.detector_pool.choose(config)
        if choice.detector_id is None:
            _LOGGER.debug("Camera %s: no object detection (%s)", camera_id, choice.reason)
            continue
        detector = await hub.detector_pool.async_get(choice.detector_id)
        if detector is None or hub.cameras.get(camera_id) is not runtime:
            continue  # the detector failed (reported once), or the camera went away
        loop = CameraObjects(hub, runtime, detector, motion_by_camera.get(camera_id))
        loop.task = hub.async_create_background_task(loop.async_run(), f"objects:{camera_id}")
        loops.append(loop)
    return loops
