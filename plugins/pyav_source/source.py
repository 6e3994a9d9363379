"""A camera source on PyAV: demux in a worker thread, record by stream copy, decode for detection.

One connection serves recording and detection unless the camera has a
`detect_url`, in which case that sub-stream is opened (and decoded) in a second
thread while the main stream is only demuxed and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from hub import CameraConfig, CameraRuntime, LiveSubscription, RecordingSegment
from plugins.pyav_source.decoding import DetectionDecoder
from plugins.pyav_source.frames import WallClock, encode_jpeg
from plugins.pyav_source.live import LiveStream
from plugins.pyav_source.opening import (
    CameraStreamError,
    describe_av_error,
    is_local_file,
    open_stream,
)
from plugins.pyav_source.privacy import masked_stream
from plugins.pyav_source.recorder import SegmentRecorder, TimedPacket

_LOGGER = logging.getLogger(__name__)

# A timestamp further than this from the wall clock is a jump: re-anchor, new segment.
SNAPSHOT_FRESH_SECONDS = 2.0
FINISH_TIMEOUT = 2.0
"""Longest a stopping camera waits for its last segment to be synced and indexed."""
ARRIVAL_TIME_BASE = Fraction(1, 1000)


@dataclass
class SourceStats:
    """Counters for one camera's source."""

    packets: int = 0
    bad_packets: int = 0
    frames_decoded: int = 0
    detect_frames: int = 0
    last_packet: float = 0.0
    resolution: tuple[int, int] = (0, 0)
    codec: str = ""


class PyAVSource:
    """The CameraSource for one camera: owns its threads, recorder and latest frame."""

    def __init__(self, hub: Any, runtime: CameraRuntime):
        self.hub = hub
        self.runtime = runtime
        self.camera_id = runtime.camera_id
        self.config: CameraConfig = runtime.config
        self.stats = SourceStats()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._latest: Any = None
        self._latest_time = 0.0
        self._lock = threading.Lock()
        self._snapshot_waiters: list[asyncio.Future[None]] = []
        self._connections: list[_Connection] = []
        self.live = LiveStream(self.camera_id)
        self.recorder = SegmentRecorder(
            self.camera_id,
            self.config.record,
            hub.footage,
            self._segment_done,
            lambda: runtime.record_until,
            lambda: not hub.retention.paused,
        )

    # ------------------------------------------------------------ lifecycle

    async def async_run(self) -> None:
        """Run the demux thread(s) until the stream fails or the task is cancelled."""
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self.runtime.frames.bind(self._loop)
        self.live.bind(self._loop)
        done: asyncio.Future[None] = self._loop.create_future()
        self._connections = []
        threads = [self._spawn(self._main_thread, done, "main")]
        if self.config.detect_url and self.config.detect.enabled:
            threads.append(self._spawn(self._detect_thread, done, "detect"))
        watchdog = self._loop.create_task(self._watch_stalls(done))
        try:
            await asyncio.shield(done)
        finally:
            watchdog.cancel()
            self._stop.set()
            # Give the threads a moment to close the open segment cleanly, and the finisher
            # to sync and index it.
            deadline = time.monotonic() + 1.0
            for thread in threads:
                await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
            await asyncio.to_thread(self.recorder.wait_finished, FINISH_TIMEOUT)

    def _spawn(
        self, target: Callable[[], None], done: asyncio.Future[None], role: str
    ) -> threading.Thread:
        def run() -> None:
            error: BaseException | None = None
            try:
                target()
            except BaseException as exc:  # reported to the supervisor, never lost
                error = exc
            if not self._stop.is_set():
                self._call_soon(_settle, done, error or CameraStreamError("stream ended"))

        thread = threading.Thread(target=run, name=f"cam-{self.camera_id}-{role}", daemon=True)
        thread.start()
        return thread

    async def _watch_stalls(self, done: asyncio.Future[None]) -> None:
        """End the run when a connection delivers no video packet for `stall_seconds`.

        FFmpeg's socket timeout catches a silent connection; this catches one that stays
        alive (audio, keep-alives) with no video in it, without PyAV's read timeout (see
        opening._stall_options). The stuck thread is abandoned: it touches nothing shared
        when FFmpeg lets it go (its camera's RTSP session times out within a minute).
        """
        stall = self.config.stall_seconds
        while not done.done():
            await asyncio.sleep(min(1.0, stall / 4))
            now = time.monotonic()
            stuck = [c for c in self._connections if now - c.heard > stall]
            if stuck:
                for connection in self._connections:
                    connection.abandoned = True
                _settle(done, CameraStreamError("no data from the camera in time (stalled)"))
                return

    def _call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                self._loop.call_soon_threadsafe(callback, *args)

    # ------------------------------------------------------------ threads

    def _main_thread(self) -> None:
        decode_here = not self.config.detect_url
        self._pump(self.config.url, record=True, decode=decode_here)

    def _detect_thread(self) -> None:
        assert self.config.detect_url is not None
        self._pump(self.config.detect_url, record=False, decode=True)

    def _pump(self, url: str, record: bool, decode: bool) -> None:
        # With privacy masks every reader below sees only the masked, re-encoded stream, unless
        # the camera was verified to burn them in itself (then its stream is used as it is).
        masks = [] if self.runtime.privacy_masks_at == "camera" else self.config.privacy_masks
        with (
            open_stream(url, self.config) as raw,
            masked_stream(raw, self.camera_id, masks) as container,
        ):
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise CameraStreamError("the stream has no video")
            audio = next((s for s in container.streams if s.type == "audio"), None)
            streams = [video] + ([audio] if audio is not None and record else [])
            # Frame threads help one camera on many cores; with a camera per core or more
            # they add latency and memory for no throughput.
            many = len(self.hub.cameras) >= (os.cpu_count() or 1)
            video.thread_type = "NONE" if many else "AUTO"
            if record:
                self.recorder.set_streams(streams)
                self.stats.codec = video.codec_context.name
                self.stats.resolution = (video.codec_context.width, video.codec_context.height)
                self.live.set_stream(video)
            connection = _Connection(self, streams, record, decode, paced=is_local_file(url))
            # Files do not stall; the demo camera, fed by this process, has PyAV's timeout.
            if not (connection.paced or url.startswith("demo://")):
                self._connections.append(connection)
            try:
                for packet in container.demux(*streams):
                    if self._stop.is_set() or connection.abandoned or not connection.feed(packet):
                        return
            except av.error.FFmpegError as exc:
                raise CameraStreamError(describe_av_error(exc, url)) from None
            finally:
                if not connection.abandoned:  # else a new connection owns all this now
                    connection.close()
                    if record:
                        self.recorder.close()
                        self.live.stop()

    def keep_latest(self, frame: Any, wall: float) -> None:
        """Remember a decoded frame as the camera's current picture (demux thread)."""
        self._latest, self._latest_time = frame, wall

    def offer_snapshot(self, frame: Any, wall: float) -> None:
        """A frame decoded now: it answers every snapshot waiting (demux thread)."""
        if not self._snapshot_waiters:
            return
        self._latest, self._latest_time = frame, wall
        with self._lock:
            waiters, self._snapshot_waiters = self._snapshot_waiters, []
        for waiter in waiters:
            self._call_soon(_settle, waiter, None)

    def _bad_packet(self, reason: str) -> None:
        self.stats.bad_packets += 1
        if self.stats.bad_packets <= 10 or self.stats.bad_packets % 1000 == 0:
            _LOGGER.warning(
                "Camera %s: %s (skipped; %d so far)", self.camera_id, reason, self.stats.bad_packets
            )

    def _segment_done(self, segment: RecordingSegment) -> None:
        self._call_soon(self.hub.recording_finished, segment)

    def stats_dict(self) -> dict[str, object]:
        """Counters for `/api/cameras`: what arrived, what was recorded, what was skipped."""
        recorder = self.recorder.stats
        return {
            "codec": self.stats.codec,
            "resolution": list(self.stats.resolution),
            "packets": self.stats.packets,
            "bad_packets": self.stats.bad_packets,
            "frames_decoded": self.stats.frames_decoded,
            "segments": recorder.segments,
            "packets_recorded": recorder.packets_written,
            "packets_refused_by_muxer": recorder.packets_skipped,
            "bytes_recorded": recorder.bytes_written,
            "last_packet": self.stats.last_packet,
        }

    def live_subscribe(self) -> LiveSubscription:
        """A live fMP4 feed of the main stream for one viewer (stream copy, no decoding)."""
        return self.live.subscribe()

    # ------------------------------------------------------------ snapshots

    async def async_snapshot(self, timeout: float = 10.0) -> bytes | None:
        """A JPEG of the newest frame, decoding one if none is fresh enough.

        While the camera decodes keyframes only (adaptive, idle) the newest frame may be a
        GOP old: then the source wakes up and answers with the picture of now.
        """
        stale = self._latest is None or time.time() - self._latest_time > SNAPSHOT_FRESH_SECONDS
        if stale or self.runtime.decode.mode != "full":
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            with self._lock:
                self._snapshot_waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return None
            finally:
                with self._lock:
                    if waiter in self._snapshot_waiters:
                        self._snapshot_waiters.remove(waiter)
        frame = self._latest
        return await asyncio.to_thread(encode_jpeg, frame)


class _Connection:
    """Per-connection state of the demux loop: clocks, the detection decoder, online."""

    def __init__(
        self, source: PyAVSource, streams: list[Any], record: bool, decode: bool, paced: bool
    ):
        self.source = source
        self.streams = streams
        self.video = streams[0]
        self.record = record
        self.paced = paced
        self.clock = WallClock(paced)
        self.decoder = DetectionDecoder(source, self.video, self.clock) if decode else None
        self.online = False
        self.heard = time.monotonic()
        """When the last video packet came (monotonic), for the stall watchdog."""
        self.abandoned = False
        """Set by the watchdog: this connection is stuck and must touch nothing shared."""
        self.last_dts: dict[int, int] = {}
        self.ticks: dict[int, float] = {}
        # Streams of bare JPEGs over HTTP carry no timestamps: use the arrival time.
        self.arrival_clock = self.video.codec_context.name == "mjpeg" and not paced
        self.started: float | None = None

    def feed(self, packet: Any) -> bool:
        """Handle one demuxed packet; False to stop reading."""
        source = self.source
        if packet.dts is None or packet.size == 0:
            if packet.size:
                source._bad_packet("packet without timestamps")
            return True
        now = time.time()
        if self.arrival_clock:
            self._stamp_arrival(packet, now)
        wall = self._wall(packet, now)
        if self.paced and wall > now and source._stop.wait(wall - now):
            return False
        is_video = packet.stream is self.video
        if is_video:
            self.heard = time.monotonic()  # audio alone does not keep a camera alive
        if not self.online and is_video:
            self.online = True
            source._call_soon(source.hub.cameras.mark_online, source.camera_id)
        # Decode first: muxing re-targets the packet at the recorder's stream.
        if self.decoder is not None and is_video:
            self.decoder.handle(packet, wall)
        if self.record:
            if is_video:
                source.live.feed(packet)  # a copy is muxed; the recorder keeps the original
            source.stats.packets += 1
            source.stats.last_packet = now
            source.recorder.handle(TimedPacket(packet, wall, is_video))
        return True

    def _stamp_arrival(self, packet: Any, now: float) -> None:
        """Date a packet by its arrival: MJPEG over HTTP has no clock (FFmpeg assumes 25 fps)."""
        if self.started is None:
            self.started = now
        dts = max(
            round((now - self.started) * 1000), self.last_dts.get(packet.stream.index, -1) + 1
        )
        packet.time_base = ARRIVAL_TIME_BASE
        packet.pts = packet.dts = dts

    def _wall(self, packet: Any, now: float) -> float:
        """Wall time of a packet; a timestamp jump either way starts a new segment."""
        index = packet.stream.index
        dts = packet.dts
        backwards = dts < self.last_dts.get(index, dts)
        self.last_dts[index] = dts
        if backwards:
            self.clock.reset()
        tick = self.ticks.get(index)
        if tick is None:  # a stream's time base is fixed; reading it makes a Fraction
            tick = self.ticks[index] = float(packet.time_base)
        wall, jumped = self.clock.wall(dts * tick, now)
        if jumped or backwards:
            _LOGGER.warning(
                "Camera %s: timestamps jumped %s; starting a new segment",
                self.source.camera_id,
                "back" if backwards else "ahead",
            )
            if self.record:
                self.source.recorder.set_streams(self.streams)
        return wall

    def close(self) -> None:
        """The connection ended."""
        if self.decoder is not None:
            self.decoder.close()


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
