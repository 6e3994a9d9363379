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
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np

from hub.camera import CameraError
from hub.cameras import CameraRuntime
from hub.config import CameraConfig
from hub.frames import Frame
from hub.recordings import RecordingSegment
from hub.redact import redact_url
from plugins.pyav_source import demo
from plugins.pyav_source.recorder import SegmentRecorder, TimedPacket

_LOGGER = logging.getLogger(__name__)

# A timestamp further than this from the wall clock is a jump: re-anchor, new segment.
MAX_CLOCK_SKEW_SECONDS = 10.0
SNAPSHOT_FRESH_SECONDS = 2.0
ARRIVAL_TIME_BASE = Fraction(1, 1000)


class CameraStreamError(CameraError):
    """The stream could not be opened or broke; the message is safe to show (no password)."""


def describe_av_error(exc: BaseException, url: str) -> str:
    """A short, password-free reason for a PyAV/FFmpeg failure."""
    if isinstance(exc, av.error.HTTPUnauthorizedError) or "401" in str(exc):
        return "the camera refused the username or password (401)"
    if isinstance(exc, av.error.ExitError):
        return "no data from the camera in time (stalled)"
    if isinstance(exc, ConnectionRefusedError | av.error.ConnectionRefusedError):
        return "connection refused"
    message = getattr(exc, "strerror", None) or str(exc)
    return redact_url(str(message)).replace(url, redact_url(url))


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


def _open_options(config: CameraConfig) -> dict[str, str]:
    return {
        "rtsp_transport": config.rtsp_transport,
        # Ask for timestamps from the camera's clock, and keep latency low.
        "fflags": "nobuffer",
        "analyzeduration": "1000000",
        "probesize": "1000000",
    }


DEMO_PARAMETERS = {
    "width": int,
    "height": int,
    "fps": int,
    "period": float,
    "walk": float,
    "first": float,
}


def open_demo_url(url: str) -> tuple[Any, Callable[[], None]]:
    """Start the demo camera; `demo://?period=30&walk=8&first=5&width=640&height=360&fps=10`."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    values: dict[str, Any] = {}
    for key, raw in query.items():
        if key not in DEMO_PARAMETERS:
            raise CameraStreamError(
                f"unknown demo:// parameter '{key}' (known: {', '.join(DEMO_PARAMETERS)})"
            )
        try:
            values[key] = DEMO_PARAMETERS[key](raw[-1])
        except ValueError:
            raise CameraStreamError(f"demo:// parameter {key} must be a number") from None
    size = (values.get("width", 640), values.get("height", 360))
    scene = demo.DemoScene(
        *size,
        period=values.get("period", 30.0),
        walk_seconds=values.get("walk", 8.0),
        first_walk=values.get("first", 5.0),
    )
    return demo.open_demo(*size, values.get("fps", 10), scene=scene)


def is_local_file(url: str) -> bool:
    """True for a file path or file:// URL (read as fast as the disk allows unless paced)."""
    return "://" not in url or url.lower().startswith("file://")


@contextmanager
def open_stream(url: str, config: CameraConfig) -> Iterator[Any]:
    """Open a camera URL (or `demo://`) with timeouts; yields a PyAV input container."""
    stop_demo: Callable[[], None] | None = None
    try:
        if url.startswith("demo://"):
            reader, stop_demo = open_demo_url(url)
            container = av.open(
                reader,
                format="mpegts",
                # Probing 0.5 s (not FFmpeg's default 5) still finds the frame rate.
                options={"analyzeduration": "500000"},
                timeout=(config.open_timeout, config.stall_seconds),
            )
        else:
            options = _open_options(config) if url.lower().startswith(("rtsp", "rtsps")) else {}
            container = av.open(
                url, options=options, timeout=(config.open_timeout, config.stall_seconds)
            )
    except (av.error.FFmpegError, OSError) as exc:
        if stop_demo is not None:
            stop_demo()
        raise CameraStreamError(
            f"cannot open {redact_url(url)}: {describe_av_error(exc, url)}"
        ) from None
    try:
        yield container
    finally:
        try:
            container.close()
        finally:
            if stop_demo is not None:
                stop_demo()


class WallClock:
    """Maps a stream's timestamps to wall-clock time, re-anchoring on jumps.

    A live stream arrives with some latency, and in bursts after probing or a
    network stall. The mapping keeps the smallest arrival-minus-timestamp seen,
    so a late, buffered packet is dated when it was filmed, not when it was
    read. A paced source (a local file) keeps its first anchor instead, so the
    reader can sleep until each packet is due.
    """

    def __init__(self, paced: bool = False) -> None:
        self.paced = paced
        self._offset: float | None = None  # wall seconds minus stream seconds

    def reset(self) -> None:
        """Forget the anchor (the stream's clock restarted)."""
        self._offset = None

    def at(self, stream_seconds: float, default: float) -> float:
        """Wall time of a timestamp under the current mapping, without updating it."""
        return default if self._offset is None else stream_seconds + self._offset

    def wall(self, stream_seconds: float, now: float) -> tuple[float, bool]:
        """Wall time of a timestamp, and whether the stream's clock jumped (re-anchored)."""
        if self._offset is None:
            self._offset = now - stream_seconds
            return now, False
        expected = stream_seconds + self._offset
        if abs(expected - now) > MAX_CLOCK_SKEW_SECONDS:
            self._offset = now - stream_seconds
            return now, True
        if expected > now and not self.paced:
            self._offset = now - stream_seconds  # less latency than assumed so far
            return now, False
        return expected, False


class FrameSampler:
    """Turns decoded frames into detection frames at `fps`, scaled to `height`."""

    def __init__(self, camera_id: str, fps: float, height: int):
        self.camera_id = camera_id
        self.interval = 1.0 / fps
        self.height = height
        self._next = 0.0
        self._picks_key: tuple[int, int, int, int] | None = None
        self._picks_value: tuple[Any, Any] = (slice(None), slice(None))

    def due(self, wall: float) -> bool:
        """True if a frame at `wall` should go to detection."""
        if wall + 1e-3 < self._next:
            return False
        # When behind by more than one interval, skip ahead rather than burst.
        self._next = max(self._next + self.interval, wall + self.interval / 2)
        return True

    def make(self, frame: Any, wall: float) -> Frame:
        """Scale a decoded frame's luma plane; RGB is produced only when asked for."""
        height = min(self.height, frame.height)
        width = max(2, round(frame.width * height / frame.height / 2) * 2)
        luma = luma_plane(frame)
        if luma is None:
            small = frame.reformat(width=width, height=height, format="gray")
            gray = np.ascontiguousarray(small.to_ndarray())
        else:
            # Nearest-neighbour picks from the decoder's own luma plane: no colour
            # conversion and no swscale pass, 10x cheaper (motion works on a far
            # smaller picture anyway).
            rows, cols = self._picks(frame.width, frame.height, width, height)
            gray = np.ascontiguousarray(luma[rows][:, cols])

        def rgb() -> np.ndarray:
            out = frame.reformat(width=width, height=height, format="rgb24")
            return np.ascontiguousarray(out.to_ndarray())

        return Frame(
            self.camera_id,
            wall,
            gray,
            rgb,
            (frame.width, frame.height),
            lambda: encode_jpeg(frame),
        )

    def _picks(self, width: int, height: int, out_w: int, out_h: int) -> tuple[Any, Any]:
        """Row and column indexes (or slices, for whole factors) of the scaled picture."""
        key = (width, height, out_w, out_h)
        if self._picks_key != key:
            self._picks_key = key
            if height % out_h == 0 and width % out_w == 0:
                self._picks_value = (
                    slice(None, None, height // out_h),
                    slice(None, None, width // out_w),
                )
            else:
                self._picks_value = (
                    np.arange(out_h) * height // out_h,
                    np.arange(out_w) * width // out_w,
                )
        return self._picks_value


# 8-bit pixel formats whose first plane is the full-size luma.
_LUMA_FIRST = {
    "gray",
    "nv12",
    "nv21",
    "yuv420p",
    "yuvj420p",
    "yuv422p",
    "yuvj422p",
    "yuv444p",
    "yuvj444p",
}


def luma_plane(frame: Any) -> Any:
    """A numpy view of a decoded frame's luma plane, or None for other pixel formats."""
    if frame.format.name not in _LUMA_FIRST:
        return None
    plane = frame.planes[0]
    data = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
    return data.reshape(plane.height, plane.line_size)[:, : frame.width]


def encode_jpeg(frame: Any, quality: int = 4) -> bytes:
    """JPEG bytes of a decoded frame (PyAV's mjpeg encoder; `quality` 2 best .. 31 worst)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": str(quality), "qmax": str(quality)}
    converted = frame.reformat(format="yuvj420p")
    converted.pts = 0
    data = b"".join(bytes(p) for p in codec.encode(converted))
    data += b"".join(bytes(p) for p in codec.encode(None))
    return data


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
        done: asyncio.Future[None] = self._loop.create_future()
        threads = [self._spawn(self._main_thread, done, "main")]
        if self.config.detect_url and self.config.detect.enabled:
            threads.append(self._spawn(self._detect_thread, done, "detect"))
        try:
            await asyncio.shield(done)
        finally:
            self._stop.set()
            # Give the threads a moment to close the open segment cleanly.
            deadline = time.monotonic() + 1.0
            for thread in threads:
                await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))

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
        with open_stream(url, self.config) as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise CameraStreamError("the stream has no video")
            audio = next((s for s in container.streams if s.type == "audio"), None)
            streams = [video] + ([audio] if audio is not None and record else [])
            # Frame threads help one camera on many cores; with a camera per core or more
            # they add latency and memory for no throughput.
            many = len(self.hub.cameras.cameras) >= (os.cpu_count() or 1)
            video.thread_type = "NONE" if many else "AUTO"
            if record:
                self.recorder.set_streams(streams)
                self.stats.codec = video.codec_context.name
                self.stats.resolution = (video.codec_context.width, video.codec_context.height)
            connection = _Connection(self, streams, record, decode, paced=is_local_file(url))
            try:
                for packet in container.demux(*streams):
                    if self._stop.is_set() or not connection.feed(packet):
                        return
            except av.error.FFmpegError as exc:
                raise CameraStreamError(describe_av_error(exc, url)) from None
            finally:
                if record:
                    self.recorder.close()

    def _decode(
        self, packet: Any, wall: float, sampler: FrameSampler, clock: WallClock
    ) -> tuple[int, int] | None:
        size = None
        try:
            frames = packet.decode()
        except av.error.FFmpegError as exc:
            self._bad_packet(f"undecodable packet: {exc}")
            return None
        for frame in frames:
            # A threaded decoder hands frames out a few packets late: date each by its own pts.
            if frame.pts is not None:
                wall = clock.at(float(frame.pts * frame.time_base), wall)
            self.stats.frames_decoded += 1
            size = (frame.width, frame.height)
            self.stats.resolution = size
            if self._snapshot_waiters:
                self._latest, self._latest_time = frame, wall
                with self._lock:
                    waiters, self._snapshot_waiters = self._snapshot_waiters, []
                for waiter in waiters:
                    self._call_soon(_settle, waiter, None)
            if self.runtime.frames.wanted and sampler.due(wall):
                self._latest, self._latest_time = frame, wall
                self.stats.detect_frames += 1
                self.runtime.frames.put_threadsafe(sampler.make(frame, wall))
        return size

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

    # ------------------------------------------------------------ snapshots

    async def async_snapshot(self, timeout: float = 10.0) -> bytes | None:
        """A JPEG of the newest frame, decoding one if none is fresh enough."""
        if self._latest is None or time.time() - self._latest_time > SNAPSHOT_FRESH_SECONDS:
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
    """Per-connection state of the demux loop: clocks, decoding switch, picture size."""

    def __init__(
        self, source: PyAVSource, streams: list[Any], record: bool, decode: bool, paced: bool
    ):
        self.source = source
        self.streams = streams
        self.video = streams[0]
        self.record = record
        self.decode = decode
        self.paced = paced
        self.clock = WallClock(paced)
        config = source.config.detect
        self.sampler = FrameSampler(source.camera_id, config.fps, config.height)
        self.decoding = False
        self.online = False
        self.size = (self.video.codec_context.width, self.video.codec_context.height)
        self.last_dts: dict[int, int] = {}
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
        if not self.online and is_video:
            self.online = True
            source._call_soon(source.hub.cameras.mark_online, source.camera_id)
        # Decode first: muxing re-targets the packet at the recorder's stream.
        if self.decode and is_video:
            self._maybe_decode(packet, wall)
        if self.record:
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
        backwards = packet.dts < self.last_dts.get(index, packet.dts)
        self.last_dts[index] = packet.dts
        if backwards:
            self.clock.reset()
        wall, jumped = self.clock.wall(float(packet.dts * packet.time_base), now)
        if jumped or backwards:
            _LOGGER.warning(
                "Camera %s: timestamps jumped %s; starting a new segment",
                self.source.camera_id,
                "back" if backwards else "ahead",
            )
            if self.record:
                self.source.recorder.set_streams(self.streams)
        return wall

    def _maybe_decode(self, packet: Any, wall: float) -> None:
        source = self.source
        want = source.runtime.frames.wanted or bool(source._snapshot_waiters)
        if want and not self.decoding and packet.is_keyframe:
            self.decoding = True
        elif not want:
            self.decoding = False
        if not self.decoding:
            return
        new_size = source._decode(packet, wall, self.sampler, self.clock)
        if new_size is None or new_size == self.size:
            return
        # The recorder cuts its segment on the new SPS; here it only matters for the log.
        _LOGGER.warning(
            "Camera %s: resolution changed %sx%s -> %sx%s",
            source.camera_id,
            *self.size,
            *new_size,
        )
        self.size = new_size


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
