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
from hub.detection.coco import COCO_LABELS, UNUSED_LABEL, coco_id_labels
from hub.detection.decoders import (
    KNOWN_LAYOUTS,
    Candidates,
    DecodeOptions,
    OutputLayout,
    decode_anchor_boxes,
    decode_outputs,
    decode_ssd,
    decode_ssd_scores,
    decode_yolov5,
    decode_yolov8,
    find_layout,
    non_max_suppression,
    shape_text,
)
from hub.detection.frames import Frame, Gray
from hub.detection.letterbox import PAD_VALUE, Letterbox, draw_letterboxed
from hub.detection.model_files import find_model_file, read_labels
from hub.detection.motion import Box, MotionDetector, TimedMotionDetector
from hub.detection.object_detector import RGB, Detection, DetectorError, ObjectDetector
from hub.detection.outlines import Outline, draw_outlines
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
    PeerChanged,
    PeerEvent,
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
from hub.native_memory import release_free_memory
from hub.notify.message import (
    Message,
    Notifier,
    NotifyError,
    PermanentNotifyError,
    TemporaryNotifyError,
    raise_for_status,
)
from hub.security.redact import redact_url
from hub.site import Peer, SiteRegistry
from hub.states import HOUSE_MODE_ENTITY
from hub.storage import Migration
from hub.tasks import OwnedTasks

__all__ = [
    "COCO_LABELS",
    "HOUSE_MODE_ENTITY",
    "KNOWN_LAYOUTS",
    "LOCK_ENTITY",
    "PAD_VALUE",
    "PARTIAL_SUFFIX",
    "PRINCIPAL_KEY",
    "RGB",
    "UNREADABLE_ERRORS",
    "UNUSED_LABEL",
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
    "Candidates",
    "Context",
    "DecodeControl",
    "DecodeMode",
    "DecodeOptions",
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
    "Letterbox",
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
    "Outline",
    "OutputLayout",
    "OwnedTasks",
    "Peer",
    "PeerChanged",
    "PeerEvent",
    "PermanentNotifyError",
    "PluginOptions",
    "RecordConfig",
    "RecordingSaved",
    "RecordingSegment",
    "Route",
    "SiteRegistry",
    "SnapshotSource",
    "StateChanged",
    "StatsSource",
    "StreamProfile",
    "TemporaryNotifyError",
    "TimedMotionDetector",
    "TypeSpec",
    "coco_id_labels",
    "decode_anchor_boxes",
    "decode_outputs",
    "decode_ssd",
    "decode_ssd_scores",
    "decode_yolov5",
    "decode_yolov8",
    "device_lost",
    "device_seen",
    "draw_letterboxed",
    "draw_outlines",
    "find_layout",
    "find_model_file",
    "hookimpl",
    "merge_devices",
    "new_id",
    "non_max_suppression",
    "pick_streams",
    "polygon_mask",
    "raise_for_status",
    "read_labels",
    "redact_url",
    "redaction_required",
    "release_free_memory",
    "render_template",
    "shape_text",
    "validation_issues",
]
