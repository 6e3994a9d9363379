"""The audit trail: append-only, hash-chained rows of who did what, when, from where."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from hub.storage import Storage

_LOGGER = logging.getLogger(__name__)
GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first row: a chain has to start somewhere."""
MAX_PAGE = 10_000
HASHED_FIELDS = ("id", "time", "user", "action", "target", "address", "details")


def _canonical(value: Any) -> str:
    """One spelling per value, so the same row always hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(row: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the previous row's hash and this row's canonical JSON."""
    body = _canonical({key: row.get(key) for key in HASHED_FIELDS})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What `verify_chain` found: rows checked and the first row that does not fit."""

    rows: int
    broken_id: int | None = None
    reason: str = ""
    last_hash: str = GENESIS_HASH
    """Hash of the newest row: write it down elsewhere to notice a cut-off tail later."""

    @property
    def ok(self) -> bool:
        """True when every row is where its hash says it should be."""
        return self.broken_id is None


def verify_chain(db: sqlite_utils.Database) -> ChainReport:
    """Walk the log in id order; report the first row whose hash or link is wrong.

    Editing a row breaks its own hash; deleting one breaks the next row's link;
    re-hashing an edited row breaks every later link unless the whole tail is
    rewritten, which still changes every later hash anyone has copied out.
    Cutting rows off the end leaves a valid shorter chain: only a `last_hash`
    kept elsewhere shows that.
    """
    prev = GENESIS_HASH
    count = 0
    expected_id: int | None = None
    for row in _rows_in_order(db):
        count += 1
        row_id = int(row["id"])
        if row["prev_hash"] != prev:
            return ChainReport(count, row_id, "does not link to the row before it")
        if row_hash(row, prev) != row["hash"]:
            return ChainReport(count, row_id, "its content does not match its hash")
        if expected_id is not None and row_id != expected_id:
            return ChainReport(count, row_id, f"row {expected_id} is missing")
        expected_id = row_id + 1
        prev = str(row["hash"])
    return ChainReport(count, last_hash=prev)


def _rows_in_order(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    yield from db.query("SELECT * FROM audit_log ORDER BY id")


def _append(db: sqlite_utils.Database, entry: dict[str, Any]) -> int:
    """Add one row linked to the last one; runs on the single writer, so links never fork."""
    last = list(db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    prev = str(last[0]["hash"]) if last else GENESIS_HASH
    row = {**entry, "id": (int(last[0]["id"]) + 1) if last else 1}
    row["prev_hash"] = prev
    row["hash"] = row_hash(row, prev)
    db.table("audit_log").insert(row)
    return int(row["id"])


class AuditLog:
    """`hub.audit`: write audit rows and query them back."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def async_log(
        self,
        actor: str | None,
        action: str,
        target: str = "",
        address: str | None = None,
        **details: Any,
    ) -> None:
        """Append a row: `actor` (user name, `token:NAME`, or None for anonymous), `action`
        (dotted verb like `login.failed`, `recording.view`), `target` (what it was done to),
        `address` (the peer), and any JSON-able details."""
        entry = {
            "time": time.time(),
            "user": actor,
            "action": action,
            "target": target,
            "address": address,
            # Stored as text so the hashed form and the stored form are the same string.
            "details": _canonical(details),
        }
        await self.storage.async_write(lambda db: _append(db, entry))

    async def async_query(
        self,
        actor: str | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Rows newest first; `action` matches exactly or as a prefix when it ends in `.`."""
        where, params = ["1 = 1"], list[Any]()
        if actor is not None:
            where.append('"user" = ?')
            params.append(actor)
        if action is not None:
            if action.endswith("."):
                where.append("action LIKE ? ESCAPE '\\'")
                escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                params.append(escaped + "%")
            else:
                where.append("action = ?")
                params.append(action)
        if since is not None:
            where.append("time >= ?")
            params.append(since)
        if until is not None:
            where.append("time <= ?")
            params.append(until)
        limit = max(0, min(limit, MAX_PAGE))
        sql = (
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} "
            f"ORDER BY id DESC LIMIT {limit} OFFSET {max(0, offset)}"
        )
        rows = await self.storage.async_read(lambda db: [dict(r) for r in db.query(sql, params)])
        for row in rows:
            # A tampered row may hold anything: show what is there; verify names it.
            with contextlib.suppress(ValueError):
                row["details"] = json.loads(row["details"] or "{}")
        return rows

    async def async_verify(self) -> ChainReport:
        """Check the whole chain (on a reader thread)."""
        return await self.storage.async_read(verify_chain)
