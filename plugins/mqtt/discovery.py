"""Home Assistant MQTT discovery: the retained config messages that make each camera a device."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MANUFACTURER = "camhub"
MODEL = "camhub camera"
ONLINE = "online"
OFFLINE = "offline"
ON = "ON"
OFF = "OFF"
MOTION_EVENT_TYPE = "motion"


def slug(text: str) -> str:
    """`text` made safe for a topic level and a discovery object id."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


@dataclass(frozen=True)
class Topics:
    """Every topic of one notifier, under its `topic_prefix`."""

    prefix: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def index(self) -> str:
        return f"{self.prefix}/cameras"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def notify(self) -> str:
        return f"{self.prefix}/notify"

    @property
    def mode(self) -> str:
        return f"{self.prefix}/mode"

    @property
    def mode_set(self) -> str:
        return f"{self.prefix}/mode/set"

    @property
    def detection_set_filter(self) -> str:
        return f"{self.prefix}/+/detection/set"

    def camera(self, camera_id: str, leaf: str) -> str:
        """`<prefix>/<camera>/<leaf>` (motion, snapshot, event, detection, or a label)."""
        return f"{self.prefix}/{camera_id}/{slug(leaf)}"


def device(prefix: str, camera_id: str, name: str) -> dict[str, Any]:
    """The discovery `device` block shared by a camera's entities."""
    return {
        "identifiers": [f"{slug(prefix)}_{camera_id}"],
        "name": name,
        "manufacturer": MANUFACTURER,
        "model": MODEL,
    }


def camera_configs(
    discovery_prefix: str, topics: Topics, camera_id: str, name: str, labels: list[str]
) -> dict[str, dict[str, Any]]:
    """Discovery config topic -> payload for one camera's entities."""
    node = f"{slug(topics.prefix)}_{camera_id}"
    common: dict[str, Any] = {
        "device": device(topics.prefix, camera_id, name),
        "availability_topic": topics.availability,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
    }

    def entity(component: str, object_id: str, fields: dict[str, Any]) -> tuple[str, Any]:
        topic = f"{discovery_prefix}/{component}/{node}/{slug(object_id)}/config"
        return topic, {"unique_id": f"{node}_{slug(object_id)}", **fields, **common}

    entities = [
        entity(
            "binary_sensor",
            "motion",
            {
                "name": "Motion",
                "device_class": "motion",
                "state_topic": topics.camera(camera_id, "motion"),
                "payload_on": ON,
                "payload_off": OFF,
            },
        ),
        entity(
            "camera",
            "snapshot",
            {"name": "Snapshot", "topic": topics.camera(camera_id, "snapshot")},
        ),
        entity(
            "event",
            "event",
            {
                "name": "Event",
                "event_types": [MOTION_EVENT_TYPE, *labels],
                "state_topic": topics.camera(camera_id, "event"),
            },
        ),
        entity(
            "switch",
            "detection",
            {
                "name": "Detection",
                "state_topic": topics.camera(camera_id, "detection"),
                "command_topic": topics.camera(camera_id, "detection") + "/set",
                "payload_on": ON,
                "payload_off": OFF,
                "icon": "mdi:motion-sensor",
            },
        ),
    ]
    for label in labels:
        entities.append(
            entity(
                "sensor",
                f"{label}_count",
                {
                    "name": f"{label.capitalize()} count",
                    "state_topic": topics.camera(camera_id, label),
                    "state_class": "measurement",
                    "icon": "mdi:counter",
                },
            )
        )
    return dict(entities)
