"""Actions and conditions: set_mode, record, snapshot, choose/if/stop, and every condition type."""

from __future__ import annotations

import time

import pytest

from hub.automations import ManualClock
from hub.events import Context
from tests.helpers import hub_at, wait_for_state
from tests.hub.automations.conftest import START, clock_of, notifications, wait_traces

BRANCHES = """\
automations:
  - id: a
    mode: parallel
    triggers:
      - type: webhook
        webhook_id: actions-test-0123456789
    actions:
      - type: choose
        choices:
          - conditions:
              - type: and
                conditions:
                  - type: label
                    label: [person, dog]
                  - type: zone
                    zone: steps
                  - type: score
                    above: 0.8
            actions:
              - type: set_mode
                mode: alarm
          - conditions:
              - type: or
                conditions:
                  - type: label
                    label: cat
                  - type: not
                    conditions:
                      - type: mode
                        mode: [home, alarm]
            actions:
              - type: stop
                reason: "cat or not home"
        default:
          - type: set_mode
            mode: night
      - type: if
        conditions:
          - type: camera_state
            camera: porch
            state: online
            seconds: 30
        then:
          - type: set_mode
            mode: online_long
        else:
          - type: stop
            reason: porch not online long enough
            error: true
"""


def run(hub, **variables):
    return hub.automations.async_run("a", variables, False, Context())


@pytest.mark.parametrize(
    ("variables", "mode", "state", "error"),
    [
        ({"label": "dog", "zones": ["steps"], "score": 0.9}, "alarm", "failed",
         "porch not online long enough"),
        ({"label": "dog", "zones": ["steps"], "score": 0.7}, "night", "failed",
         "porch not online long enough"),
        ({"label": "cat"}, "home", "stopped", "cat or not home"),
    ],
)  # fmt: skip
async def test_choose_if_stop_and_conditions(auto_hub, variables, mode, state, error):
    hub = await auto_hub(BRANCHES)
    run(hub, **variables)
    [trace] = await wait_traces(hub, "a", 1)
    assert (hub.mode, trace["state"], trace["error"]) == (mode, state, error)


async def test_camera_state_held_long_enough(auto_hub):
    hub = await auto_hub(BRANCHES)
    hub.states.async_set("camera.porch", "online")
    hub.states._states["camera.porch"] = hub.states.get("camera.porch").__class__(
        "camera.porch", "online", {}, START - 60
    )
    run(hub, label="bird")
    [trace] = await wait_traces(hub, "a", 1)
    assert (hub.mode, trace["state"]) == ("online_long", "finished")
    if_step = next(s for s in trace["steps"] if s["type"] == "if")
    assert if_step["result"]["branch"] == "then"
    assert if_step["result"]["conditions"][0]["result"] is True


async def test_not_home_stops_in_the_second_branch(auto_hub):
    hub = await auto_hub(BRANCHES)
    hub.async_set_mode("away")
    run(hub, label="bird")
    [trace] = await wait_traces(hub, "a", 1)
    assert trace["error"] == "cat or not home"
    assert trace["steps"][0]["path"] == "actions[0]"
    assert trace["steps"][1]["path"] == "actions[0].choices[1].actions[0]"


RECORD = """\
automations:
  - id: a
    triggers:
      - type: webhook
        webhook_id: record-test-0123456789
    actions:
      - type: record
        seconds: 30
        keep: true
"""


async def test_record_holds_recording_and_keeps_the_event(auto_hub):
    hub = await auto_hub(RECORD)
    row = {"id": "ev1", "camera": "porch", "kind": "object", "label": "person", "start": START}
    await hub.storage.async_write(lambda db: db.table("events").insert(row))
    before = time.time()
    run(hub, camera="porch", event_id="ev1")
    [trace] = await wait_traces(hub, "a", 1)
    assert trace["state"] == "finished", trace
    assert hub.cameras["porch"].record_until >= before + 30
    keep = await hub.storage.async_read(
        lambda db: db.execute("select keep from events where id = 'ev1'").fetchone()[0]
    )
    assert keep == 1
    run(hub)  # no camera in the trigger: a clear error in the trace
    traces = await wait_traces(hub, "a", 2)
    assert any(
        t["steps"][0]["error"]
        == "ActionError: no camera: set `camera`, or use a trigger that has one"
        for t in traces
    )


WATCH = """\
automations:
  - id: a
    triggers:
      - type: webhook
        webhook_id: watch-test-0123456789
    actions:
      - type: watch
        camera: porch
        seconds: 120
"""


async def test_watch_has_the_camera_decode_every_frame_for_a_while(auto_hub):
    hub = await auto_hub(WATCH)
    decode = hub.cameras["porch"].decode
    assert not decode.full_wanted()  # adaptive, and nobody asked
    run(hub)
    [trace] = await wait_traces(hub, "a", 1)
    assert trace["state"] == "finished", trace
    assert decode.full_wanted()
    assert 119 <= decode.reasons()["automation a"] <= 120


SNAPSHOT = """\
cameras:
  yard:
    url: demo://
    record:
      mode: 'off'
notifiers:
  phone:
    type: log
automations:
  - id: a
    triggers:
      - type: camera_state
        camera: yard
        to: online
    actions:
      - type: snapshot
      - type: notify
        notifier: phone
        message: "{camera} is {state}"
        snapshot: true
"""


async def test_snapshot_and_notify_with_a_picture_from_a_real_demo_camera(tmp_path):
    hub = hub_at(tmp_path, SNAPSHOT)
    hub.automations.clock = ManualClock(START)
    await hub.async_start()
    try:
        # The camera goes online when its stream does (wall clock); the run follows it.
        await wait_for_state(hub, "camera.yard", "online")
        [trace] = await wait_traces(hub, "a", 1)
        assert trace["state"] == "finished", trace
        path = trace["steps"][0]["result"]["path"]
        assert path.startswith("snapshots/automations/yard/") and hub.footage.exists(path)
        [row] = await notifications(hub, 1)
        assert row["body"] == "yard is online"
        assert trace["steps"][1]["result"]["snapshot"] is True
        assert hub.notifiers["phone"].sent[0].snapshot_jpeg[:2] == b"\xff\xd8"
    finally:
        await hub.async_stop()
    assert clock_of(hub).now() == START


ARMING = """\
automations:
  - id: arm
    triggers:
      - type: mode
    actions:
      - type: if
        conditions:
          - type: mode
            mode: away
        then:
          - type: detection
            enabled: true
        else:
          - type: detection
            camera: porch
            enabled: false
"""


async def test_detection_is_turned_on_and_off_by_the_house_mode(auto_hub):
    hub = await auto_hub(ARMING)
    hub.async_set_mode("night")
    await wait_traces(hub, "arm", 1)
    assert hub.states.get("detection.porch").state == "off"
    assert hub.states.get("detection.garage").state == "on"  # only the porch was named
    assert hub.cameras["porch"].armed is False
    hub.async_set_mode("away")
    await wait_traces(hub, "arm", 2)
    assert {hub.states.get(f"detection.{c}").state for c in ("porch", "garage")} == {"on"}
