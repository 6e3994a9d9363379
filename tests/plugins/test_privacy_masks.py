"""Privacy masks: the masked pixels are gone from recordings, snapshots and detection frames."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import av
import numpy as np
import pytest

from hub.detection.polygons import polygon_mask
from hub.events import MotionEnded, MotionStarted, RecordingSaved
from plugins.pyav_source.privacy import (
    MASK_Y,
    FrameMasker,
    PrivacyMaskError,
    masked_stream,
)
from tests.helpers import hub_at, indexed_segments, next_events, wait_until
from tests.servers.fixtures import Mount

# A walk from 1 s to 4 s along the bottom of the 640x360 picture (feet at 95 %, 42 % tall).
DEMO = "demo://?first=1&walk=3&period=60"
# Everything below 45 % of the height: the whole walk happens under the mask.
BAND = "[[0, 0.45], [1, 0.45], [1, 1], [0, 1]]"
WIDTH, HEIGHT = 640, 360

CONFIG = f"""
cameras:
  masked:
    url: "{DEMO}"
    privacy_masks:
      - {BAND}
    detect:
      fps: 5
    record:
      mode: continuous
      segment_seconds: 2
  plain:
    url: "{DEMO}"
    detect:
      fps: 5
    record:
      mode: 'off'
"""


def inner_band(height: int) -> slice:
    """Rows well inside the mask (codec edges blur a few pixels at its border)."""
    return slice(round(0.45 * height) + 8, height)


def outer_rows(height: int) -> slice:
    """Rows well outside the mask."""
    return slice(0, round(0.45 * height) - 8)


def luma(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane as coded (limited range: black is 16)."""
    return frame.to_ndarray(format="yuv420p")[: frame.height]


def test_polygons_are_rasterised_by_pixel_centres() -> None:
    square = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    mask = polygon_mask([square], 8, 8)
    assert mask.sum() == 16 and mask[2:6, 2:6].all()
    triangle = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]
    lower_left_free = polygon_mask([triangle], 100, 100)
    assert lower_left_free[5, 5] and not lower_left_free[95, 95]
    assert abs(lower_left_free.mean() - 0.5) < 0.02
    # Two polygons add up; overlapping ones do not cancel out.
    both = polygon_mask([square, square], 8, 8)
    assert both.sum() == 16


def test_frame_masker_fills_luma_and_chroma_and_leaves_the_decoder_frame_alone() -> None:
    picture = np.random.default_rng(1).integers(0, 256, (HEIGHT * 3 // 2, WIDTH), np.uint8)
    frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
    frame.pts = 7
    masked = FrameMasker([json.loads(BAND)], WIDTH, HEIGHT).apply(frame)
    out = masked.to_ndarray(format="yuv420p")
    assert masked.pts == 7
    assert (out[inner_band(HEIGHT)] == MASK_Y).all()
    chroma = out[HEIGHT:].reshape(2, HEIGHT // 2, WIDTH // 2)  # U and V, half size
    assert (chroma[:, inner_band(HEIGHT // 2)] == 128).all()
    assert np.array_equal(out[: round(0.45 * HEIGHT)], picture[: round(0.45 * HEIGHT)])
    assert np.array_equal(frame.to_ndarray(format="yuv420p"), picture)


def camera_file(path: Path, seconds: int = 4, fps: int = 10) -> Path:
    """H.264 (a keyframe a second) with G.711 audio, as many cameras send, in NUT. The
    pictures are moving grey ramps: cheap to encode (noise took seconds on a loaded CI),
    and different from the mask's constant everywhere."""
    with av.open(str(path), "w", format="nut") as container:
        video = container.add_stream(
            "libx264", rate=fps, options={"x264-params": f"keyint={fps}:min-keyint={fps}"}
        )
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = container.add_stream("pcm_mulaw", rate=8000)
        audio.layout = "mono"
        for index in range(seconds * fps):
            rows = np.arange(HEIGHT * 3 // 2, dtype=np.uint16)[:, None]
            picture = np.broadcast_to((rows + index) % 256, (HEIGHT * 3 // 2, WIDTH))
            picture = np.ascontiguousarray(picture, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
            frame.pts = index
            for packet in video.encode(frame):
                container.mux(packet)
            samples = np.full((1, 800), index * 100, np.int16)
            sound = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            sound.sample_rate, sound.pts = 8000, index * 800
            for packet in audio.encode(sound):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def test_every_packet_comes_through_with_keyframes_and_audio_untouched(tmp_path) -> None:
    path = camera_file(tmp_path / "camera.nut")
    with av.open(str(path)) as original:
        sound = [bytes(p) for p in original.demux(audio=0) if p.size]
    with av.open(str(path)) as original:
        pictures = [f for p in original.demux(video=0) for f in p.decode()]
    # The camera's keyframes (B-frames make x264 place them a frame early): kept as they are.
    camera_keyframes = [i for i, f in enumerate(pictures) if f.key_frame]
    assert len(camera_keyframes) >= 4
    with av.open(str(path)) as raw, masked_stream(raw, "cam", [json.loads(BAND)]) as masked:
        video = next(s for s in masked.streams if s.type == "video")
        audio = next(s for s in masked.streams if s.type == "audio")
        assert (video.codec_context.width, video.codec_context.height) == (WIDTH, HEIGHT)
        assert audio.codec_context.name == "pcm_mulaw"
        held_back = None
        keyframes, copied = [], []
        for packet in masked.demux(video, audio):
            if packet.size == 0:
                continue
            if packet.stream is audio:
                copied.append(bytes(packet))
                continue
            if held_back is None:
                # Opening the masked stream reads ahead a little (codec probing), no more.
                held_back = masked.pipe.frames_masked
            keyframes.append(packet.is_keyframe)
            frames = packet.decode()
            for frame in frames:
                assert (luma(frame)[inner_band(HEIGHT)] == MASK_Y).all()
    assert len(keyframes) == 40
    assert [i for i, key in enumerate(keyframes) if key] == camera_keyframes
    assert copied == sound
    assert held_back is not None and held_back <= 10


class FailingReader(io.RawIOBase):
    """A camera connection that breaks after `limit` bytes."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.position = data, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self.position >= self.limit:
            raise ConnectionResetError("camera went away")
        chunk = self.data[self.position : min(self.limit, self.position + len(buffer))]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)


def test_a_broken_camera_connection_is_raised_not_swallowed(tmp_path) -> None:
    data = camera_file(tmp_path / "camera.nut", seconds=10).read_bytes()
    # Opening probes the first few seconds; the break comes well after that.
    raw = av.open(FailingReader(data, len(data) * 3 // 4), format="nut")
    got = 0
    with (
        pytest.raises(ConnectionResetError, match="camera went away"),
        masked_stream(raw, "cam", [json.loads(BAND)]) as masked,
    ):
        for packet in masked.demux(*masked.streams):
            got += bool(packet.size)
    raw.close()
    assert got > 30  # what came before the break came through first


def test_a_new_picture_size_ends_the_masked_stream_with_a_reason(tmp_path) -> None:
    # Two encodes whose timestamps continue, concatenated: one stream whose SPS changes.
    parts = []
    for size, first in (((320, 240), 0), ((480, 270), 20)):
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=10, options={"g": "10"})
            stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
            for index in range(first, first + 20):
                image = np.full((size[1], size[0], 3), index * 6, np.uint8)
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        parts.append(buffer.getvalue())
    got = 0
    raw = av.open(io.BytesIO(b"".join(parts)), format="mpegts")
    with (
        pytest.raises(PrivacyMaskError, match="resolution changed to 480x270; reconnecting"),
        masked_stream(raw, "cam", [json.loads(BAND)]) as masked,
    ):
        for packet in masked.demux(*masked.streams):
            got += bool(packet.size)
    raw.close()
    # The source reconnects on this error (the new size needs a new encoder); until then,
    # every picture of the old size came through.
    assert got == 20


@pytest.fixture(scope="module")
def masked_run(tmp_path_factory) -> dict:
    """Both cameras for 6 s: motion events, detection frames, a snapshot and recordings."""
    folder = tmp_path_factory.mktemp("privacy")

    async def run() -> dict:
        hub = hub_at(folder, CONFIG)
        motion = hub.bus.subscribe("t", (MotionStarted,))
        ended = hub.bus.subscribe("ended", (MotionEnded,))
        saved = hub.bus.subscribe("saved", (RecordingSaved,))
        slot = hub.cameras["masked"].frames.attach()
        await hub.async_start()
        await wait_until(lambda: hub.states.get("camera.masked").state == "online", 20)
        live = hub.cameras["masked"].source.live_subscribe()  # type: ignore[union-attr]
        fragments: list[bytes] = []

        async def watch() -> None:
            async for segment in live:
                if segment.init and fragments:
                    return  # the stream restarted: one init's worth is enough
                fragments.append(segment.data)
                if len(fragments) >= 20:
                    return

        watching = asyncio.create_task(watch())
        frames = []
        for _ in range(10):
            frames.append(await asyncio.wait_for(slot.get(), 10))
        snapshot = await hub.cameras.async_snapshot("masked")
        await asyncio.wait_for(watching, 15)
        live.close()
        # The walk is over once the plain camera saw its motion end (the masked one saw it
        # too, under the mask), and the masked camera recorded two whole segments.
        await next_events(ended, 1)
        await next_events(saved, 2)
        stats = hub.cameras["masked"].source.stats_dict()  # type: ignore[union-attr]
        await hub.async_stop()
        events = []
        while motion.stats.queued:
            events.append(await motion.get())
        segments = [s for s in await indexed_segments(folder) if s.camera == "masked"]
        decoded, keyframes = [], []
        for segment in segments:
            with hub.footage.open_read(segment.path) as raw, av.open(raw) as container:
                pictures = list(container.decode(video=0))
            decoded.extend(luma(f) for f in pictures)
            keyframes.append([i for i, f in enumerate(pictures) if f.key_frame])
        return {
            "events": events,
            "frames": frames,
            "snapshot": snapshot,
            "live": b"".join(fragments),
            "decoded": decoded,
            "keyframes": keyframes,
            "stats": stats,
        }

    return asyncio.run(run())


def test_recorded_segments_hold_a_constant_block_where_the_mask_is(masked_run) -> None:
    decoded = masked_run["decoded"]
    assert len(decoded) >= 40  # about 10 fps for most of the 6 s
    stack = np.stack(decoded).astype(np.float64)
    under = stack[:, inner_band(HEIGHT)]
    assert under.std() < 0.5 and abs(under.mean() - MASK_Y) < 1.5
    # The rest is the garden: a real picture, not a blank one.
    assert stack[:, outer_rows(HEIGHT)].std() > 10


def test_detection_frames_and_snapshots_are_masked(masked_run) -> None:
    for frame in masked_run["frames"]:
        gray = frame.gray.astype(np.float64)
        assert gray[inner_band(gray.shape[0])].std() < 1.0
        assert gray[outer_rows(gray.shape[0])].std() > 10
    jpeg = masked_run["snapshot"]
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(jpeg)) as image:
        picture = luma(next(image.decode(video=0))).astype(np.float64)
    assert picture.shape == (HEIGHT, WIDTH)
    # JPEG is full range: the mask is plain black there.
    assert picture[inner_band(HEIGHT)].std() < 2.0 and picture[inner_band(HEIGHT)].mean() < 4
    assert picture[outer_rows(HEIGHT)].std() > 10


def test_the_live_view_carries_the_masked_stream(masked_run) -> None:
    with av.open(io.BytesIO(masked_run["live"])) as container:
        pictures = [luma(f).astype(np.float64) for f in container.decode(video=0)]
    assert len(pictures) >= 10
    for picture in pictures:
        assert picture[inner_band(HEIGHT)].std() < 0.5
        assert abs(picture[inner_band(HEIGHT)].mean() - MASK_Y) < 1.5
        assert picture[outer_rows(HEIGHT)].std() > 10


def test_a_walk_under_the_mask_makes_no_motion_event(masked_run) -> None:
    cameras = [event.camera for event in masked_run["events"]]
    # The same walk on the unmasked camera is seen: the scene does move.
    assert "plain" in cameras
    assert "masked" not in cameras
    assert masked_run["stats"]["frames_decoded"] > 0


def test_recordings_keep_the_camera_keyframes(masked_run) -> None:
    # The demo camera sends a keyframe every 2 s at 10 fps; the masked stream keeps them there
    # (segments are cut on keyframes, so each starts with one).
    keyframes = masked_run["keyframes"]
    assert len(keyframes) >= 2 and masked_run["stats"]["segments"] >= 2
    for found in keyframes[:-1]:
        assert found == list(range(0, 20 * len(found), 20))


async def test_an_rtsp_camera_with_g711_is_recorded_masked_with_its_sound(rtsp_server, tmp_path):
    server = rtsp_server(
        Mount("/cam1", width=640, height=360, fps=15, gop=15, pattern="smpte", audio="pcma")
    )
    config = (
        f"cameras:\n  porch:\n    url: '{server.url('/cam1')}'\n    open_timeout: 3\n"
        f"    privacy_masks:\n      - {BAND}\n"
        "    record:\n      mode: continuous\n      segment_seconds: 2\n"
    )
    hub = hub_at(tmp_path, config)
    saved = hub.bus.subscribe("saved", (RecordingSaved,))
    await hub.async_start()
    await next_events(saved, 2)
    stats = hub.cameras["porch"].source.stats_dict()  # type: ignore[union-attr]
    await hub.async_stop()
    segments = await indexed_segments(tmp_path)
    assert len(segments) >= 2 and stats["packets_refused_by_muxer"] == 0
    for segment in segments[:-1]:
        with hub.footage.open_read(segment.path) as raw, av.open(raw) as container:
            types = [s.type for s in container.streams]
            pictures = [luma(f) for f in container.decode(video=0)]
        assert types == ["video", "audio"]  # the G.711 came through (kept as AAC)
        # 15 fps, cut at the first keyframe (1 s GOP) after 2 s of media: nothing lost.
        assert len(pictures) == pytest.approx(segment.duration * 15, abs=2)
        for picture in pictures:
            assert (picture[inner_band(HEIGHT)] == MASK_Y).all()
            assert picture[outer_rows(HEIGHT)].std() > 5
