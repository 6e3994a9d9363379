"""`storage_migrations`: each migration runs once, in order, recorded as `<plugin>:<name>`."""

from __future__ import annotations

from typing import Any

import pytest

from hub.core import HubStartError
from hub.hookspecs import hookimpl
from hub.storage import Migration


class Visitors:
    """Two migrations that must run in order: the index needs the table."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    def _create(self, db: Any) -> None:
        self.applied.append("0001_log")
        db.table("visitors_log").create({"id": int, "camera": str, "start": float}, pk="id")

    def _index(self, db: Any) -> None:
        self.applied.append("0002_index")
        db.table("visitors_log").create_index(["camera", "start"])

    @hookimpl
    def storage_migrations(self) -> list[Migration]:
        return [Migration("0001_log", self._create), Migration("0002_index", self._index)]


async def _migration_names(hub: Any) -> list[str]:
    return await hub.storage.async_read(
        lambda db: [row["name"] for row in db.table("_migrations").rows]
    )


async def test_migrations_run_once_in_order_under_the_plugin_name(make_hub):
    plugin = Visitors()
    hub = make_hub()
    hub.plugins.register(plugin, "visitors")
    await hub.async_start()
    try:
        assert plugin.applied == ["0001_log", "0002_index"]
        assert hub.storage.applied[-2:] == ["visitors:0001_log", "visitors:0002_index"]
        names = await _migration_names(hub)
        assert "visitors:0001_log" in names and "visitors:0002_index" in names
        await hub.storage.async_write(
            lambda db: db.table("visitors_log").insert({"camera": "front", "start": 1.0})
        )
        indexes = await hub.storage.async_read(
            lambda db: [i.columns for i in db.table("visitors_log").indexes]
        )
        assert ["camera", "start"] in indexes
    finally:
        await hub.async_stop()

    # Restart on the same data dir: nothing is applied twice, the data is still there.
    again = Visitors()
    hub = make_hub()
    hub.plugins.register(again, "visitors")
    await hub.async_start()
    try:
        assert again.applied == []
        assert hub.storage.applied == []
        rows = await hub.storage.async_read(lambda db: db.table("visitors_log").count)
        assert rows == 1
    finally:
        await hub.async_stop()


async def test_the_same_migration_name_in_two_plugins_runs_for_each(make_hub):
    ran: list[str] = []

    def plugin_with(table: str) -> object:
        class Plugin:
            @hookimpl
            def storage_migrations(self) -> list[Migration]:
                def apply(db: Any) -> None:
                    ran.append(table)
                    db.table(table).create({"id": int}, pk="id")

                return [Migration("0001_init", apply)]

        return Plugin()

    hub = make_hub()
    hub.plugins.register(plugin_with("alpha_t"), "alpha")
    hub.plugins.register(plugin_with("beta_t"), "beta")
    await hub.async_start()
    try:
        assert sorted(ran) == ["alpha_t", "beta_t"]
        names = await _migration_names(hub)
        assert {"alpha:0001_init", "beta:0001_init"} <= set(names)
    finally:
        await hub.async_stop()


async def test_a_migration_that_raises_stops_the_start_and_leaves_no_trace(make_hub):
    class Bad:
        @hookimpl
        def storage_migrations(self) -> list[Migration]:
            def apply(db: Any) -> None:
                db.table("bad_t").create({"id": int}, pk="id")
                raise RuntimeError("oops")

            return [Migration("0001_bad", apply)]

    hub = make_hub()
    await hub.async_start()  # core tables exist before the bad plugin arrives
    await hub.async_stop()

    hub = make_hub()
    hub.plugins.register(Bad(), "bad")
    with pytest.raises(HubStartError, match="oops"):
        await hub.async_start()
    await hub.async_stop()

    hub = make_hub()
    await hub.async_start()
    try:
        tables = await hub.storage.async_read(lambda db: db.table_names())
        assert "bad_t" not in tables
        assert "bad:0001_bad" not in await _migration_names(hub)
    finally:
        await hub.async_stop()
