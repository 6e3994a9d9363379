"""Records packets by stream copy into fragmented MP4 segments cut at keyframes.

Runs in the camera's demux thread: muxing a packet is a memory copy and a
write, so it keeps up with any camera, and no packet is queued or dropped
between demuxer and muxer. Fragmented MP4 (`empty_moov`, a fragment per
keyframe) stays playable up to its last complete fragment if the hub is
killed mid-write; the file keeps its `.partial` name until closed, and
start-up repair finishes or discards such files.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from hub.config import RecordConfig
from hub.footage import FootageFile, FootageStore
from hub.recordings import RecordingSegment

_LOGGER = logging.getLogger(__name__)

MAX_GOP_PACKETS = 5000
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@dataclass
class TimedPacket:
    """A demuxed packet with the wall-clock time its timestamp maps to."""

    packet: Any
    wall: float
    is_video: bool


@dataclass
class RecorderStats:
    """Counters shown in the camera's state and the benchmark."""

    segments: int = 0
    packets_written: int = 0
    packets_skipped: int = 0
    """Packets the muxer refused (malformed); each one is logged."""
    bytes_written: int = 0


class _OpenSegment:
    """One MP4 being written: container, output streams and timestamp origin."""

    def __init__(self, store: FootageStore, relpath: str, streams: list[Any], start_wall: float):
        self.file: FootageFile = store.create(relpath)
        self.relpath = relpath
        self.start_wall = start_wall
        self.end_wall = start_wall
        self.container = av.open(self.file, mode="w", format="mp4", options=MP4_OPTIONS)
        self.outputs: dict[int, Any] = {
            s.index: self.container.add_stream_from_template(s) for s in streams
        }
        self.origin: float | None = None  # seconds of the first video dts
        self.last_dts: dict[int, int] = {}

    def write(self, item: TimedPacket) -> bool:
        packet = item.packet
        output = self.outputs.get(packet.stream.index)
        if output is None:
            return False
        time_base: Fraction = packet.time_base
        if self.origin is None:
            self.origin = float(packet.dts * time_base)
        shift = round(self.origin / time_base)
        dts = packet.dts - shift
        if dts < 0 or dts <= self.last_dts.get(output.index, -1):
            return False  # audio from before the first keyframe, or a repeated timestamp
        packet.dts = dts
        packet.pts = packet.pts - shift if packet.pts is not None else dts
        packet.stream = output
        self.container.mux(packet)
        self.last_dts[output.index] = dts
        duration = float((packet.duration or 0) * time_base)
        self.end_wall = max(self.end_wall, item.wall + duration)
        return True

    def close(self) -> tuple[int, float]:
        self.container.close()
        return self.file.finish(), self.end_wall

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # the file goes away anyway
            _LOGGER.debug("Closing an aborted segment failed", exc_info=True)
        self.file.abort()


class SegmentRecorder:
    """Turns a packet stream into indexed MP4 segments according to the record mode."""

    def __init__(
        self,
        camera_id: str,
        config: RecordConfig,
        store: FootageStore,
        on_segment: Callable[[RecordingSegment], None],
        hold_until: Callable[[], float],
        allowed: Callable[[], bool] = lambda: True,
    ):
        self.camera_id = camera_id
        self.config = config
        self.store = store
        self.on_segment = on_segment
        self.hold_until = hold_until
        self.allowed = allowed
        self.stats = RecorderStats()
        self._streams: list[Any] = []
        self._segment: _OpenSegment | None = None
        self._preroll: collections.deque[list[TimedPacket]] = collections.deque()

    def set_streams(self, streams: list[Any]) -> None:
        """Use these input streams as templates; closes any open segment (new stream = new file)."""
        self.close()
        self._preroll.clear()
        self._streams = list(streams)

    def _recording_wanted(self, now: float) -> bool:
        if not self.allowed():
            return False  # disk full: retention paused recording
        mode = self.config.mode
        return mode == "continuous" or (mode == "events" and self.hold_until() > now)

    def handle(self, item: TimedPacket) -> None:
        """Take one packet (in demux order)."""
        if self.config.mode == "off" or not self._streams:
            return
        keyframe = item.is_video and bool(item.packet.is_keyframe)
        if self._segment is None:
            if self.config.mode == "events":
                self._remember(item, keyframe)
            if keyframe and self._recording_wanted(item.wall):
                gops = list(self._preroll) or [[item]]
                self._preroll.clear()
                self._open([p for gop in gops for p in gop])
            return
        if not self._recording_wanted(item.wall):
            self.close()
            self._remember(item, keyframe)
            return
        if keyframe and item.wall - self._segment.start_wall >= self.config.segment_seconds:
            self.close()
            self._open([item])
            return
        self._write(item)

    def _remember(self, item: TimedPacket, keyframe: bool) -> None:
        """Keep whole GOPs reaching back to a keyframe at least `pre_seconds` old."""
        if keyframe:
            self._preroll.append([item])
            horizon = item.wall - self.config.pre_seconds
            while len(self._preroll) > 1 and self._preroll[1][0].wall <= horizon:
                self._preroll.popleft()
        elif self._preroll:
            self._preroll[-1].append(item)
            if len(self._preroll[-1]) > MAX_GOP_PACKETS:
                # A stream without keyframes would grow the pre-roll forever.
                self._preroll.clear()

    def _open(self, packets: list[TimedPacket]) -> None:
        start_wall = packets[0].wall
        stamp = time.strftime("%Y-%m-%d/%H", time.localtime(start_wall))
        name = f"{self.camera_id}/{stamp}/{start_wall:.3f}.mp4"
        try:
            self._segment = _OpenSegment(self.store, name, self._streams, start_wall)
        except (OSError, av.error.FFmpegError) as exc:
            _LOGGER.error("Camera %s: cannot start segment %s: %s", self.camera_id, name, exc)
            return
        for item in packets:
            self._write(item)

    def _write(self, item: TimedPacket) -> None:
        assert self._segment is not None
        try:
            written = self._segment.write(item)
        except av.error.FFmpegError as exc:
            self.stats.packets_skipped += 1
            _LOGGER.warning("Camera %s: packet skipped by the muxer: %s", self.camera_id, exc)
            return
        if written:
            self.stats.packets_written += 1

    def close(self) -> None:
        """Finish the open segment, if any, and report it for indexing."""
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if not segment.last_dts:
            segment.abort()
            return
        try:
            size, end_wall = segment.close()
        except (OSError, av.error.FFmpegError) as exc:
            _LOGGER.error("Camera %s: cannot finish %s: %s", self.camera_id, segment.relpath, exc)
            segment.abort()
            return
        self.stats.segments += 1
        self.stats.bytes_written += size
        self.on_segment(
            RecordingSegment(
                camera=self.camera_id,
                start=segment.start_wall,
                end=end_wall,
                path=segment.relpath,
                bytes=size,
            )
        )
