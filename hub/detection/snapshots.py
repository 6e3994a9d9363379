"""Snapshots as they may be shown or kept: redacted by plugins, withheld when redaction fails.

Every event keeps one: written as soon as the event starts (the event list has a
picture at once) and again, from a better frame, when it ends. A thumbnail is
kept beside it for the list, unless a plugin had to redact the snapshot (a
small picture's faces are found less surely: the panel then scales the
redacted snapshot instead).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hub import hookspecs
from hub.detection.frames import Frame
from hub.detection.outlines import Outline

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
THUMBNAIL_WIDTH = 320
"""Width of the thumbnails in the event list (twice what the list shows, for sharp screens)."""
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


def snapshot_path(camera_id: str, event_id: str) -> str:
    """Where an event's snapshot is kept in the footage store."""
    return f"snapshots/{camera_id}/{event_id}.jpg"


def thumbnail_path(snapshot: str) -> str:
    """Where the thumbnail of a snapshot is kept (beside it)."""
    return snapshot.removesuffix(".jpg") + ".thumb.jpg"


def event_files(camera_id: str, event_id: str, snapshot: str | None) -> list[str]:
    """Every footage file an event may have: snapshot, thumbnail, cached clip."""
    files = [snapshot, thumbnail_path(snapshot)] if snapshot else []
    return [*files, f"clips/{camera_id}/{event_id}.mp4"]


class EventSnapshot:
    """One event's snapshot and thumbnail; later writes wait for earlier ones, so the last
    one asked for is the one kept."""

    def __init__(self, hub: Hub, camera_id: str, event_id: str):
        self.hub = hub
        self.camera_id = camera_id
        self.event_id = event_id
        self.path: str | None = None
        """Set once a snapshot is written."""
        self.frame: Frame | None = None
        """The frame last asked for."""
        self._task: asyncio.Task[None] | None = None

    def take(self, frame: Frame, outlines: Sequence[Outline] = ()) -> None:
        """Write `frame` (with `outlines` drawn) as the snapshot, in the background."""
        self.frame = frame
        pictures = (
            lambda: frame.jpeg(outlines),
            lambda: frame.jpeg(outlines, THUMBNAIL_WIDTH),
        )
        self._schedule(pictures)

    def take_jpeg(self, jpeg: bytes) -> None:
        """Keep a JPEG the camera gave (already redacted) as the snapshot, without thumbnail."""
        self._schedule((lambda: jpeg, lambda: None), redacted=True)

    def _schedule(
        self,
        pictures: tuple[Callable[[], bytes | None], Callable[[], bytes | None]],
        redacted: bool = False,
    ) -> None:
        previous = self._task
        full, small = pictures
        self._task = self.hub.async_create_task(
            self._write(previous, full, small, redacted), f"snapshot:{self.event_id}"
        )

    async def _write(
        self,
        previous: asyncio.Task[None] | None,
        full: Callable[[], bytes | None],
        small: Callable[[], bytes | None],
        redacted: bool = False,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        jpeg = await asyncio.to_thread(full)
        if jpeg is None:
            return
        shown = jpeg if redacted else await async_redact_snapshot(self.hub, self.camera_id, jpeg)
        if shown is None:
            return  # withheld: what is stored is what may be shown
        # A plugin that redacted the snapshot would have to redact the thumbnail too.
        thumbnail = await asyncio.to_thread(small) if shown is jpeg and not redacted else None
        relpath = snapshot_path(self.camera_id, self.event_id)
        files = {relpath: shown, thumbnail_path(relpath): thumbnail}
        await asyncio.to_thread(_write_files, self.hub, files)
        self.path = relpath
        await async_link_event_snapshot(self.hub, self.event_id, relpath)


async def async_write_event_snapshot(
    hub: Hub, camera_id: str, event_id: str, jpeg: bytes, redacted: bool = False
) -> str | None:
    """Keep `jpeg` as an event's snapshot file (no thumbnail: the list scales it), redacted
    first unless it is already (or not kept at all); its path, or None when it was withheld.
    `async_link_event_snapshot` then points the event's row at it."""
    shown = jpeg if redacted else await async_redact_snapshot(hub, camera_id, jpeg)
    if shown is None:
        return None
    relpath = snapshot_path(camera_id, event_id)
    await asyncio.to_thread(_write_files, hub, {relpath: shown, thumbnail_path(relpath): None})
    return relpath


async def async_link_event_snapshot(hub: Hub, event_id: str, relpath: str) -> None:
    """Record the snapshot of an event whose row may already be stored."""
    await hub.storage.async_write(
        lambda db: db.execute(
            "UPDATE events SET snapshot_path = ? WHERE id = ?", [relpath, event_id]
        )
    )


def _write_files(hub: Hub, files: dict[str, bytes | None]) -> None:
    for relpath, content in files.items():
        if content is None:
            hub.footage.delete(relpath)  # no stale thumbnail of an older picture
            continue
        file = hub.footage.create(relpath)
        try:
            file.write(content)
            file.finish()
        except BaseException:
            file.abort()
            raise
