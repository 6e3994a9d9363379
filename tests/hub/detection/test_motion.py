"""Motion events from a camera's detection frames: start, hold recording, end, storage."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from hub.detection.frames import Frame
from hub.detection.motion import CameraMotion
from hub.events import MotionEnded, MotionStarted
from hub.hookspecs import hookimpl
from tests.helpers import wait_for_state, wait_until


class Scripted:
    """A motion detector that sees motion while `moving` is set (or for the next
    `moving_frames` frames); counts frames."""

    def __init__(self) -> None:
        self.moving = False
        self.moving_frames = 0
        self.frames = 0
        self.fail_next = False

    def detect(self, gray):
        self.frames += 1
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("detector hiccup")
        h, w = gray.shape
        if self.moving_frames:
            self.moving_frames -= 1
            return [(w // 4, h // 4, w // 2, h // 2)]
        return [(w // 4, h // 4, w // 2, h // 2)] if self.moving else []


class Provider:
    def __init__(self, detector: Scripted) -> None:
        self.detector = detector

    @hookimpl
    def motion_detector(self, hub, camera_id, config):
        return self.detector


CONFIG = """
cameras:
  yard:
    url: demo://
    detect:
      fps: 5
      # The scripted detector sees motion in any frame while `moving` is set, so frames
      # replayed on waking (adaptive) would date the motion before it was switched on.
      decode: always
    motion:
      end_after: 1
    record:
      mode: events
      pre_seconds: 1
      post_seconds: 1
      segment_seconds: 10
"""


async def test_motion_starts_holds_recording_ends_and_is_stored(make_hub):
    detector = Scripted()
    hub = make_hub(CONFIG)
    hub.plugins.register(Provider(detector), "scripted")
    events = hub.bus.subscribe("t", (MotionStarted, MotionEnded))
    await hub.async_start()
    await wait_until(lambda: detector.frames >= 5)
    assert hub.states.get("motion.yard").state == "off"
    assert hub.cameras["yard"].record_until == 0.0  # no motion: nothing held

    detector.fail_next = True  # a failing frame is skipped, the loop goes on
    detector.moving_frames = 8  # motion in eight frames in a row, then none
    started = await asyncio.wait_for(events.get(), 5)
    assert isinstance(started, MotionStarted) and started.camera == "yard"
    assert started.boxes and hub.states.get("motion.yard").state == "on"
    assert hub.cameras["yard"].record_until > time.time()  # held while it moves
    ended = await asyncio.wait_for(events.get(), 10)
    assert isinstance(ended, MotionEnded) and ended.event_id == started.event_id
    # First to last moving frame: the sampler hands out frames at least half an interval
    # (0.1 s at 5 fps) apart, so eight frames span at least 0.7 s (more when some drop).
    assert ended.duration >= 0.7
    assert ended.context.id == started.context.id  # one story, one context
    assert hub.states.get("motion.yard").state == "off"
    # The stop closes the open segment, which runs past the last motion by `end_after`.
    await hub.async_stop()

    rows = await _rows(make_hub, "SELECT * FROM events")
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["kind"], row["camera"]) == (started.event_id, "motion", "yard")
    assert row["end"] - row["start"] == pytest.approx(ended.duration, abs=0.01)
    segments = await _rows(make_hub, "SELECT * FROM recordings")
    assert segments and all(s["has_motion"] == 1 for s in segments)
    # The recording reaches back before the motion (pre-roll) and past it (post-roll).
    assert segments[0]["start"] <= row["start"] - 0.5
    assert segments[-1]["end"] >= row["end"] + 0.5


async def _rows(make_hub, sql: str) -> list[dict]:
    hub = make_hub("{}\n")
    await hub.async_start()
    rows = await hub.storage.async_read(lambda db: [dict(r) for r in db.query(sql)])
    await hub.async_stop()
    return rows


async def test_motion_open_at_stop_is_ended_and_stored(make_hub):
    detector = Scripted()
    detector.moving = True
    hub = make_hub(CONFIG)
    hub.plugins.register(Provider(detector), "scripted")
    await hub.async_start()
    await wait_until(
        lambda: (
            hub.states.get("motion.yard") is not None
            and hub.states.get("motion.yard").state == "on"
        )
    )
    await hub.async_stop()
    rows = await _rows(make_hub, "SELECT * FROM events")
    assert len(rows) == 1 and rows[0]["end"] is not None


async def test_no_motion_detector_plugin_means_no_motion_loop(make_hub):
    hub = make_hub("plugins:\n  disabled: [motion]\n" + CONFIG)
    await hub.async_start()
    assert hub.motion_loops == []
    assert not hub.cameras["yard"].frames.wanted  # nothing decoded for detection
    await hub.async_stop()


async def test_motion_disabled_per_camera(make_hub):
    detector = Scripted()
    hub = make_hub(CONFIG.replace("      end_after: 1", "      enabled: false"))
    hub.plugins.register(Provider(detector), "scripted")
    await hub.async_start()
    await wait_for_state(hub, "camera.yard", "online")  # its frames would flow by now
    assert hub.motion_loops == [] and detector.frames == 0
    await hub.async_stop()


async def test_disarmed_camera_examines_no_frames_and_rearms(make_hub):
    detector = Scripted()
    detector.moving = True
    hub = make_hub(CONFIG)
    hub.plugins.register(Provider(detector), "scripted")
    await hub.async_start()
    assert hub.states.get("detection.yard").state == "on"
    assert hub.mode == "home" and hub.states.get("mode.house").state == "home"
    feed = hub.cameras["yard"].frames  # the motion loop is its only reader
    hub.cameras.set_armed("yard", False)
    taken = feed.delivered
    # Once the loop took a frame after disarming, a detection under way then has ended.
    await wait_until(lambda: feed.delivered >= taken + 1, 10, "a frame after disarming")
    examined = detector.frames
    await wait_until(lambda: feed.delivered >= taken + 6, 10, "five more frames")
    assert detector.frames == examined  # frames arrive, none is examined
    assert hub.states.get("detection.yard").state == "off"
    hub.cameras.set_armed("yard", True)
    await wait_until(lambda: hub.states.get("motion.yard").state == "on", 5)
    hub.async_set_mode("away")
    assert hub.mode == "away"
    await hub.async_stop()


class Timed:
    """A motion detector that takes frame times (`detect_at`) and sees motion from `since`."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.times: list[float] = []

    def detect(self, gray):  # pragma: no cover - the loop prefers detect_at
        raise AssertionError("detect_at should be used")

    def detect_at(self, gray, time):
        self.times.append(time)
        return [(1, 1, 5, 5)] if time >= self.since else []


async def test_replayed_frames_move_the_motion_start_back_and_keep_every_frame_decoded(make_hub):
    hub = make_hub("plugins:\n  disabled: [pyav_source]\n" + CONFIG)
    detector = Timed(since=1000.5)
    hub.plugins.register(Provider(detector), "scripted")
    await hub.async_start()
    try:
        runtime = hub.cameras["yard"]
        loop = CameraMotion(hub, runtime, detector)
        loop.task = asyncio.create_task(loop.async_run())
        await wait_until(lambda: runtime.frames.wanted)
        gray = np.zeros((8, 8), np.uint8)

        def frame(when: float, replayed: bool = False) -> Frame:
            return Frame("yard", when, gray, lambda: gray, replayed=replayed)

        # Idle: keyframes at 998 and 1000 (still), 1002 (moving): the event starts there.
        for when in (998.0, 1000.0, 1002.0):
            runtime.frames.put(frame(when))
            await wait_until(lambda when=when: detector.times[-1:] == [when])
        assert loop.event_id is not None and loop.started == 1002.0
        assert runtime.decode.reasons().get("motion", 0) > 0  # woken: every frame now
        # Waking, the source replays 1000-2002 at 5 fps: the motion began at 1000.6.
        runtime.frames.replay([frame(1000.0 + i / 5, replayed=True) for i in range(10)])
        await wait_until(lambda: detector.times[-1] == 1001.8)
        assert loop.started == pytest.approx(1000.6)
        assert runtime.motion.intervals[-1][0] == pytest.approx(1000.6)
        assert loop.last_motion == 1002.0  # older frames do not make it end sooner
    finally:
        loop.stop()
        await asyncio.gather(loop.task, return_exceptions=True)
        await hub.async_stop()
    rows = await _rows(make_hub, "SELECT * FROM events")
    assert [(r["kind"], r["start"]) for r in rows] == [("motion", pytest.approx(1000.6))]
