"""Run modes under concurrent triggers, with Home Assistant's semantics."""

from __future__ import annotations

import pytest

from hub.events import Context
from tests.hub.automations.conftest import clock_of, sleepers, wait_traces


def automation(mode: str, limit: int = 10) -> str:
    return f"""\
automations:
  - id: a
    mode: {mode}
    max: {limit}
    triggers:
      - type: webhook
        webhook_id: never-called-0123456789
    actions:
      - type: delay
        seconds: 10
      - type: set_mode
        mode: done
"""


def trigger(hub, n: int):
    return hub.automations.async_run("a", {"n": n}, False, Context())


async def waiting(hub, count: int) -> None:
    await sleepers(hub, count)


async def states(hub) -> dict[int, str]:
    found = await hub.automations.async_traces("a")
    return {t["trigger"]["n"]: t["state"] for t in found}


async def test_single_ignores_new_triggers_while_running(auto_hub):
    hub = await auto_hub(automation("single"))
    assert trigger(hub, 1) is not None
    await waiting(hub, 1)
    assert trigger(hub, 2) is None
    assert trigger(hub, 3) is None
    await clock_of(hub).async_advance(10)
    await wait_traces(hub, "a", 1)
    assert await states(hub) == {1: "finished"}
    assert trigger(hub, 4) is not None


async def test_restart_cancels_the_run_in_its_delay(auto_hub):
    hub = await auto_hub(automation("restart"))
    trigger(hub, 1)
    await waiting(hub, 1)
    await clock_of(hub).async_advance(5)
    trigger(hub, 2)
    trigger(hub, 3)
    await wait_traces(hub, "a", 2)
    await waiting(hub, 1)
    await clock_of(hub).async_advance(5)
    assert hub.mode != "done"  # the first run's delay was cancelled with it
    await clock_of(hub).async_advance(5)
    await wait_traces(hub, "a", 3)
    assert await states(hub) == {1: "cancelled", 2: "cancelled", 3: "finished"}
    found = {t["trigger"]["n"]: t for t in await hub.automations.async_traces("a")}
    assert found[1]["error"] == "restarted"
    assert found[1]["steps"][0]["state"] == "cancelled"
    # A cancelled run leaves no stored waiting run behind.
    rows = await hub.storage.async_read(
        lambda db: db.execute("select count(*) from automation_runs").fetchone()[0]
    )
    assert rows == 0


async def test_queued_runs_in_order_up_to_max(auto_hub):
    hub = await auto_hub(automation("queued", 2))
    first = trigger(hub, 1)
    second = trigger(hub, 2)
    third = trigger(hub, 3)
    assert first is not None and second is not None and third is None
    assert second.state == "queued"
    await waiting(hub, 1)
    assert await states(hub) == {1: "waiting", 2: "queued"}
    await clock_of(hub).async_advance(10)
    await wait_traces(hub, "a", 1)
    await waiting(hub, 1)
    assert (await states(hub))[2] == "waiting"
    await clock_of(hub).async_advance(10)
    await wait_traces(hub, "a", 2)
    found = await hub.automations.async_traces("a")
    by_n = {t["trigger"]["n"]: t for t in found}
    assert by_n[2]["started"] >= by_n[1]["finished"]


@pytest.mark.parametrize("limit", [1, 3])
async def test_parallel_up_to_max(auto_hub, limit):
    hub = await auto_hub(automation("parallel", limit))
    started = [trigger(hub, n) for n in range(limit + 2)]
    assert sum(t is not None for t in started) == limit
    await waiting(hub, limit)
    await clock_of(hub).async_advance(10)
    await wait_traces(hub, "a", limit)
    assert set((await states(hub)).values()) == {"finished"}
