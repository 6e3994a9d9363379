"""Owner export: everything stored about a time range (events JSON, clips, snapshots, segments).

Also the pictures automations saved in the range (`automations/<camera>/...`).

Written as an uncompressed tar stream (video does not compress), member by member,
with files decrypted as they are read, so an export of days of footage needs no
temporary copy and no memory beyond one block.
"""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from hub.detection.objects import stored_event
from hub.footage.recordings import RecordingSegment, segment_from_row
from hub.footage.retention import LOOSE_SNAPSHOTS
from hub.footage.store import FootageStore

if TYPE_CHECKING:
    from hub.core import Hub

MAX_CLIPS = 500
"""Events whose clip is made for an export; past that the segments still hold the footage."""


@dataclass
class ExportPlan:
    """What one export holds."""

    start: float
    end: float
    cameras: list[str] | None
    events: list[dict[str, Any]] = field(default_factory=list)
    segments: list[RecordingSegment] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    """(footage path, name in the archive)."""
    withheld: list[str] = field(default_factory=list)
    """Cameras whose raw segments are left out (face blur)."""

    def summary(self) -> dict[str, Any]:
        """Counts for the audit entry."""
        return {
            "start": self.start,
            "end": self.end,
            "cameras": self.cameras,
            "events": len(self.events),
            "segments": len(self.segments),
            "files": len(self.files),
            "withheld_cameras": self.withheld,
        }


async def async_plan_export(
    hub: Hub, start: float, end: float, cameras: list[str] | None = None
) -> ExportPlan:
    """Find the events and footage of a range; makes the clips of ended events on the way."""
    plan = ExportPlan(start, end, cameras)
    where = 'COALESCE("end", start) >= ? AND start <= ?'
    params: list[Any] = [start, end]
    if cameras is not None:
        where += f" AND camera IN ({','.join('?' * len(cameras))})"
        params += cameras
    sql = f"SELECT * FROM events WHERE {where} ORDER BY start"
    rows = await hub.storage.async_read(lambda db: [dict(r) for r in db.query(sql, params)])
    plan.events = [stored_event(r) for r in rows]
    seg_sql = 'SELECT * FROM recordings WHERE "end" >= ? AND start <= ?'
    seg_params: list[Any] = [start, end]
    if cameras is not None:
        seg_sql += f" AND camera IN ({','.join('?' * len(cameras))})"
        seg_params += cameras
    plan.segments = await hub.storage.async_read(
        lambda db: [segment_from_row(r) for r in db.query(seg_sql + " ORDER BY start", seg_params)]
    )
    for number, event in enumerate(plan.events):
        name = f"events/{event['camera']}/{event['id']}"
        if event.get("end") is not None and number < MAX_CLIPS:
            # Made by the export_clip plugins: blurred where the camera asks for face blur.
            clip = await hub.async_event_clip(event)
            if clip is not None:
                plan.files.append((clip, f"{name}.mp4"))
                event["clip"] = f"{name}.mp4"
        snapshot = event.pop("snapshot_path", None)
        if _face_blur(hub, str(event["camera"])):
            event["withheld"] = "face_blur: the snapshot is not exported unblurred"
        elif snapshot and hub.footage.exists(snapshot):
            plan.files.append((snapshot, f"{name}.jpg"))
            event["snapshot"] = f"{name}.jpg"
    # Raw segments of a face-blur camera would show the faces the clips blur: left out.
    plan.withheld = sorted({s.camera for s in plan.segments if _face_blur(hub, s.camera)})
    plan.segments = [s for s in plan.segments if s.camera not in plan.withheld]
    plan.files += [(s.path, f"recordings/{s.path}") for s in plan.segments]
    pictures = await asyncio.to_thread(hub.footage.files_written, LOOSE_SNAPSHOTS, start, end)
    for relpath, _ in pictures:
        inside = relpath[len(LOOSE_SNAPSHOTS) + 1 :]
        camera = inside.split("/", 1)[0]
        if (cameras is None or camera in cameras) and not _face_blur(hub, camera):
            plan.files.append((relpath, f"automations/{inside}"))
    return plan


def _face_blur(hub: Hub, camera_id: str) -> bool:
    """Whether the camera's pictures are shown only blurred (its config, even if disabled)."""
    camera = hub.config.cameras.get(camera_id)
    return bool(getattr(camera, "face_blur", False))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
    tar.addfile(info, io.BytesIO(data))


def write_export(store: FootageStore, plan: ExportPlan, out: BinaryIO) -> None:
    """Stream the archive to `out` (blocking: run in a thread). Footage is decrypted as read."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        index = {
            "exported_at": time.time(),
            "start": plan.start,
            "end": plan.end,
            "cameras": plan.cameras,
            "withheld_cameras": plan.withheld,
            "recordings": [{**s.as_dict(), "file": f"recordings/{s.path}"} for s in plan.segments],
        }
        _add_bytes(tar, "events.json", json.dumps(plan.events, indent=2).encode())
        _add_bytes(tar, "recordings.json", json.dumps(index, indent=2).encode())
        for relpath, name in plan.files:
            if not store.exists(relpath):
                continue  # deleted by retention since the plan was made
            with store.open_read(relpath) as source:
                size = source.seek(0, io.SEEK_END)
                source.seek(0)
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = size, int(time.time()), 0o600
                tar.addfile(info, source)
