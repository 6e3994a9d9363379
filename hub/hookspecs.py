"""Every hook a camhub plugin can implement, grouped by pipeline stage.

A hook implementation may return a value, or an awaitable of it; the hub awaits
where needed. Hooks marked `firstresult` stop at the first non-None answer.
An implementation that raises is logged with the plugin's name and isolated;
a plugin that keeps failing is disabled (state `failed`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from hub.cameras.discovery import DeviceProbe, DiscoveredDevice
    from hub.cameras.source import CameraSource
    from hub.config.models import CameraConfig
    from hub.core import Hub
    from hub.detection.motion import MotionDetector
    from hub.events import Event
    from hub.extensions.registry import AutomationType, Route, TypeSpec
    from hub.footage.recordings import RecordingSegment
    from hub.storage import Migration

PROJECT = "camhub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- startup


@hookspec
def startup(hub: Hub) -> Awaitable[None] | None:
    """Called once the hub is running (database open, bus up), before cameras start.

    Start background work here and keep a reference to it; stop it in `shutdown`.
    """


@hookspec
def shutdown(hub: Hub) -> Awaitable[None] | None:
    """Called during shutdown, after cameras stopped and before the database closes.

    Implementations run concurrently and each gets at most 1.5 s; the hub stops within five.
    """


# ---------------------------------------------------------------- discovery


@hookspec
def discover_devices(
    hub: Hub, timeout: float
) -> list[DiscoveredDevice] | Awaitable[list[DiscoveredDevice]]:
    """Scan the LAN for cameras for up to `timeout` seconds and return what was found.

    Used by `camhub discover` and `/api/discovery`. The hub merges the answers of
    every plugin, deduplicating by `DiscoveredDevice.id`.
    """


@hookspec(firstresult=True)
def probe_device(
    hub: Hub, url: str, username: str, password: str
) -> DeviceProbe | Awaitable[DeviceProbe | None] | None:
    """Log in to the device whose service is at `url` and describe its streams, or None.

    Used when adding a discovered camera (`POST /api/discovery/{id}/add`) and by
    `camhub discover --user`. Return None when this plugin does not speak the
    device's protocol; return a DeviceProbe with `error` set (never raise) when it
    does but the probe failed, e.g. "wrong username or password".
    """


# ---------------------------------------------------------------- decoding / sources


@hookspec(firstresult=True)
def camera_source(hub: Hub, camera_id: str, config: CameraConfig) -> CameraSource | None:
    """Return a CameraSource for this camera if this plugin can open its URL, else None.

    Called once per enabled camera at start. The first plugin to answer owns the
    camera; with no answer the camera is shown as `error` ("no source plugin").
    """


@hookspec(firstresult=True)
def export_clip(
    hub: Hub, segments: list[RecordingSegment], start: float, end: float, relpath: str
) -> str | Awaitable[str | None] | None:
    """Join recorded `segments` into one MP4 covering `start`..`end` (wall clock) at `relpath`.

    `relpath` is a path in `hub.footage`; write it with `hub.footage.create`. Return
    `relpath` when done, or None if this plugin cannot read these segments. Used
    for event clips and exports; the first plugin to answer wins.
    """


# ---------------------------------------------------------------- detection


@hookspec(firstresult=True)
def motion_detector(hub: Hub, camera_id: str, config: CameraConfig) -> MotionDetector | None:
    """Return a motion detector for this camera, or None to let another plugin answer.

    Called once per camera with detection and motion enabled, after its source
    started. The hub feeds it the camera's detection frames (`detect(gray)` in a
    worker thread, one frame at a time) and turns its boxes into motion events.
    """


@hookspec(firstresult=True)
def camera_motion(hub: Hub, camera_id: str, config: CameraConfig) -> AsyncIterator[bool] | None:
    """Return an async iterator of the camera's own motion signals, or None.

    Called at start for each camera configured `motion.source: camera` (motion
    detected on board, reported by ONVIF events). Yield True when motion starts
    and False when it stops; the hub turns them into motion events exactly as
    for motion it finds itself, and decodes no frames for motion.
    """


@hookspec
def detector_types() -> list[TypeSpec]:
    """Return detector types this plugin provides (`detectors.<id>.type`).

    `create(hub, detector_id, options)` builds the detector object.
    """


# ---------------------------------------------------------------- events


@hookspec
def event_published(hub: Hub, event: Event) -> Awaitable[None] | None:
    """Called for every event on the bus, in the order published, from one bus listener.

    Slow implementations delay only this listener (its queue is bounded and drops
    the oldest events when full); they never block the publisher.
    """


# ---------------------------------------------------------------- notification


@hookspec
def notifier_types() -> list[TypeSpec]:
    """Return notifier types this plugin provides (`notifiers.<id>.type`).

    `create(hub, notifier_id, options)` must return an object with
    `async_send(message: hub.notify.Message)`.
    """


# ---------------------------------------------------------------- storage


@hookspec
def storage_migrations() -> list[Migration]:
    """Return named schema migrations this plugin needs; each runs once, in list order."""


@hookspec
def event_stored(hub: Hub, table: str, record: Mapping[str, Any]) -> Awaitable[None] | None:
    """Called after a row was written to `table` (e.g. `events`): mirror it elsewhere."""


# ---------------------------------------------------------------- privacy


@hookspec(firstresult=True)
def redact_image(hub: Hub, camera_id: str, jpeg: bytes) -> bytes | Awaitable[bytes | None] | None:
    """Return the snapshot `jpeg` of `camera_id` with what must not be seen removed, or None.

    Called before a camera snapshot is served or handed to an automation, and before
    an event snapshot is stored. Return None when this plugin has nothing to do for
    this camera. A camera with `face_blur: true` whose snapshot no plugin redacted
    (none installed, or it failed) gets no snapshot at all, never the picture as is.
    """


@hookspec(firstresult=True)
def apply_privacy_masks(
    hub: Hub, camera_id: str, config: CameraConfig
) -> bool | Awaitable[bool | None] | None:
    """Have the camera itself burn in `config.privacy_masks`; True once that is verified.

    Called before a camera with privacy masks starts. Return True only when the camera
    masks every stream the hub reads from it (pushed and read back); then the hub records
    its stream as it is. Return None when this plugin cannot do it for this camera; with
    no True answer (or on any error) the hub decodes, masks and re-encodes the stream.
    """


@hookspec(firstresult=True)
def install_model(name: str, models_dir: Path) -> Path | None:
    """Fetch and prepare the model called `name` into `models_dir`; return its path, or None.

    Used by `camhub models install NAME`. Return None for a model this plugin does
    not provide; raise with a message fit for a user when a download or check fails.
    """


# ---------------------------------------------------------------- automation


@hookspec
def automation_types() -> list[AutomationType]:
    """Return trigger, condition and action types this plugin adds to automations."""


# ---------------------------------------------------------------- web


@hookspec
def register_routes(hub: Hub) -> list[Route]:
    """Return HTTP routes to mount under `/api/x/<plugin name>/` (same auth as the API)."""
