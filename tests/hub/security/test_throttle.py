"""Login throttle rules on a real database: pair and address locks, the name-wide delay."""

from __future__ import annotations

import asyncio

import pytest

from hub.security import throttle as throttle_module
from hub.security.throttle import LoginThrottle
from hub.storage import Storage


@pytest.fixture
async def storage(tmp_path):
    store = Storage(tmp_path / "camhub.db")
    await store.async_open()
    yield store
    await store.async_close()


def throttle_on(storage: Storage, now: list[float]) -> LoginThrottle:
    return LoginThrottle(storage, max_failures=3, base_lock=10, max_lock=40, clock=lambda: now[0])


async def test_a_pair_locks_exponentially_and_a_success_clears_only_the_pair(storage):
    now = [1000.0]
    throttle = throttle_on(storage, now)
    assert await throttle.async_failed("a1", "root") == 0
    assert await throttle.async_failed("a1", "Root") == 0  # names are case-insensitive
    assert await throttle.async_failed("a1", "root") == 10
    assert (await throttle.async_check("a1", "ROOT")).locked_for == 10
    assert (await throttle.async_check("a2", "root")).locked_for == 0  # another address
    assert (await throttle.async_check("a1", "ann")).locked_for == 0  # another name
    now[0] += 11
    assert await throttle.async_failed("a1", "root") == 20  # doubled
    now[0] += 21
    await throttle.async_failed("a1", "root")
    now[0] += 41
    assert await throttle.async_failed("a1", "root") == 40  # capped at max_lock
    await throttle.async_succeeded("a1", "root")
    assert (await throttle.async_check("a1", "root")).locked_for == 0
    # The address keeps its count: 6 failures so far, its own lock comes at 9.
    for name in ("x", "y"):
        assert await throttle.async_failed("a1", name) == 0
    assert await throttle.async_failed("a1", "z") == 10
    assert (await throttle.async_check("a1", "root")).locked_for == 10


async def test_failures_from_many_addresses_slow_a_name_down_but_never_lock_it(storage):
    now = [1000.0]
    throttle = throttle_on(storage, now)
    threshold = throttle_module.NAME_FACTOR * throttle.max_failures  # 30
    for i in range(threshold - 1):
        await throttle.async_failed(f"10.0.0.{i}", "root")
    assert await throttle.async_check("192.0.2.1", "root") == throttle_module.Verdict()
    delays = []
    for i in range(threshold - 1, threshold + 12):
        await throttle.async_failed(f"10.0.0.{i}", "root")
        verdict = await throttle.async_check("192.0.2.1", "root")
        assert verdict.locked_for == 0
        delays.append(verdict.delay)
    # 1 s, doubling every `max_failures` further failures, capped at 5 s.
    assert delays == [1.0] * 3 + [2.0] * 3 + [4.0] * 3 + [5.0] * 4
    assert (await throttle.async_check("192.0.2.1", "ann")).delay == 0  # other names unaffected
    now[0] += throttle.forget_after + 1  # quiet for an hour: forgiven
    assert await throttle.async_check("192.0.2.1", "root") == throttle_module.Verdict()


async def test_concurrent_failures_are_all_counted(storage):
    now = [1000.0]
    throttle = throttle_on(storage, now)
    await asyncio.gather(*(throttle.async_failed(f"a{i % 4}", "root") for i in range(40)))
    counts = await storage.async_read(
        lambda db: {r["key"]: r["failures"] for r in db.query("SELECT * FROM login_throttle")}
    )
    assert counts["user:root"] == 40
    assert counts["address:a0"] == counts["pair:a0|root"] == 10


async def test_quiet_rows_are_pruned_and_the_table_stays_bounded(storage, monkeypatch):
    now = [1000.0]
    throttle = throttle_on(storage, now)
    monkeypatch.setattr(throttle_module, "MAX_TRACKED", 20)
    for i in range(15):
        await throttle.async_failed(f"a{i}", f"user{i}")

    async def count() -> int:
        return await storage.async_read(
            lambda db: next(iter(db.query("SELECT count(*) AS n FROM login_throttle")))["n"]
        )

    assert await count() == 45  # pair, address and name for each
    throttle._writes = throttle_module.PRUNE_EVERY  # the next failure prunes
    await throttle.async_failed("b", "root")
    assert await count() == 20  # the newest MAX_TRACKED, the one just counted among them
    assert (await throttle.async_check("b", "root")).locked_for == 0
    assert (
        await storage.async_read(
            lambda db: db.table("login_throttle").count_where("key = ?", ["pair:b|root"])
        )
        == 1
    )
    now[0] += throttle.forget_after + 1
    throttle._writes = throttle_module.PRUNE_EVERY
    await throttle.async_failed("c", "root")
    rows = await storage.async_read(
        lambda db: sorted(r["key"] for r in db.query("SELECT key FROM login_throttle"))
    )
    assert rows == ["address:c", "pair:c|root", "user:root"]


async def test_reservations_let_no_more_than_the_limit_through_at_once(storage):
    now = [1000.0]
    throttle = throttle_on(storage, now)  # a pair locks at 3 failures, an address at 9
    verdicts = await asyncio.gather(*(throttle.async_reserve("a1", "root") for _ in range(30)))
    allowed = [v for v in verdicts if v.locked_for == 0]
    assert len(allowed) == 3
    assert sorted(v.lock_if_failed for v in allowed) == [0, 0, 10]
    # Eight failures of other names; the ninth attempt from a1 would lock the address...
    for name in ("b", "c", "d", "e", "f"):
        assert (await throttle.async_reserve("a1", name)).locked_for == 0
    last = await throttle.async_reserve("a1", "ann")
    assert last.locked_for == 0 and last.lock_if_failed == 10
    assert (await throttle.async_check("a1", "zed")).locked_for == 10
    # ...but its password was right: the address is back to 8 and not locked.
    await throttle.async_release("a1", "ann")
    assert (await throttle.async_check("a1", "zed")).locked_for == 0
    counts = await storage.async_read(
        lambda db: {r["key"]: r["failures"] for r in db.query("SELECT * FROM login_throttle")}
    )
    assert counts["address:a1"] == 8 and "user:ann" not in counts and "pair:a1|ann" not in counts
