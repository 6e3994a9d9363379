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
import io
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from hub import FootageFile, FootageStore, RecordConfig, RecordingSegment
from plugins.pyav_source.audio import AacTranscoder

_LOGGER = logging.getLogger(__name__)

MAX_GOP_PACKETS = 5000
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


@dataclass(slots=True)
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


# NAL unit types that carry parameter sets: H.264 SPS/PPS, HEVC VPS/SPS/PPS.
_H264_PARAMETER_SETS = {7, 8}
_HEVC_PARAMETER_SETS = {32, 33, 34}


def annexb_parameter_sets(data: bytes, hevc: bool = False) -> bytes | None:
    """The SPS/PPS (and VPS) NAL units of an Annex B access unit, as Annex B extradata."""
    found = []
    for unit in data.split(b"\x00\x00\x01"):
        unit = unit.rstrip(b"\x00")  # a 4-byte start code leaves a zero on the unit before
        if not unit:
            continue
        kind = (unit[0] >> 1) & 0x3F if hevc else unit[0] & 0x1F
        if kind in (_HEVC_PARAMETER_SETS if hevc else _H264_PARAMETER_SETS):
            found.append(b"\x00\x00\x00\x01" + unit)
    return b"".join(found) if len(found) >= 2 else None


def mp4_compatible(camera_id: str, streams: list[Any]) -> tuple[list[Any], set[int]]:
    """Streams to record, and the indexes of audio ones to re-encode as AAC (G.711).

    A stream MP4 cannot hold by copy and that is not audio is left out, said once.
    """
    probe = av.open(io.BytesIO(), mode="w", format="mp4")
    kept, transcode = [], set()
    try:
        for stream in streams:
            try:
                probe.add_stream_from_template(stream)
            except ValueError as exc:
                if stream.type != "audio":
                    _LOGGER.warning(
                        "Camera %s: %s stream not recorded: %s", camera_id, stream.type, exc
                    )
                    continue
                _LOGGER.info(
                    "Camera %s: %s audio is re-encoded as AAC for MP4",
                    camera_id,
                    stream.codec_context.name,
                )
                transcode.add(stream.index)
            kept.append(stream)
    finally:
        probe.close()
    return kept, transcode


class _OpenSegment:
    """One MP4 being written: container, output streams and timestamp origin."""

    def __init__(
        self,
        store: FootageStore,
        relpath: str,
        streams: list[Any],
        start_wall: float,
        parameter_sets: bytes | None = None,
        transcode: frozenset[int] = frozenset(),
    ):
        self.file: FootageFile = store.create(relpath)
        self.relpath = relpath
        self.start_wall = start_wall
        self.end_wall = start_wall
        self.container = av.open(self.file, mode="w", format="mp4", options=MP4_OPTIONS)
        self.outputs: dict[int, Any] = {
            s.index: self.container.add_stream_from_template(s)
            for s in streams
            if s.index not in transcode
        }
        self.transcoders = {
            s.index: AacTranscoder(self.container, s) for s in streams if s.index in transcode
        }
        if parameter_sets is not None:
            video = next(self.outputs[s.index] for s in streams if s.type == "video")
            # The moov is written up front (empty_moov): it needs the new SPS/PPS now, not
            # the stale ones the input stream was opened with.
            video.codec_context.extradata = parameter_sets
        self.origin: float | None = None  # seconds of the first video dts
        self.last_dts: dict[int, int] = {}
        self.shifts: dict[int, tuple[int, float]] = {}

    def write(self, item: TimedPacket) -> bool:
        packet = item.packet
        if self.origin is None:
            self.origin = float(packet.dts * packet.time_base)
        index = packet.stream.index
        transcoder = self.transcoders.get(index)
        if transcoder is not None:
            return transcoder.write(packet, self.origin)
        output = self.outputs.get(index)
        if output is None:
            return False
        # Per packet only integer ticks: the shift and the tick length are worked out once
        # (reading `time_base` makes a Fraction, which costs more than the rest).
        shifts = self.shifts.get(index)
        if shifts is None:
            time_base: Fraction = packet.time_base
            shifts = self.shifts[index] = (round(self.origin / time_base), float(time_base))
        shift, tick = shifts
        dts = packet.dts - shift
        if dts < 0 or dts <= self.last_dts.get(output.index, -1):
            return False  # audio from before the first keyframe, or a repeated timestamp
        packet.dts = dts
        packet.pts = packet.pts - shift if packet.pts is not None else dts
        packet.stream = output
        self.container.mux(packet)
        if item.is_video and packet.is_keyframe:
            # A keyframe closed the last fragment: push it to the OS (and, encrypted, seal
            # the open chunk), so a crash loses at most the fragment being written.
            self.file.flush()
        self.last_dts[output.index] = dts
        # End = start + media time, so the index always matches what the file holds.
        media_end = (dts + (packet.duration or 0)) * tick
        self.end_wall = max(self.end_wall, self.start_wall + media_end)
        return True

    @property
    def media_seconds(self) -> float:
        """Length of the media written so far."""
        return self.end_wall - self.start_wall

    def close_container(self) -> None:
        """Write what the muxer still holds (the last fragment); the file stays open."""
        for transcoder in self.transcoders.values():
            transcoder.flush()
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # the file goes away anyway
            _LOGGER.debug("Closing an aborted segment failed", exc_info=True)
        self.file.abort()


FINISH_QUEUE = 256
"""Closed segments waiting for their fsync at most; beyond, a demux thread waits (a disk this
far behind cannot keep up anyway)."""


class SegmentFinisher:
    """Finishes closed segments on one background thread, in the order they were closed.

    Finishing is an fsync, a rename and the index entry: on a slow SD card the fsync alone
    can take hundreds of milliseconds, which must never hold up a camera's demux thread
    (its frames and its next packets). One thread serves every camera; it starts with the
    first segment and stays (idle, it costs nothing).
    """

    def __init__(self) -> None:
        self._jobs: queue.Queue[Callable[[], None]] = queue.Queue(FINISH_QUEUE)
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` on the finisher thread after the ones submitted before it."""
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="segment-finisher", daemon=True
                )
                self._thread.start()
        self._jobs.put(job)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except Exception:  # a job reports its own errors; this keeps the thread alive
                _LOGGER.exception("Finishing a segment failed")


FINISHER = SegmentFinisher()


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
        # In-band SPS/PPS of the last keyframe, and new ones after a mid-stream change.
        self._parameter_sets: bytes | None = None
        self._changed_sets: bytes | None = None
        self._nal_codec: str | None = None
        self._transcode: frozenset[int] = frozenset()
        self._continue_at: float | None = None
        self._preroll: collections.deque[list[TimedPacket]] = collections.deque()
        self._finishing = 0
        self._finished = threading.Condition()

    def set_streams(self, streams: list[Any]) -> None:
        """Use these input streams as templates; closes any open segment (new stream = new file)."""
        self.close()
        self._preroll.clear()
        self._streams, transcode = mp4_compatible(self.camera_id, streams)
        self._transcode = frozenset(transcode)
        video = next((s for s in self._streams if s.type == "video"), None)
        codec = video.codec_context.name if video is not None else ""
        # Only H.264/HEVC carry in-band parameter sets worth watching.
        self._nal_codec = codec if codec in ("h264", "hevc") else None
        self._parameter_sets = None
        self._changed_sets = None
        self._continue_at = None

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
        if keyframe and self._parameters_changed(item):
            self._roll_over()
            self._preroll.clear()
        if self._segment is None:
            if self.config.mode == "events":
                self._remember(item, keyframe)
            # Start at once from the pre-roll (it begins with a keyframe), else at a keyframe.
            if (self._preroll or keyframe) and self._recording_wanted(item.wall):
                gops = list(self._preroll) or [[item]]
                self._preroll.clear()
                self._open([p for gop in gops for p in gop])
            return
        if not self._recording_wanted(item.wall):
            self.close()
            self._remember(item, keyframe)
            return
        if keyframe and self._segment.media_seconds >= self.config.segment_seconds:
            self._roll_over()
            self._open([item])
            return
        self._write(item)

    def _roll_over(self) -> None:
        """Close the segment; the next one continues it seamlessly in time."""
        if self._segment is not None:
            self._continue_at = self._segment.end_wall
        self.close()

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
        # A segment that continues the last one starts where it ended (one timeline per
        # connection); otherwise at its first packet's wall-clock time.
        start_wall = self._continue_at if self._continue_at is not None else packets[0].wall
        self._continue_at = None
        stamp = time.strftime("%Y-%m-%d/%H", time.localtime(start_wall))
        name = f"{self.camera_id}/{stamp}/{start_wall:.3f}.mp4"
        try:
            self._segment = _OpenSegment(
                self.store, name, self._streams, start_wall, self._changed_sets, self._transcode
            )
        except (OSError, av.error.FFmpegError) as exc:
            _LOGGER.error("Camera %s: cannot start segment %s: %s", self.camera_id, name, exc)
            return
        for item in packets:
            self._write(item)

    def _parameters_changed(self, item: TimedPacket) -> bool:
        """True when a keyframe carries other SPS/PPS than the last (resolution, profile)."""
        if self._nal_codec is None:
            return False
        found = annexb_parameter_sets(bytes(item.packet), hevc=self._nal_codec == "hevc")
        if found is None:
            return False
        changed = self._parameter_sets is not None and found != self._parameter_sets
        self._parameter_sets = found
        if changed:
            _LOGGER.warning(
                "Camera %s: stream parameters changed mid-stream (resolution?); new segment",
                self.camera_id,
            )
            self._changed_sets = found
        return changed

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
        """Close the open segment, if any; it is synced, renamed and reported for indexing
        on the finisher thread (`wait_finished` waits for that)."""
        segment, self._segment = self._segment, None
        if segment is None:
            return
        if not segment.last_dts:
            segment.abort()
            return
        try:
            segment.close_container()
        except (OSError, av.error.FFmpegError) as exc:
            _LOGGER.error("Camera %s: cannot finish %s: %s", self.camera_id, segment.relpath, exc)
            segment.abort()
            return
        with self._finished:
            self._finishing += 1
        FINISHER.submit(lambda: self._finish(segment))

    def _finish(self, segment: _OpenSegment) -> None:
        """Sync, rename and report one closed segment (finisher thread)."""
        try:
            size = segment.file.finish()
        except OSError as exc:
            _LOGGER.error("Camera %s: cannot finish %s: %s", self.camera_id, segment.relpath, exc)
            segment.file.abort()
            size = None
        if size is not None:
            self.stats.segments += 1
            self.stats.bytes_written += size
            self.on_segment(
                RecordingSegment(
                    camera=self.camera_id,
                    start=segment.start_wall,
                    end=segment.end_wall,
                    path=segment.relpath,
                    bytes=size,
                )
            )
        with self._finished:
            self._finishing -= 1
            self._finished.notify_all()

    def wait_finished(self, timeout: float) -> bool:
        """Wait until every closed segment is finished; False if some still are not."""
        with self._finished:
            return self._finished.wait_for(lambda: self._finishing == 0, timeout)
