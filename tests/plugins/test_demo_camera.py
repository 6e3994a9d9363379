"""The demo camera: a static garden, a figure on a schedule, live H.264 in MPEG-TS."""

from __future__ import annotations

import io
import itertools
import os
import threading
import time

import av
import numpy as np
import pytest

from plugins.pyav_source.demo import DemoScene, open_demo, write_demo_stream

FPS = 10


def walk_scene() -> DemoScene:
    """A walk from t=1 s to t=3 s, so a 4 s clip has empty frames on both sides of it."""
    return DemoScene(period=10.0, walk_seconds=2.0, first_walk=1.0)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def demo_thread_alive() -> bool:
    return any(t.name == "camhub-demo-camera" for t in threading.enumerate())


def encode(duration: float, scene: DemoScene | None = None) -> bytes:
    buf = io.BytesIO()
    write_demo_stream(buf, fps=FPS, realtime=False, duration=duration, scene=scene)
    return buf.getvalue()


def decode(data: bytes) -> tuple[list[bool], list[av.VideoFrame]]:
    """Keyframe flag of each packet, and the decoded frames."""
    keyframes: list[bool] = []
    frames: list[av.VideoFrame] = []
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        for packet in container.demux(video=0):
            if packet.size:
                keyframes.append(packet.is_keyframe)
            frames.extend(packet.decode())
    return keyframes, frames


def luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray(format="gray").astype(np.float64)


# --- the scene -------------------------------------------------------------------------


def test_scene_is_a_pure_function_of_time_and_still_between_walks() -> None:
    scene = walk_scene()
    assert np.array_equal(scene.frame(1.5), scene.frame(1.5))
    assert np.array_equal(scene.frame(0.0), scene.frame(3.5))
    assert scene.frame(0.0).shape == (540, 640)
    assert scene.figure_box(0.5) is None
    assert scene.figure_box(3.0) is None
    assert scene.figure_box(11.5) == scene.figure_box(1.5)


def test_figure_walks_left_to_right_and_figure_box_is_tight() -> None:
    scene = walk_scene()
    boxes = [scene.figure_box(1 + i / FPS) for i in range(1, 20)]
    lefts = [box[0] for box in boxes if box is not None]
    assert len(lefts) == 19 and lefts == sorted(lefts) and lefts[-1] > lefts[0] + 400
    x0, y0, x1, y1 = scene.figure_box(2.0) or (0, 0, 0, 0)
    assert 0.35 * 360 < y1 - y0 < 0.45 * 360 and 0.25 < (x1 - x0) / (y1 - y0) < 0.6
    empty, walking = scene.frame(0.0)[:360], scene.frame(2.0)[:360]
    changed = walking != empty
    # A walker, not a box: much of the box is lawn between legs and arms, but each of its
    # edges touches the drawing.
    assert 0.3 < changed[y0:y1, x0:x1].mean() < 0.8
    assert changed[y0].any() and changed[y1 - 1].any()
    assert changed[y0:y1, x0].any() and changed[y0:y1, x1 - 1].any()
    # Dressed darker than the lawn, so motion is obvious.
    assert walking[changed].mean() < empty[changed].mean() - 30
    # Nothing outside the box changes.
    walking[y0:y1, x0:x1] = empty[y0:y1, x0:x1]
    assert np.array_equal(walking, empty)


def test_nobody_walks_before_the_first_walk_however_far_off() -> None:
    # `demo://?first=3600` is how tests ask for an empty garden: no walk an hour's worth of
    # periods early.
    scene = DemoScene(first_walk=3600.0)
    assert all(scene.figure_box(i / 2) is None for i in range(120))
    assert np.array_equal(scene.frame(1.0), scene.frame(59.0))
    assert scene.figure_box(3602.0) is not None


def test_sensor_noise_is_off_by_default_and_deterministic_when_on() -> None:
    noisy = DemoScene(sensor_noise=2)
    assert np.array_equal(noisy.frame(0.3), noisy.frame(0.3))
    assert not np.array_equal(noisy.frame(0.3), noisy.frame(0.4))
    assert np.abs(noisy.frame(0.3).astype(int) - DemoScene().frame(0.3)).max() <= 2


# --- the encoded stream ----------------------------------------------------------------


def test_stream_has_every_frame_keyframes_every_gop_and_rising_pts() -> None:
    keyframes, frames = decode(encode(4.0))

    assert abs(len(frames) - 40) <= 1
    assert {(f.width, f.height) for f in frames} == {(640, 360)}
    assert [i for i, key in enumerate(keyframes) if key] == [0, 20]
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(pts) == len(frames)
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert steps == {90000 // FPS}  # MPEG-TS 90 kHz clock, one frame apart


def test_decoded_frames_show_the_figure_where_figure_box_says() -> None:
    scene = walk_scene()
    _, frames = decode(encode(4.0, scene))
    assert len(frames) == 40
    empty = luma(frames[0])

    inside = 0
    for i, frame in enumerate(frames):
        box = scene.figure_box(i / FPS)
        if box is None or box[0] == 0 or box[2] == 640:
            continue  # absent, or only partly in the picture
        inside += 1
        x0, y0, x1, y1 = box
        region = (slice(y0, y1), slice(x0, x1))
        assert np.abs(empty[region] - luma(frame)[region]).mean() > 12, f"frame {i}"
    assert inside >= 15

    still = [i for i in range(40) if scene.figure_box(i / FPS) is None]
    assert len(still) >= 15
    for i in still:
        # Static scene: no drift, no keyframe pulse, no ghost once the figure has gone.
        assert np.abs(luma(frames[i]) - empty).mean() < 2.0, f"frame {i}"


# --- the live pipe ---------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_open_demo_is_a_live_stream_at_the_frame_rate() -> None:
    before = open_fds()
    reader, stop = open_demo(fps=FPS)
    # The demuxer probes about two seconds of frames before it returns (as it does for a
    # network camera); they then come out at once, so count from half a second later.
    container = av.open(reader, "r", format="mpegts")
    window_start = time.monotonic() + 0.5
    window_end = window_start + 2.0
    live = 0
    for frame in container.decode(video=0):
        now = time.monotonic()
        assert (frame.width, frame.height) == (640, 360)
        if now > window_end:
            break
        if now > window_start:
            live += 1
    container.close()

    started = time.monotonic()
    stop()
    assert time.monotonic() - started < 1.0
    assert 12 <= live <= 30
    assert not demo_thread_alive()
    assert open_fds() == before


@pytest.mark.timeout(30)
def test_stop_is_prompt_when_nobody_reads() -> None:
    before = open_fds()
    reader, stop = open_demo(realtime=False)
    time.sleep(0.5)  # unpaced, the writer fills the pipe and blocks in no time

    started = time.monotonic()
    stop()
    assert time.monotonic() - started < 1.0
    assert not demo_thread_alive()
    assert reader.closed
    assert open_fds() == before
    stop()  # twice is harmless


@pytest.mark.timeout(30)
def test_writer_ends_when_the_reader_goes_away() -> None:
    before = open_fds()
    reader, stop = open_demo()
    reader.read(188)  # one TS packet: the writer is running
    reader.close()

    deadline = time.monotonic() + 1.0
    while demo_thread_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not demo_thread_alive()
    stop()
    assert open_fds() == before
