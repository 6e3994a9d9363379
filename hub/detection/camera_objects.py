"""Object events from a camera's own detection (`objects.source: camera`): no decoding here.

Cameras that detect people, vehicles or animals on board report it (ONVIF events,
through the `camera_objects` hook) as a label turning on and off. Each label the
camera's `objects.labels` lists becomes an object event exactly like one the hub's
detector makes (`event_started` ... `event_ended`, a row of kind `object`, `events`
recording held open), with a score of 1.0 (the camera gives none), no zones (it
gives no position) and, as its snapshot, the camera's picture when it began.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.detection.snapshots import async_link_event_snapshot, async_write_event_snapshot
from hub.events import Context, EventEnded, EventStarted, ObjectEventChanged, new_id

if TYPE_CHECKING:
    from hub.cameras.manager import CameraRuntime
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
SIGNAL_TICK = 0.5
CAMERA_SCORE = 1.0
"""The score of an object the camera reports: it says yes or no, nothing finer."""
STALE_SECONDS = 600.0
"""An object the camera said nothing more about for this long is taken as gone (some
firmware never sends the "off")."""


@dataclass(frozen=True)
class CameraDetection:
    """What a `camera_objects` iterator yields: the camera sees a `label` now, or no more."""

    label: str
    active: bool


@dataclass
class _OpenEvent:
    id: str
    start: float
    last_seen: float
    context: Context = field(default_factory=Context)
    snapshot_path: str | None = None


class CameraObjectSignals:
    """The object events of one camera that detects objects itself."""

    def __init__(self, hub: Hub, runtime: CameraRuntime, signals: AsyncIterator[CameraDetection]):
        self.hub = hub
        self.runtime = runtime
        self.camera_id = runtime.camera_id
        self.config = runtime.config.objects
        self.signals = signals
        self.open: dict[str, _OpenEvent] = {}
        self.task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Cancel the loop; open events end and are stored."""
        if self.task is not None:
            self.task.cancel()

    async def async_run(self) -> None:
        """Follow the camera's signals until cancelled, ticking to hold recordings open."""
        try:
            while True:
                try:
                    signal = await asyncio.wait_for(anext(self.signals), SIGNAL_TICK)
                except TimeoutError:
                    signal = None
                except StopAsyncIteration:
                    _LOGGER.warning("Camera %s stopped sending object signals", self.camera_id)
                    for label in list(self.open):
                        self._end(label, time.time())
                    await asyncio.sleep(SIGNAL_TICK)
                    continue
                self.update(signal, time.time())
        finally:
            for label in list(self.open):
                self._end(label, time.time())

    def update(self, signal: CameraDetection | None, now: float) -> None:
        """Take one signal (or none, on a tick) and advance the open events."""
        if signal is not None and signal.label in self.config.labels:
            event = self.open.get(signal.label)
            if signal.active and self.runtime.armed:
                if event is None:
                    self._start(signal.label, now)
                else:
                    event.last_seen = now
            elif not signal.active and event is not None:
                self._end(signal.label, now)
        for label, event in list(self.open.items()):
            if not self.runtime.armed or now - event.last_seen > STALE_SECONDS:
                self._end(label, now)
                continue
            record = self.runtime.config.record
            self.hub.cameras.hold_recording(self.camera_id, now + record.post_seconds)

    def _start(self, label: str, now: float) -> None:
        event = self.open[label] = _OpenEvent(new_id(), now, now)
        self._publish(EventStarted, label, event)
        self.hub.async_create_task(self._snapshot(event), f"snapshot:{event.id}")

    def _end(self, label: str, now: float) -> None:
        event = self.open.pop(label)
        self._publish(EventEnded, label, event, end=now)

    def _publish(
        self, kind: type[ObjectEventChanged], label: str, event: _OpenEvent, **extra: Any
    ) -> None:
        self.hub.bus.publish(
            kind(
                camera=self.camera_id,
                event_id=event.id,
                label=label,
                top_score=CAMERA_SCORE,
                zones=(),
                start=event.start,
                context=event.context,
                **extra,
            )
        )
        self.hub.async_store_later(
            "events",
            {
                "id": event.id,
                "camera": self.camera_id,
                "kind": "object",
                "label": label,
                "start": event.start,
                "end": extra.get("end"),
                "top_score": CAMERA_SCORE,
                "zones": [],
                "context_id": event.context.id,
                "data": {"source": "camera"},
            },
        )

    async def _snapshot(self, event: _OpenEvent) -> None:
        """The camera's picture as the event begins (one frame decoded, not a stream)."""
        jpeg = await self.hub.cameras.async_snapshot(self.camera_id)  # redacted already
        if jpeg is None:
            return
        relpath = await async_write_event_snapshot(
            self.hub, self.camera_id, event.id, jpeg, redacted=True
        )
        if relpath is not None:
            # Set before the row is updated: an end stored meanwhile carries it too.
            event.snapshot_path = relpath
            await async_link_event_snapshot(self.hub, event.id, relpath)
