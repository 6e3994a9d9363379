"""The camera source interface that decoder plugins implement."""

from __future__ import annotations

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
