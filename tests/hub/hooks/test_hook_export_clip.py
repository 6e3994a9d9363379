"""`export_clip`: the first plugin to answer writes an event's clip from its recorded segments."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.footage.recordings import RecordingSegment
from hub.hookspecs import hookimpl

CONFIG = """\
plugins:
  disabled: [pyav_source]
cameras:
  front:
    url: demo://
    record:
      pre_seconds: 3
      post_seconds: 4
"""
EVENT = {"id": "ev1", "camera": "front", "start": 1000.0, "end": 1010.0}


class Joiner:
    """Writes the concatenated segment files as the clip (enough to see what it was given)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    async def export_clip(
        self, hub: Any, segments: list[RecordingSegment], start: float, end: float, relpath: str
    ) -> str:
        self.calls.append({"segments": segments, "start": start, "end": end, "relpath": relpath})
        out = hub.footage.create(relpath)
        for segment in segments:
            with hub.footage.open_read(segment.path) as part:
                out.write(part.read())
        await asyncio.to_thread(out.finish)
        return relpath


async def _record(hub: Any, camera: str, start: float, end: float) -> RecordingSegment:
    relpath = f"{camera}/{start:.0f}.mp4"
    file = hub.footage.create(relpath)
    file.write(f"[{start:.0f}]".encode())
    size = file.finish()
    segment = RecordingSegment(camera=camera, start=start, end=end, path=relpath, bytes=size)
    await hub.recordings.async_add(segment)
    return segment


async def test_the_clip_is_made_once_from_the_segments_around_the_event(make_hub):
    hub = make_hub(CONFIG)
    joiner = Joiner()
    hub.plugins.register(joiner, "joiner")
    await hub.async_start()
    try:
        await _record(hub, "front", 970.0, 980.0)  # before the pre-roll: not wanted
        await _record(hub, "front", 990.0, 1000.0)
        await _record(hub, "front", 1000.0, 1010.0)
        await _record(hub, "front", 1010.0, 1020.0)
        await _record(hub, "back", 1000.0, 1010.0)  # another camera

        relpath = await hub.async_event_clip(EVENT)

        assert relpath == "clips/front/ev1.mp4"
        assert len(joiner.calls) == 1
        call = joiner.calls[0]
        assert (call["start"], call["end"]) == (997.0, 1014.0)  # pre/post roll included
        assert call["relpath"] == relpath
        assert [(s.camera, s.start) for s in call["segments"]] == [
            ("front", 990.0),
            ("front", 1000.0),
            ("front", 1010.0),
        ]
        with hub.footage.open_read(relpath) as clip:
            assert clip.read() == b"[990][1000][1010]"

        assert await hub.async_event_clip(EVENT) == relpath
        assert len(joiner.calls) == 1  # made once, then served from footage
    finally:
        await hub.async_stop()


async def test_no_recording_means_no_clip_and_no_plugin_call(make_hub):
    hub = make_hub(CONFIG)
    joiner = Joiner()
    hub.plugins.register(joiner, "joiner")
    await hub.async_start()
    try:
        await _record(hub, "front", 2000.0, 2010.0)
        assert await hub.async_event_clip(EVENT) is None
        assert joiner.calls == []
    finally:
        await hub.async_stop()


async def test_a_plugin_that_declines_at_once_lets_the_next_one_answer(make_hub):
    declined: list[int] = []

    class Picky:
        @hookimpl
        def export_clip(self, segments: list[RecordingSegment]) -> str | None:
            declined.append(len(segments))
            return None

    hub = make_hub(CONFIG)
    joiner = Joiner()
    hub.plugins.register(joiner, "joiner")
    hub.plugins.register(Picky(), "picky")  # asked first
    await hub.async_start()
    try:
        await _record(hub, "front", 1000.0, 1010.0)
        assert await hub.async_event_clip(EVENT) == "clips/front/ev1.mp4"
        assert declined == [1]
        assert len(joiner.calls) == 1
    finally:
        await hub.async_stop()


async def test_a_failing_export_is_counted_and_gives_no_clip(make_hub):
    class Broken:
        @hookimpl
        async def export_clip(self, relpath: str) -> str:
            raise OSError("disk full")

    hub = make_hub(CONFIG)
    hub.plugins.register(Broken(), "broken")
    await hub.async_start()
    try:
        await _record(hub, "front", 1000.0, 1010.0)
        assert await hub.async_event_clip(EVENT) is None
        assert hub.plugins.infos["broken"].failures == 1
        assert not hub.footage.exists("clips/front/ev1.mp4")
    finally:
        await hub.async_stop()


async def test_an_async_plugin_that_declines_lets_the_next_one_answer(make_hub):
    class AsyncPicky:
        @hookimpl
        async def export_clip(self, segments: list[RecordingSegment]) -> str | None:
            return None

    hub = make_hub(CONFIG)
    joiner = Joiner()
    hub.plugins.register(joiner, "joiner")
    hub.plugins.register(AsyncPicky(), "async_picky")
    await hub.async_start()
    try:
        await _record(hub, "front", 1000.0, 1010.0)
        assert await hub.async_event_clip(EVENT) == "clips/front/ev1.mp4"
    finally:
        await hub.async_stop()
