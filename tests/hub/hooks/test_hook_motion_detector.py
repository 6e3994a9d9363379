"""`motion_detector`: the first detector offered gets the camera's frames; its boxes are motion."""

from __future__ import annotations

import asyncio

from hub.events import MotionStarted
from hub.hookspecs import hookimpl

CONFIG = """\
cameras:
  porch:
    url: demo://
    motion:
      threshold: 42
  attic:
    url: demo://
    detect:
      enabled: false
"""


class Everything:
    """Sees motion in every frame and remembers what it was given."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, gray):
        self.shapes.append(gray.shape)
        return [(0, 0, 10, 10)]


class Declines:
    calls: list[str] = []

    @hookimpl
    async def motion_detector(self, hub, camera_id, config):
        await asyncio.sleep(0)
        Declines.calls.append(camera_id)
        return None


class Offers:
    def __init__(self) -> None:
        self.detector = Everything()
        self.thresholds: list[int] = []

    @hookimpl
    def motion_detector(self, hub, camera_id, config):
        self.thresholds.append(config.motion.threshold)
        return self.detector


async def test_first_answer_after_a_decline_gets_frames_and_makes_motion(make_hub):
    Declines.calls = []
    offers = Offers()
    hub = make_hub(CONFIG)
    hub.plugins.register(offers, "offers")
    hub.plugins.register(Declines(), "declines")  # registered last: asked first
    started = hub.bus.subscribe("t", (MotionStarted,))
    await hub.async_start()
    event = await asyncio.wait_for(started.get(), 10)
    assert event.camera == "porch" and event.boxes == ((0, 0, 10, 10),)
    # Only the camera with detection on was offered, with its own config.
    assert Declines.calls == ["porch"] and offers.thresholds == [42]
    # The detector saw the frame before its boxes became the event.
    assert offers.detector.shapes[0] == (360, 640)  # detect.height 360 of a 640x360 stream
    await hub.async_stop()
