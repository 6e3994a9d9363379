"""The PyAV source on the demo camera and local files: recording, frames, snapshots, faults."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hub.events import RecordingSaved
from tests.conftest import free_port
from tests.helpers import hub_at, indexed_segments, next_events, wait_until
from tests.web_clients import signed_in_client

DEMO_RECORDING = """
cameras:
  yard:
    url: demo://
    record:
      mode: continuous
      segment_seconds: 2
      pre_seconds: 1
      post_seconds: 1
"""


def _source(hub, camera_id: str):
    source = hub.cameras[camera_id].source
    assert source is not None
    return source


def video_facts(path: Path) -> tuple[int, float, tuple[int, int], bool]:
    """Decoded frame count, duration, size and whether the first frame is a keyframe."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    first, last = frames[0], frames[-1]
    duration = float((last.pts - first.pts) * stream.time_base) + 0.1
    return len(frames), duration, (first.width, first.height), first.key_frame


@pytest.fixture(scope="module")
def demo_recording(tmp_path_factory) -> Path:
    """Three whole 2 s segments of the demo camera, and a fourth the stop cut after 1 s."""
    tmp_path = tmp_path_factory.mktemp("demo")

    async def record() -> list[RecordingSaved]:
        hub = hub_at(tmp_path, DEMO_RECORDING)
        saved = hub.bus.subscribe("t", (RecordingSaved,))
        await hub.async_start()
        events = await next_events(saved, 3)
        recorder = _source(hub, "yard").recorder
        written = recorder.stats.packets_written
        # A second more (10 fps): a clip's post-roll past the third segment has footage.
        await wait_until(lambda: recorder.stats.packets_written >= written + 10, 10, "1 s more")
        await hub.async_stop()
        while saved.stats.queued:
            events.append(await saved.get())
        return events

    events = asyncio.run(record())
    (tmp_path / "saved.json").write_text(json.dumps([e.as_dict() for e in events]))
    return tmp_path


async def test_recording_is_segmented_playable_and_indexed(demo_recording):
    hub = hub_at(demo_recording, "{}\n")
    await hub.async_start()
    segments = await hub.recordings.async_segments("yard")
    await hub.async_stop()
    assert len(segments) >= 3
    saved = json.loads((demo_recording / "saved.json").read_text())
    assert [s["segment_id"] for s in saved] == [s.id for s in segments]
    for number, segment in enumerate(segments):
        path = hub.footage.path_of(segment.path)
        frames, duration, size, keyframe_first = video_facts(path)
        assert size == (640, 360) and keyframe_first
        assert duration == pytest.approx(segment.duration, abs=0.25)
        assert segment.bytes == path.stat().st_size > 0
        if number < len(segments) - 1:  # the last one was cut short by the stop
            # Cut at keyframes (every 2 s at 10 fps): each segment is one 2 s GOP.
            assert frames == pytest.approx(20, abs=1), segment
            assert segment.duration == pytest.approx(2.0, abs=0.25)
    # Consecutive segments leave no gap: the recording is continuous.
    for before, after in itertools.pairwise(segments):
        assert after.start - before.end == pytest.approx(0, abs=0.25)
    assert not list((demo_recording / "data" / "footage").rglob("*.partial"))


async def test_event_clip_joins_segments_and_serves_ranges(demo_recording):
    hub = hub_at(
        demo_recording, DEMO_RECORDING.replace("url: demo://", "url: demo://\n    enabled: false")
    )
    await hub.async_start()
    segments = await hub.recordings.async_segments("yard")
    start = segments[0].start + 1.5  # inside the first segment, after its keyframe
    end = segments[2].end - 0.5  # inside the third
    await hub.async_insert(
        "events",
        {
            "id": "walk1",
            "camera": "yard",
            "kind": "object",
            "label": "person",
            "start": start,
            "end": end,
        },
    )
    client = await signed_in_client(hub)
    try:
        response = await client.get("/api/events/walk1/clip.mp4")
        assert response.status == 200 and response.content_type == "video/mp4"
        body = await response.read()
        clip = demo_recording / "clip.mp4"
        clip.write_bytes(body)
        frames, duration, size, keyframe_first = video_facts(clip)
        assert keyframe_first and size == (640, 360)
        # From the keyframe at or before start - pre (1 s) to end + post (1 s).
        expected = (end + 1) - segments[0].start
        assert duration == pytest.approx(expected, abs=0.35)
        assert frames == pytest.approx(expected * 10, abs=3)

        ranged = await client.get("/api/events/walk1/clip.mp4", headers={"Range": "bytes=100-199"})
        assert ranged.status == 206
        assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
        assert await ranged.read() == body[100:200]

        listed = await (await client.get("/api/recordings?camera=yard")).json()
        assert len(listed["ranges"]) == 1 and listed["ranges"][0]["segments"] == len(segments)
        one = await client.get(f"/api/recordings/{segments[1].id}/video.mp4")
        assert one.status == 200 and len(await one.read()) == segments[1].bytes
        assert (await client.get("/api/events/nope/clip.mp4")).status == 404
        await hub.async_insert(
            "events", {"id": "ongoing", "camera": "yard", "kind": "motion", "start": start}
        )
        # No end yet: a clip now would be cut short and then cached.
        assert (await client.get("/api/events/ongoing/clip.mp4")).status == 409
        assert (await client.get("/api/recordings?camera=ghost")).status == 404
    finally:
        await client.close()
        await hub.async_stop()


async def test_detection_frames_arrive_at_detect_fps_and_drops_are_counted(tmp_path):
    hub = hub_at(
        tmp_path,
        "cameras:\n  yard:\n    url: demo://\n    record:\n      mode: 'off'\n"
        # Every frame: an idle camera (adaptive) would send one per keyframe (see
        # tests/plugins/test_adaptive_decoding.py).
        "    detect:\n      fps: 4\n      height: 180\n      decode: always\n",
    )
    feed = hub.cameras["yard"].frames
    slot = feed.attach()
    await hub.async_start()
    first = await asyncio.wait_for(slot.get(), 10)
    began, got = time.monotonic(), [first]
    while time.monotonic() - began < 2.0:
        got.append(await asyncio.wait_for(slot.get(), 5))
    elapsed = got[-1].time - got[1].time
    assert (len(got) - 2) / elapsed == pytest.approx(4, abs=1)
    frame = got[-1]
    assert frame.gray.shape == (180, 320) and frame.gray.dtype == np.uint8
    assert frame.source_size == (640, 360)
    assert frame.rgb().shape == (180, 320, 3)
    # A consumer that stops reading costs one frame of memory; the rest is counted.
    before = slot.dropped
    await wait_until(lambda: slot.dropped - before >= 3, 10, "three frames dropped")
    assert feed.dropped >= slot.dropped  # the camera's totals include every consumer
    jpeg = await hub.cameras.async_snapshot("yard")
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    await hub.async_stop()


async def test_snapshot_without_detection_decodes_on_demand(tmp_path):
    hub = hub_at(tmp_path, "cameras:\n  yard:\n    url: demo://\n    record:\n      mode: 'off'\n")
    await hub.async_start()
    await wait_until(lambda: hub.states.get("camera.yard").state == "online")
    jpeg = await hub.cameras.async_snapshot("yard")
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(jpeg)) as image:
        picture = next(image.decode(video=0))
    assert (picture.width, picture.height) == (640, 360)
    await hub.async_stop()


async def test_events_mode_records_only_when_held_starting_from_preroll(tmp_path):
    hub = hub_at(
        tmp_path,
        # Motion is off: only the hold below may start recording.
        "cameras:\n  yard:\n    url: demo://\n    motion:\n      enabled: false\n"
        "    record:\n      mode: events\n"
        "      pre_seconds: 2\n      segment_seconds: 10\n",
    )
    saved = hub.bus.subscribe("t", (RecordingSaved,))
    await hub.async_start()
    # 4.5 s of stream (10 fps, a keyframe every 2 s), so the pre-roll holds two GOPs.
    await wait_until(lambda: _source(hub, "yard").stats.packets >= 45, 20, "4.5 s of stream")
    assert hub.footage.partial_files() == []  # nothing held yet: nothing written
    held_at = time.time()
    hub.cameras.hold_recording("yard", held_at + 2.0)
    await next_events(saved, 1)  # the segment closes when the hold ends
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    assert len(segments) == 1
    segment = segments[0]
    # The pre-roll reaches back to a keyframe at least pre_seconds before the hold.
    assert held_at - 4.1 <= segment.start <= held_at - 2.0 + 0.2
    assert segment.end == pytest.approx(held_at + 2.0, abs=1.1)


def _encode_ts(path: Path, size: tuple[int, int], first_pts: int, count: int) -> None:
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for i in range(count):
            image = np.full((size[1], size[0], 3), (i * 7) % 255, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = first_pts + i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


async def test_file_source_with_mid_stream_resolution_change_starts_a_new_segment(tmp_path):
    # Two encodes whose timestamps continue, concatenated: one stream whose SPS changes.
    _encode_ts(tmp_path / "a.ts", (320, 240), 0, 20)
    _encode_ts(tmp_path / "b.ts", (480, 270), 20, 20)
    clip = tmp_path / "camera.ts"
    clip.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    hub = hub_at(
        tmp_path,
        f"cameras:\n  file:\n    url: {clip}\n    record:\n      mode: continuous\n"
        "      segment_seconds: 60\n",
    )
    hub.cameras["file"].frames.attach()  # decoding on, as with detection
    await hub.async_start()
    recorder = _source(hub, "file").recorder
    # The file plays at its own pace: 4 s for its 40 frames.
    await wait_until(lambda: recorder.stats.packets_written >= 40, 20, "the whole file")
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    sizes = [video_facts(hub.footage.path_of(s.path))[2] for s in segments[:2]]
    assert sizes == [(320, 240), (480, 270)]
    counts = [video_facts(hub.footage.path_of(s.path))[0] for s in segments[:2]]
    assert counts[0] == pytest.approx(20, abs=1) and counts[1] == pytest.approx(20, abs=2)


async def test_unreachable_camera_goes_offline_with_reason_and_no_password(tmp_path):
    port = free_port()
    hub = hub_at(
        tmp_path,
        f"cameras:\n  gone:\n    url: rtsp://admin:hunter2hunter@127.0.0.1:{port}/live\n"
        "    open_timeout: 2\n",
    )
    await hub.async_start()
    await wait_until(lambda: hub.states.get("camera.gone").state == "offline")
    reason = hub.states.get("camera.gone").attributes["reason"]
    assert "connection refused" in reason.lower()
    assert "hunter2hunter" not in reason
    await hub.async_stop()
