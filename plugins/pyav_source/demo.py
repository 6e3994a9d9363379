"""The `demo://` camera: a synthetic garden a figure walks through, as live H.264 in MPEG-TS."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import os
import select
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import BinaryIO, Protocol

import av
import numpy as np
from numpy.typing import NDArray

_LOGGER = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels; x1 and y1 are exclusive."""

# Luma of the figure's parts: all well below the lawn and path, so motion is obvious.
_HEAD_Y, _TORSO_Y, _LEGS_Y = 70, 45, 35
# A dark blue coat, in the U/V planes.
_FIGURE_U, _FIGURE_V = 140, 120
_STEPS_PER_SECOND = 1.8

# x264 settings for a Raspberry Pi: the cheapest preset, no lookahead or B-frames (so each
# frame leaves the encoder at once), and one thread (slice threads cost more CPU than they
# save at this size). A constant quantizer rather than CRF: without lookahead CRF re-spends
# bits on a static picture and every keyframe comes out sharper than the frames before it,
# a pulse a motion detector would see. At a fixed QP a still frame is all skip blocks
# (~16 bytes) and each keyframe decodes to the same picture as the last.
_X264_OPTIONS = {
    "preset": "ultrafast",
    "tune": "zerolatency",
    "profile": "baseline",
    "qp": "28",
    "threads": "1",
}


class DemoScene:
    """A static garden with a house and a path, and a dark figure walking through it now and then.

    Walks start at `first_walk + k * period` seconds and take `walk_seconds` to cross from the
    left edge to the right edge; the first one waits a few seconds so that a motion detector
    has seen the empty garden first. `frame(t)` is a pure function of `t`, so tests can predict it;
    `figure_box(t)` says where the figure is. `sensor_noise` adds per-frame grain of that many
    luma levels (deterministic in `t`); it is off by default because it looks like motion.
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        *,
        period: float = 30.0,
        walk_seconds: float = 8.0,
        first_walk: float = 5.0,
        sensor_noise: int = 0,
        seed: int = 1,
    ) -> None:
        if width < 64 or height < 64 or width % 2 or height % 2:
            raise ValueError(f"demo size must be even and at least 64x64, not {width}x{height}")
        if not 0 < walk_seconds <= period:
            raise ValueError("walk_seconds must be positive and at most period")
        self.width, self.height = width, height
        self.period, self.walk_seconds, self.first_walk = period, walk_seconds, first_walk
        self.sensor_noise, self.seed = sensor_noise, seed
        self._background = _garden_yuv420p(width, height, seed)
        # Even sizes and positions keep the figure aligned with the half-size chroma planes.
        self._figure_h = _even(0.42 * height)
        self._figure_w = _even(0.3 * self._figure_h)
        self._feet_y = _even(0.95 * height)
        head = _even(0.2 * self._figure_h)
        yy, xx = np.mgrid[0:head, 0:head]
        radius = head / 2
        self._head_mask = (yy + 0.5 - radius) ** 2 + (xx + 0.5 - radius) ** 2 <= radius**2

    def frame(self, t: float) -> NDArray[np.uint8]:
        """The picture at `t` seconds: Y, U, V planes stacked, shape (height * 3 // 2, width).

        This is the layout `av.VideoFrame.from_ndarray(array, format="yuv420p")` takes.
        """
        buf = self._background.copy()
        y_plane, u_plane, v_plane = self._planes(buf)
        x = self._figure_x(t)
        if x is not None:
            self._draw_figure(y_plane, u_plane, v_plane, x, self._walk_time(t))
        if self.sensor_noise > 0:
            # Seeded by the frame time, so the noise is still a pure function of t.
            rng = np.random.default_rng([self.seed, round(t * 1000) % (1 << 63)])
            grain = rng.integers(-self.sensor_noise, self.sensor_noise + 1, y_plane.shape)
            y_plane[:] = np.clip(y_plane + grain, 16, 235)
        return buf.reshape(self.height * 3 // 2, self.width)

    def figure_box(self, t: float) -> Box | None:
        """Where the figure is drawn at `t`, clipped to the picture; None when it is not in view."""
        x = self._figure_x(t)
        if x is None:
            return None
        x0, x1 = max(x, 0), min(x + self._figure_w, self.width)
        if x1 <= x0:
            return None
        return x0, self._feet_y - self._figure_h, x1, self._feet_y

    def _walk_time(self, t: float) -> float:
        return (t - self.first_walk) % self.period

    def _figure_x(self, t: float) -> int | None:
        """Left edge of the figure (may be off-picture) at `t`, or None between walks."""
        walked = self._walk_time(t)
        if walked >= self.walk_seconds:
            return None
        progress = walked / self.walk_seconds
        return _even(-self._figure_w + progress * (self.width + self._figure_w))

    def _planes(self, buf: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], ...]:
        w, h = self.width, self.height
        y_size, c_size = w * h, w * h // 4
        return (
            buf[:y_size].reshape(h, w),
            buf[y_size : y_size + c_size].reshape(h // 2, w // 2),
            buf[y_size + c_size :].reshape(h // 2, w // 2),
        )

    def _sprite(self, walk_time: float) -> NDArray[np.uint8]:
        """The figure's luma, 0 where transparent, with its legs mid-stride."""
        fh, fw = self._figure_h, self._figure_w
        sprite = np.zeros((fh, fw), np.uint8)
        head = self._head_mask.shape[0]
        head_x = (fw - head) // 2
        sprite[:head, head_x : head_x + head][self._head_mask] = _HEAD_Y
        hips = round(0.6 * fh)
        shoulder = round(0.18 * fw)
        sprite[head + 1 : hips, shoulder : fw - shoulder] = _TORSO_Y
        # Seen from the side the legs scissor: two bars swinging in opposite phase.
        leg_w = max(2, round(0.24 * fw))
        leg_x = (fw - leg_w) // 2
        swing = round(0.22 * fw * math.sin(2 * math.pi * _STEPS_PER_SECOND / 2 * walk_time))
        for offset in (swing, -swing):
            sprite[hips:, leg_x + offset : leg_x + offset + leg_w] = _LEGS_Y
        return sprite

    def _draw_figure(
        self,
        y_plane: NDArray[np.uint8],
        u_plane: NDArray[np.uint8],
        v_plane: NDArray[np.uint8],
        x: int,
        walk_time: float,
    ) -> None:
        sprite = self._sprite(walk_time)
        # Clip the sprite's columns to the picture while it enters and leaves.
        left, right = max(0, -x), self._figure_w - max(0, x + self._figure_w - self.width)
        mask = sprite[:, left:right] > 0
        x0, x1 = x + left, x + right
        y0, y1 = self._feet_y - self._figure_h, self._feet_y
        y_plane[y0:y1, x0:x1][mask] = sprite[:, left:right][mask]
        chroma_mask = mask[::2, ::2]
        u_plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2][chroma_mask] = _FIGURE_U
        v_plane[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2][chroma_mask] = _FIGURE_V


def _even(value: float) -> int:
    return 2 * round(value / 2)


def _garden_yuv420p(width: int, height: int, seed: int) -> NDArray[np.uint8]:
    """Render the fixed background once, as a flat yuv420p buffer (Y, then U, then V)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    v, u = yy / height, xx / width
    rgb = np.empty((height, width, 3), np.float32)

    horizon = 0.38
    sky = v < horizon
    rgb[:] = (75, 135, 55)
    rgb[sky] = np.array((110, 160, 225)) + (v[sky] / horizon)[:, None] * np.array((90, 60, 20))
    # Lawn texture (soft patches here, fine grain over everything below) is fixed by the seed:
    # it gives the encoder and the motion detector something real-looking that never changes.
    rgb[~sky] += _smooth_noise(rng, height, width, cell=12, sigma=12)[~sky, None]
    hedge = (v >= horizon - 0.04) & (v < horizon + 0.06)
    rgb[hedge] = (40, 85, 35)

    # A path from the bottom edge up to the front door, narrowing with distance.
    door_v = 0.6
    along = np.clip((v - door_v) / (1 - door_v), 0, 1)
    path_left, path_right = 0.69 + along * (0.33 - 0.69), 0.75 + along * (0.63 - 0.75)
    rgb[(v >= door_v) & (u >= path_left) & (u <= path_right)] = (175, 165, 145)

    # The house: wall, gabled roof, door and two windows.
    rgb[(u >= 0.58) & (u <= 0.86) & (v >= 0.22) & (v < door_v)] = (225, 205, 165)
    roof = (v >= 0.07) & (v < 0.22) & (np.abs(u - 0.72) <= (v - 0.07) / 0.15 * 0.17)
    rgb[roof] = (150, 55, 45)
    rgb[(u >= 0.69) & (u <= 0.75) & (v >= 0.42) & (v < door_v)] = (110, 70, 40)
    for left in (0.61, 0.78):
        rgb[(u >= left) & (u <= left + 0.05) & (v >= 0.3) & (v < 0.4)] = (170, 195, 215)

    # A tree on the left: trunk, then a round crown.
    rgb[(u >= 0.16) & (u <= 0.19) & (v >= 0.3) & (v < 0.64)] = (95, 65, 40)
    crown = (xx - 0.175 * width) ** 2 + (yy - 0.26 * height) ** 2 <= (0.15 * height) ** 2
    rgb[crown] = (45, 110, 40)

    rgb += rng.normal(0, 2, (height, width))[:, :, None]
    np.clip(rgb, 0, 255, out=rgb)

    # BT.601 limited range, what H.264 decoders assume when nothing says otherwise.
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    half = rgb.reshape(height // 2, 2, width // 2, 2, 3).mean(axis=(1, 3))
    hr, hg, hb = half[..., 0], half[..., 1], half[..., 2]
    cb = 128 - 0.148 * hr - 0.291 * hg + 0.439 * hb
    cr = 128 + 0.439 * hr - 0.368 * hg - 0.071 * hb
    planes = [np.rint(p).astype(np.uint8).ravel() for p in (luma, cb, cr)]
    return np.concatenate(planes)


def _smooth_noise(
    rng: np.random.Generator, height: int, width: int, cell: int, sigma: float
) -> NDArray[np.float64]:
    """Gaussian values on a coarse grid, bilinearly interpolated up to height x width."""
    grid = rng.normal(0, sigma, (height // cell + 2, width // cell + 2))
    gy, gx = np.arange(height) / cell, np.arange(width) / cell
    iy, ix = gy.astype(int), gx.astype(int)
    fy, fx = (gy - iy)[:, None], (gx - ix)[None, :]
    top = grid[iy][:, ix] * (1 - fx) + grid[iy][:, ix + 1] * fx
    bottom = grid[iy + 1][:, ix] * (1 - fx) + grid[iy + 1][:, ix + 1] * fx
    result: NDArray[np.float64] = top * (1 - fy) + bottom * fy
    return result


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


def write_demo_stream(
    fileobj: _Writable,
    width: int = 640,
    height: int = 360,
    fps: int = 10,
    gop_seconds: float = 2,
    realtime: bool = True,
    stop_event: threading.Event | None = None,
    duration: float | None = None,
    scene: DemoScene | None = None,
) -> int:
    """Encode the demo scene as H.264 in MPEG-TS into `fileobj`; return the frames written.

    With `realtime`, frame n leaves at start + n / fps on the monotonic clock. Stops when
    `stop_event` is set, after `duration` seconds of video, or when the reader goes away
    (BrokenPipeError), and then closes the muxer (the file object itself stays open).
    """
    scene = scene if scene is not None else DemoScene(width, height)
    if (scene.width, scene.height) != (width, height):
        raise ValueError("scene size differs from the stream size")
    gop = max(1, round(gop_seconds * fps))
    last = None if duration is None else round(duration * fps)
    time_base = Fraction(1, fps)
    stopped = stop_event if stop_event is not None else threading.Event()
    written = 0
    # flush_packets: hand every packet to the file at once rather than filling 32 KiB first,
    # which at this bitrate would hold back seconds of live video.
    container = av.open(fileobj, "w", format="mpegts", container_options={"flush_packets": "1"})
    try:
        # A fixed GOP (no scene-cut keyframes) so recordings can cut on a predictable cadence.
        x264_params = f"keyint={gop}:min-keyint={gop}:scenecut=0"
        stream = container.add_stream(
            "libx264", rate=fps, options={**_X264_OPTIONS, "x264-params": x264_params}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        start = time.monotonic()
        index = 0
        while (last is None or index < last) and not stopped.is_set():
            if realtime:
                delay = start + index / fps - time.monotonic()
                if delay > 0 and stopped.wait(delay):
                    break
                if delay < -1.0:
                    # A stalled reader held us up: skip the missed frames, as a camera would,
                    # rather than bursting them out to catch up.
                    index = int((time.monotonic() - start) * fps)
            frame = av.VideoFrame.from_ndarray(scene.frame(index / fps), format="yuv420p")
            frame.pts, frame.time_base = index, time_base
            container.mux(stream.encode(frame))
            written += 1
            index += 1
        container.mux(stream.encode())
    except BrokenPipeError:
        _LOGGER.debug("demo stream reader went away after %d frames", written)
    finally:
        # Closing writes the trailer, which fails the same way when the reader has gone.
        with contextlib.suppress(BrokenPipeError):
            container.close()
    return written


class _PipeWriter:
    """The write end of the demo pipe, non-blocking so that stop() can interrupt a full pipe."""

    def __init__(self, fd: int, stop_event: threading.Event) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._stop_event = stop_event
        self._poll = select.poll()
        self._poll.register(fd, select.POLLOUT)

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                # The reader is not reading. Wait for room, but look at the stop flag often,
                # since closing our fd would not wake a thread blocked writing to it.
                if self._stop_event.is_set():
                    raise BrokenPipeError(errno.EPIPE, "demo stream stopped") from None
                self._poll.poll(100)
        return len(data)


def open_demo(
    width: int = 640,
    height: int = 360,
    fps: int = 10,
    *,
    scene: DemoScene | None = None,
    realtime: bool = True,
) -> tuple[BinaryIO, Callable[[], None]]:
    """Start the demo camera in a daemon thread; return (reader, stop).

    `av.open(reader, format="mpegts")` demuxes it like a network camera. `stop()` ends the
    writer within a second, whether or not anyone is reading, and closes both pipe ends; a
    reader still running sees end of file (or a closed file). Calling it twice is harmless.
    """
    read_fd, write_fd = os.pipe()
    # Unbuffered: each read returns what is in the pipe now instead of waiting to fill a buffer.
    reader = os.fdopen(read_fd, "rb", buffering=0)
    stop_event = threading.Event()

    def run() -> None:
        try:
            write_demo_stream(
                _PipeWriter(write_fd, stop_event),
                width,
                height,
                fps,
                realtime=realtime,
                stop_event=stop_event,
                scene=scene,
            )
        except Exception:
            _LOGGER.exception("demo camera failed")
        finally:
            os.close(write_fd)

    thread = threading.Thread(target=run, name="camhub-demo-camera", daemon=True)
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(timeout=1.0)
        reader.close()

    return reader, stop
