"""The vendor event table: each row, fed the message its vendors document, means what it should.

Every message below is written from the shape the vendor documents (topic with the
vendor's own namespace prefix, Source and Data simple items) and goes through the
same parsing as a real PullMessages answer. Then two rows end to end, through a hub
and the ONVIF simulator: Axis VMD4 motion and Reolink person detection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.events import EventEnded, EventStarted
from plugins.onvif.events import parse_notifications
from plugins.onvif.soap import body_of
from plugins.onvif.vendor_events import VENDOR_TOPICS, Signal, rule_for, signal_of
from tests.helpers import wait_for_state
from tests.servers.onvif_sim import OnvifSimulator

pytestmark = pytest.mark.timeout(40)

PREFIXES = {
    "tns1": "http://www.onvif.org/ver10/topics",
    "tnsaxis": "http://www.axis.com/2009/event/topics",
    "tnshik": "http://www.hikvision.com/2011/event/topics",
}
VSC = {"VideoSourceConfigurationToken": "VideoSourceToken"}
RULE = {**VSC, "VideoAnalyticsConfigurationToken": "VideoAnalyticsToken", "Rule": "MyRule"}
REOLINK = {"Source": "000"}

# (what it is, topic as sent, Source items, Data items, what it must mean)
CASES: list[tuple[str, str, dict[str, str], dict[str, str], Signal | None]] = [
    ("ONVIF cell motion", "tns1:RuleEngine/CellMotionDetector/Motion", RULE,
     {"IsMotion": "true"}, Signal("motion", True)),
    ("Hikvision/Dahua motion alarm", "tns1:VideoSource/MotionAlarm", {"Source": "VideoSource_1"},
     {"State": "true"}, Signal("motion", True)),
    ("Axis motion region", "tns1:RuleEngine/MotionRegionDetector/Motion", RULE,
     {"State": "1"}, Signal("motion", True)),
    ("analytics motion", "tns1:VideoAnalytics/Motion", VSC, {"State": "false"},
     Signal("motion", False)),
    ("Hikvision/Dahua field detection", "tns1:RuleEngine/FieldDetector/ObjectsInside", RULE,
     {"IsInside": "true"}, Signal("motion", True)),
    ("Hikvision alarm input", "tns1:Device/Trigger/tnshik:AlarmIn",
     {"AlarmInToken": "AlarmIn_1"}, {"State": "true"}, Signal("motion", True)),
    ("Axis VMD4, any profile", "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY", {},
     {"active": "1"}, Signal("motion", True)),
    ("Axis VMD4, profile 1", "tnsaxis:CameraApplicationPlatform/VMD/Camera1Profile1", {},
     {"active": "0"}, Signal("motion", False)),
    ("Axis VMD3", "tns1:RuleEngine/tnsaxis:VMD3/vmd3_video_1", {"areaid": "0"},
     {"active": "1"}, Signal("motion", True)),
    ("Axis Motion Guard", "tnsaxis:CameraApplicationPlatform/MotionGuard/Camera1ProfileANY", {},
     {"active": "1"}, Signal("motion", True)),
    ("Axis motion window", "tns1:VideoAnalytics/tnsaxis:MotionDetection", {"window": "0"},
     {"motion": "1"}, Signal("motion", True)),
    ("Axis PIR", "tns1:Device/tnsaxis:Sensor/PIR", {"sensor": "0"}, {"state": "1"},
     Signal("motion", True)),
    ("Axis Object Analytics, human",
     "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1ScenarioANY", {},
     {"active": "1", "classTypes": "human", "objectId": "370312"}, Signal("person", True)),
    ("Axis Object Analytics, truck",
     "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1ScenarioANY", {},
     {"active": "0", "classTypes": "truck"}, Signal("vehicle", False)),
    ("Axis Object Analytics, scenario",
     "tnsaxis:CameraApplicationPlatform/ObjectAnalytics/Device1Scenario1", {},
     {"active": "1"}, Signal("motion", True)),
    ("Reolink motion", "tns1:RuleEngine/MyRuleDetector/Motion", REOLINK, {"State": "true"},
     Signal("motion", True)),
    ("Reolink person", "tns1:RuleEngine/MyRuleDetector/PeopleDetect", REOLINK,
     {"State": "true"}, Signal("person", True)),
    ("Reolink vehicle", "tns1:RuleEngine/MyRuleDetector/VehicleDetect", REOLINK,
     {"State": "false"}, Signal("vehicle", False)),
    ("Reolink dog/cat", "tns1:RuleEngine/MyRuleDetector/DogCatDetect", REOLINK,
     {"State": "true"}, Signal("animal", True)),
    ("Reolink face", "tns1:RuleEngine/MyRuleDetector/FaceDetect", REOLINK, {"State": "true"},
     Signal("face", True)),
    ("Reolink package", "tns1:RuleEngine/MyRuleDetector/Package", REOLINK, {"State": "true"},
     Signal("package", True)),
    # A doorbell press is not motion nor an object: an ONVIF event for automations.
    ("Reolink visitor", "tns1:RuleEngine/MyRuleDetector/Visitor", REOLINK, {"State": "true"},
     None),
    ("Tapo person", "tns1:RuleEngine/PeopleDetector/People", RULE, {"IsPeople": "true"},
     Signal("person", True)),
    ("Tapo person, older firmware", "tns1:RuleEngine/CellMotionDetector/People", RULE,
     {"IsPeople": "false"}, Signal("person", False)),
    ("Tapo smart event, vehicle", "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent", RULE,
     {"IsVehicle": "true"}, Signal("vehicle", True)),
    ("Tapo smart event, pet", "tns1:RuleEngine/TPSmartEventDetector/TPSmartEvent", RULE,
     {"IsPet": "true"}, Signal("animal", True)),
    ("Tapo smart event, older firmware", "tns1:RuleEngine/CellMotionDetector/TpSmartEvent",
     RULE, {"IsPeople": "true"}, Signal("person", True)),
    ("Tapo intrusion", "tns1:RuleEngine/CellMotionDetector/Intrusion", RULE,
     {"IsIntrusion": "true"}, Signal("motion", True)),
    ("Tapo intrusion, newer firmware", "tns1:RuleEngine/IntrusionDetector/Intrusion", RULE,
     {"IsIntrusion": "true"}, Signal("motion", True)),
    ("Tapo line crossing", "tns1:RuleEngine/CellMotionDetector/LineCross", RULE,
     {"IsLineCross": "true"}, Signal("motion", True)),
    ("Tapo line crossing, newer firmware", "tns1:RuleEngine/LineCrossDetector/LineCross", RULE,
     {"IsLineCross": "true"}, Signal("motion", True)),
    ("Uniview human shape", "tns1:UserAlarm/IVA/HumanShapeDetect", VSC, {"State": "true"},
     Signal("person", True)),
    # Not motion, nor an object: left as plain ONVIF events.
    ("Tapo tamper", "tns1:RuleEngine/CellMotionDetector/Tamper", RULE, {"IsTamper": "true"},
     None),
    ("digital input", "tns1:Device/Trigger/DigitalInput", {"InputToken": "1"},
     {"LogicalState": "true"}, None),
    ("a state that is no state", "tns1:VideoSource/MotionAlarm", VSC, {"State": "Ring"}, None),
    ("a vendor's own motion topic", "tns1:RuleEngine/tnsfoo:SmartMotion/Zone1", VSC,
     {"IsMotion": "1"}, Signal("motion", True)),
]  # fmt: skip


def pull_answer(topic: str, source: dict[str, str], data: dict[str, str], op: str) -> bytes:
    """A PullMessagesResponse holding one notification, as a camera sends it."""

    def items(values: dict[str, str]) -> str:
        return "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in values.items())

    declarations = " ".join(f'xmlns:{p}="{ns}"' for p, ns in PREFIXES.items())
    return (
        '<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:tev="http://www.onvif.org/ver10/events/wsdl"'
        ' xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"'
        f' xmlns:tt="http://www.onvif.org/ver10/schema" {declarations}><env:Body>'
        "<tev:PullMessagesResponse><wsnt:NotificationMessage>"
        '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
        f"{topic}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="2025-05-01T10:00:00Z" PropertyOperation="{op}">'
        f"<tt:Source>{items(source)}</tt:Source><tt:Data>{items(data)}</tt:Data>"
        "</tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse>"
        "</env:Body></env:Envelope>"
    ).encode()


@pytest.mark.parametrize(("what", "topic", "source", "data", "meaning"), CASES)
def test_each_vendor_message_means_what_its_vendor_says(
    what: str, topic: str, source: dict[str, str], data: dict[str, str], meaning: Signal | None
):
    [notification] = parse_notifications(body_of(pull_answer(topic, source, data, "Changed")))
    assert signal_of(notification) == meaning, what


def test_every_row_of_the_table_has_a_message_of_its_own():
    covered = set()
    for _, topic, source, data, _ in CASES:
        [notification] = parse_notifications(body_of(pull_answer(topic, source, data, "Changed")))
        rule = rule_for(notification.topic)
        if rule is not None:
            covered.add(rule.topic)
    assert covered == {rule.topic for rule in VENDOR_TOPICS}


def test_a_deleted_property_ends_what_it_said():
    answer = pull_answer("tns1:RuleEngine/MyRuleDetector/PeopleDetect", REOLINK, {"State": "true"},
                         "Deleted")  # fmt: skip
    [notification] = parse_notifications(body_of(answer))
    assert signal_of(notification) == Signal("person", False)


# ---------------------------------------------------------------- through a hub


@pytest.fixture
async def sim() -> AsyncIterator[OnvifSimulator]:
    simulator = await OnvifSimulator().start()
    yield simulator
    await simulator.close()


def camera(sim: OnvifSimulator, motion: str, objects: str) -> str:
    return (
        "plugins: {disabled: [discovery]}\n"
        "cameras:\n"
        "  porch:\n"
        "    url: demo://\n"
        "    record: {mode: 'off'}\n"
        f"    motion: {{source: {motion}, end_after: 0.5}}\n"
        f"    objects: {{source: {objects}, labels: [person, animal]}}\n"
        "    onvif:\n"
        f"      device_url: {sim.device_url}\n"
        "      username: admin\n"
        "      password: s3cret-pass\n"
    )


async def _started(make_hub: Any, text: str) -> Any:
    hub = make_hub(text)
    await hub.async_start()
    await wait_for_state(hub, "onvif.porch", "connected")
    return hub


async def test_axis_vmd4_moves_the_motion_of_a_camera_source_camera(make_hub, sim):
    # An Axis camera never got motion: its default detector publishes VMD4 with `active`.
    hub = await _started(make_hub, camera(sim, "camera", "hub"))
    try:
        topic = "tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY"
        sim.push_event(topic, {"active": "1"}, source={})
        await wait_for_state(hub, "motion.porch", "on", timeout=10)
        sim.push_event(topic, {"active": "0"}, source={})
        await wait_for_state(hub, "motion.porch", "off", timeout=10)
    finally:
        await hub.async_stop()


async def test_reolink_person_detection_is_an_object_event_with_no_decoding(make_hub, sim):
    hub = await _started(make_hub, camera(sim, "hub", "camera"))
    events = hub.bus.subscribe("test", (EventStarted, EventEnded))
    try:
        people = "tns1:RuleEngine/MyRuleDetector/PeopleDetect"
        vehicles = "tns1:RuleEngine/MyRuleDetector/VehicleDetect"
        sim.push_event(vehicles, {"State": "true"}, source=REOLINK)  # not in its labels
        sim.push_event(people, {"State": "true"}, source=REOLINK)
        started = await events.get()
        assert isinstance(started, EventStarted)
        assert (started.camera, started.label) == ("porch", "person")
        # A second channel seeing someone too does not end the event when the first stops.
        sim.push_event(people, {"State": "true"}, source={"Source": "001"})
        sim.push_event(people, {"State": "false"}, source=REOLINK)
        sim.push_event(people, {"State": "false"}, source={"Source": "001"})
        ended = await events.get()
        assert isinstance(ended, EventEnded) and ended.event_id == started.event_id
        assert hub.states.get("motion.porch").state == "off"  # motion is the hub's own
    finally:
        await hub.async_stop()
