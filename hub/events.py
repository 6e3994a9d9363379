"""Typed, frozen events carried by the bus, each with a context linking cause and effect."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar


def new_id() -> str:
    """A short random id for contexts and events."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Context:
    """Who or what caused an event; actions carry their trigger's context as `parent_id`."""

    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    user_id: str | None = None

    def child(self) -> Context:
        """A new context caused by this one (an automation run started by a trigger)."""
        return Context(parent_id=self.id, user_id=self.user_id)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every bus event. Subclasses set `event_type` and add their fields."""

    event_type: ClassVar[str] = "event"
    context: Context = field(default_factory=Context)
    time_fired: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the API, the WebSocket push and storage."""
        data = asdict(self)
        data["event_type"] = self.event_type
        return data


@dataclass(frozen=True, kw_only=True)
class HubStarted(Event):
    """The hub finished starting: storage open, plugins started, cameras launched."""

    event_type: ClassVar[str] = "hub_started"


@dataclass(frozen=True, kw_only=True)
class HubStopping(Event):
    """Shutdown began; long-running work should wind down."""

    event_type: ClassVar[str] = "hub_stopping"


@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    """An entity's state or attributes really changed (never sent for a no-op write)."""

    event_type: ClassVar[str] = "state_changed"
    entity_id: str
    old_state: str | None
    new_state: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PluginFailed(Event):
    """A plugin hit its failure limit and was disabled."""

    event_type: ClassVar[str] = "plugin_failed"
    plugin: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DeviceDiscovered(Event):
    """A discovery plugin found a device on the LAN."""

    event_type: ClassVar[str] = "device_discovered"
    device_id: str
    name: str
    host: str
    source: str


@dataclass(frozen=True, kw_only=True)
class DeviceLost(Event):
    """A discovered device said goodbye (WS-Discovery Bye, mDNS removal) or stopped answering."""

    event_type: ClassVar[str] = "device_lost"
    device_id: str
    source: str


@dataclass(frozen=True, kw_only=True)
class PeerChanged(Event):
    """Another hub of the site announced itself, went away, or has new events or stills."""

    event_type: ClassVar[str] = "peer_changed"
    hub: str


@dataclass(frozen=True, kw_only=True)
class PeerEvent(Event):
    """An event of another hub of the site as it happens (`phase` start or end).

    `kind` is `object` or `motion`; `camera` is the peer's camera id, not one of ours.
    """

    event_type: ClassVar[str] = "peer_event"
    hub: str
    camera: str
    kind: str
    phase: str
    event_id: str
    label: str = ""
    top_score: float = 0.0
    zones: tuple[str, ...] = ()
    start: float = 0.0
    end: float | None = None


@dataclass(frozen=True, kw_only=True)
class OnvifEvent(Event):
    """A notification pulled from a camera's ONVIF event service, for automations.

    `topic` is normalised without namespace prefixes (`RuleEngine/CellMotionDetector/Motion`);
    `data` holds the message's Data items (e.g. `{"IsMotion": "true"}`), `source` its Source items.
    """

    event_type: ClassVar[str] = "onvif_event"
    camera: str
    topic: str
    data: dict[str, str] = field(default_factory=dict)
    source: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CameraAdded(Event):
    """A camera was added to the running hub and started (discovery, by URL, the API)."""

    event_type: ClassVar[str] = "camera_added"
    camera: str


@dataclass(frozen=True, kw_only=True)
class CameraRemoved(Event):
    """A camera was stopped and forgotten by the running hub (its footage stays)."""

    event_type: ClassVar[str] = "camera_removed"
    camera: str


@dataclass(frozen=True, kw_only=True)
class CameraChanged(Event):
    """A running camera got a new config (zones, masks, ...) or its stream was restarted."""

    event_type: ClassVar[str] = "camera_changed"
    camera: str


@dataclass(frozen=True, kw_only=True)
class RecordingSaved(Event):
    """A recording segment was finished and indexed."""

    event_type: ClassVar[str] = "recording_saved"
    camera: str
    segment_id: int
    start: float
    end: float
    bytes: int


@dataclass(frozen=True, kw_only=True)
class MotionStarted(Event):
    """Motion began on a camera; `boxes` are (x0, y0, x1, y1) in detection-frame pixels."""

    event_type: ClassVar[str] = "motion_started"
    camera: str
    event_id: str
    boxes: tuple[tuple[int, int, int, int], ...] = ()


@dataclass(frozen=True, kw_only=True)
class MotionEnded(Event):
    """Motion on a camera stopped for `motion.end_after` seconds."""

    event_type: ClassVar[str] = "motion_ended"
    camera: str
    event_id: str
    duration: float


@dataclass(frozen=True, kw_only=True)
class ObjectDetected(Event):
    """A detector call found wanted objects on a camera (frame pixels, after filtering)."""

    event_type: ClassVar[str] = "object_detected"
    camera: str
    detections: tuple[tuple[str, float, tuple[float, float, float, float]], ...]


@dataclass(frozen=True, kw_only=True)
class ObjectEventChanged(Event):
    """Base of the object event lifecycle events."""

    camera: str
    event_id: str
    label: str
    top_score: float
    zones: tuple[str, ...]
    start: float


@dataclass(frozen=True, kw_only=True)
class EventStarted(ObjectEventChanged):
    """An object was seen for `objects.min_hits` frames: its event begins."""

    event_type: ClassVar[str] = "event_started"


@dataclass(frozen=True, kw_only=True)
class EventUpdated(ObjectEventChanged):
    """An ongoing event's top score or zones changed."""

    event_type: ClassVar[str] = "event_updated"


@dataclass(frozen=True, kw_only=True)
class EventEnded(ObjectEventChanged):
    """The object was not seen for `objects.end_after` seconds."""

    event_type: ClassVar[str] = "event_ended"
    end: float


@dataclass(frozen=True, kw_only=True)
class NotificationPosted(Event):
    """A notification for the people looking at the panel (the `panel` notifier)."""

    event_type: ClassVar[str] = "notification_posted"
    notifier: str
    message_id: str
    title: str
    body: str
    priority: int = 3
    tags: tuple[str, ...] = ()
    event_id: str | None = None
    clip_url: str | None = None
    snapshot_url: str | None = None
    """Where the panel shows the message's picture (admins), when it has one."""
