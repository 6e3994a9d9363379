"""The camera source interface that decoder plugins implement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class CameraError(Exception):
    """A camera failure whose message is fit to show a user as is (no password, no jargon)."""


@runtime_checkable
class CameraSource(Protocol):
    """A running connection to one camera, created by the `camera_source` hook.

    The hub calls `async_run()` in a task it owns and cancels it on shutdown
    or when the camera is removed. `async_run` should only return (or raise)
    when the stream has ended or failed; the hub then marks the camera offline
    with the reason.
    """

    async def async_run(self) -> None:
        """Pull the stream until cancelled."""
        ...


@runtime_checkable
class StatsSource(Protocol):
    """A source that reports counters (packets, bytes recorded, ...) for the API (optional)."""

    def stats_dict(self) -> dict[str, object]:
        """JSON-ready counters."""
        ...


@runtime_checkable
class SnapshotSource(Protocol):
    """A source that can also give a JPEG of the current picture (optional)."""

    async def async_snapshot(self) -> bytes | None:
        """JPEG bytes of the newest frame, or None when none can be had in time."""
        ...


@dataclass(frozen=True)
class LiveSegment:
    """One piece of a camera's live video as fragmented MP4 (the codec's bytes, not re-encoded)."""

    data: bytes
    init: bool
    """True for an init segment (ftyp + moov); it comes before the fragments it describes."""
    keyframe: bool = False
    """True for a media fragment that starts with a keyframe (where a viewer can join)."""
    codec: str = ""
    """RFC 6381 codec string such as `avc1.42C01E`; empty when the codec cannot go to a browser."""


class LiveSubscription(Protocol):
    """One viewer's bounded feed of live segments: an init segment, then fragments.

    A slow viewer loses whole groups of pictures: the feed skips to the next keyframe
    (sending the init segment again) rather than buffering without limit. A new init
    segment also comes whenever the stream restarts. Iteration ends when the source stops.
    """

    dropped: int
    """Fragments skipped because this viewer read too slowly."""

    def __aiter__(self) -> AsyncIterator[LiveSegment]: ...

    def close(self) -> None:
        """Stop receiving; safe to call twice."""
        ...


@runtime_checkable
class LiveSource(Protocol):
    """A source that can stream its video, unchanged, to live viewers (optional)."""

    def live_subscribe(self) -> LiveSubscription:
        """Start a feed for one viewer; the source produces video only while someone watches."""
        ...
