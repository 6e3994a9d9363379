"""The stored events (the `events` table): listed with filters, looked up, kept and deleted.

A motion event that grew into an object event (its `parent_id`) is one story: lists leave
the motion row out and give the object row the story's start.

Motion and object detection write the rows; the web panel and scripts read them through
`hub.event_log` rather than writing SQL of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from hub.storage import LONG_EVENT_SECONDS, Storage


@dataclass(frozen=True)
class EventQuery:
    """Which events to list: newest first, one page of them."""

    cameras: Sequence[str] | None = None
    """Only these cameras; None for every camera."""
    label: str | None = None
    zone: str | None = None
    """Only events that entered this zone."""
    start: float | None = None
    """Only events still going on at or after this time (epoch seconds)."""
    end: float | None = None
    """Only events that began at or before this time."""
    limit: int = 50
    offset: int = 0
    stories: bool = True
    """Leave out motion events that grew into object events (the object event's
    `story_start` says when its story began); never when listing the label `motion`."""


# A motion event that an object event grew out of is told as part of that object's story.
_FOLDED = (
    "NOT (kind = 'motion' AND EXISTS "
    "(SELECT 1 FROM events AS grown WHERE grown.parent_id = events.id))"
)


def _where(query: EventQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if query.stories and query.label != "motion":
        where.append(_FOLDED)
    if query.cameras is not None:
        where.append(f"camera IN ({', '.join('?' * len(query.cameras))})")
        params.extend(query.cameras)
    if query.label:
        where.append("label = ?")
        params.append(query.label)
    if query.zone:
        where.append("EXISTS (SELECT 1 FROM json_each(events.zones) WHERE value = ?)")
        params.append(query.zone)
    if query.start is not None:
        # Events overlapping [start, ...): a plain `end >= start` test would scan every older
        # event when fewer than `limit` match. Short events are found by a start-index range,
        # long ones through their own small index (hub.storage.LONG_EVENT_SECONDS).
        where.append(
            "rowid IN (SELECT rowid FROM events WHERE start >= ? AND start <= ? "
            'AND COALESCE("end", start) >= ? UNION ALL SELECT rowid FROM events '
            f'WHERE "end" - start > {LONG_EVENT_SECONDS} AND start < ? AND "end" >= ?)'
        )
        reach = query.start - LONG_EVENT_SECONDS
        until = query.end if query.end is not None else float("inf")
        params += [reach, until, query.start, reach, query.start]
    if query.end is not None:
        where.append("start <= ?")
        params.append(query.end)
    return where, params


class EventLog:
    """Reads and changes stored events; `hub.event_log`."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def async_list(self, query: EventQuery) -> list[dict[str, Any]]:
        """The rows `query` selects, newest first."""
        where, params = _where(query)
        sql = (
            f"SELECT * FROM events WHERE {' AND '.join(where)} "
            f"ORDER BY start DESC LIMIT {int(query.limit)} OFFSET {int(query.offset)}"
        )
        rows = await self.storage.async_read(lambda db: [dict(r) for r in db.query(sql, params)])
        await self._add_story_starts(rows)
        return rows

    async def async_get(self, event_id: str) -> dict[str, Any] | None:
        """One event's row, or None."""

        def read(db: sqlite_utils.Database) -> list[dict[str, Any]]:
            return [dict(r) for r in db.query("SELECT * FROM events WHERE id = ?", [event_id])]

        rows = await self.storage.async_read(read)
        await self._add_story_starts(rows)
        return rows[0] if rows else None

    async def _add_story_starts(self, rows: list[dict[str, Any]]) -> None:
        """`story_start`: when the motion an object event grew out of began (else its start)."""
        parents = sorted({str(r["parent_id"]) for r in rows if r.get("parent_id")})
        starts: dict[str, float] = {}
        if parents:
            sql = f"SELECT id, start FROM events WHERE id IN ({', '.join('?' * len(parents))})"
            starts = await self.storage.async_read(
                lambda db: {str(r["id"]): float(r["start"]) for r in db.query(sql, parents)}
            )
        for row in rows:
            own = float(row["start"])
            row["story_start"] = min(starts.get(str(row.get("parent_id")), own), own)

    async def async_set_keep(self, event_id: str, keep: bool) -> None:
        """Mark an event kept (it and the footage it covers outlive retention) or not."""
        await self.storage.async_write(
            lambda db: db.execute("UPDATE events SET keep = ? WHERE id = ?", [int(keep), event_id])
        )

    async def async_delete(self, event_id: str) -> None:
        """Forget an event (its files are the caller's to remove)."""
        await self.storage.async_write(
            lambda db: db.execute("DELETE FROM events WHERE id = ?", [event_id])
        )
