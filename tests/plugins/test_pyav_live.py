"""Live fMP4 fan-out: a slow viewer skips to the next keyframe; a late viewer joins at one."""

from __future__ import annotations

import asyncio

from hub.camera import LiveSegment
from plugins.pyav_source.live import VIEWER_MAX_FRAGMENTS, LiveStream, avc_codec_string

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
