"""Runs waiting in a delay or wait_for_trigger survive a real hub restart on the same data dir."""

from __future__ import annotations

from hub.automations import ManualClock
from hub.events import Context
from tests.hub.automations.conftest import (
    START,
    clock_of,
    hub_for,
    notifications,
    sleepers,
    wait_traces,
)

DELAYED = """\
automations:
  - id: a
    variables:
      n: 0  # "run now" passes its own
    triggers:
      - type: webhook
        webhook_id: durable-test-0123456789
    actions:
      - type: notify
        notifier: phone
        message: "first {n}"
      - type: if
        conditions:
          - type: mode
            mode: home
        then:
          - type: delay
            seconds: 120
          - type: notify
            notifier: phone
            message: "inner {n}"
      - type: notify
        notifier: phone
        message: "after {n}"
"""


async def start_waiting(tmp_path, text: str = DELAYED):
    hub = hub_for(tmp_path, text, ManualClock(START))
    await hub.async_start()
    hub.automations.async_run("a", {"n": 7}, False, Context())
    await sleepers(hub, 1)
    await clock_of(hub).async_advance(30)
    await hub.async_stop()
    return hub


async def stored_runs(hub) -> int:
    return await hub.storage.async_read(
        lambda db: db.execute("select count(*) from automation_runs").fetchone()[0]
    )


async def test_a_delay_resumes_with_the_remaining_time_after_restart(tmp_path):
    await start_waiting(tmp_path)
    hub = hub_for(tmp_path, DELAYED, ManualClock(START + 60))
    await hub.async_start()
    try:
        assert await stored_runs(hub) == 1
        await sleepers(hub, 1)
        await clock_of(hub).async_advance(59)
        assert [n["body"] for n in await notifications(hub)] == ["first 7"]
        await clock_of(hub).async_advance(1)
        bodies = [n["body"] for n in await notifications(hub, 3)]
        assert bodies == ["first 7", "inner 7", "after 7"]
        [trace] = await wait_traces(hub, "a", 1)
        assert trace["state"] == "finished"
        assert [(s["path"], s["state"]) for s in trace["steps"]] == [
            ("actions[0]", "done"),
            ("actions[1]", "done"),
            ("actions[1].then[0]", "done"),
            ("actions[1].then[1]", "done"),
            ("actions[2]", "done"),
        ]
        await hub.async_block_till_done()
        assert await stored_runs(hub) == 0
    finally:
        await hub.async_stop()


async def test_a_delay_whose_deadline_passed_while_down_is_reported_expired(tmp_path):
    await start_waiting(tmp_path)
    hub = hub_for(tmp_path, DELAYED, ManualClock(START + 500))
    await hub.async_start()
    try:
        [trace] = await wait_traces(hub, "a", 1)
        assert trace["state"] == "expired"
        assert trace["error"] == "delay ended while the hub was down"
        assert trace["steps"][-1]["state"] == "expired"
        await clock_of(hub).async_advance(1000)
        assert [n["body"] for n in await notifications(hub)] == ["first 7"]
        assert await stored_runs(hub) == 0
    finally:
        await hub.async_stop()


WAITING = """\
automations:
  - id: a
    triggers:
      - type: webhook
        webhook_id: durable-test-0123456789
    actions:
      - type: wait_for_trigger
        timeout: 300
        continue_on_timeout: false
        triggers:
          - type: mode
            to: away
      - type: notify
        notifier: phone
        message: "went away after {wait}"
"""


async def test_wait_for_trigger_survives_restart_and_then_fires(tmp_path):
    await start_waiting(tmp_path, WAITING)
    hub = hub_for(tmp_path, WAITING, ManualClock(START + 100))
    await hub.async_start()
    try:
        await sleepers(hub, 1)
        hub.async_set_mode("away")
        [row] = await notifications(hub, 1)
        assert row["body"].startswith("went away after {")  # what the wait found
        [trace] = await wait_traces(hub, "a", 1)
        assert trace["state"] == "finished"
        assert trace["steps"][0]["result"]["triggered"] is True
        assert trace["steps"][0]["result"]["trigger"]["mode"] == "away"
    finally:
        await hub.async_stop()


async def test_wait_for_trigger_times_out_on_the_resumed_deadline(tmp_path):
    await start_waiting(tmp_path, WAITING)
    hub = hub_for(tmp_path, WAITING, ManualClock(START + 100))
    await hub.async_start()
    try:
        await sleepers(hub, 1)
        await clock_of(hub).async_advance(199)
        assert await hub.automations.async_traces("a") != []
        await clock_of(hub).async_advance(1)
        [trace] = await wait_traces(hub, "a", 1)
        assert (trace["state"], trace["error"]) == ("stopped", "wait_for_trigger timed out")
        assert await notifications(hub) == []
    finally:
        await hub.async_stop()


async def test_disabling_cancels_a_resumed_run_for_good(tmp_path):
    await start_waiting(tmp_path)
    hub = hub_for(tmp_path, DELAYED, ManualClock(START + 60))
    await hub.async_start()
    try:
        await hub.automations.async_set_enabled("a", False)
    finally:
        await hub.async_stop()
    hub = hub_for(tmp_path, DELAYED, ManualClock(START + 70))
    await hub.async_start()
    try:
        traces = await hub.automations.async_traces("a")
        assert [t["state"] for t in traces] == ["cancelled"]
        assert await stored_runs(hub) == 0
    finally:
        await hub.async_stop()
