"""Opening a camera URL with PyAV: options, timeouts, demo://, and errors a person can read."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import av

from hub import CameraConfig, CameraError, redact_url
from plugins.pyav_source import demo


class CameraStreamError(CameraError):
    """The stream could not be opened or broke; the message is safe to show (no password)."""


def describe_av_error(exc: BaseException, url: str) -> str:
    """A short, password-free reason for a PyAV/FFmpeg failure."""
    if isinstance(exc, av.error.HTTPUnauthorizedError) or "401" in str(exc):
        return "the camera refused the username or password (401)"
    if isinstance(exc, av.error.ExitError | av.error.TimeoutError):
        return "no data from the camera in time (stalled)"
    if isinstance(exc, ConnectionRefusedError | av.error.ConnectionRefusedError):
        return "connection refused"
    message = getattr(exc, "strerror", None) or str(exc)
    return redact_url(str(message)).replace(url, redact_url(url))


def _open_options(config: CameraConfig) -> dict[str, str]:
    return {
        "rtsp_transport": config.rtsp_transport,
        # Ask for timestamps from the camera's clock, and keep latency low.
        "fflags": "nobuffer",
        "analyzeduration": "1000000",
        "probesize": "1000000",
    }


def _stall_options(url: str, config: CameraConfig) -> dict[str, str]:
    """FFmpeg's own socket timeout (microseconds) for a stream that stops delivering.

    Not PyAV's read timeout: that one is an interrupt callback FFmpeg polls again and again
    while it waits on the network, and each poll takes the GIL. With dozens of cameras
    that costs more than their decoding (measured: +0.6% of a core per camera at 48).
    FFmpeg's timeout works in C (RTSP gives up after one to two times it), but only on a
    silent connection: one kept alive without video is the source's watchdog's to catch.
    """
    micros = str(round(config.stall_seconds * 1_000_000))
    scheme = url.partition("://")[0].lower()
    if scheme in ("rtsp", "rtsps"):
        return {"timeout": micros}
    if scheme in ("http", "https"):
        return {"rw_timeout": micros}
    return {}


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
            options.update(_stall_options(url, config))
            # PyAV's timeout only while opening (see _stall_options for why not after).
            container = av.open(url, options=options, timeout=(config.open_timeout, None))
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
