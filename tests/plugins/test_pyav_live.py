"""Live fMP4 fan-out: a slow viewer skips to the next keyframe; a late viewer joins at one."""

from __future__ import annotations

import asyncio
import io
from fractions import Fraction

import av
import numpy as np

from hub.cameras.source import LiveSegment
from plugins.pyav_source.live import (
    VIEWER_MAX_FRAGMENTS,
    FragmentMuxer,
    LiveStream,
    avc_codec_string,
    hevc_codec_string,
)

INIT = LiveSegment(b"init", init=True, codec="avc1.42C01E")


def frag(n: int, key: bool = False) -> LiveSegment:
    return LiveSegment(f"frag{n}".encode(), init=False, keyframe=key)


async def take(viewer, count: int) -> list[bytes]:
    out: list[bytes] = []
    async for segment in viewer:
        out.append(segment.data)
        if len(out) == count:
            break
    return out


async def test_slow_viewer_drops_to_next_keyframe_and_gets_init_again() -> None:
    stream = LiveStream("yard")
    stream.bind(asyncio.get_running_loop())
    viewer = stream.subscribe()
    stream._publish([INIT, frag(0, key=True)])
    stream._publish([frag(n) for n in range(1, VIEWER_MAX_FRAGMENTS + 5)])  # nobody reads
    stream._publish([frag(1000), frag(1001, key=True), frag(1002)])
    got = await take(viewer, 3)
    assert got == [b"init", b"frag1001", b"frag1002"]
    assert viewer.dropped > VIEWER_MAX_FRAGMENTS
    viewer.close()
    assert stream.viewers == 0


async def test_late_viewer_starts_from_the_cached_keyframe() -> None:
    stream = LiveStream("yard")
    stream.bind(asyncio.get_running_loop())
    first = stream.subscribe()
    stream._publish([INIT, frag(0, key=True), frag(1), frag(2, key=True), frag(3)])
    late = stream.subscribe()
    assert await take(late, 3) == [b"init", b"frag2", b"frag3"]
    first.close()
    late.close()


async def test_viewer_iteration_ends_when_the_stream_gives_up() -> None:
    stream = LiveStream("yard")
    stream.bind(asyncio.get_running_loop())
    viewer = stream.subscribe()
    stream._end_all()
    assert [s async for s in viewer] == []


def test_codec_string_comes_from_the_avcc_box() -> None:
    assert avc_codec_string(b"....avcC\x01\x64\x00\x1f\xff") == "avc1.64001F"
    assert avc_codec_string(b"no codec box here") == ""


def test_hevc_codec_string_follows_the_hvcc_box() -> None:
    # Main profile, compatibility flags 0x60000000, level 3.1 (93), constraint byte 0xB0.
    box = b"hvcC" + bytes([1, 0x01, 0x60, 0, 0, 0, 0xB0, 0, 0, 0, 0, 0, 93])
    assert hevc_codec_string(b"....hvc1...." + box) == "hvc1.1.6.L93.B0"
    high_tier = b"hvcC" + bytes([1, 0x22, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 120])
    assert hevc_codec_string(b"hev1" + high_tier) == "hev1.2.4.H120"


def test_hevc_is_stream_copied_into_hvc1_fragments() -> None:
    encoded = io.BytesIO()
    with av.open(encoded, "w", format="mpegts") as out:
        stream = out.add_stream(
            "libx265",
            rate=10,
            options={"preset": "ultrafast", "x265-params": "keyint=10:log-level=error"},
        )
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index in range(20):
            picture = np.full((270, 320), index * 10, np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    encoded.seek(0)
    segments = []
    with av.open(encoded, format="mpegts") as source:
        video = source.streams.video[0]
        muxer = None
        for packet in source.demux(video):
            if packet.dts is None or (muxer is None and not packet.is_keyframe):
                continue
            muxer = muxer or FragmentMuxer(video)
            segments += muxer.mux(packet)
    assert segments[0].init and segments[0].codec.startswith("hvc1.1.")
    with av.open(io.BytesIO(b"".join(s.data for s in segments)), format="mp4") as copied:
        assert len(list(copied.decode(video=0))) == 19  # the last frame waits for the next


async def test_a_stream_that_cannot_be_rewrapped_ends_new_viewers_at_once() -> None:
    stream = LiveStream("yard")
    stream.bind(asyncio.get_running_loop())
    stream._template = stream._broken_template = object()  # what feed() sets on a mux error
    viewer = stream.subscribe()
    assert [s async for s in viewer] == []
