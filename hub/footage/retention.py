"""Retention: delete the oldest footage by age, by size and for free space; never kept events.

Per camera `record.max_days` / `record.max_gb` and global `storage.max_days` /
`storage.max_gb` all apply (the strictest wins). When free disk space falls
below `storage.min_free_gb`, the oldest unprotected segments go first; if that
is not enough, recording pauses (state `storage.disk` = `full`) and resumes by
itself once space returns. An owner can also erase a time range at once
(`async_erase`); events on legal hold (`keep`) and their footage stay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.detection.snapshots import event_files
from hub.footage.recordings import RecordingSegment, segment_from_row

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
GB = 1024**3
DAY = 86400.0
BATCH = 200
LOOSE_SNAPSHOTS = "snapshots/automations"
"""Pictures automations saved: no index row, dated by when they were written."""
NOTIFICATION_SNAPSHOTS = "notifications"
FREE_SPACE_POLL_SECONDS = 30.0
DISK_ENTITY = "storage.disk"


@dataclass
class RetentionReport:
    """What one pass deleted and why."""

    deleted: dict[str, int] = field(default_factory=dict)
    """Segments deleted per reason: `age`, `size`, `free_space`."""
    freed_bytes: int = 0
    paused: bool = False

    def count(self, reason: str, segments: list[RecordingSegment]) -> None:
        """Record deletions."""
        self.deleted[reason] = self.deleted.get(reason, 0) + len(segments)
        self.freed_bytes += sum(s.bytes for s in segments)


# A segment is protected when it overlaps a kept event, padded by that camera's pre/post roll.
# A segment is protected when it overlaps a kept event of its camera, widened by that
# camera's pre roll before and post roll after (what the event's clip shows).
_UNPROTECTED = """
NOT EXISTS (
    SELECT 1 FROM events e
    WHERE e.keep = 1 AND e.camera = recordings.camera
      AND recordings."end" > e.start - {pre}
      AND recordings.start < COALESCE(e."end", e.start) + {post}
)
"""


def _oldest_covering(batch: list[RecordingSegment], need: int) -> list[RecordingSegment]:
    """The fewest oldest segments of `batch` whose sizes add up to `need` bytes."""
    chosen = []
    for segment in batch:
        chosen.append(segment)
        need -= segment.bytes
        if need <= 0:
            break
    return chosen


class RetentionManager:
    """Runs retention passes on a schedule and on low disk space."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.paused = False
        self.last_report: RetentionReport | None = None
        self._lock = asyncio.Lock()
        self._deleted: set[int] = set()  # ids deleted in the current pass

    def _protection(self, params: dict[str, Any]) -> str:
        """The `_UNPROTECTED` clause with each camera's own rolls (the widest for others)."""
        records = {cid: c.config.record for cid, c in self.hub.cameras.items()}
        widest = max((max(r.pre_seconds, r.post_seconds) for r in records.values()), default=0.0)
        cases = {"pre": "", "post": ""}
        for n, (camera_id, record) in enumerate(records.items()):
            params[f"cam{n}"] = camera_id
            params[f"pre{n}"], params[f"post{n}"] = record.pre_seconds, record.post_seconds
            cases["pre"] += f" WHEN :cam{n} THEN :pre{n}"
            cases["post"] += f" WHEN :cam{n} THEN :post{n}"
        params["widest"] = widest
        pre, post = (
            f"(CASE e.camera{cases[k]} ELSE :widest END)" if cases[k] else ":widest"
            for k in ("pre", "post")
        )
        return _UNPROTECTED.format(pre=pre, post=post)

    async def _oldest(
        self, camera: str | None, before: float | None, limit: int
    ) -> list[RecordingSegment]:
        params: dict[str, Any] = {"limit": limit}
        where = [self._protection(params)]
        if camera is not None:
            where.append("camera = :camera")
            params["camera"] = camera
        if before is not None:
            where.append('"end" < :before')
            params["before"] = before
        sql = f"SELECT * FROM recordings WHERE {' AND '.join(where)} ORDER BY start LIMIT :limit"

        return await self.hub.storage.async_read(
            lambda db: [segment_from_row(r) for r in db.query(sql, params)]
        )

    async def _delete(self, segments: list[RecordingSegment]) -> None:
        store = self.hub.footage

        def remove_files() -> None:
            for segment in segments:
                store.delete(segment.path)

        ids = [s.id for s in segments if s.id is not None]
        if self._deleted.intersection(ids):
            # Every loop here ends because rows go; if they did not, stop rather than spin.
            raise RuntimeError("retention: deleted segments are still indexed")
        self._deleted.update(ids)
        await asyncio.to_thread(remove_files)
        await self.hub.recordings.async_delete(ids)

    async def _prune_events(
        self, camera: str | None, before: float, report: RetentionReport
    ) -> None:
        """Events (not kept) that ended before `before` go, with their snapshot and clip."""
        where = 'keep = 0 AND COALESCE("end", start) < ?'
        params: list[Any] = [before]
        if camera is not None:
            where += " AND camera = ?"
            params.append(camera)
        if deleted := await self._delete_events(where, params):
            report.deleted["events"] = report.deleted.get("events", 0) + deleted

    async def _prune_loose(
        self, camera: str | None, before: float, report: RetentionReport
    ) -> None:
        """Automation snapshots written before `before` go (all cameras, or this one)."""
        if deleted := await self._delete_loose((LOOSE_SNAPSHOTS,), None, before, camera):
            report.deleted["snapshots"] = report.deleted.get("snapshots", 0) + deleted

    async def _delete_loose(
        self,
        folders: tuple[str, ...],
        start: float | None,
        end: float,
        cameras: str | list[str] | None,
    ) -> int:
        """Delete files under `folders` written in [start, end] (`<folder>/<camera>/...`)."""
        store = self.hub.footage
        wanted = [cameras] if isinstance(cameras, str) else cameras

        def remove() -> int:
            count = 0
            for folder in folders:
                for relpath, _ in store.files_written(folder, start, end):
                    camera = relpath[len(folder) + 1 :].split("/", 1)[0]
                    if wanted is None or camera in wanted:
                        store.delete(relpath)
                        count += 1
            return count

        return await asyncio.to_thread(remove)

    async def _delete_events(self, where: str, params: list[Any]) -> int:
        """Delete the events matching `where` with their snapshot and clip; returns how many."""
        rows = await self.hub.storage.async_read(
            lambda db: [
                dict(r)
                for r in db.query(
                    f"SELECT id, camera, snapshot_path FROM events WHERE {where}", params
                )
            ]
        )
        if not rows:
            return 0
        store = self.hub.footage

        def remove_files() -> None:
            for row in rows:
                for relpath in event_files(row["camera"], row["id"], row["snapshot_path"]):
                    store.delete(relpath)

        await asyncio.to_thread(remove_files)
        ids = [row["id"] for row in rows]

        def delete(db: Any) -> None:
            db.execute(f"DELETE FROM events WHERE id IN ({','.join('?' * len(ids))})", ids)

        await self.hub.storage.async_write(delete)
        return len(ids)

    async def async_erase(
        self, start: float, end: float, cameras: list[str] | None = None
    ) -> dict[str, Any]:
        """Erase the footage and events of a time range (all cameras, or these), now.

        Whole segments overlapping the range go (a segment is the smallest unit
        on disk, so a little before and after may go too). Events on legal hold
        (`keep`) and the footage around them stay: release the hold to erase them.
        """
        async with self._lock:
            self._deleted.clear()
            params: dict[str, Any] = {"start": start, "end": end}
            overlap = 'recordings."end" >= :start AND recordings.start <= :end'
            where = [overlap, self._protection(params)]
            event_where = 'COALESCE("end", start) >= ? AND start <= ?'
            event_params: list[Any] = [start, end]
            if cameras is not None:
                marks = ",".join(f":c{n}" for n in range(len(cameras)))
                where.append(f"camera IN ({marks})")
                params.update({f"c{n}": c for n, c in enumerate(cameras)})
                event_where += f" AND camera IN ({','.join('?' * len(cameras))})"
                event_params += cameras
            sql = f"SELECT * FROM recordings WHERE {' AND '.join(where)} ORDER BY start"
            segments = await self.hub.storage.async_read(
                lambda db: [segment_from_row(r) for r in db.query(sql, params)]
            )
            for first in range(0, len(segments), BATCH):
                await self._delete(segments[first : first + BATCH])
            events = await self._delete_events(f"keep = 0 AND {event_where}", event_params)
            pictures = await self._delete_loose(
                (LOOSE_SNAPSHOTS, NOTIFICATION_SNAPSHOTS), start, end, cameras
            )
            held = await self.hub.storage.async_read(
                lambda db: db.execute(
                    f"SELECT COUNT(*) FROM events WHERE keep = 1 AND {event_where}", event_params
                ).fetchone()[0]
            )
        result = {
            "segments": len(segments),
            "bytes": sum(s.bytes for s in segments),
            "events": events,
            "snapshots": pictures,
            "held_events": int(held),
            "erased_from": min((s.start for s in segments), default=None),
            "erased_to": max((s.end for s in segments), default=None),
        }
        _LOGGER.warning(
            "Erased %d segment(s) and %d event(s) between %s and %s (%d event(s) on hold kept)",
            result["segments"], events, start, end, result["held_events"],
        )  # fmt: skip
        return result

    async def _by_age(
        self, camera: str | None, max_days: float, now: float, report: RetentionReport
    ) -> None:
        while batch := await self._oldest(camera, now - max_days * DAY, BATCH):
            await self._delete(batch)
            report.count("age", batch)

    async def _by_size(self, camera: str | None, max_gb: float, report: RetentionReport) -> None:
        excess = await self.hub.recordings.async_total_bytes(camera) - int(max_gb * GB)
        while excess > 0:
            batch = await self._oldest(camera, None, BATCH)
            if not batch:
                break
            chosen = _oldest_covering(batch, excess)
            excess -= sum(s.bytes for s in chosen)
            await self._delete(chosen)
            report.count("size", chosen)

    async def _for_free_space(self, report: RetentionReport) -> bool:
        """Delete oldest footage until the floor is met; False if it cannot be met."""
        floor = int(self.hub.config.storage.min_free_gb * GB)
        store = self.hub.footage
        while (free := await asyncio.to_thread(store.free_bytes)) < floor:
            batch = await self._oldest(None, None, BATCH)
            if not batch:
                return False
            chosen = _oldest_covering(batch, floor - free)
            await self._delete(chosen)
            report.count("free_space", chosen)
        return True

    async def async_enforce(self, now: float | None = None) -> RetentionReport:
        """One full pass: per camera, then global limits, then the free-space floor."""
        now = time.time() if now is None else now
        report = RetentionReport()
        async with self._lock:
            self._deleted.clear()
            # A copy: cameras may be added or removed while this pass awaits the database.
            for camera_id, runtime in list(self.hub.cameras.items()):
                record = runtime.config.record
                if record.max_days is not None:
                    await self._by_age(camera_id, record.max_days, now, report)
                    await self._prune_events(camera_id, now - record.max_days * DAY, report)
                    await self._prune_loose(camera_id, now - record.max_days * DAY, report)
                if record.max_gb is not None:
                    await self._by_size(camera_id, record.max_gb, report)
            storage = self.hub.config.storage
            if storage.max_days is not None:
                await self._by_age(None, storage.max_days, now, report)
                await self._prune_events(None, now - storage.max_days * DAY, report)
                await self._prune_loose(None, now - storage.max_days * DAY, report)
            if storage.max_gb is not None:
                await self._by_size(None, storage.max_gb, report)
            enough = await self._for_free_space(report)
            self._set_paused(not enough)
            report.paused = self.paused
        if report.deleted:
            _LOGGER.info(
                "Retention deleted %s (%.1f MB)",
                ", ".join(f"{n} by {why}" for why, n in report.deleted.items()),
                report.freed_bytes / 1024**2,
            )
        self.last_report = report
        return report

    def _set_paused(self, paused: bool) -> None:
        free = self.hub.footage.free_bytes()
        if paused and not self.paused:
            _LOGGER.error(
                "Disk full: %.2f GB free, below storage.min_free_gb; recording paused",
                free / GB,
            )
        elif self.paused and not paused:
            _LOGGER.warning("Disk space is back (%.2f GB free); recording resumes", free / GB)
        self.paused = paused
        self.hub.states.async_set(DISK_ENTITY, "full" if paused else "ok", {"free_bytes": free})

    async def async_run(self) -> None:
        """Enforce at start, every `storage.retention_check_seconds`, and on low free space."""
        interval = self.hub.config.storage.retention_check_seconds
        floor = self.hub.config.storage.min_free_gb * GB
        next_full = 0.0
        while True:
            now = time.monotonic()
            low = await asyncio.to_thread(self.hub.footage.free_bytes) < floor
            if now >= next_full or low or self.paused:
                try:
                    await self.async_enforce()
                except Exception:
                    _LOGGER.exception("Retention pass failed")
                next_full = now + interval
            await asyncio.sleep(FREE_SPACE_POLL_SECONDS)
