"""Every hook a camhub plugin can implement, grouped by pipeline stage.

Each spec records its contract (`HookContract`): how the implementations of
one hook are called (`concurrent`: all, awaited together; `first`: one at a
time until one answers; `collect`: all, their lists joined) and whether an
implementation may be `async def`. The plugin manager refuses to call a hook
any other way, and docs/plugins.md is checked against these records.
An implementation that raises is logged with the plugin's name and isolated;
a plugin that keeps failing is disabled (state `failed`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pluggy

if TYPE_CHECKING:
    from hub.cameras.discovery import DeviceProbe, DiscoveredDevice
    from hub.cameras.source import CameraSource
    from hub.config.models import CameraConfig
    from hub.core import Hub
    from hub.detection.camera_objects import CameraDetection
    from hub.detection.motion import MotionDetector
    from hub.events import Event
    from hub.extensions.registry import AutomationType, Route, TypeSpec
    from hub.footage.recordings import RecordingSegment
    from hub.storage import Migration

PROJECT = "camhub"
_pluggy_spec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Calling = Literal["concurrent", "first", "collect"]
F = TypeVar("F", bound=Callable[..., Any])
CONTRACT_ATTRIBUTE = f"{PROJECT}_contract"


@dataclass(frozen=True)
class HookContract:
    """How the hub calls a hook's implementations, and what they may be."""

    calling: Calling
    may_await: bool
    """True: `async def` (or returning an awaitable) is fine; False: plain `def` only."""

    @property
    def firstresult(self) -> bool:
        """pluggy's firstresult: the first non-None answer wins."""
        return self.calling == "first"


def hookspec(calling: Calling, *, may_await: bool) -> Callable[[F], F]:
    """Declare a hook with its contract (pluggy's spec marker plus `HookContract`)."""

    def mark(function: F) -> F:
        contract = HookContract(calling, may_await)
        setattr(function, CONTRACT_ATTRIBUTE, contract)
        return _pluggy_spec(firstresult=contract.firstresult)(function)

    return mark


def contract_of(spec: Callable[..., Any]) -> HookContract:
    """The contract recorded on a spec function; TypeError for anything else."""
    contract = getattr(spec, CONTRACT_ATTRIBUTE, None)
    if not isinstance(contract, HookContract):
        raise TypeError(f"{spec!r} is not a camhub hook spec")
    return contract


# ---------------------------------------------------------------- startup


@hookspec("concurrent", may_await=True)
def startup(hub: Hub) -> Awaitable[None] | None:
    """Called once the hub is running (database open, bus up), before cameras start.

    Start background work here and keep a reference to it; stop it in `shutdown`.
    """


@hookspec("concurrent", may_await=True)
def shutdown(hub: Hub) -> Awaitable[None] | None:
    """Called during shutdown, after cameras stopped and before the database closes.

    Implementations run concurrently and each gets at most 1.5 s; the hub stops within five.
    """


# ---------------------------------------------------------------- discovery


@hookspec("concurrent", may_await=True)
def discover_devices(
    hub: Hub, timeout: float
) -> list[DiscoveredDevice] | Awaitable[list[DiscoveredDevice]]:
    """Scan the LAN for cameras for up to `timeout` seconds and return what was found.

    Used by `camhub discover` and `/api/discovery`. The hub merges the answers of
    every plugin, deduplicating by `DiscoveredDevice.id`.
    """


@hookspec("first", may_await=True)
def probe_device(
    hub: Hub, url: str, username: str, password: str
) -> DeviceProbe | Awaitable[DeviceProbe | None] | None:
    """Log in to the device whose service is at `url` and describe its streams, or None.

    Used when adding a discovered camera (`POST /api/discovery/{id}/add`) and by
    `camhub discover --user`. Return None when this plugin does not speak the
    device's protocol; return a DeviceProbe with `error` set (never raise) when it
    does but the probe failed, e.g. "wrong username or password" (then also set
    `login_refused`: the panel asks for other credentials rather than blaming the device).
    """


# ---------------------------------------------------------------- decoding / sources


@hookspec("first", may_await=True)
def camera_source(hub: Hub, camera_id: str, config: CameraConfig) -> CameraSource | None:
    """Return a CameraSource for this camera if this plugin can open its URL, else None.

    Called once per enabled camera at start. The first plugin to answer owns the
    camera; with no answer the camera is shown as `error` ("no source plugin").
    """


@hookspec("first", may_await=True)
def export_clip(
    hub: Hub, segments: list[RecordingSegment], start: float, end: float, relpath: str
) -> str | Awaitable[str | None] | None:
    """Join recorded `segments` into one MP4 covering `start`..`end` (wall clock) at `relpath`.

    `relpath` is a path in `hub.footage`; write it with `hub.footage.create`. Return
    `relpath` when done, or None if this plugin cannot read these segments. Used
    for event clips and exports; the first plugin to answer wins.
    """


# ---------------------------------------------------------------- detection


@hookspec("first", may_await=True)
def motion_detector(hub: Hub, camera_id: str, config: CameraConfig) -> MotionDetector | None:
    """Return a motion detector for this camera, or None to let another plugin answer.

    Called once per camera with detection and motion enabled, after its source
    started. The hub feeds it the camera's detection frames (`detect(gray)` in a
    worker thread, one frame at a time) and turns its boxes into motion events.
    """


@hookspec("first", may_await=True)
def camera_motion(hub: Hub, camera_id: str, config: CameraConfig) -> AsyncIterator[bool] | None:
    """Return an async iterator of the camera's own motion signals, or None.

    Called at start for each camera configured `motion.source: camera` (motion
    detected on board, reported by ONVIF events). Yield True when motion starts
    and False when it stops; the hub turns them into motion events exactly as
    for motion it finds itself, and decodes no frames for motion.
    """


@hookspec("first", may_await=True)
def camera_objects(
    hub: Hub, camera_id: str, config: CameraConfig
) -> AsyncIterator[CameraDetection] | None:
    """Return an async iterator of the objects the camera itself detects, or None.

    Called at start for each camera configured `objects.source: camera` (people,
    vehicles or animals detected on board, reported by ONVIF events). Yield
    `CameraDetection(label, True)` when the camera starts seeing a label and
    `CameraDetection(label, False)` when it stops; the hub makes object events of the
    labels in `objects.labels`, and decodes no frames for objects.
    """


@hookspec("collect", may_await=False)
def detector_types() -> list[TypeSpec]:
    """Return detector types this plugin provides (`detectors.<id>.type`).

    `create(hub, detector_id, options)` builds the detector object.
    """


# ---------------------------------------------------------------- events


@hookspec("concurrent", may_await=True)
def event_published(hub: Hub, event: Event) -> Awaitable[None] | None:
    """Called for every event on the bus, in the order published, from one bus listener.

    Slow implementations delay only this listener (its queue is bounded and drops
    the oldest events when full); they never block the publisher.
    """


# ---------------------------------------------------------------- notification


@hookspec("collect", may_await=False)
def notifier_types() -> list[TypeSpec]:
    """Return notifier types this plugin provides (`notifiers.<id>.type`).

    `create(hub, notifier_id, options)` must return an object with
    `async_send(message: hub.notify.Message)`.
    """


# ---------------------------------------------------------------- storage


@hookspec("collect", may_await=False)
def storage_migrations() -> list[Migration]:
    """Return named schema migrations this plugin needs; each runs once, in list order."""


@hookspec("concurrent", may_await=True)
def event_stored(hub: Hub, table: str, record: Mapping[str, Any]) -> Awaitable[None] | None:
    """Called after a row was written to `table` (e.g. `events`): mirror it elsewhere."""


# ---------------------------------------------------------------- privacy


@hookspec("first", may_await=True)
def redact_image(hub: Hub, camera_id: str, jpeg: bytes) -> bytes | Awaitable[bytes | None] | None:
    """Return the snapshot `jpeg` of `camera_id` with what must not be seen removed, or None.

    Called before a camera snapshot is served or handed to an automation, and before
    an event snapshot is stored. Return None when this plugin has nothing to do for
    this camera. A camera with `face_blur: true` whose snapshot no plugin redacted
    (none installed, or it failed) gets no snapshot at all, never the picture as is.
    """


@hookspec("first", may_await=True)
def apply_privacy_masks(
    hub: Hub, camera_id: str, config: CameraConfig
) -> bool | Awaitable[bool | None] | None:
    """Have the camera itself burn in `config.privacy_masks`; True once that is verified.

    Called before a camera with privacy masks starts. Return True only when the camera
    masks every stream the hub reads from it (pushed and read back); then the hub records
    its stream as it is. Return None when this plugin cannot do it for this camera; with
    no True answer (or on any error) the hub decodes, masks and re-encodes the stream.
    """


@hookspec("first", may_await=False)
def install_model(name: str, models_dir: Path) -> Path | None:
    """Fetch and prepare the model called `name` into `models_dir`; return its path, or None.

    Used by `camhub models install NAME`. Return None for a model this plugin does
    not provide; raise with a message fit for a user when a download or check fails.
    """


# ---------------------------------------------------------------- automation


@hookspec("collect", may_await=False)
def automation_types() -> list[AutomationType]:
    """Return trigger, condition and action types this plugin adds to automations."""


# ---------------------------------------------------------------- web


@hookspec("collect", may_await=False)
def web_routes(hub: Hub) -> list[Route]:
    """Return HTTP routes to mount under `/api/x/<plugin name>/` (same auth as the API)."""


@hookspec("collect", may_await=False)
def register_routes(hub: Hub) -> list[Route]:
    """Deprecated name of `web_routes` (until 0.3): still mounted, with a warning in the log."""


DEPRECATED_NAMES = {"register_routes": "web_routes"}
"""Old hook name -> new name, for one release after a rename."""
