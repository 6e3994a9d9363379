"""Adaptive decoding on real H.264 of a real, still scene: an idle camera decodes keyframes
only, wakes at the first keyframe that shows motion without losing the start, and records
exactly what a camera decoding every frame records.

The still part lasts seconds, not the minute of the issue: an idle camera does the same
thing at every keyframe (decode it, find no motion), so six or so GOPs show it as well as
thirty, and the motion detector has calibrated on the scene by then.
"""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from hub.detection.object_detector import Detection
from hub.events import EventEnded, EventStarted, MotionStarted
from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl
from tests.helpers import hub_at, indexed_segments, wait_until
from tests.plugins.still_scenes import FIGURE, StillScene
from tests.web_clients import signed_in_client

pytest.importorskip("skimage")


class CoatFinder:
    """A stub object detector: the scene's walker (its green coat) is a person."""

    def __init__(self) -> None:
        self.calls = 0

    async def async_detect(self, images):
        self.calls += 1
        answers = []
        for image in images:
            coat = np.all(np.abs(image.astype(int) - FIGURE) < 30, axis=2)
            ys, xs = np.nonzero(coat)
            if len(xs) < 30:
                answers.append([])
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            answers.append([Detection("person", 0.9, box)])
        return answers


class Options(PluginOptions):
    pass


class CoatPlugin:
    def __init__(self) -> None:
        self.finder = CoatFinder()

    @hookimpl
    def detector_types(self):
        return [TypeSpec("coat", Options, lambda hub, detector_id, options: self.finder)]


@dataclass
class Seen:
    """One frame as a detection consumer got it, with the camera's decoding at that time."""

    time: float
    replayed: bool
    mode: str
    decoded: int


async def watch_frames(hub, camera: str, seen: list[Seen]) -> None:
    """Read the camera's detection frames like a detector would, noting each one."""
    runtime = hub.cameras[camera]
    slot = runtime.frames.attach()
    try:
        while True:
            frame = await slot.get()
            decode = runtime.decode
            seen.append(Seen(frame.time, frame.replayed, decode.mode, decode.frames.total))
    finally:
        slot.detach()


def camera_yaml(video: Path, gop: float, extra: str = "") -> str:
    return f"""
detectors:
  coat:
    type: coat
cameras:
  garage:
    url: {video}
    detect:
      fps: 5
      idle_after: 4
    motion:
      end_after: 1
    objects:
      max_fps: 4
      end_after: 1.5
    record:
      mode: continuous
      segment_seconds: {2 * gop}
{extra}"""


async def run_until_walked(tmp_path: Path, scene: StillScene) -> dict:
    """Play the scene to a hub once; what happened, with wall times of stream seconds."""
    video = scene.write(tmp_path / "scene.ts")
    plugin = CoatPlugin()
    hub = hub_at(tmp_path, camera_yaml(video, scene.gop_seconds))
    hub.plugins.register(plugin, "coat")
    bus = hub.bus.subscribe("t", (MotionStarted, EventStarted, EventEnded))
    seen: list[Seen] = []
    await hub.async_start()
    watcher = asyncio.create_task(watch_frames(hub, "garage", seen))
    try:
        events = []
        while not any(isinstance(e, EventEnded) for e in events):
            events.append(await asyncio.wait_for(bus.get(), 60))
        decode = hub.cameras["garage"].decode.as_dict()
        query = "select * from events order by start"
        for _ in range(100):  # the snapshot is written just after the event's end
            rows = await hub.storage.async_read(lambda db: [dict(r) for r in db.query(query)])
            if any(r["snapshot_path"] for r in rows if r["kind"] == "object"):
                break
            await asyncio.sleep(0.1)
    finally:
        watcher.cancel()
        await hub.async_stop()
    # The file is played at its own pace from its first frame, the first one detection got.
    zero = seen[0].time
    return {
        "hub": hub,
        "seen": seen,
        "zero": zero,
        "onset": zero + scene.onset,
        "rows": rows,
        "decode": decode,
        "finder": plugin.finder,
    }


async def test_still_scene_idles_on_keyframes_then_wakes_without_losing_the_start(tmp_path):
    scene = StillScene(gop_seconds=2.0, static_seconds=11.3, walk_seconds=5.0)
    result = await run_until_walked(tmp_path, scene)
    seen, onset, gop = result["seen"], result["onset"], scene.gop_seconds

    # Still: one frame per keyframe, decoded in idle mode, and only keyframes were decoded.
    still = [s for s in seen if not s.replayed and s.time < onset]
    assert len(still) >= 5
    assert all(s.mode == "idle" for s in still[1:])
    gaps = np.diff([s.time for s in still])
    assert gaps == pytest.approx(gop, abs=0.05)
    assert still[-1].decoded <= len(still) + 1  # +1: a threaded decoder's frame in flight

    # Woken by the first keyframe after the onset, within one GOP of it...
    woken = next(s for s in seen if not s.replayed and s.time >= onset)
    assert woken.time <= onset + gop
    # ...then the GOP before it was replayed (older frames, after that keyframe)...
    replayed = [s for s in seen if s.replayed]
    assert replayed and all(woken.time - gop - 0.01 <= s.time < woken.time for s in replayed)
    assert result["decode"]["wakeups"] == 1 and result["decode"]["replayed"] >= 5
    # ...and every frame after it (detect.fps: 5).
    live_after = [s.time for s in seen if not s.replayed and s.time > woken.time]
    assert len(live_after) >= 10
    assert np.median(np.diff(live_after[:10])) == pytest.approx(0.2, abs=0.05)

    # The motion event starts when the figure did, not at the keyframe that showed it.
    [motion] = [r for r in result["rows"] if r["kind"] == "motion"]
    assert onset - 0.05 <= motion["start"] < woken.time
    assert motion["start"] <= onset + gop
    # The object event: right label, and its snapshot shows the coat.
    [person] = [r for r in result["rows"] if r["kind"] == "object"]
    assert person["label"] == "person"
    assert person["start"] <= onset + gop
    jpeg = result["hub"].footage.read_bytes(person["snapshot_path"])
    with av.open(io.BytesIO(jpeg)) as image:
        picture = next(image.decode(video=0)).to_ndarray(format="rgb24")
    assert np.count_nonzero(np.all(np.abs(picture.astype(int) - FIGURE) < 30, axis=2)) > 500


async def test_camera_with_a_ten_second_gop_still_wakes_within_one_gop(tmp_path):
    # Keyframes at 0, 10 and 20 s; the figure starts at 11.5 s: the keyframe at 20 s is the
    # first to show it, 8.5 s late, and the replay of 10-20 s finds the start.
    scene = StillScene(gop_seconds=10.0, static_seconds=11.5, walk_seconds=10.0)
    result = await run_until_walked(tmp_path, scene)
    seen, onset, gop = result["seen"], result["onset"], scene.gop_seconds
    still = [s for s in seen if not s.replayed and s.time < onset]
    assert [round(s.time - result["zero"]) for s in still] == [0, 10]
    woken = next(s for s in seen if not s.replayed and s.time >= onset)
    assert woken.time - result["zero"] == pytest.approx(20, abs=0.05)
    assert woken.time <= onset + gop
    [motion] = [r for r in result["rows"] if r["kind"] == "motion"]
    assert onset - 0.05 <= motion["start"] <= onset + 1.0
    [person] = [r for r in result["rows"] if r["kind"] == "object"]
    assert person["label"] == "person" and person["start"] <= onset + gop


def recorded_packets(hub, segments) -> list[tuple[bytes, bool, int]]:
    """Every video packet of a camera's segments: payload, keyframe flag, duration."""
    packets = []
    for segment in segments:
        with av.open(str(hub.footage.path_of(segment.path))) as container:
            stream = container.streams.video[0]
            for packet in container.demux(stream):
                if packet.size:
                    packets.append((bytes(packet), bool(packet.is_keyframe), packet.duration))
    return packets


async def test_idle_recording_is_byte_identical_in_packets_to_full_decoding(tmp_path):
    scene = StillScene(static_seconds=5.3, walk_seconds=3.0, after_seconds=1.0)
    video = scene.write(tmp_path / "scene.ts")
    cameras = "".join(
        f"""
  {name}:
    url: {video}
    detect:
      decode: {decode}
    record:
      mode: continuous
      segment_seconds: 2
"""
        for name, decode in (("adaptive", "adaptive"), ("always", "always"))
    )
    hub = hub_at(tmp_path, f"cameras:{cameras}")
    await hub.async_start()
    try:
        # Each camera plays the file once; when it ends the camera goes offline.
        offline = [False, False]

        def ended() -> bool:
            for i, name in enumerate(("adaptive", "always")):
                offline[i] = offline[i] or hub.states.get(f"camera.{name}").state == "offline"
            return all(offline)

        await wait_until(ended, 40, "both cameras played the file")
        adaptive = hub.cameras["adaptive"].decode.as_dict()
        always = hub.cameras["always"].decode.as_dict()
    finally:
        await hub.async_stop()
    assert adaptive["wakeups"] == 1 and always["wakeups"] == 0
    assert adaptive["frames"] < always["frames"]  # idle while still: fewer frames decoded
    segments = await indexed_segments(tmp_path)
    by_camera = {
        name: recorded_packets(hub, [s for s in segments if s.camera == name])
        for name in ("adaptive", "always")
    }
    # A restart after the end may have begun a second pass: compare the first.
    total = round((scene.static_seconds + scene.walk_seconds + scene.after_seconds) * scene.fps)
    first = {name: packets[:total] for name, packets in by_camera.items()}
    assert len(first["adaptive"]) == total
    assert first["adaptive"] == first["always"]


async def test_snapshot_wakes_an_idle_camera_and_api_shows_the_decoding(tmp_path):
    # The demo's figure comes only after 100 s: the camera idles on keyframes.
    hub = hub_at(
        tmp_path,
        "cameras:\n  yard:\n    url: demo://?first=100\n    record:\n      mode: 'off'\n"
        "    detect:\n      idle_after: 2\n",
    )
    await hub.async_start()
    decode = hub.cameras["yard"].decode
    client = await signed_in_client(hub)
    try:
        await wait_until(lambda: decode.mode == "idle", 20, "idle")
        await asyncio.sleep(2.5)  # whole seconds of idle decoding for the rate
        data = await (await client.get("/api/cameras")).json()
        [camera] = data["cameras"]
        assert camera["decode"]["setting"] == "adaptive" and camera["decode"]["mode"] == "idle"
        # The demo sends a keyframe every 2 s: about half a frame decoded per second.
        assert 0 < camera["decode"]["fps"] <= 1.0
        asked = time.time()
        response = await client.get("/api/cameras/yard/snapshot.jpg")
        assert response.status == 200
        with av.open(io.BytesIO(await response.read())) as image:
            assert next(image.decode(video=0)).width == 640
        assert decode.mode == "full" and decode.wakeups == 1
        assert "snapshot" in decode.reasons()
        # The picture is of now, not of the last keyframe.
        source = hub.cameras["yard"].source
        assert source._latest_time >= asked - 0.5
        await wait_until(lambda: decode.mode == "idle", 20, "idle again")
    finally:
        await client.close()
        await hub.async_stop()
