"""Each built-in trigger fires when it should and stays quiet when it should not."""

from __future__ import annotations

from hub.automations import ManualClock
from hub.events import (
    EventEnded,
    EventStarted,
    EventUpdated,
    MotionEnded,
    MotionStarted,
    OnvifEvent,
)
from tests.hub.automations.conftest import START, clock_of, publish, traces, wait_traces


def automation(trigger: str, automation_id: str = "a") -> str:
    return f"""\
automations:
  - id: {automation_id}
    mode: parallel
    triggers:
{trigger}
    actions:
      - type: stop
"""


async def fired(hub, automation_id: str = "a") -> list[dict]:
    return [t["trigger"] for t in reversed(await traces(hub, automation_id))]


async def test_motion_started_and_ended(auto_hub):
    hub = await auto_hub(
        automation("      - type: motion\n        camera: porch\n", "start")
        + automation("      - type: motion\n        event: ended\n", "end")[len("automations:\n") :]
    )
    await publish(hub, MotionStarted(camera="garage", event_id="g"))
    await publish(hub, MotionStarted(camera="porch", event_id="p"))
    await publish(hub, MotionEnded(camera="garage", event_id="g", duration=3.0))
    await wait_traces(hub, "end", 1)
    assert [t["event_id"] for t in await fired(hub, "start")] == ["p"]
    assert [(t["camera"], t["motion"]) for t in await fired(hub, "end")] == [("garage", "ended")]


def obj(event_id: str, label: str = "person", score: float = 0.9, zones=("steps",), start=START,
        kind=EventStarted):  # fmt: skip
    return kind(camera="porch", event_id=event_id, label=label, top_score=score, zones=zones,
                start=start)  # fmt: skip


async def test_object_label_zone_score_and_once_per_event(auto_hub):
    hub = await auto_hub(
        automation(
            "      - type: object\n        camera: porch\n        label: person\n"
            "        zone: steps\n        min_score: 0.7\n"
        )
    )
    await publish(hub, obj("low", score=0.5))
    await publish(hub, obj("car", label="car"))
    await publish(hub, obj("yard", zones=("yard",)))
    # The same event rises above the score, enters the zone: it fires then, once.
    await publish(hub, obj("low", score=0.8, kind=EventUpdated))
    await publish(hub, obj("yard", zones=("yard", "steps"), kind=EventUpdated))
    await publish(hub, obj("yard", zones=("steps",), score=0.95, kind=EventUpdated))
    await wait_traces(hub, "a", 2)
    got = await fired(hub)
    assert sorted((t["event_id"], t["zone"], t["score"]) for t in got) == [
        ("low", "steps", 0.8),
        ("yard", "steps", 0.9),
    ]


async def test_object_min_duration_waits_on_the_clock(auto_hub):
    hub = await auto_hub(automation("      - type: object\n        min_duration: 10\n"))
    clock = clock_of(hub)
    await publish(hub, obj("brief"))
    await publish(hub, obj("long"))
    await clock.async_advance(5)
    ended = EventEnded(
        camera="porch", event_id="brief", label="person", top_score=0.9, zones=("steps",),
        start=START, end=START + 5,
    )  # fmt: skip
    await publish(hub, ended)
    await clock.async_advance(4)
    assert await fired(hub) == []
    await clock.async_advance(1)
    await wait_traces(hub, "a", 1)
    assert [t["event_id"] for t in await fired(hub)] == ["long"]


async def test_camera_state_with_hold_time(auto_hub):
    hub = await auto_hub(
        automation(
            "      - type: camera_state\n        camera: porch\n        to: offline\n"
            "        seconds: 60\n"
        )
    )
    clock = clock_of(hub)
    hub.states.async_set("camera.porch", "online")
    hub.states.async_set("camera.porch", "offline")
    await hub.bus.async_drain(5)
    await clock.async_advance(30)
    hub.states.async_set("camera.porch", "online")  # back before the minute: nothing
    await hub.bus.async_drain(5)
    await clock.async_advance(60)
    assert await fired(hub) == []
    hub.states.async_set("camera.porch", "offline", {"reason": "timeout"})
    hub.states.async_set("camera.garage", "offline")
    await hub.bus.async_drain(5)
    await clock.async_advance(60)
    await wait_traces(hub, "a", 1)
    [trigger] = await fired(hub)
    assert (trigger["camera"], trigger["state"], trigger["reason"]) == (
        "porch",
        "offline",
        "timeout",
    )


async def test_onvif_topic_filter_and_data(auto_hub):
    hub = await auto_hub(
        automation(
            "      - type: onvif_event\n        topic: RuleEngine/*/Motion\n"
            "        data: {IsMotion: 'true'}\n"
        )
    )
    topic = "RuleEngine/CellMotionDetector/Motion"
    await publish(hub, OnvifEvent(camera="porch", topic=topic, data={"IsMotion": "false"}))
    await publish(hub, OnvifEvent(camera="porch", topic="VideoSource/Tamper", data={}))
    await publish(
        hub, OnvifEvent(camera="porch", topic=topic + "/Extra", data={"IsMotion": "true"})
    )
    await publish(hub, OnvifEvent(camera="porch", topic=topic, data={"IsMotion": "true"}))
    await wait_traces(hub, "a", 1)
    [trigger] = await fired(hub)
    assert trigger["topic"] == topic and trigger["data"] == {"IsMotion": "true"}


async def test_time_trigger_at_and_cron(auto_hub):
    # START is 14:00 in Paris on a Monday.
    hub = await auto_hub(
        automation("      - type: time\n        at: ['14:30', '16:00']\n", "at")
        + automation("      - type: time\n        cron: '0 */6 * * *'\n", "cron")[
            len("automations:\n") :
        ]
    )
    clock = clock_of(hub)
    await clock.async_advance(29 * 60)
    assert await fired(hub, "at") == []
    await clock.async_advance(60)
    await wait_traces(hub, "at", 1)
    await clock.async_advance(24 * 3600)
    await wait_traces(hub, "at", 3)
    assert len(await fired(hub, "at")) == 3
    # 18:00, 00:00, 06:00, 12:00 in the 24 h 30 min that passed.
    assert len(await fired(hub, "cron")) == 4


async def test_sun_trigger(auto_hub):
    hub = await auto_hub(
        automation("      - type: sun\n        event: sunset\n        offset: -600\n")
    )
    clock = clock_of(hub)
    # Paris, 3 June 2024: sunset 21:47 CEST, so the trigger is due at 21:37.
    await clock.async_advance(7 * 3600 + 30 * 60)
    assert await fired(hub) == []
    await clock.async_advance(15 * 60)
    await wait_traces(hub, "a", 1)
    [trigger] = await fired(hub)
    assert trigger["event"] == "sunset"
    from datetime import datetime
    from zoneinfo import ZoneInfo

    due = datetime.fromtimestamp(trigger["scheduled"], ZoneInfo("Europe/Paris"))
    assert due.strftime("%H:%M") in ("21:36", "21:37", "21:38")


async def test_mode_trigger_to_and_from(auto_hub):
    hub = await auto_hub(automation("      - type: mode\n        to: away\n        from: home\n"))
    hub.async_set_mode("night")
    hub.async_set_mode("away")  # from night: no
    hub.async_set_mode("home")
    hub.async_set_mode("away")  # from home: yes
    await hub.bus.async_drain(5)
    await wait_traces(hub, "a", 1)
    assert [(t["mode"], t["from_mode"]) for t in await fired(hub)] == [("away", "home")]


async def test_webhook_trigger_through_the_engine(auto_hub):
    hub = await auto_hub(
        automation("      - type: webhook\n        webhook_id: abcdefghijklmnop1234\n")
    )
    assert not hub.automations.call_webhook("abcdefghijklmnop12345", {})
    assert hub.automations.call_webhook("abcdefghijklmnop1234", {"x": 1})
    await wait_traces(hub, "a", 1)
    [trigger] = await fired(hub)
    assert trigger["payload"] == {"x": 1}
    assert trigger["webhook_id"] == "***"  # the secret stays out of traces


async def test_manual_clock_sleepers_do_not_pile_up(auto_hub):
    hub = await auto_hub(automation("      - type: time\n        at: '14:30'\n"))
    clock = clock_of(hub)
    for _ in range(5):
        await clock.async_advance(24 * 3600)
    assert clock.sleepers == 1
    assert isinstance(clock, ManualClock)
