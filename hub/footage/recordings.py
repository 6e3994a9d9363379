"""The recordings index: MP4 segments per camera in SQLite, and the ranges they cover."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlite_utils

from hub.footage.store import FootageStore
from hub.storage import Storage

# Segments closer than this are one continuous range in `/api/recordings`.
RANGE_GAP_SECONDS = 2.0


@dataclass(frozen=True)
class RecordingSegment:
    """One finished segment file."""

    camera: str
    start: float
    end: float
    path: str
    bytes: int
    has_motion: bool = False
    id: int | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def segment_from_row(row: dict[str, Any]) -> RecordingSegment:
    """A RecordingSegment from a `recordings` row."""
    return RecordingSegment(
        camera=row["camera"],
        start=row["start"],
        end=row["end"],
        path=row["path"],
        bytes=row["bytes"] or 0,
        has_motion=bool(row["has_motion"]),
        id=row["id"],
    )


class RecordingIndex:
    """Reads and writes the `recordings` table through the hub's storage."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def async_add(self, segment: RecordingSegment) -> int:
        """Index a finished segment (replacing a row for the same path); returns its id."""
        row = {k: v for k, v in segment.as_dict().items() if k != "id"}
        row["has_motion"] = int(segment.has_motion)

        def write(db: sqlite_utils.Database) -> int:
            db.execute("DELETE FROM recordings WHERE path = ?", [segment.path])
            return int(db.table("recordings").insert(row).last_pk or 0)

        return await self.storage.async_write(write)

    async def async_segments(
        self,
        camera: str | None = None,
        start: float | None = None,
        end: float | None = None,
        limit: int | None = None,
    ) -> list[RecordingSegment]:
        """Segments overlapping [start, end], oldest first."""
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if camera is not None:
            where.append("camera = ?")
            params.append(camera)
        if start is not None:
            where.append('"end" > ?')
            params.append(start)
        if end is not None:
            where.append("start < ?")
            params.append(end)
        sql = f"SELECT * FROM recordings WHERE {' AND '.join(where)} ORDER BY start, id"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return await self.storage.async_read(
            lambda db: [segment_from_row(r) for r in db.query(sql, params)]
        )

    async def async_get(self, segment_id: int) -> RecordingSegment | None:
        """One segment by id."""
        rows = await self.storage.async_read(
            lambda db: list(db.query("SELECT * FROM recordings WHERE id = ?", [segment_id]))
        )
        return segment_from_row(rows[0]) if rows else None

    async def async_ranges(
        self, camera: str | None = None, start: float | None = None, end: float | None = None
    ) -> list[dict[str, Any]]:
        """Continuous recorded ranges per camera: `{camera, start, end, segments, bytes}`."""
        ranges: list[dict[str, Any]] = []
        current: dict[str, dict[str, Any]] = {}
        for segment in await self.async_segments(camera, start, end):
            last = current.get(segment.camera)
            if last is not None and segment.start - last["end"] <= RANGE_GAP_SECONDS:
                last["end"] = max(last["end"], segment.end)
                last["segments"] += 1
                last["bytes"] += segment.bytes
                continue
            last = {
                "camera": segment.camera,
                "start": segment.start,
                "end": segment.end,
                "segments": 1,
                "bytes": segment.bytes,
            }
            current[segment.camera] = last
            ranges.append(last)
        return ranges

    async def async_delete(self, segment_ids: list[int]) -> None:
        """Remove index rows (the caller deletes the files)."""
        if not segment_ids:
            return

        def delete(db: sqlite_utils.Database) -> None:
            marks = ",".join("?" * len(segment_ids))
            db.execute(f"DELETE FROM recordings WHERE id IN ({marks})", segment_ids)

        await self.storage.async_write(delete)

    async def async_total_bytes(self, camera: str | None = None) -> int:
        """Bytes of indexed footage, for one camera or all."""
        sql = "SELECT COALESCE(SUM(bytes), 0) FROM recordings"
        params: list[Any] = []
        if camera is not None:
            sql += " WHERE camera = ?"
            params.append(camera)
        return int(await self.storage.async_read(lambda db: db.execute(sql, params).fetchone()[0]))

    async def async_use_by_camera(self) -> list[dict[str, Any]]:
        """Per camera: `camera`, `segments`, `bytes`, `oldest` and `newest` (epoch seconds)."""
        sql = (
            "SELECT camera, COUNT(*) AS segments, COALESCE(SUM(bytes), 0) AS bytes, "
            'MIN(start) AS oldest, MAX(COALESCE("end", start)) AS newest '
            "FROM recordings GROUP BY camera ORDER BY camera"
        )
        return await self.storage.async_read(lambda db: [dict(row) for row in db.query(sql)])

    async def async_reconcile(self, store: FootageStore) -> list[str]:
        """Drop rows whose file is gone (deleted by hand, lost in a crash); returns their paths."""
        segments = await self.async_segments()
        missing = [s for s in segments if not store.exists(s.path)]
        await self.async_delete([s.id for s in missing if s.id is not None])
        return [s.path for s in missing]

    async def async_indexed_paths(self) -> set[str]:
        """Every indexed path."""
        return {s.path for s in await self.async_segments()}
