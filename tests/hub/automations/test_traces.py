"""Traces: failures recorded without stopping the rest, pruning, restarts, linked causes."""

from __future__ import annotations

from hub.automations import ManualClock
from hub.events import Context
from tests.hub.automations.conftest import START, hub_for, notifications, wait_traces

FAILING = """\
automations:
  - id: a
    mode: parallel
    trace:
      keep: 3
    triggers:
      - type: webhook
        webhook_id: trace-test-0123456789
    actions:
      - type: snapshot
        camera: porch
      - type: notify
        notifier: phone
        message: "after the failure"
      - type: snapshot
        alias: strict picture
        camera: porch
        continue_on_error: false
      - type: notify
        notifier: phone
        message: "never sent"
"""


def run(hub, n: int = 0):
    return hub.automations.async_run("a", {"n": n}, False, Context())


async def test_a_failed_action_is_traced_and_the_others_still_run(auto_hub):
    hub = await auto_hub(FAILING)
    run(hub)
    [trace] = await wait_traces(hub, "a", 1)
    steps = trace["steps"]
    assert [(s["path"], s["state"]) for s in steps] == [
        ("actions[0]", "error"),
        ("actions[1]", "done"),
        ("actions[2]", "error"),
    ]
    assert steps[0]["error"] == "ActionError: camera 'porch' gave no picture"
    assert steps[2]["alias"] == "strict picture"
    assert trace["state"] == "failed"
    assert trace["error"].startswith("actions[2] failed: ActionError")
    assert [n["body"] for n in await notifications(hub, 1)] == ["after the failure"]
    assert steps[1]["result"]["body"] == "after the failure"
    assert all(s["start"] is not None and s["end"] is not None for s in steps)


async def test_only_the_last_keep_traces_stay_and_they_survive_restart(tmp_path):
    hub = hub_for(tmp_path, FAILING, ManualClock(START))
    await hub.async_start()
    try:
        for n in range(5):
            run(hub, n)
            await hub.automations.clock.async_advance(1)  # type: ignore[attr-defined]
        # All five ended; the flush when idle kept the last three.
        assert [t["trigger"]["n"] for t in await wait_traces(hub, "a", 3)] == [4, 3, 2]
    finally:
        await hub.async_stop()
    hub = hub_for(tmp_path, FAILING, ManualClock(START + 100))
    await hub.async_start()
    try:
        traces = await hub.automations.async_traces("a")
        assert [t["trigger"]["n"] for t in traces] == [4, 3, 2]
        assert traces[0]["steps"][0]["state"] == "error"
    finally:
        await hub.async_stop()


CHAIN = """\
automations:
  - id: leave
    triggers:
      - type: webhook
        webhook_id: chain-test-0123456789
    actions:
      - type: set_mode
        mode: away
  - id: arm
    triggers:
      - type: mode
        to: away
    actions:
      - type: notify
        notifier: phone
        message: "armed ({mode}, was {from_mode})"
"""


async def test_a_run_caused_by_another_automation_links_to_its_trace(auto_hub):
    hub = await auto_hub(CHAIN)
    assert hub.automations.call_webhook("chain-test-0123456789", {})
    [leave] = await wait_traces(hub, "leave", 1)
    [arm] = await wait_traces(hub, "arm", 1)
    assert arm["parent_id"] == leave["context_id"]
    assert arm["caused_by"] == {"automation_id": "leave", "trace_id": leave["id"]}
    assert leave["steps"][0]["result"] == {"mode": "away", "previous": "home"}
    assert [n["body"] for n in await notifications(hub, 1)] == ["armed (away, was home)"]
    # A change made by hand has no cause.
    hub.async_set_mode("home")
    hub.async_set_mode("away")
    traces = await wait_traces(hub, "arm", 2)
    [by_hand] = [t for t in traces if t["id"] != arm["id"]]
    assert by_hand["caused_by"] is None and by_hand["parent_id"] is not None
