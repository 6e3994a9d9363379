"""Which object detector each camera uses; the bundled default is built the first time one asks.

A camera's `objects.detector` names a `detectors` entry. Left out, the camera
uses the only entry there is or, with no `detectors` section at all, the entry
a plugin offers as the default (`TypeSpec.default_entry`: the bundled COCO
model). The default is built once, on first need, so a hub whose cameras look
for no objects never loads a model; when it cannot be built, that is one
problem in `/api/health` and the cameras go on with motion.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.config.models import CameraConfig, HubConfig
from hub.detection.object_detector import DetectorError, ObjectDetector
from hub.extensions.registry import TypeSpec

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
CAMERA_DETECTS = "the camera detects objects itself (objects.source: camera)"


@dataclass(frozen=True)
class DetectorChoice:
    """The detector a camera uses, or why it uses none."""

    detector_id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class DetectorEntry:
    """What a detector entry is, for people: its type and what it runs."""

    type: str
    summary: str
    default: bool = False
    """Built by the hub because the config has no `detectors` section."""


def default_detector_type(config: HubConfig, types: Mapping[str, TypeSpec]) -> TypeSpec | None:
    """The type the hub builds as its default detector: only when `detectors` is empty."""
    if config.detectors:
        return None
    return next((spec for spec in types.values() if spec.default_entry), None)


def choose_detector(
    config: HubConfig, camera: CameraConfig, default_id: str | None
) -> DetectorChoice:
    """The detector of a camera whose `objects` is complete (`HubConfig.camera_objects`)."""
    if not camera.enabled:
        return DetectorChoice(None, "the camera is disabled")
    if not camera.detect.enabled:
        return DetectorChoice(None, "detect.enabled is false")
    objects = camera.objects
    if not objects.enabled:
        return DetectorChoice(None, "objects.enabled is false")
    if objects.source == "camera":
        return DetectorChoice(None, CAMERA_DETECTS)
    if objects.detector is not None:
        return DetectorChoice(objects.detector)
    if len(config.detectors) == 1:
        return DetectorChoice(next(iter(config.detectors)))
    if config.detectors:
        names = ", ".join(sorted(config.detectors))
        return DetectorChoice(None, f"several detectors ({names}): set objects.detector")
    if default_id is not None:
        return DetectorChoice(default_id)
    return DetectorChoice(None, "no detector: configure one under `detectors`")


def plan_detectors(
    config: HubConfig, cameras: Mapping[str, CameraConfig], types: Mapping[str, TypeSpec]
) -> tuple[dict[str, DetectorEntry], dict[str, DetectorChoice]]:
    """Without building anything (`camhub plugins`): the detector entries, and each camera's."""
    entries: dict[str, DetectorEntry] = {}
    for entry_id, section in config.detectors.items():
        spec = types.get(section.type)
        summary = ""
        if spec is not None:
            try:
                summary = spec.options.model_validate(section.options()).summary()
            except ValueError:
                summary = "invalid options (camhub check-config says why)"
        entries[entry_id] = DetectorEntry(section.type, summary)
    default = default_detector_type(config, types)
    if default is not None and default.default_entry:
        entries[default.default_entry] = DetectorEntry(
            default.name, default.options.model_validate({}).summary(), default=True
        )
    default_id = default.default_entry if default else None
    choices = {
        camera_id: choose_detector(config, config.camera_objects(camera), default_id)
        for camera_id, camera in cameras.items()
    }
    return entries, choices


class DetectorPool:
    """The hub's object detectors: configured entries (built at start) and the default."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.built: dict[str, ObjectDetector] = hub.detectors
        self.entries: dict[str, DetectorEntry] = {}
        self.failed: dict[str, str] = {}
        """Entries that could not be built, with the reason."""
        self.default: TypeSpec | None = None
        self._building = asyncio.Lock()

    @property
    def default_id(self) -> str | None:
        """Id of the default detector, when the hub has one to build."""
        return self.default.default_entry if self.default is not None else None

    def offer_default(self, types: Mapping[str, TypeSpec]) -> None:
        """Remember the default type (at start, once the types are known); nothing is built."""
        self.default = default_detector_type(self.hub.config, types)
        if self.default is not None and self.default.default_entry:
            summary = self.default.options.model_validate({}).summary()
            self.entries[self.default.default_entry] = DetectorEntry(
                self.default.name, summary, default=True
            )

    def choose(self, camera: CameraConfig) -> DetectorChoice:
        """The detector a camera (its running config) uses."""
        return choose_detector(self.hub.config, camera, self.default_id)

    async def async_get(self, detector_id: str) -> ObjectDetector | None:
        """The detector with this id, building the default on first use; None if it failed."""
        detector = self.built.get(detector_id)
        if detector is not None or detector_id in self.failed:
            return detector
        if self.default is None or detector_id != self.default_id:
            return None
        async with self._building:
            if detector_id in self.built or detector_id in self.failed:
                return self.built.get(detector_id)
            spec = self.default
            try:
                options = spec.options.model_validate({})
                # In a thread: loading and checking a model takes a moment (seconds on a Pi).
                built = await asyncio.to_thread(spec.create, self.hub, detector_id, options)
                if not isinstance(built, ObjectDetector):
                    raise TypeError(f"{spec.plugin or spec.name} built no ObjectDetector")
            except Exception as exc:
                self.failed_to_build(detector_id, exc)
                return None
            self.built[detector_id] = built
            _LOGGER.info("Detector %s: %s", detector_id, getattr(built, "description", spec.name))
            return built

    def failed_to_build(self, detector_id: str, exc: BaseException) -> None:
        """Record (once) that an entry could not be built: a problem, cameras keep motion."""
        self.failed[detector_id] = str(exc)
        message = self.hub.redactor(f"detectors.{detector_id}: could not start: {exc}")
        self.hub.problems.append(message)
        # A DetectorError says it all; anything else is a bug worth its traceback.
        _LOGGER.error(
            "%s; cameras using it detect motion only",
            message,
            exc_info=None if isinstance(exc, DetectorError) else exc,
        )

    def describe(self, camera_id: str) -> dict[str, Any]:
        """A camera's object detection for `/api/cameras` and the panel."""
        runtime = self.hub.cameras[camera_id]
        objects = runtime.config.objects
        choice = self.choose(runtime.config)
        entry = self.entries.get(choice.detector_id or "")
        running = any(loop.camera_id == camera_id for loop in self.hub.object_loops)
        state: str
        reason: str | None
        if choice.reason == CAMERA_DETECTS:
            state, reason = ("active" if running else "waiting"), choice.reason
        elif choice.detector_id is None:
            state, reason = "off", choice.reason
        elif choice.detector_id in self.failed:
            state, reason = "failed", self.hub.redactor(self.failed[choice.detector_id])
        elif running:
            state, reason = "active", None
        else:
            state, reason = "waiting", None
        return {
            "enabled": objects.enabled,
            "detector": choice.detector_id,
            "type": entry.type if entry else None,
            "model": entry.summary if entry else None,
            "default": bool(entry and entry.default),
            "labels": list(objects.labels),
            "state": state,
            "reason": reason,
        }
