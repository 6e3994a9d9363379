"""Every event keeps a picture: motion events the frame where the most moved, object events
their best frame; written as the event starts, bettered when it ends; thumbnails beside."""

from __future__ import annotations

import asyncio
import io

import numpy as np
from PIL import Image

from hub.detection.outlines import MOTION_COLOR, Outline, draw_outlines
from hub.events import MotionEnded, MotionStarted
from hub.hookspecs import hookimpl
from tests.web_clients import signed_in_client

CONFIG = """
cameras:
  yard:
    url: demo://?first=3600
    motion:
      end_after: 0.5
    objects:
      enabled: false
    snapshots:
      motion_boxes: true
    record:
      mode: 'off'
"""


class Growing:
    """A motion detector that sees a box while `box` is set (in detection-frame pixels)."""

    def __init__(self) -> None:
        self.box: tuple[int, int, int, int] | None = None

    def detect(self, gray):
        return [self.box] if self.box else []


class Provider:
    def __init__(self, detector) -> None:
        self.detector = detector

    @hookimpl
    def motion_detector(self, hub, camera_id, config):
        return self.detector


def yellow_box(jpeg: bytes) -> tuple[int, int, int, int]:
    """Where the motion outline (yellow) is drawn on a snapshot."""
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    ys, xs = np.nonzero((r > 200) & (g > 170) & (b < 90))
    assert len(xs) > 50, "no outline drawn"
    return int(xs.min()), int(ys.min()), int(xs.max() + 1), int(ys.max() + 1)


async def snapshot_tasks_done(event_id: str) -> None:
    writing = [t for t in asyncio.all_tasks() if t.get_name() == f"snapshot:{event_id}"]
    if writing:
        await asyncio.wait(writing, timeout=20)


async def test_a_motion_event_has_a_picture_at_once_and_the_biggest_motion_at_the_end(make_hub):
    detector = Growing()
    hub = make_hub(CONFIG)
    hub.plugins.register(Provider(detector), "growing")
    events = hub.bus.subscribe("t", (MotionStarted, MotionEnded))
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        detector.box = (100, 100, 140, 160)  # the demo picture is 640 x 360
        started = await asyncio.wait_for(events.get(), 20)
        await snapshot_tasks_done(started.event_id)
        base = f"/api/events/{started.event_id}"
        first = await client.get(f"{base}/snapshot.jpg")
        assert first.status == 200  # while the motion goes on
        assert yellow_box(await first.read()) == (100, 100, 140, 160)

        detector.box = (200, 50, 520, 330)  # more moves: a better picture of it
        await asyncio.sleep(0.5)
        detector.box = (300, 200, 320, 220)  # then less
        await asyncio.sleep(0.5)
        detector.box = None
        ended = await asyncio.wait_for(events.get(), 20)
        assert isinstance(ended, MotionEnded)
        await snapshot_tasks_done(started.event_id)
        best = await (await client.get(f"{base}/snapshot.jpg")).read()
        assert yellow_box(best) == (200, 50, 520, 330)
        assert Image.open(io.BytesIO(best)).size == (640, 360)
        thumbnail = await client.get(f"{base}/thumbnail.jpg")
        small = Image.open(io.BytesIO(await thumbnail.read()))
        assert small.format == "JPEG" and small.size == (320, 180)
    finally:
        await client.close()
        await hub.async_stop()


class CameraSays:
    """The camera's own motion signals, as the ONVIF plugin gives them: a queue that a
    reader may stop waiting on (a time-out) without losing anything."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bool] = asyncio.Queue()

    @hookimpl
    def camera_motion(self, hub, camera_id, config):
        return self

    def __aiter__(self):
        return self

    async def __anext__(self) -> bool:
        return await self.queue.get()


async def test_a_camera_reporting_motion_is_decoded_for_objects_only_while_it_lasts(make_hub):
    says = CameraSays()
    hub = make_hub(
        "cameras:\n  door:\n    url: demo://?first=3600\n"
        "    motion:\n      source: camera\n      end_after: 0.5\n    record:\n      mode: 'off'\n"
    )
    hub.plugins.register(says, "camera_says")
    events = hub.bus.subscribe("t", (MotionStarted, MotionEnded))
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        runtime = hub.cameras["door"]
        assert [loop.camera_id for loop in hub.object_loops] == ["door"]
        await asyncio.sleep(1.0)
        assert not runtime.frames.wanted  # idle: nothing decoded
        says.queue.put_nowait(True)
        started = await asyncio.wait_for(events.get(), 20)
        for _ in range(100):
            if runtime.frames.delivered:
                break
            await asyncio.sleep(0.05)
        assert runtime.frames.wanted and runtime.frames.delivered  # objects looked for
        await snapshot_tasks_done(started.event_id)
        for _ in range(100):  # the camera's own picture of the moment is the snapshot
            picture = await client.get(f"/api/events/{started.event_id}/snapshot.jpg")
            if picture.status == 200:
                break
            await asyncio.sleep(0.1)
        assert Image.open(io.BytesIO(await picture.read())).format == "JPEG"
        says.queue.put_nowait(False)
        await asyncio.wait_for(events.get(), 20)
        for _ in range(100):
            if not runtime.frames.wanted:
                break
            await asyncio.sleep(0.05)
        assert not runtime.frames.wanted  # and idle again afterwards
    finally:
        await client.close()
        await hub.async_stop()


def test_outlines_are_drawn_inside_the_picture_a_few_pixels_thick():
    picture = np.zeros((360, 640, 3), np.uint8)
    draw_outlines(
        picture,
        [
            Outline.around((10, 20, 110, 220), (640, 360), MOTION_COLOR),
            Outline((0.9, 0.9, 1.2, 1.5)),  # past the corner: clipped, not wrapped
        ],
    )
    drawn = picture.any(axis=2)
    assert (picture[20, 10:110] == MOTION_COLOR).all()  # top edge, in its colour
    assert drawn[218:220, 10:110].all() and drawn[20:220, 10:12].all()  # bottom, left
    assert not drawn[22:218, 12:108].any()  # hollow
    assert drawn[359, 600] and drawn[330, 639]  # clipped at the picture's edges
    assert not drawn[:, 110:570].any() and not drawn[:324, 570:].any()
