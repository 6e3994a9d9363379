"""PyAV camera source plugin: opens cameras, records by stream copy, makes snapshots and clips."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hub import (
    LOCK_ENTITY,
    CameraConfig,
    CameraSource,
    RecordingSegment,
    StateChanged,
    hookimpl,
    redaction_required,
)
from plugins.pyav_source.clips import export_clip as _export_clip
from plugins.pyav_source.repair import repair_footage, unindexed_files
from plugins.pyav_source.source import PyAVSource

__version__ = "1.0.0"
_LOGGER = logging.getLogger(__name__)

SCHEMES = ("rtsp", "rtsps", "http", "https", "file", "demo")


@hookimpl
def camera_source(hub: Any, camera_id: str, config: CameraConfig) -> CameraSource | None:
    """Open every URL scheme the config accepts, and plain file paths."""
    scheme = config.url.partition("://")[0].lower() if "://" in config.url else "file"
    if scheme not in SCHEMES:
        return None
    return PyAVSource(hub, hub.cameras[camera_id])


async def _async_repair(hub: Any, only: set[str] | None = None) -> None:
    indexed = await hub.recordings.async_indexed_paths()
    segments = await asyncio.to_thread(repair_footage, hub.footage, indexed, only)
    for segment in segments:
        await hub.recordings.async_add(segment)


@hookimpl
async def startup(hub: Any) -> None:
    """Repair footage a crash left behind, before any camera starts writing."""
    await _async_repair(hub)
    gone = await hub.recordings.async_reconcile(hub.footage)
    if gone:
        _LOGGER.warning("%d indexed segment(s) had no file and were dropped", len(gone))
    if hub.footage.locked:
        # Sealed segments a crash cut short can only be repaired once an admin unlocks;
        # only those found now (the cameras write new ones from here on).
        indexed = await hub.recordings.async_indexed_paths()
        waiting = await asyncio.to_thread(unindexed_files, hub.footage, indexed)
        if not waiting:
            return
        _LOGGER.warning("%d sealed segment(s) wait for an unlock to be repaired", len(waiting))

        async def unlocked(event: Any) -> None:
            if event.entity_id == LOCK_ENTITY and event.new_state == "unlocked" and waiting:
                await _async_repair(hub, set(waiting))
                waiting.clear()

        hub.bus.async_listen("pyav_source:repair_on_unlock", unlocked, (StateChanged,))


@hookimpl
async def export_clip(
    hub: Any, segments: list[RecordingSegment], start: float, end: float, relpath: str
) -> str | None:
    """Join the segments into one MP4 at `relpath` by stream copy."""
    if segments and redaction_required(hub, segments[0].camera):
        # A copy would show the faces; only a redacting exporter (face_blur) may answer.
        return None
    await asyncio.to_thread(_export_clip, hub.footage, segments, start, end, relpath)
    return relpath
