"""Stream time to wall-clock time, and decoded frames to detection frames and JPEGs."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from hub import Frame, Outline, draw_outlines

MAX_CLOCK_SKEW_SECONDS = 10.0


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

    def restart(self) -> None:
        """Take the next frame whatever its time (a new run of frames begins)."""
        self._next = 0.0

    def due(self, wall: float) -> bool:
        """True if a frame at `wall` should go to detection."""
        if wall + 1e-3 < self._next:
            return False
        # When behind by more than one interval, skip ahead rather than burst.
        self._next = max(self._next + self.interval, wall + self.interval / 2)
        return True

    def make(self, frame: Any, wall: float, replayed: bool = False) -> Frame:
        """Scale a decoded frame's luma plane; RGB is produced only when asked for.

        A replayed frame (decoded late, on waking) may wait in a queue with a GOP's worth of
        others: it keeps a copy at detection size, not the decoder's full picture, so a
        wake costs a few MB however large the stream (its JPEG is detection-sized too).
        """
        height = min(self.height, frame.height)
        width = max(2, round(frame.width * height / frame.height / 2) * 2)
        source_size = (frame.width, frame.height)
        if replayed:
            frame = reformat(frame, width=width, height=height, format="yuv420p")
        luma = luma_plane(frame)
        if luma is None:
            small = reformat(frame, width=width, height=height, format="gray")
            gray = np.ascontiguousarray(small.to_ndarray())
        else:
            # Nearest-neighbour picks from the decoder's own luma plane: no colour
            # conversion and no swscale pass, 10x cheaper (motion works on a far
            # smaller picture anyway).
            rows, cols = self._picks(frame.width, frame.height, width, height)
            gray = np.ascontiguousarray(luma[rows][:, cols])

        def rgb() -> np.ndarray:
            out = reformat(frame, width=width, height=height, format="rgb24")
            return np.ascontiguousarray(out.to_ndarray())

        return Frame(
            self.camera_id,
            wall,
            gray,
            rgb,
            source_size,
            lambda: encode_jpeg(frame),
            lambda outlines, width: encode_snapshot(frame, outlines, width),
            replayed=replayed,
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


def reformat(frame: Any, **options: Any) -> Any:
    """`frame.reformat(**options)`, with a scaler of its own.

    A decoded frame is shared between threads: the demux thread scales it for detection,
    the object loop asks for its RGB, snapshots and stills encode it as JPEG. PyAV's
    `frame.reformat` keeps one scaler per frame, and two threads using it at once deadlock
    inside FFmpeg (PyAV 18, FFmpeg 8): the executor threads then never come back, a
    camera's pictures stop and the hub cannot exit. A scaler per call costs what the
    frame's own would (it is made on first use either way).
    """
    return VideoReformatter().reformat(frame, **options)


def encode_jpeg(frame: Any, quality: int = 4) -> bytes:
    """JPEG bytes of a decoded frame (PyAV's mjpeg encoder; `quality` 2 best .. 31 worst)."""
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = frame.width, frame.height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": str(quality), "qmax": str(quality)}
    converted = reformat(frame, format="yuvj420p")
    converted.pts = 0
    data = b"".join(bytes(p) for p in codec.encode(converted))
    data += b"".join(bytes(p) for p in codec.encode(None))
    return data


def encode_snapshot(frame: Any, outlines: Sequence[Outline], width: int | None = None) -> bytes:
    """JPEG of a decoded frame with outlines drawn, scaled down to `width` if given."""
    if width is not None and width < frame.width:
        height = max(2, round(frame.height * width / frame.width / 2) * 2)
        frame = reformat(frame, width=width, height=height)
    if not outlines:
        return encode_jpeg(frame)
    rgb = np.ascontiguousarray(reformat(frame, format="rgb24").to_ndarray())
    draw_outlines(rgb, outlines)
    return encode_jpeg(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
