"""Snapshots as they may be shown or kept: redacted by plugins, withheld when redaction fails."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from hub import hookspecs

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
# One error line per camera per this many seconds: a panel polls snapshots every second.
LOG_EVERY_SECONDS = 60.0
_last_logged: dict[str, float] = {}


def redaction_required(hub: Hub, camera_id: str) -> bool:
    """True when this camera's pictures must not be shown unless a plugin redacted them."""
    runtime = hub.cameras.get(camera_id)
    if runtime is not None:
        return runtime.config.face_blur
    # A camera removed or renamed since: its footage keeps the rule it was recorded under.
    configured = hub.config.cameras.get(camera_id)
    return configured is not None and configured.face_blur


async def async_redact_snapshot(hub: Hub, camera_id: str, jpeg: bytes) -> bytes | None:
    """The JPEG a `redact_image` plugin made of `jpeg`, `jpeg` itself when none had to,
    or None when the camera needs redaction and no plugin gave it (fail closed)."""
    redacted = await hub.plugins.async_call_first(
        hookspecs.redact_image, hub=hub, camera_id=camera_id, jpeg=jpeg
    )
    if isinstance(redacted, bytes | bytearray | memoryview):
        return bytes(redacted)
    if not redaction_required(hub, camera_id):
        return jpeg
    now = time.monotonic()
    if now - _last_logged.get(camera_id, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _last_logged[camera_id] = now
        _LOGGER.error(
            "Camera %s: snapshot withheld: face_blur is on but no plugin blurred it "
            "(is the face model installed? `camhub models install centerface`; "
            "`camhub plugins` shows plugin errors)",
            camera_id,
        )
    return None


async def async_write_event_snapshot(
    hub: Hub, camera_id: str, event_id: str, jpeg: bytes, redacted: bool = False
) -> str | None:
    """Keep `jpeg` as an event's snapshot file, redacted first unless it is already (or not
    kept at all); its path, or None when it was withheld. `async_link_event_snapshot` then
    points the event's row at it."""
    shown = jpeg if redacted else await async_redact_snapshot(hub, camera_id, jpeg)
    if shown is None:
        return None
    relpath = f"snapshots/{camera_id}/{event_id}.jpg"

    def write() -> None:
        file = hub.footage.create(relpath)
        try:
            file.write(shown)
            file.finish()
        except BaseException:
            file.abort()
            raise

    await asyncio.to_thread(write)
    return relpath


async def async_link_event_snapshot(hub: Hub, event_id: str, relpath: str) -> None:
    """Record the snapshot of an event whose row may already be stored."""
    await hub.storage.async_write(
        lambda db: db.execute(
            "UPDATE events SET snapshot_path = ? WHERE id = ?", [relpath, event_id]
        )
    )
