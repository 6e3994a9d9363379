"""camhub's public plugin API: everything a plugin imports, from one place.

    from hub import hookimpl, Hub, TypeSpec, PluginOptions, Message, Detection

A plugin (built in or third party) imports from `hub` only; the modules behind
these names (`hub.cameras.source`, `hub.footage.store`, ...) may move between
releases, these names will not without a deprecation. The layout test fails when
a built-in plugin reaches past this module. The hooks themselves are documented
in `hub.hookspecs` and `docs/plugins.md`.
"""

from __future__ import annotations

from hub.automations.templates import render as render_template
from hub.cameras.decoding import DecodeControl, DecodeMode
from hub.cameras.discovery import (
    DeviceProbe,
    DiscoveredDevice,
    StreamProfile,
    device_lost,
    device_seen,
    merge_devices,
    pick_streams,
)
from hub.cameras.manager import CameraRuntime
from hub.cameras.source import (
    CameraError,
    CameraSource,
    LiveSegment,
    LiveSource,
    LiveSubscription,
    SnapshotSource,
    StatsSource,
)
from hub.config.issues import Issue, validation_issues
from hub.config.models import CameraConfig, OnvifConfig, RecordConfig
from hub.core import Hub
from hub.detection.camera_objects import CameraDetection
from hub.detection.frames import Frame, Gray
from hub.detection.motion import Box, MotionDetector, TimedMotionDetector
from hub.detection.object_detector import RGB, Detection, DetectorError, ObjectDetector
from hub.detection.polygons import polygon_mask
from hub.detection.snapshots import redaction_required
from hub.events import (
    CameraAdded,
    CameraChanged,
    CameraRemoved,
    Context,
    DeviceDiscovered,
    DeviceLost,
    Event,
    EventEnded,
    EventStarted,
    EventUpdated,
    MotionEnded,
    MotionStarted,
    NotificationPosted,
    ObjectDetected,
    OnvifEvent,
    RecordingSaved,
    StateChanged,
    new_id,
)
from hub.extensions.registry import PRINCIPAL_KEY, AutomationType, PluginOptions, Route, TypeSpec
from hub.footage.recordings import RecordingSegment
from hub.footage.store import (
    LOCK_ENTITY,
    PARTIAL_SUFFIX,
    UNREADABLE_ERRORS,
    FootageFile,
    FootageLocked,
    FootageStore,
)
from hub.hookspecs import hookimpl
from hub.notify.message import (
    Message,
    Notifier,
    NotifyError,
    PermanentNotifyError,
    TemporaryNotifyError,
    raise_for_status,
)
from hub.security.redact import redact_url
from hub.states import HOUSE_MODE_ENTITY
from hub.storage import Migration
from hub.tasks import OwnedTasks

__all__ = [
    "HOUSE_MODE_ENTITY",
    "LOCK_ENTITY",
    "PARTIAL_SUFFIX",
    "PRINCIPAL_KEY",
    "RGB",
    "UNREADABLE_ERRORS",
    "AutomationType",
    "Box",
    "CameraAdded",
    "CameraChanged",
    "CameraConfig",
    "CameraDetection",
    "CameraError",
    "CameraRemoved",
    "CameraRuntime",
    "CameraSource",
    "Context",
    "DecodeControl",
    "DecodeMode",
    "Detection",
    "DetectorError",
    "DeviceDiscovered",
    "DeviceLost",
    "DeviceProbe",
    "DiscoveredDevice",
    "Event",
    "EventEnded",
    "EventStarted",
    "EventUpdated",
    "FootageFile",
    "FootageLocked",
    "FootageStore",
    "Frame",
    "Gray",
    "Hub",
    "Issue",
    "LiveSegment",
    "LiveSource",
    "LiveSubscription",
    "Message",
    "Migration",
    "MotionDetector",
    "MotionEnded",
    "MotionStarted",
    "NotificationPosted",
    "Notifier",
    "NotifyError",
    "ObjectDetected",
    "ObjectDetector",
    "OnvifConfig",
    "OnvifEvent",
    "OwnedTasks",
    "PermanentNotifyError",
    "PluginOptions",
    "RecordConfig",
    "RecordingSaved",
    "RecordingSegment",
    "Route",
    "SnapshotSource",
    "StateChanged",
    "StatsSource",
    "StreamProfile",
    "TemporaryNotifyError",
    "TimedMotionDetector",
    "TypeSpec",
    "device_lost",
    "device_seen",
    "hookimpl",
    "merge_devices",
    "new_id",
    "pick_streams",
    "polygon_mask",
    "raise_for_status",
    "redact_url",
    "redaction_required",
    "render_template",
    "validation_issues",
]
