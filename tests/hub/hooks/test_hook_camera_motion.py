"""`camera_motion`: a camera's own motion signals become motion events, with no decoding."""

from __future__ import annotations

import asyncio

from hub.events import MotionEnded, MotionStarted
from hub.hookspecs import hookimpl

CONFIG = """\
cameras:
  door:
    url: demo://
    motion:
      source: camera
      end_after: 0.5
    objects:
      enabled: false
  yard:
    url: demo://
    motion:
      enabled: false
"""


class Onvif:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.go = asyncio.Event()

    @hookimpl
    def camera_motion(self, hub, camera_id, config):
        self.asked.append(camera_id)
        return self._signals()

    async def _signals(self):
        yield True
        await self.go.wait()
        yield False
        await asyncio.Event().wait()  # never set: hangs until cancelled


async def test_signals_start_and_end_motion_without_decoding(make_hub):
    onvif = Onvif()
    hub = make_hub(CONFIG)
    hub.plugins.register(onvif, "camera_events")
    events = hub.bus.subscribe("t", (MotionStarted, MotionEnded))
    await hub.async_start()
    started = await asyncio.wait_for(events.get(), 5)
    assert isinstance(started, MotionStarted) and started.camera == "door"
    assert started.boxes == ()  # the camera says that, not where
    assert hub.states.get("motion.door").state == "on"
    assert not hub.cameras["door"].frames.wanted  # nothing decoded for motion
    assert onvif.asked == ["door"]
    onvif.go.set()
    ended = await asyncio.wait_for(events.get(), 5)
    assert isinstance(ended, MotionEnded) and ended.event_id == started.event_id
    assert hub.states.get("motion.door").state == "off"
    await hub.async_stop()


async def test_camera_source_without_a_plugin_is_a_problem(make_hub):
    hub = make_hub(CONFIG)
    await hub.async_start()
    assert [m.camera_id for m in hub.motion_loops] == []
    assert any("door: motion.source is camera" in p for p in hub.health()["problems"])
    await hub.async_stop()
