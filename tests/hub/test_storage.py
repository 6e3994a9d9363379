"""Storage: WAL, one writer, named migrations applied once, reads beside writes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from hub.storage import CORE_MIGRATIONS, Migration, Storage, StorageError


async def test_core_tables_and_wal(tmp_path):
    storage = Storage(tmp_path / "db.sqlite")
    await storage.async_open()
    tables = await storage.async_read(lambda db: set(db.table_names()))
    assert {"events", "recordings", "automations", "traces", "users", "audit_log"} <= tables
    mode = await storage.async_read(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0])
    assert mode == "wal"
    await storage.async_close()


async def test_migrations_run_once_in_order(tmp_path):
    calls: list[str] = []

    def first(db):
        calls.append("first")
        db.table("things").create({"id": int, "name": str}, pk="id")

    def second(db):
        calls.append("second")
        db.table("things").add_column("colour", str)

    migrations = [Migration("p:0001", first), Migration("p:0002", second)]
    storage = Storage(tmp_path / "db.sqlite")
    await storage.async_open(migrations)
    core = [m.name for m in CORE_MIGRATIONS]
    assert core[:2] == ["core:0001_tables", "core:0002_notifications"]
    assert storage.applied == [*core, "p:0001", "p:0002"]  # core first, then plugins in order
    await storage.async_close()

    again = Storage(tmp_path / "db.sqlite")
    await again.async_open(migrations)
    assert again.applied == []
    assert calls == ["first", "second"]
    columns = await again.async_read(lambda db: [c.name for c in db.table("things").columns])
    assert columns == ["id", "name", "colour"]
    await again.async_close()


async def test_writes_run_in_order_on_one_thread(tmp_path):
    storage = Storage(tmp_path / "db.sqlite")
    await storage.async_open()
    threads: set[str] = set()

    def write(n: int):
        def work(db):
            threads.add(threading.current_thread().name)
            db.table("audit_log").insert({"time": n, "action": "x", "hash": str(n)})

        return work

    await asyncio.gather(*(storage.async_write(write(n)) for n in range(200)))
    times = await storage.async_read(
        lambda db: [r["time"] for r in db.query("select time from audit_log order by id")]
    )
    assert times == list(range(200))
    assert threads == {"db-writer"}
    await storage.async_close()


async def test_failed_write_rolls_back_and_reports(tmp_path):
    storage = Storage(tmp_path / "db.sqlite")
    await storage.async_open()

    def half_then_fail(db):
        db.table("audit_log").insert({"time": 1, "action": "x", "hash": "h"})
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        await storage.async_write(half_then_fail)
    count = await storage.async_read(lambda db: db.table("audit_log").count)
    assert count == 0
    # The writer survives a failed job.
    await storage.async_write(
        lambda db: db.table("audit_log").insert({"time": 2, "action": "y", "hash": "h"})
    )
    assert await storage.async_read(lambda db: db.table("audit_log").count) == 1
    await storage.async_close()


async def test_close_flushes_queued_writes(tmp_path):
    path = tmp_path / "db.sqlite"
    storage = Storage(path)
    await storage.async_open()
    pending = [
        asyncio.ensure_future(
            storage.async_write(
                lambda db, n=n: db.table("audit_log").insert(
                    {"time": n, "action": "a", "hash": "h"}
                )
            )
        )
        for n in range(50)
    ]
    await asyncio.sleep(0)
    await storage.async_close()
    await asyncio.gather(*pending)
    assert sqlite3.connect(path).execute("select count(*) from audit_log").fetchone()[0] == 50


async def test_writing_after_close_is_an_error(tmp_path):
    storage = Storage(tmp_path / "db.sqlite")
    await storage.async_open()
    await storage.async_close()
    with pytest.raises(StorageError):
        await storage.async_write(lambda db: None)


async def test_unopenable_database_is_a_clear_error(tmp_path):
    storage = Storage(tmp_path / "missing-dir" / "db.sqlite")
    with pytest.raises(StorageError, match="cannot open database"):
        await storage.async_open()
