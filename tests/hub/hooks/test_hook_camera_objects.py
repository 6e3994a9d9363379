"""`camera_objects`: a camera's own person/vehicle detection becomes object events, no decoding."""

from __future__ import annotations

import asyncio
import json
import time

from hub.detection.camera_objects import CameraDetection, CameraObjectSignals
from hub.events import EventEnded, EventStarted
from hub.hookspecs import hookimpl

CONFIG = """\
cameras:
  door:
    url: demo://
    motion: {enabled: false}
    record: {mode: events}
    objects:
      source: camera
      labels: [person, vehicle]
  yard:
    url: demo://
    motion: {enabled: false}
    objects: {source: camera}
"""


class Doorbell:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.signals: asyncio.Queue[CameraDetection] = asyncio.Queue()

    @hookimpl
    def camera_objects(self, hub, camera_id, config):
        self.asked.append(camera_id)
        return self._signals() if camera_id == "door" else None

    async def _signals(self):
        while True:
            yield await self.signals.get()


async def test_the_cameras_labels_make_object_events_without_decoding(make_hub):
    doorbell = Doorbell()
    hub = make_hub(CONFIG)
    hub.plugins.register(doorbell, "doorbell")
    events = hub.bus.subscribe("t", (EventStarted, EventEnded))
    await hub.async_start()
    try:
        assert sorted(doorbell.asked) == ["door", "yard"]
        doorbell.signals.put_nowait(CameraDetection("animal", True))  # not in its labels
        doorbell.signals.put_nowait(CameraDetection("person", True))
        started = await asyncio.wait_for(events.get(), 5)
        assert isinstance(started, EventStarted)
        assert (started.camera, started.label, started.top_score, started.zones) == (
            "door",
            "person",
            1.0,
            (),
        )
        # Recording is held open while the camera sees someone; no detector loop runs.
        assert hub.cameras["door"].record_until > started.start
        [loop] = [o for o in hub.object_loops if o.camera_id == "door"]
        assert isinstance(loop, CameraObjectSignals)
        doorbell.signals.put_nowait(CameraDetection("person", False))
        ended = await asyncio.wait_for(events.get(), 5)
        assert isinstance(ended, EventEnded) and ended.event_id == started.event_id

        await hub.async_block_till_done()  # the row is written after the end
        query = "SELECT * FROM events WHERE kind = 'object' AND \"end\" IS NOT NULL"
        [row] = await hub.storage.async_read(lambda db: list(db.query(query)))
        assert (row["label"], row["end"], json.loads(row["data"])) == (
            "person",
            ended.end,
            {"source": "camera"},
        )
        # Switched off, the camera's signals start nothing.
        hub.cameras.set_armed("door", False)
        loop.update(CameraDetection("vehicle", True), time.time())
        assert loop.open == {}
    finally:
        await hub.async_stop()
    problems = " | ".join(hub.problems)
    assert "camera yard: objects.source is camera, but no plugin reads its detections" in problems
