"""Which ONVIF event topics mean motion, or a person, vehicle or animal the camera detected.

One table, `VENDOR_TOPICS`, holds every topic family real cameras publish for
motion and on-board object detection: the generic ONVIF topics and those of
Hikvision, Dahua/Amcrest, Axis (VMD3, VMD4, Motion Guard, Object Analytics, motion
region), Reolink, TP-Link Tapo and Uniview. Topics are matched without their
namespace prefixes (`tnsaxis:CameraApplicationPlatform/VMD/Camera1ProfileANY` is
`CameraApplicationPlatform/VMD/Camera1ProfileANY`); a rule ending in `/*` matches any
last level (Axis numbers its profiles and scenarios). Each rule names the Data items
that carry the state and what each means: `motion`, or the label of an object event
(`person`, `vehicle`, `animal`, `face`, `package`). A topic no rule knows that still says
"motion" with a usual state item counts as motion, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

MOTION = "motion"
LABELS = ("person", "vehicle", "animal", "face", "package")
"""Labels a camera's own detection can give an object event."""

_TRUE = ("true", "1", "on", "active", "yes")
_FALSE = ("false", "0", "off", "inactive", "no")
_GENERIC_MOTION_ITEMS = ("IsMotion", "State", "Motion", "IsActive", "active")

AXIS_CLASSES = {
    "human": "person",
    "person": "person",
    "car": "vehicle",
    "truck": "vehicle",
    "bus": "vehicle",
    "bike": "vehicle",
    "bicycle": "vehicle",
    "motorcycle": "vehicle",
    "vehicle": "vehicle",
    "othervehicle": "vehicle",
    "animal": "animal",
}
"""Axis Object Analytics `classTypes` -> label."""


@dataclass(frozen=True)
class TopicRule:
    """One topic family: the Data items holding its state, each with what it means."""

    topic: str
    items: dict[str, str]
    """Data item name -> `motion` or a label; the first item present in a message decides."""
    vendors: str
    class_item: str | None = None
    """A Data item naming the object class (Axis `classTypes`), mapped by AXIS_CLASSES;
    without it in the message, the rule's own meaning applies."""
    _prefix: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        if self.topic.endswith("/*"):
            object.__setattr__(self, "_prefix", self.topic[:-1])

    def matches(self, topic: str) -> bool:
        """Whether `topic` (without prefixes) belongs to this family."""
        if self._prefix:
            return topic.startswith(self._prefix) and "/" not in topic[len(self._prefix) :]
        return topic == self.topic


def _rule(topic: str, item: str | tuple[str, ...], meaning: str, vendors: str) -> TopicRule:
    names = (item,) if isinstance(item, str) else item
    return TopicRule(topic, dict.fromkeys(names, meaning), vendors)


_TAPO_SMART = {"IsPeople": "person", "IsVehicle": "vehicle", "IsPet": "animal"}

VENDOR_TOPICS: tuple[TopicRule, ...] = (
    # Generic ONVIF, sent by nearly every brand (Hikvision, Dahua/Amcrest, Uniview, Tapo...).
    _rule("RuleEngine/CellMotionDetector/Motion", "IsMotion", MOTION, "ONVIF cell motion"),
    _rule("VideoSource/MotionAlarm", "State", MOTION, "ONVIF motion alarm (Hikvision, Dahua)"),
    _rule(
        "RuleEngine/MotionRegionDetector/Motion",
        ("State", "IsMotion"),
        MOTION,
        "ONVIF motion region (Axis)",
    ),
    _rule("VideoAnalytics/Motion", ("State", "IsMotion"), MOTION, "ONVIF analytics motion"),
    _rule(
        "RuleEngine/FieldDetector/ObjectsInside",
        "IsInside",
        MOTION,
        "ONVIF field detection (Hikvision, Dahua/Amcrest intrusion)",
    ),
    # Hikvision: an alarm input (tnshik:AlarmIn), usually a PIR sensor.
    _rule("Device/Trigger/AlarmIn", "State", MOTION, "Hikvision alarm input"),
    # Axis.
    _rule("CameraApplicationPlatform/VMD/*", "active", MOTION, "Axis VMD4"),
    _rule("RuleEngine/VMD3/*", "active", MOTION, "Axis VMD3"),
    _rule("CameraApplicationPlatform/MotionGuard/*", "active", MOTION, "Axis Motion Guard"),
    _rule("VideoAnalytics/MotionDetection", "motion", MOTION, "Axis motion detection window"),
    _rule("Device/Sensor/PIR", "state", MOTION, "Axis PIR sensor"),
    TopicRule(
        "CameraApplicationPlatform/ObjectAnalytics/*",
        {"active": MOTION},
        "Axis Object Analytics",
        class_item="classTypes",
    ),
    # Reolink ("MyRuleDetector"; Bosch and some Dahua firmware use the same family).
    _rule("RuleEngine/MyRuleDetector/Motion", ("State", "IsMotion"), MOTION, "Reolink"),
    _rule("RuleEngine/MyRuleDetector/PeopleDetect", "State", "person", "Reolink"),
    _rule("RuleEngine/MyRuleDetector/VehicleDetect", "State", "vehicle", "Reolink"),
    _rule("RuleEngine/MyRuleDetector/DogCatDetect", "State", "animal", "Reolink"),
    _rule("RuleEngine/MyRuleDetector/FaceDetect", "State", "face", "Reolink"),
    _rule("RuleEngine/MyRuleDetector/Package", "State", "package", "Reolink doorbell"),
    # TP-Link Tapo (topics differ between firmware versions).
    _rule("RuleEngine/PeopleDetector/People", "IsPeople", "person", "TP-Link Tapo"),
    _rule("RuleEngine/CellMotionDetector/People", "IsPeople", "person", "TP-Link Tapo"),
    TopicRule("RuleEngine/TPSmartEventDetector/TPSmartEvent", _TAPO_SMART, "TP-Link Tapo"),
    TopicRule("RuleEngine/CellMotionDetector/TpSmartEvent", _TAPO_SMART, "TP-Link Tapo"),
    _rule("RuleEngine/CellMotionDetector/Intrusion", "IsIntrusion", MOTION, "TP-Link Tapo"),
    _rule("RuleEngine/IntrusionDetector/Intrusion", "IsIntrusion", MOTION, "TP-Link Tapo"),
    _rule("RuleEngine/CellMotionDetector/LineCross", "IsLineCross", MOTION, "TP-Link Tapo"),
    _rule("RuleEngine/LineCrossDetector/LineCross", "IsLineCross", MOTION, "TP-Link Tapo"),
    # Uniview.
    _rule("UserAlarm/IVA/HumanShapeDetect", "State", "person", "Uniview"),
)


class Message(Protocol):
    """What a rule reads of a notification (events.Notification)."""

    @property
    def topic(self) -> str: ...

    @property
    def data(self) -> dict[str, str]: ...

    @property
    def operation(self) -> str: ...


@dataclass(frozen=True)
class Signal:
    """What a message says: `motion` or a label, on or off."""

    kind: str
    active: bool


def rule_for(topic: str) -> TopicRule | None:
    """The table's rule for a topic (without prefixes), if any."""
    return next((rule for rule in VENDOR_TOPICS if rule.matches(topic)), None)


def signal_of(message: Message) -> Signal | None:
    """Motion or an object the camera reports starting or stopping; None for anything else
    (another topic, an item this topic does not carry, a value that is not a state)."""
    rule = rule_for(message.topic)
    if rule is not None:
        for name, meaning in rule.items.items():
            value = message.data.get(name)
            if value is not None:
                active = _state(value, message.operation)
                if active is None:
                    return None
                return Signal(_classified(rule, message, meaning), active)
        return None
    if MOTION not in message.topic.lower():
        return None
    for name in _GENERIC_MOTION_ITEMS:
        value = message.data.get(name)
        if value is not None:
            active = _state(value, message.operation)
            return Signal(MOTION, active) if active is not None else None
    return None


def _classified(rule: TopicRule, message: Message, meaning: str) -> str:
    if rule.class_item is None:
        return meaning
    classes = message.data.get(rule.class_item, "")
    for name in classes.replace(",", " ").split():
        label = AXIS_CLASSES.get(name.strip().lower())
        if label is not None:
            return label
    return meaning


def _state(value: str, operation: str) -> bool | None:
    if operation == "Deleted":
        return False  # the property is gone: whatever it said is over
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None
