"""The audit trail: append-only, hash-chained rows of who did what, when, from where."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from hub.storage import Storage

_LOGGER = logging.getLogger(__name__)
GENESIS_HASH = "0" * 64
"""The `prev_hash` of the first row of a chain begun before the head file existed."""
HEAD_KEPT_GENESIS = hashlib.sha256(b"camhub audit chain: audit.head is kept").hexdigest()
"""The `prev_hash` of the first row of a chain that keeps a head file from its start: the
chain itself then says the file must exist, so deleting it cannot hide a cut-off tail."""
HEAD_KEPT_ACTION = "audit.head_kept"
"""Appended once to a chain begun before the head file existed: from this row on, it is kept."""
MAX_PAGE = 10_000
HASHED_FIELDS = ("id", "time", "user", "action", "target", "address", "details")
HEAD_FILENAME = "audit.head"
"""Beside the database: `<row id> <hash>` of the newest row, so a cut-off tail shows."""


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
    """The first row that is wrong or missing (for a truncation: the first one cut off)."""
    reason: str = ""
    last_hash: str = GENESIS_HASH
    """Hash of the newest row: write it down elsewhere to notice a cut-off tail later."""
    head_id: int | None = None
    """The newest row id the anchors (`audit_head` table, `audit.head` file) remember."""
    missing: tuple[int, int] | None = None
    """First and last row id cut off the end, when the log is shorter than its head says."""
    warnings: tuple[str, ...] = ()
    """Things worth knowing that are not proof of tampering (e.g. no head file yet)."""
    whole_log: bool = False
    """The problem is the log as a whole (its head is gone), not the row `broken_id`."""
    unreadable: bool = False
    """The database could not be read, so nothing was checked (`reason` says why)."""

    @property
    def ok(self) -> bool:
        """True when every row is where its hash says it should be."""
        return self.broken_id is None


def verify_chain(db: sqlite_utils.Database, head_file: Path | None = None) -> ChainReport:
    """Walk the log in id order; report the first row whose hash or link is wrong, then
    hold the newest row against the head anchors.

    Editing a row breaks its own hash; deleting one breaks the next row's link;
    re-hashing an edited row breaks every later link unless the whole tail is
    rewritten, which still changes every later hash anyone has copied out.
    Cutting rows off the end leaves a valid shorter chain: the head kept in the
    `audit_head` table and in `head_file` shows it, unless both were rewritten too.
    """
    try:
        report = _walk(db)
        if not report.ok:
            return report
        return _check_heads(db, report, head_file)
    except sqlite3.DatabaseError as exc:
        # A damaged file or a dropped table: say so, never a traceback.
        reason = f"the database cannot be read: {exc}"
        return ChainReport(0, 0, reason, whole_log=True, unreadable=True)
    except (KeyError, ValueError, TypeError) as exc:
        # A column gone or a value of a type camhub never writes: edited by hand.
        reason = f"the audit tables were altered: they hold what camhub never writes ({exc!r})"
        return ChainReport(0, 0, reason, whole_log=True)


def _walk(db: sqlite_utils.Database) -> ChainReport:
    prev = GENESIS_HASH
    count = 0
    expected_id: int | None = None
    for row in _rows_in_order(db):
        count += 1
        row_id = int(row["id"])
        if count == 1 and row["prev_hash"] == HEAD_KEPT_GENESIS:
            prev = HEAD_KEPT_GENESIS
        if row["prev_hash"] != prev:
            return ChainReport(count, row_id, "does not link to the row before it")
        if row_hash(row, prev) != row["hash"]:
            return ChainReport(count, row_id, "its content does not match its hash")
        if expected_id is not None and row_id != expected_id:
            return ChainReport(count, row_id, f"row {expected_id} is missing")
        expected_id = row_id + 1
        prev = str(row["hash"])
    return ChainReport(count, last_hash=prev)


def _read_head_file(path: Path) -> tuple[int, str] | str:
    """`(row id, hash)` from the head file, or why it could not be read."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return f"no head file {path.name} yet (it is written with the next audit row)"
    except (OSError, UnicodeDecodeError) as exc:
        return f"the head file {path.name} cannot be read: {exc}"
    parts = text.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[1]) != 64:
        return f"the head file {path.name} holds no head (cut short by a power cut?)"
    return int(parts[0]), parts[1]


def head_file_kept_since(db: sqlite_utils.Database) -> int | None:
    """The row from which the chain itself says a head file is kept, or None (an old chain)."""
    first = list(db.query("SELECT id, prev_hash FROM audit_log ORDER BY id LIMIT 1"))
    if first and first[0]["prev_hash"] == HEAD_KEPT_GENESIS:
        return int(first[0]["id"])
    marks = list(
        db.query("SELECT min(id) AS id FROM audit_log WHERE action = ?", [HEAD_KEPT_ACTION])
    )
    return int(marks[0]["id"]) if marks and marks[0]["id"] is not None else None


def _check_heads(
    db: sqlite_utils.Database, report: ChainReport, head_file: Path | None
) -> ChainReport:
    """The newest row must be at least where each anchor says, with the hash it remembers."""
    last_id = next(iter(db.query("SELECT max(id) AS id FROM audit_log")))["id"] or 0
    anchors: list[tuple[str, int, str]] = []
    warnings: list[str] = []
    try:
        stored = list(db.query("SELECT row_id, hash FROM audit_head WHERE id = 1"))
    except sqlite3.OperationalError:
        reason = "the audit_head table is gone (dropped by hand?), and the chain's head with it"
        return ChainReport(report.rows, last_id + 1, reason, report.last_hash, whole_log=True)
    if stored:
        anchors.append(("audit_head table", int(stored[0]["row_id"]), str(stored[0]["hash"])))
    elif last_id:
        reason = "the audit_head table has lost the chain's head (deleted by hand?)"
        return ChainReport(report.rows, last_id, reason, report.last_hash)
    if head_file is not None:
        found = _read_head_file(head_file)
        kept_since = head_file_kept_since(db) if isinstance(found, str) else None
        if isinstance(found, str) and kept_since is not None:
            reason = (
                f"{found}, but the chain says it is kept from row {kept_since} on "
                "(removed or emptied to hide rows cut off the end?)"
            )
            return ChainReport(report.rows, last_id + 1, reason, report.last_hash, whole_log=True)
        if isinstance(found, str):
            if last_id:
                warnings.append(found)
        else:
            anchors.append((f"head file {head_file.name}", *found))
    head_id = max((row_id for _, row_id, _ in anchors), default=None)
    for source, row_id, head_hash in anchors:
        if row_id > last_id:
            end = f"ends at row {last_id}" if last_id else "is empty"
            reason = (
                f"truncated: the log {end} but the head ({source}) says row {row_id}; "
                f"rows {last_id + 1}..{row_id} are missing"
            )
            return ChainReport(
                report.rows, last_id + 1, reason, report.last_hash, head_id, (last_id + 1, row_id)
            )
        actual = list(db.query("SELECT hash FROM audit_log WHERE id = ?", [row_id]))
        if row_id and (not actual or actual[0]["hash"] != head_hash):
            reason = (
                f"the head ({source}) says row {row_id} has hash {head_hash[:16]}..., "
                "but the row does not (the log was rewritten from there on?)"
            )
            return ChainReport(report.rows, row_id, reason, report.last_hash, head_id)
    return ChainReport(
        report.rows, last_hash=report.last_hash, head_id=head_id, warnings=tuple(warnings)
    )


def _rows_in_order(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    yield from db.query("SELECT * FROM audit_log ORDER BY id")


def _append(
    db: sqlite_utils.Database, entry: dict[str, Any], declare_head: bool = False
) -> tuple[int, str]:
    """Add one row linked to the last one and move the head to it; runs on the single
    writer, so links never fork and the head commits with its row.

    `declare_head`: first, if the chain does not say yet that a head file is kept (a chain
    begun by an older camhub), add a row saying so.
    """
    if declare_head and head_file_kept_since(db) is None and _row_count(db):
        _append(
            db,
            {
                **entry,
                "user": None,
                "action": HEAD_KEPT_ACTION,
                "target": HEAD_FILENAME,
                "address": None,
                "details": _canonical({}),
            },
        )
    last = list(db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    prev = str(last[0]["hash"]) if last else HEAD_KEPT_GENESIS
    row = {**entry, "id": (int(last[0]["id"]) + 1) if last else 1}
    row["prev_hash"] = prev
    row["hash"] = row_hash(row, prev)
    db.table("audit_log").insert(row)
    _set_head(db, int(row["id"]), str(row["hash"]))
    return int(row["id"]), str(row["hash"])


def _row_count(db: sqlite_utils.Database) -> int:
    return int(next(iter(db.query("SELECT count(*) AS n FROM audit_log")))["n"])


def _set_head(db: sqlite_utils.Database, row_id: int, head_hash: str) -> None:
    db.execute(
        "INSERT OR REPLACE INTO audit_head (id, row_id, hash, time) VALUES (1, ?, ?, ?)",
        [row_id, head_hash, time.time()],
    )


def migrate(db: sqlite_utils.Database) -> None:
    """The one-row `audit_head` table (core migration `core:0006_audit_head`), seeded with
    the newest row of a log that predates it."""
    db.table("audit_head").create(
        {"id": int, "row_id": int, "hash": str, "time": float},
        pk="id",
        not_null={"row_id", "hash"},
    )
    last = list(db.query("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"))
    if last:
        _set_head(db, int(last[0]["id"]), str(last[0]["hash"]))


class AuditLog:
    """`hub.security.audit`: write audit rows and query them back.

    After each row, `(row id, hash)` is also written to `head_file` (default: `audit.head`
    beside the database) by an atomic rename, without fsync: a file per row stays cheap,
    and after a power cut the file may be a few rows behind (less protection, no false
    alarm) or, if SQLite lost its last commits, ahead (verify then names those rows as
    missing, which they are).
    """

    def __init__(self, storage: Storage, head_file: Path | None = None):
        self.storage = storage
        self.head_file = head_file or storage.path.with_name(HEAD_FILENAME)
        self._head_lock = threading.Lock()
        self._head_written = 0
        self._head_declared = False

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
        declare = not self._head_declared
        row_id, head_hash = await self.storage.async_write(lambda db: _append(db, entry, declare))
        self._head_declared = True
        await asyncio.to_thread(self._write_head, row_id, head_hash)

    def _write_head(self, row_id: int, head_hash: str) -> None:
        """Replace the head file atomically; a late writer never moves the head back."""
        with self._head_lock:
            if row_id <= self._head_written:
                return
            spare = self.head_file.with_name(f"{self.head_file.name}.{os.getpid()}.tmp")
            try:
                # Readable by the hub only, like the database it vouches for.
                fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(f"{row_id} {head_hash}\n")
                os.replace(spare, self.head_file)
            except OSError as exc:
                # The row is safe in the database; only the second anchor is behind.
                _LOGGER.warning("Cannot write the audit head file %s: %s", self.head_file, exc)
                return
            self._head_written = row_id

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
        """Check the whole chain and its head anchors (on a reader thread)."""
        return await self.storage.async_read(lambda db: verify_chain(db, self.head_file))
