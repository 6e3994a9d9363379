"""SQLite storage: one writer thread, reader threads, WAL mode, named migrations."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
WRITE_QUEUE_SIZE = 1000


@dataclass(frozen=True)
class Migration:
    """A named, run-once schema change. Names are stored; never rename one that shipped."""

    name: str
    apply: Callable[[sqlite_utils.Database], None]


def _core_tables(db: sqlite_utils.Database) -> None:
    db.table("events").create(
        {
            "id": str,
            "camera": str,
            "kind": str,
            "label": str,
            "start": float,
            "end": float,
            "top_score": float,
            "zones": str,
            "snapshot_path": str,
            "keep": int,
            "context_id": str,
            "data": str,
        },
        pk="id",
        not_null={"camera", "kind", "start"},
        defaults={"keep": 0},
    )
    db.table("events").create_index(["camera", "start"])
    db.table("events").create_index(["start"])
    db.table("recordings").create(
        {
            "id": int,
            "camera": str,
            "start": float,
            "end": float,
            "path": str,
            "bytes": int,
            "has_motion": int,
        },
        pk="id",
        not_null={"camera", "start", "path"},
        defaults={"has_motion": 0},
    )
    db.table("recordings").create_index(["camera", "start"])
    db.table("recordings").create_index(["path"], unique=True)
    db.table("automations").create(
        {
            "id": str,
            "config": str,
            "enabled": int,
            "last_triggered": float,
            "snoozed_until": float,
            "updated": float,
        },
        pk="id",
    )
    db.table("traces").create(
        {
            "id": str,
            "automation_id": str,
            "context_id": str,
            "started": float,
            "finished": float,
            "state": str,
            "steps": str,
        },
        pk="id",
    )
    db.table("traces").create_index(["automation_id", "started"])
    db.table("users").create(
        {
            "id": int,
            "name": str,
            "password_hash": str,
            "role": str,
            "created": float,
            "disabled": int,
        },
        pk="id",
        not_null={"name", "password_hash", "role"},
        defaults={"disabled": 0},
    )
    db.table("users").create_index(["name"], unique=True)
    db.table("audit_log").create(
        {
            "id": int,
            "time": float,
            "user": str,
            "action": str,
            "target": str,
            "address": str,
            "details": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
        not_null={"time", "action", "hash"},
    )
    db.table("audit_log").create_index(["time"])


def _notifications_table(db: sqlite_utils.Database) -> None:
    """The notification outbox and delivery log (hub/notify/outbox.py)."""
    db.table("notifications").create(
        {
            "id": str,
            "notifier": str,
            "title": str,
            "body": str,
            "priority": int,
            "tags": str,
            "clip_url": str,
            "event_id": str,
            "context_id": str,
            "automation_id": str,
            "snapshot": str,
            "state": str,
            "attempts": int,
            "next_attempt": float,
            "created": float,
            "updated": float,
            "delivered_at": float,
            "error": str,
        },
        pk="id",
        not_null={"notifier", "state", "created"},
        defaults={"attempts": 0},
    )
    db.table("notifications").create_index(["state", "next_attempt"])
    db.table("notifications").create_index(["created"])
    db.table("notifications").create_index(["automation_id", "notifier", "created"])


def _audit_indexes(db: sqlite_utils.Database) -> None:
    """The `/api/audit` filters (by user, by action) stay fast on a long log."""
    db.table("audit_log").create_index(["user", "time"], if_not_exists=True)
    db.table("audit_log").create_index(["action", "time"], if_not_exists=True)


def _auth_tables(db: sqlite_utils.Database) -> None:
    """Per-camera grants, login sessions and API tokens (security/users.py, security/sessions.py).

    Sessions and tokens are stored as SHA-256 of the secret: a copied database
    file does not let anyone in.
    """
    db.table("users").add_column("cameras", str, not_null_default="[]")
    db.table("sessions").create(
        {
            "id": str,
            "user_id": int,
            "csrf_token": str,
            "created": float,
            "last_seen": float,
            "expires": float,
            "address": str,
            "user_agent": str,
        },
        pk="id",
        not_null={"user_id", "csrf_token", "created", "last_seen", "expires"},
    )
    db.table("sessions").create_index(["user_id"])
    db.table("api_tokens").create(
        {
            "id": int,
            "name": str,
            "token_hash": str,
            "scopes": str,
            "cameras": str,
            "created_by": str,
            "created": float,
            "last_used": float,
            "expires": float,
        },
        pk="id",
        not_null={"name", "token_hash", "scopes", "created"},
    )
    db.table("api_tokens").create_index(["token_hash"], unique=True)


def _automation_tables(db: sqlite_utils.Database) -> None:
    """Durable automation runs and richer traces (hub/automations/store.py)."""
    from hub.automations.store import migrate

    migrate(db)


def _automation_source(db: sqlite_utils.Database) -> None:
    """Who owns each automation: the config file or the panel (hub/automations/store.py)."""
    from hub.automations.store import migrate_source

    migrate_source(db)


LONG_EVENT_SECONDS = 3600
"""Events longer than this are indexed on their own, so "what overlaps this day" stays a range
scan of the start index (reaching back this far) plus the few long ones."""


def _events_long_index(db: sqlite_utils.Database) -> None:
    # The predicate must be written the same way in queries for SQLite to use the index.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_events_long ON events(start) "
        f'WHERE "end" - start > {LONG_EVENT_SECONDS}'
    )


def _login_throttle_table(db: sqlite_utils.Database) -> None:
    """Failed-login counters, kept across restarts (hub/security/throttle.py)."""
    from hub.security.throttle import migrate

    migrate(db)


def _audit_head_table(db: sqlite_utils.Database) -> None:
    """The audit chain's head, anchored outside `audit_log` (hub/security/audit.py)."""
    from hub.security.audit import migrate

    migrate(db)


def _camera_detection_table(db: sqlite_utils.Database) -> None:
    """Whether each camera's detection is switched on, kept across restarts
    (hub/cameras/manager.py); a camera without a row is on."""
    db.table("camera_detection").create(
        {"camera": str, "armed": int, "updated": float},
        pk="camera",
        not_null={"armed"},
        if_not_exists=True,
    )


def _token_makers(db: sqlite_utils.Database) -> None:
    """API tokens bound to the user id of their maker (hub/security/sessions.py)."""
    from hub.security.sessions import migrate_token_makers

    migrate_token_makers(db)


def _csrf_derived(db: sqlite_utils.Database) -> None:
    """No CSRF token kept in plain text (hub/security/sessions.py)."""
    from hub.security.sessions import forget_stored_csrf_tokens

    forget_stored_csrf_tokens(db)


def _event_stories(db: sqlite_utils.Database) -> None:
    """`parent_id`: the motion event an object event grew out of (one story in the list)."""
    db.table("events").add_column("parent_id", str)
    db.table("events").create_index(["parent_id"], if_not_exists=True)


CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration("core:0001_tables", _core_tables),
    Migration("core:0002_notifications", _notifications_table),
    Migration("core:0003_audit_indexes", _audit_indexes),
    Migration("core:0004_auth", _auth_tables),
    Migration("core:automations_0001_runs", _automation_tables),
    Migration("core:events_long_index", _events_long_index),
    Migration("core:0005_login_throttle", _login_throttle_table),
    Migration("core:0006_audit_head", _audit_head_table),
    Migration("core:camera_detection", _camera_detection_table),
    Migration("core:0007_token_makers", _token_makers),
    Migration("core:0008_csrf_derived", _csrf_derived),
    Migration("core:automations_0002_source", _automation_source),
    Migration("core:0009_event_stories", _event_stories),
)


def _make_private(path: Path) -> None:
    """The database file (and any WAL and shared-memory files beside it) readable by the
    hub's user only: it holds password hashes and session and token hashes. SQLite gives
    the WAL and -shm files it creates the database file's mode."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).chmod(0o600)


def _connect(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    db = sqlite_utils.Database(conn)
    return db


class StorageError(Exception):
    """The database could not be opened or written."""


class Storage:
    """Owns the database file. All writes run, in order, on one writer thread."""

    def __init__(self, path: Path):
        self.path = path
        self._writes: queue.Queue[tuple[Callable[[sqlite_utils.Database], Any], Any] | None] = (
            queue.Queue(WRITE_QUEUE_SIZE)
        )
        self._writer: threading.Thread | None = None
        self._readers = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="db-read")
        self._local = threading.local()
        self._reader_dbs: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()
        self.applied: list[str] = []

    async def async_open(self, migrations: Iterable[Migration] = ()) -> None:
        """Open the file in WAL mode, start the writer and apply pending migrations."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._writer = threading.Thread(
            target=self._write_loop, args=(loop, ready), name="db-writer", daemon=True
        )
        self._writer.start()
        await ready
        all_migrations = [*CORE_MIGRATIONS, *migrations]
        self.applied = await self.async_write(lambda db: _migrate(db, all_migrations))

    def _write_loop(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        try:
            _make_private(self.path)
            db = _connect(self.path)
            db.conn.execute("PRAGMA journal_mode = WAL")
            db.conn.execute("PRAGMA synchronous = NORMAL")
        except (sqlite3.Error, OSError) as exc:
            error = StorageError(f"cannot open database {self.path}: {exc}")
            loop.call_soon_threadsafe(_settle, ready, None, error)
            return
        loop.call_soon_threadsafe(_settle, ready, None, None)
        while True:
            item = self._writes.get()
            if item is None:
                break
            work, future = item
            outcome: Any = None
            failure: BaseException | None = None
            try:
                with db.atomic():
                    outcome = work(db)
            except Exception as exc:
                failure = exc
            loop.call_soon_threadsafe(_settle, future, outcome, failure)
        db.conn.execute("PRAGMA optimize")
        db.close()

    async def async_write(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `work(db)` in one transaction on the writer thread and return its result."""
        if self._writer is None or not self._writer.is_alive():
            raise StorageError("storage is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            self._writes.put_nowait((work, future))
        except queue.Full:
            # Back-pressure without blocking the loop: wait in a thread for room.
            await asyncio.to_thread(self._writes.put, (work, future))
        return await future

    async def async_flush(self) -> None:
        """Wait until every write queued before this call is committed (readers see it)."""
        if self._writer is not None and self._writer.is_alive():
            await self.async_write(_nothing)

    def _reader(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = _connect(self.path)
            self._local.db = db
            with self._lock:
                self._reader_dbs.append(db)
        return db

    async def async_read(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """Run `work(db)` on a reader thread (WAL lets reads run beside the writer)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: work(self._reader()))

    async def async_close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._writer is not None and self._writer.is_alive():
            await asyncio.to_thread(self._writes.put, None)
            await asyncio.to_thread(self._writer.join, 5)
        self._readers.shutdown(wait=True)
        with self._lock:
            for db in self._reader_dbs:
                db.close()
            self._reader_dbs.clear()


def _nothing(db: sqlite_utils.Database) -> None:
    """A write that changes nothing: its turn on the writer thread is the point."""


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _migrate(db: sqlite_utils.Database, migrations: list[Migration]) -> list[str]:
    """Apply migrations not yet recorded; returns the names applied now."""
    db.table("_migrations").create({"name": str, "applied": float}, pk="name", if_not_exists=True)
    done = {row["name"] for row in db.table("_migrations").rows}
    applied = []
    for migration in migrations:
        if migration.name in done:
            continue
        _LOGGER.info("Applying database migration %s", migration.name)
        migration.apply(db)
        db.table("_migrations").insert({"name": migration.name, "applied": time.time()})
        applied.append(migration.name)
    return applied
