"""The `demo://` camera: a synthetic garden a person walks through, as live H.264 in MPEG-TS."""

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
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO, Protocol

import av
import numpy as np
from numpy.typing import NDArray

from plugins.pyav_source.demo_walker import canvas_width, contact_shadow, draw_walker

_LOGGER = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels; x1 and y1 are exclusive."""

_STEPS_PER_SECOND = 1.8
_POSES_PER_CYCLE = 24
"""Gait phases drawn per cycle (two steps); frames reuse them, so a walk costs 24 drawings."""

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
    """A static garden with a house and a path, and a person walking through it now and then.

    The walker (see demo_walker.py) is drawn to look enough like a person, dressed darker than
    the lawn, that the bundled COCO model scores it a `person` well above the default minimum.

    Walks start at `first_walk + k * period` seconds and take `walk_seconds` to cross from the
    left edge to the right edge; the first one waits a few seconds so that a motion detector
    has seen the empty garden first. `frame(t)` is a pure function of `t`, so tests can predict it;
    `figure_box(t)` says where the walker is, tight around it. `sensor_noise` adds per-frame
    grain of that many luma levels (deterministic in `t`); it is off by default because it
    looks like motion.
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
        self._figure_w = canvas_width(self._figure_h)
        self._feet_y = _even(0.95 * height)
        self._poses: dict[int, _WalkerPose] = {}

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
        """Where the figure is drawn at `t` (tight around it and its shadow), clipped to the
        picture; None when it is not in view."""
        x = self._figure_x(t)
        if x is None:
            return None
        bx0, by0, bx1, by1 = self._pose_at(self._walk_time(t)).box
        x0, x1 = max(x + bx0, 0), min(x + bx1, self.width)
        if x1 <= x0:
            return None
        top = self._feet_y - self._figure_h
        return x0, top + by0, x1, top + by1

    def _walk_time(self, t: float) -> float:
        return (t - self.first_walk) % self.period

    def _figure_x(self, t: float) -> int | None:
        """Left edge of the walker's canvas (may be off-picture) at `t`, or None between walks."""
        walked = self._walk_time(t)
        # Nobody before the first walk, even when it is more than a period away.
        if t < self.first_walk or walked >= self.walk_seconds:
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

    def _pose_at(self, walk_time: float) -> _WalkerPose:
        """The walker's drawing at `walk_time`, rounded to one of the cycle's poses."""
        cycles = walk_time * _STEPS_PER_SECOND / 2
        index = round(cycles * _POSES_PER_CYCLE) % _POSES_PER_CYCLE
        pose = self._poses.get(index)
        if pose is None:
            phase = 2 * math.pi * index / _POSES_PER_CYCLE
            pose = self._poses[index] = _WalkerPose.draw(self._figure_h, phase)
        return pose

    def _draw_figure(
        self,
        y_plane: NDArray[np.uint8],
        u_plane: NDArray[np.uint8],
        v_plane: NDArray[np.uint8],
        x: int,
        walk_time: float,
    ) -> None:
        pose = self._pose_at(walk_time)
        px, py = x + pose.patch_x, self._feet_y - self._figure_h + pose.patch_y
        height, width = pose.alpha.shape
        # Clip the patch's columns to the picture while it enters and leaves; all even, so
        # the chroma planes line up.
        left, right = max(0, -px), width - max(0, px + width - self.width)
        if right <= left:
            return
        x0, x1, y1 = px + left, px + right, py + height
        luma = y_plane[py:y1, x0:x1]
        luma[:] = pose.blend_luma(luma, slice(left, right))
        half = slice(left // 2, right // 2)
        for plane, premultiplied in ((u_plane, pose.u), (v_plane, pose.v)):
            chroma = plane[py // 2 : y1 // 2, x0 // 2 : x1 // 2]
            chroma[:] = pose.blend_chroma(chroma, premultiplied, half)


@dataclass(frozen=True)
class _WalkerPose:
    """One drawing of the walker, ready to lay over the garden's yuv420p planes.

    Kept as 8-bit planes of an even-aligned patch around the drawing (a camera keeps 24 of
    these for as long as it runs). Colours are premultiplied by coverage, so blending is
    `background * (1 - alpha) + colour`.
    """

    patch_x: int
    patch_y: int
    """Where the patch sits on the walker's canvas (even)."""
    y: NDArray[np.uint8]
    u: NDArray[np.uint8]
    v: NDArray[np.uint8]
    alpha: NDArray[np.uint8]
    """Coverage, 0..255."""
    alpha_half: NDArray[np.uint8]
    shadow: NDArray[np.uint8]
    """Share of the lawn's light the contact shadow takes away, 0..255."""
    box: Box
    """Tight box of what the drawing changes, on the walker's canvas."""

    @classmethod
    def draw(cls, height: int, phase: float) -> _WalkerPose:
        rgb, alpha = draw_walker(height, phase)
        # Drop the faintest anti-aliasing so the box is tight and nothing outside it changes.
        alpha = np.where(alpha < 0.04, np.float32(0), alpha)
        light = contact_shadow(alpha)
        changed = (alpha > 0) | (light < 1)
        rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
        box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        px0, py0 = box[0] // 2 * 2, box[1] // 2 * 2
        px1, py1 = _even_up(box[2]), _even_up(box[3])
        alpha, light = alpha[py0:py1, px0:px1], light[py0:py1, px0:px1]
        luma, cb, cr = _rgb_to_yuv_offsets(rgb[py0:py1, px0:px1] * alpha[..., None])
        alpha_half = _half(alpha)

        def byte(plane: NDArray[np.float32]) -> NDArray[np.uint8]:
            return np.clip(np.rint(plane), 0, 255).astype(np.uint8)

        return cls(
            px0,
            py0,
            byte(16 * alpha + luma),
            byte(128 * alpha_half + _half(cb)),
            byte(128 * alpha_half + _half(cr)),
            byte(255 * alpha),
            byte(255 * alpha_half),
            byte(255 * (1 - light)),
            box,
        )

    def blend_luma(self, background: NDArray[np.uint8], cols: slice) -> NDArray[np.uint8]:
        alpha = self.alpha[:, cols] / np.float32(255)
        light = 1 - self.shadow[:, cols] / np.float32(255)
        lawn = 16 + (background - np.float32(16)) * light
        blended: NDArray[np.uint8] = np.rint(lawn * (1 - alpha) + self.y[:, cols]).astype(np.uint8)
        return blended

    def blend_chroma(
        self, background: NDArray[np.uint8], premultiplied: NDArray[np.uint8], cols: slice
    ) -> NDArray[np.uint8]:
        alpha = self.alpha_half[:, cols] / np.float32(255)
        blended: NDArray[np.uint8] = np.rint(
            background * (1 - alpha) + premultiplied[:, cols]
        ).astype(np.uint8)
        return blended


def _rgb_to_yuv_offsets(
    rgb: NDArray[np.float32],
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    """BT.601 limited range Y', Cb, Cr of full-size RGB, without the +16/+128 offsets."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luma = 0.257 * r + 0.504 * g + 0.098 * b
    cb = -0.148 * r - 0.291 * g + 0.439 * b
    cr = 0.439 * r - 0.368 * g - 0.071 * b
    return luma.astype(np.float32), cb.astype(np.float32), cr.astype(np.float32)


def _half(plane: NDArray[np.float32]) -> NDArray[np.float32]:
    """The mean of each 2x2 block: full-size to chroma size."""
    h, w = plane.shape
    means: NDArray[np.float32] = plane.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return means


def _even(value: float) -> int:
    return 2 * round(value / 2)


def _even_up(value: int) -> int:
    return value + value % 2


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
    luma, cb, cr = _rgb_to_yuv_offsets(rgb)
    planes = [
        np.rint(p).astype(np.uint8).ravel() for p in (16 + luma, 128 + _half(cb), 128 + _half(cr))
    ]
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
