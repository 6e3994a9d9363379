"""Adding a discovered camera: probe it with the user's credentials, persist it, start it."""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hub import hookspecs
from hub.cameras.added import with_credentials
from hub.cameras.discovery import DeviceProbe, onvif_service_url
from hub.config.models import CAMERA_ID_RULE, CameraConfig, is_camera_id
from hub.config.yaml_source import MIN_SECRET_LENGTH
from hub.errors import ErrorKind, HubError

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
PROBE_SECONDS = 60.0
"""A whole probe (a dozen calls) may take this long before the add is given up."""


_LOCKS: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def store_lock(hub: Hub) -> asyncio.Lock:
    """One change at a time per hub: the data dir's cameras file is rewritten whole."""
    lock = _LOCKS.get(hub)
    if lock is None:
        lock = _LOCKS[hub] = asyncio.Lock()
    return lock


class OnboardingError(HubError):
    """Adding the camera failed; `kind` says why (the web layer picks the status)."""


@dataclass(frozen=True)
class AddedCamera:
    """What was added."""

    camera_id: str
    config: CameraConfig
    probe: DeviceProbe


def camera_id_for(name: str, taken: set[str]) -> str:
    """A free camera id made from a device name: `Front Door` -> `front_door`."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:56] or "camera"
    candidate, number = base, 2
    while candidate in taken:
        candidate, number = f"{base}_{number}", number + 1
    return candidate


def camera_entry(name: str, device_url: str, username: str, probe: DeviceProbe) -> dict[str, Any]:
    """The camera's config (no password anywhere in it): main stream recorded, sub detected."""
    assert probe.main is not None and probe.main.stream_uri
    entry: dict[str, Any] = {"name": name, "url": probe.main.stream_uri}
    if probe.sub is not None and probe.sub.stream_uri:
        entry["detect_url"] = probe.sub.stream_uri
    onvif: dict[str, Any] = {"device_url": device_url}
    if username:
        onvif["username"] = username
    snapshot = probe.main.snapshot_uri or (probe.sub.snapshot_uri if probe.sub else None)
    if snapshot:
        onvif["snapshot_url"] = snapshot
    entry["onvif"] = onvif
    return entry


async def async_add_discovered(
    hub: Hub,
    device_id: str,
    username: str,
    password: str,
    camera_id: str | None = None,
    name: str | None = None,
    motion_source: str | None = None,
    record_mode: str | None = None,
) -> AddedCamera:
    """Probe a discovered device, store it in the data dir and start it without a restart."""
    device = hub.discovered.get(device_id)
    if device is None:
        raise OnboardingError(
            f"no discovered device {device_id!r}; scan again", ErrorKind.NOT_FOUND
        )
    device_url = onvif_service_url(device)
    if device_url is None:
        raise OnboardingError("this device offers no ONVIF service to ask for its streams")
    # By ONVIF service, not by host: one NVR address can serve several cameras.
    for other_id, runtime in hub.cameras.items():
        onvif = runtime.config.onvif
        if onvif is not None and onvif.service_url() == device_url:
            raise OnboardingError(f"this device is already camera {other_id}", ErrorKind.CONFLICT)
    if camera_id is None:
        camera_id = camera_id_for(name or device.name, set(hub.cameras))
    elif not is_camera_id(camera_id):
        raise OnboardingError(f"camera ids use {CAMERA_ID_RULE}")
    if camera_id in hub.cameras:
        raise OnboardingError(f"camera {camera_id} exists already", ErrorKind.CONFLICT)
    if len(password) >= MIN_SECRET_LENGTH:
        hub.redactor.add([password])  # before the probe: its errors may be logged
    try:
        probe = await asyncio.wait_for(
            hub.plugins.async_call_first(
                hookspecs.probe_device,
                hub=hub,
                url=device_url,
                username=username,
                password=password,
            ),
            PROBE_SECONDS,
        )
    except TimeoutError:
        raise OnboardingError(
            f"the device took more than {PROBE_SECONDS:g} s to answer", ErrorKind.DEVICE_TIMEOUT
        ) from None
    if not isinstance(probe, DeviceProbe):
        raise OnboardingError("no plugin could talk to this device", ErrorKind.DEVICE_FAILED)
    if probe.error or probe.main is None:
        error = hub.redactor(probe.error or "the device offers no stream")
        # A refused login is the user's to fix (400), anything else the device's (502).
        kind = ErrorKind.INVALID if probe.login_refused else ErrorKind.DEVICE_FAILED
        raise OnboardingError(error, kind)
    entry = camera_entry(name or device.name or camera_id, device_url, username, probe)
    if motion_source is not None:
        entry["motion"] = {"source": motion_source}
    if record_mode is not None:
        entry["record"] = {"mode": record_mode}
    loaded = {**entry, "onvif": {**entry["onvif"], "password": password or None}}
    for key in ("url", "detect_url"):
        if key in loaded:
            loaded[key] = with_credentials(loaded[key], username, password)
    try:
        config = CameraConfig.model_validate(loaded)
    except ValidationError as exc:
        raise OnboardingError(hub.redactor(f"the device's answer makes no camera: {exc}")) from None
    async with store_lock(hub):
        # Checked again: another add may have taken the id while this device was probed.
        if camera_id in hub.cameras:
            raise OnboardingError(f"camera {camera_id} exists already", ErrorKind.CONFLICT)
        await asyncio.to_thread(hub.cameras.added.save, camera_id, entry, password)
        await hub.cameras.async_add(camera_id, config)
    _LOGGER.info(
        "Camera %s added from %s (%s %s)", camera_id, device.host, probe.manufacturer, probe.model
    )
    return AddedCamera(camera_id, config, probe)
