"""ONVIF events through a real hub: pull-point messages become OnvifEvents and camera motion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.events import OnvifEvent
from plugins.onvif.events import (
    Notification,
    motion_of,
    parse_notifications,
    pull_point_url,
)
from plugins.onvif.soap import body_of
from tests.helpers import wait_for_state, wait_until
from tests.servers.onvif_sim import OnvifSimulator, SimOptions

pytestmark = pytest.mark.timeout(40)
CELL_MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"


def camera_yaml(sim: OnvifSimulator, motion: str = "camera", password: str = "s3cret-pass") -> str:
    return (
        "plugins: {disabled: [discovery]}\n"
        "cameras:\n"
        "  porch:\n"
        "    url: demo://\n"
        "    record: {mode: 'off'}\n"
        f"    motion: {{source: {motion}, end_after: 0.5}}\n"
        "    onvif:\n"
        f"      device_url: {sim.device_url}\n"
        "      username: admin\n"
        "      password: !secret porch_onvif\n"
    ), f"porch_onvif: {password}\n"


@pytest.fixture
async def sim() -> AsyncIterator[OnvifSimulator]:
    simulator = await OnvifSimulator(SimOptions(odd_prefixes=True)).start()
    yield simulator
    await simulator.close()


async def _started(make_hub: Any, text: tuple[str, str]) -> Any:
    hub = make_hub(*text)
    await hub.async_start()
    return hub


async def test_a_pull_point_message_moves_the_hubs_motion_state(make_hub, sim):
    hub = await _started(make_hub, camera_yaml(sim))
    try:
        events = hub.bus.subscribe("test", (OnvifEvent,))
        await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
        await wait_for_state(hub, "motion.porch", "off")
        await wait_for_state(hub, "onvif.porch", "connected")

        sim.push_event(CELL_MOTION, {"IsMotion": "true"})
        await wait_for_state(hub, "motion.porch", "on", timeout=10)
        event = await events.get()
        assert event.camera == "porch"
        assert event.topic == "RuleEngine/CellMotionDetector/Motion"
        assert event.data == {"IsMotion": "true"}
        assert event.source == {"VideoSourceConfigurationToken": "vsc0"}

        sim.push_event(CELL_MOTION, {"IsMotion": "false"})
        await wait_for_state(hub, "motion.porch", "off", timeout=10)
    finally:
        await hub.async_stop()
    assert sim.unsubscribed == 1  # the hub said goodbye at shutdown


async def test_every_message_is_an_onvif_event_even_without_camera_motion(make_hub, sim):
    hub = await _started(make_hub, camera_yaml(sim, motion="hub"))
    try:
        events = hub.bus.subscribe("test", (OnvifEvent,))
        await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
        sim.push_event("tns1:Device/Trigger/DigitalInput", {"LogicalState": "true"}, {"Input": "1"})
        event = await events.get()
        assert (event.topic, event.data, event.source) == (
            "Device/Trigger/DigitalInput",
            {"LogicalState": "true"},
            {"Input": "1"},
        )
        assert hub.states.get("motion.porch").state == "off"
    finally:
        await hub.async_stop()


async def test_a_wrong_password_is_a_logged_retry_not_a_crash(make_hub, sim, caplog):
    hub = await _started(make_hub, camera_yaml(sim, password="wrong-pass"))
    try:
        await wait_until(lambda: "wrong username or password" in caplog.text, 10, "the warning")
        attributes = await wait_for_state(hub, "onvif.porch", "error")
        assert attributes == {"reason": "wrong username or password"}
        assert not sim.subscriptions
        assert "wrong-pass" not in caplog.text
    finally:
        await hub.async_stop()


async def test_the_subscription_is_renewed_and_recreated_after_a_camera_reboot(
    make_hub, sim, monkeypatch
):
    monkeypatch.setattr("plugins.onvif.events.SUBSCRIPTION_SECONDS", 1)
    monkeypatch.setattr("plugins.onvif.events.RETRY_SECONDS", 0.2)
    hub = await _started(make_hub, camera_yaml(sim))
    try:
        await wait_until(lambda: sim.renewals >= 2, 10, "two renewals")
        sim.push_event(CELL_MOTION, {"IsMotion": "true"})
        await wait_for_state(hub, "motion.porch", "on", timeout=10)
        [first] = list(sim.subscriptions)
        sim.subscriptions.clear()  # the camera rebooted and forgot us: its motion is stale
        await wait_for_state(hub, "motion.porch", "off", timeout=10)
        await wait_until(lambda: sim.subscriptions, 10, "a new subscription")
        assert list(sim.subscriptions) != [first]
        sim.push_event(CELL_MOTION, {"IsMotion": "true"})
        await wait_for_state(hub, "motion.porch", "on", timeout=10)
    finally:
        await hub.async_stop()


def test_motion_topics_and_their_values():
    assert motion_of(Notification("VideoSource/MotionAlarm", data={"State": "true"})) is True
    assert motion_of(Notification("VideoSource/MotionAlarm", data={"State": "false"})) is False
    assert motion_of(Notification("RuleEngine/CellMotionDetector/Motion", data={"IsMotion": "1"}))
    assert motion_of(Notification("RuleEngine/VMD3/vmd3_video_1", data={"active": "1"})) is True
    # A person is not motion (see test_onvif_vendor_events.py for every vendor's topics).
    people = Notification("RuleEngine/MyRuleDetector/PeopleDetect", data={"State": "1"})
    assert motion_of(people) is None
    # A vendor topic that says Motion, with a usual item name, counts too.
    assert motion_of(Notification("Vendor/SmartMotion", data={"State": "true"})) is True
    assert motion_of(Notification("Device/Trigger/DigitalInput", data={"State": "true"})) is None
    assert motion_of(Notification("VideoSource/MotionAlarm", data={"Other": "true"})) is None


def test_pull_messages_are_parsed_whatever_the_prefixes():
    answer = b"""<?xml version="1.0"?>
<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope"
 xmlns:q="http://docs.oasis-open.org/wsn/b-2" xmlns:z="http://www.onvif.org/ver10/schema"
 xmlns:e="http://www.onvif.org/ver10/events/wsdl"><S:Body><e:PullMessagesResponse>
<q:NotificationMessage><q:Topic Dialect="x">tns1:VideoSource/MotionAlarm</q:Topic>
<q:Message><z:Message PropertyOperation="Initialized"><z:Source>
<z:SimpleItem Name="Source" Value="vs1"/></z:Source><z:Data>
<z:SimpleItem Name="State" Value="true"/></z:Data></z:Message></q:Message>
</q:NotificationMessage>
<q:NotificationMessage><q:Topic/></q:NotificationMessage>
</e:PullMessagesResponse></S:Body></S:Envelope>"""
    [message] = parse_notifications(body_of(answer))
    assert message == Notification(
        "VideoSource/MotionAlarm", {"Source": "vs1"}, {"State": "true"}, "Initialized"
    )


async def test_a_pull_point_named_by_its_path_alone_is_reached_at_the_events_service(make_hub):
    # A real device answered CreatePullPointSubscription with `/onvif/Subscription?Idx=1`
    # and was refused as "no pull-point address".
    sim = await OnvifSimulator(SimOptions(pull_point_address="relative")).start()
    hub = await _started(make_hub, camera_yaml(sim))
    try:
        await wait_for_state(hub, "onvif.porch", "connected")
        sim.push_event(CELL_MOTION, {"IsMotion": "true"})
        await wait_for_state(hub, "motion.porch", "on", timeout=10)
        assert "PullMessages" in sim.calls
    finally:
        await hub.async_stop()
        await sim.close()
    assert sim.unsubscribed == 1


def test_pull_point_addresses_absolute_relative_and_missing():
    events = "http://10.0.0.5:8000/onvif/events_service"
    assert pull_point_url("http://10.0.0.5:8000/sub/1", events) == "http://10.0.0.5:8000/sub/1"
    assert pull_point_url("/onvif/Subscription?Idx=1", events) == (
        "http://10.0.0.5:8000/onvif/Subscription?Idx=1"
    )
    assert pull_point_url("Subscription?Idx=2", events) == (
        "http://10.0.0.5:8000/onvif/Subscription?Idx=2"
    )
    assert pull_point_url("", events) is None
    assert pull_point_url("mailto:x@y", events) is None


async def test_the_cameras_own_motion_wakes_an_idle_camera_at_once(make_hub, sim):
    # The hub looks for motion itself (adaptive, idle on keyframes); the camera's own motion
    # event has it decode every frame without waiting for the next keyframe to show it.
    hub = await _started(make_hub, camera_yaml(sim, motion="hub"))
    try:
        decode = hub.cameras["porch"].decode
        await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
        await wait_until(lambda: decode.mode == "idle", 20, "an idle camera")
        sim.push_event(CELL_MOTION, {"IsMotion": "true"})
        await wait_until(lambda: "camera motion" in decode.reasons(), 10, "a wake-up asked")
        await wait_until(lambda: decode.mode == "full", 10, "every frame decoded")
        assert decode.wakeups >= 1
    finally:
        await hub.async_stop()
