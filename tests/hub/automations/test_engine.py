"""The engine end to end: a trigger fires, conditions pass, actions run, the trace says so."""

from __future__ import annotations

from hub.events import Context, EventStarted, MotionStarted
from tests.hub.automations.conftest import (
    START,
    clock_of,
    notifications,
    publish,
    sleepers,
    wait_traces,
)

PORCH = """\
automations:
  - id: porch_person
    alias: Person on the porch at night
    mode: restart
    triggers:
      - type: object
        camera: porch
        label: person
        zone: steps
    conditions:
      - type: time
        after: "22:00"
        before: "06:30"
    actions:
      - type: notify
        notifier: phone
        message: "{label} on the {camera} at {time:%H:%M}"
      - type: delay
        seconds: 120
      - type: notify
        notifier: phone
        message: "still watching {camera}"
"""


MONDAYS = PORCH.replace(
    '        after: "22:00"\n        before: "06:30"\n', "        weekdays: [mon]\n"
)


def person(camera: str = "porch", zones: tuple[str, ...] = ("steps",), start: float = START):
    return EventStarted(
        camera=camera, event_id="ev1", label="person", top_score=0.9, zones=zones, start=start
    )


async def test_issue_example_runs_at_night_with_its_delay(auto_hub):
    # 23:10 in Paris (UTC+2 in June).
    night = START + 9 * 3600 + 10 * 60
    from hub.automations import ManualClock

    hub = await auto_hub(PORCH, ManualClock(night))
    clock = clock_of(hub)
    await publish(hub, person(start=night))
    first = await notifications(hub, 1)
    await sleepers(hub, 1)
    assert [n["body"] for n in first] == ["person on the porch at 23:10"]
    assert first[0]["title"] == "Person on the porch at night"
    await clock.async_advance(119)
    assert len(await notifications(hub)) == 1
    await clock.async_advance(1)
    [trace] = await wait_traces(hub, "porch_person", 1)
    assert [n["body"] for n in await notifications(hub, 2)] == [
        "person on the porch at 23:10",
        "still watching porch",
    ]
    assert trace["state"] == "finished"
    assert trace["trigger"]["label"] == "person"
    assert trace["trigger"]["event"]["event_type"] == "event_started"
    assert [s["state"] for s in trace["steps"]] == ["done", "done", "done"]
    assert trace["conditions"] == [{"path": "conditions[0]", "type": "time", "result": True}]


async def test_condition_false_records_not_met_and_runs_nothing(auto_hub):
    hub = await auto_hub(PORCH)  # 14:00 in Paris
    await publish(hub, person())
    [trace] = await wait_traces(hub, "porch_person", 1)
    assert trace["state"] == "not_met"
    assert trace["conditions"][0]["result"] is False
    assert trace["steps"] == []
    assert await notifications(hub) == []


async def test_trigger_filters_camera_label_and_zone(auto_hub):
    hub = await auto_hub(MONDAYS)
    await publish(hub, person(camera="garage", zones=("steps",)))
    await publish(hub, person(zones=()))
    await publish(
        hub,
        EventStarted(
            camera="porch", event_id="c", label="car", top_score=0.9, zones=("steps",), start=START
        ),
    )
    await publish(hub, MotionStarted(camera="porch", event_id="m"))
    assert await hub.automations.async_traces("porch_person") == []
    await publish(hub, person())
    [trace] = await wait_traces(hub, "porch_person", 1, finished=False)
    assert trace["trigger"]["camera"] == "porch"


async def test_run_context_is_a_child_of_the_event_context(auto_hub):
    hub = await auto_hub(MONDAYS)
    context = Context()
    event = EventStarted(
        camera="porch", event_id="e", label="person", top_score=0.9, zones=("steps",),
        start=START, context=context,
    )  # fmt: skip
    await publish(hub, event)
    [trace] = await wait_traces(hub, "porch_person", 1, finished=False)
    assert trace["parent_id"] == context.id
    assert trace["trigger"]["context_id"] == context.id
    [row] = await notifications(hub, 1)
    assert row["context_id"] == trace["context_id"]
    assert row["automation_id"] == "porch_person"
