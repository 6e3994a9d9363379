"""Changing cameras on a running hub: add one by its stream URL, remove an added one, save zones.

Each change is checked with the config's own models (errors name the key path), written to
the data dir (hub/cameras/added.py) and applied at once through the camera manager.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from hub.cameras.added import CameraAreas, apply_areas, strip_credentials
from hub.cameras.added import with_credentials as put_credentials
from hub.cameras.onboarding import store_lock
from hub.config.issues import Issue, validation_issues
from hub.config.models import CAMERA_ID_RULE, CameraConfig, is_camera_id
from hub.config.yaml_source import MIN_SECRET_LENGTH
from hub.errors import ErrorKind, HubError

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
NETWORK_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "demo://")
"""A camera added over the API reads the network (or the demo); files are for the config."""
# Body names the API takes for nested config keys, so errors point at the form's fields.
URL_CAMERA_KEYS = ("id", "name", "url", "detect_url", "record_mode", "motion_source")
FLAT_NAMES = {"record.mode": "record_mode", "motion.source": "motion_source"}


class CameraEditError(HubError):
    """The change was refused; `kind` says why (the web layer picks the status)."""


def field_errors(exc: ValidationError, model: type[BaseModel]) -> list[Issue]:
    """Every pydantic error as an issue at the name the API's body uses."""
    return [
        dataclasses.replace(issue, path=FLAT_NAMES.get(issue.path, issue.path))
        for issue in validation_issues(exc, model)
    ]


def _url_camera(body: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """The stored entry (no credentials) and the username and password taken from the URLs."""
    entry: dict[str, Any] = {}
    if body.get("name"):
        entry["name"] = body["name"]
    username = password = None
    for key in ("url", "detect_url"):
        url = body.get(key)
        if not isinstance(url, str):
            if url is not None:
                entry[key] = url  # left for the model to refuse with its path
            continue
        url, user, secret = strip_credentials(url.strip())
        if user is not None:
            if username is not None and (user, secret) != (username, password):
                raise CameraEditError(
                    "the two URLs hold different logins; the hub keeps one per camera",
                    ErrorKind.INVALID,
                    [Issue(key, "a different user or password than the main URL")],
                )
            username, password = user, secret
        entry[key] = url
    if body.get("record_mode") is not None:
        entry["record"] = {"mode": body["record_mode"]}
    if body.get("motion_source") is not None:
        entry["motion"] = {"source": body["motion_source"]}
    return entry, username, password


def _check_url_camera(
    camera_id: Any, entry: dict[str, Any], loaded: dict[str, Any]
) -> CameraConfig:
    errors = []
    if not is_camera_id(camera_id):
        errors.append(Issue("id", CAMERA_ID_RULE))
    try:
        config = CameraConfig.model_validate(loaded)
    except ValidationError as exc:
        errors += field_errors(exc, CameraConfig)
    for key in ("url", "detect_url"):
        url = entry.get(key)
        known = any(e.path == key for e in errors)
        if isinstance(url, str) and not url.lower().startswith(NETWORK_SCHEMES) and not known:
            errors.append(Issue(key, "use an rtsp://, rtsps://, http(s):// or demo:// URL"))
    if errors:
        raise CameraEditError("the camera was not added", ErrorKind.INVALID, errors)
    return config


async def async_add_url_camera(hub: Hub, body: dict[str, Any]) -> CameraConfig:
    """Add a camera from `{id, name?, url, detect_url?, record_mode?, motion_source?}`.

    Credentials in the URLs go to the data dir's secrets; the camera starts now.
    """
    camera_id = body.get("id")
    unknown = sorted(set(body) - set(URL_CAMERA_KEYS))
    if unknown:
        errors = [Issue(str(key), "unknown key") for key in unknown]
        raise CameraEditError(f"unknown keys: {', '.join(unknown)}", ErrorKind.INVALID, errors)
    entry, username, password = _url_camera(body)
    if password and len(password) >= MIN_SECRET_LENGTH:
        hub.redactor.add([password])
    loaded = dict(entry)
    for key in ("url", "detect_url"):
        if isinstance(loaded.get(key), str):
            loaded[key] = put_credentials(loaded[key], username, password)
    config = _check_url_camera(camera_id, entry, loaded)
    assert isinstance(camera_id, str)
    if username is not None:
        entry["login"] = {"username": username}
    async with store_lock(hub):
        if camera_id in hub.cameras:
            raise CameraEditError(
                f"camera {camera_id} exists already", ErrorKind.CONFLICT, [Issue("id", "taken")]
            )
        await asyncio.to_thread(hub.cameras.added.save, camera_id, entry, password, "login")
        await hub.cameras.async_add(camera_id, config)
    _LOGGER.info("Camera %s added by URL", camera_id)
    return config


EDIT_KEYS = ("name", "detect_url", "record_mode", "motion_source")


async def async_edit_camera(hub: Hub, camera_id: str, body: dict[str, Any]) -> bool:
    """Change `{name?, detect_url?, record_mode?, motion_source?}` of a camera added at run
    time (`detect_url: null` or "" drops it); saved and applied now. True when its stream
    restarted. A config-file camera is edited in the config file (409)."""
    runtime = hub.cameras.get(camera_id)
    if runtime is None:
        raise CameraEditError(f"no camera '{camera_id}'", ErrorKind.NOT_FOUND)
    if camera_id in hub.config.cameras:
        raise CameraEditError(
            f"camera {camera_id} is in the config file: change it there and restart camhub",
            ErrorKind.CONFLICT,
        )
    unknown = sorted(set(body) - set(EDIT_KEYS))
    if unknown:
        errors = [Issue(str(key), "unknown key") for key in unknown]
        raise CameraEditError(f"unknown keys: {', '.join(unknown)}", ErrorKind.INVALID, errors)
    changes, update = _edits(runtime.config, body)
    try:
        config = CameraConfig.model_validate({**runtime.config.model_dump(), **update})
    except ValidationError as exc:
        raise CameraEditError(
            "the camera was not changed", ErrorKind.INVALID, field_errors(exc, CameraConfig)
        ) from None
    async with store_lock(hub):
        if hub.cameras.get(camera_id) is not runtime:
            raise CameraEditError(
                f"camera {camera_id} was removed or replaced meanwhile", ErrorKind.CONFLICT
            )
        await asyncio.to_thread(hub.cameras.added.update, camera_id, changes)
        restarted = await hub.cameras.async_reconfigure(camera_id, config)
    _LOGGER.info("Camera %s changed: %s", camera_id, ", ".join(sorted(body)))
    return restarted


def _edits(config: CameraConfig, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What to store (no credentials) and what to run (the camera's login put back)."""
    changes: dict[str, Any] = {}
    update: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = update["name"] = body["name"] or None
    if body.get("record_mode") is not None:
        changes["record"] = {"mode": body["record_mode"]}
        update["record"] = {**config.record.model_dump(), "mode": body["record_mode"]}
    if body.get("motion_source") is not None:
        changes["motion"] = {"source": body["motion_source"]}
        update["motion"] = {**config.motion.model_dump(), "source": body["motion_source"]}
    if "detect_url" in body:
        url = body["detect_url"]
        if not isinstance(url, str) or not url.strip():
            if url not in (None, ""):
                update["detect_url"] = url  # left for the model to refuse with its path
            else:
                changes["detect_url"] = update["detect_url"] = None
        else:
            _, username, password = strip_credentials(config.url)
            stripped, user, secret = strip_credentials(url.strip())
            if user is not None and (user, secret) != (username, password):
                raise CameraEditError(
                    "the detection URL holds another login; the hub keeps one per camera",
                    ErrorKind.INVALID,
                    [Issue("detect_url", "a different user or password than the camera's")],
                )
            if not stripped.lower().startswith(NETWORK_SCHEMES):
                raise CameraEditError(
                    "the camera was not changed",
                    ErrorKind.INVALID,
                    [Issue("detect_url", "use an rtsp://, rtsps://, http(s):// or demo:// URL")],
                )
            changes["detect_url"] = stripped
            update["detect_url"] = put_credentials(stripped, username, password)
    return changes, update


async def async_remove_camera(hub: Hub, camera_id: str) -> None:
    """Stop and forget a camera added at run time (its footage stays, ageing out as usual)."""
    if camera_id not in hub.cameras:
        raise CameraEditError(f"no camera '{camera_id}'", ErrorKind.NOT_FOUND)
    if camera_id in hub.config.cameras:
        raise CameraEditError(
            f"camera {camera_id} is in the config file: remove it there and restart camhub",
            ErrorKind.CONFLICT,
        )
    async with store_lock(hub):
        await asyncio.to_thread(hub.cameras.added.remove, camera_id)
        await hub.cameras.async_remove(camera_id)
    _LOGGER.info("Camera %s removed", camera_id)


async def async_save_areas(hub: Hub, camera_id: str, body: dict[str, Any]) -> bool:
    """Save `{zones?, masks?, privacy_masks?}` for a camera and apply them now.

    True when the camera's stream restarted (privacy masks changed).
    """
    runtime = hub.cameras.get(camera_id)
    if runtime is None:
        raise CameraEditError(f"no camera '{camera_id}'", ErrorKind.NOT_FOUND)
    try:
        areas = CameraAreas.model_validate(body)
        config = apply_areas(runtime.config, body)
    except ValidationError as exc:
        raise CameraEditError(
            "the zones were not saved", ErrorKind.INVALID, field_errors(exc, CameraAreas)
        ) from None
    async with store_lock(hub):
        if hub.cameras.get(camera_id) is not runtime:
            raise CameraEditError(
                f"camera {camera_id} was removed or replaced meanwhile", ErrorKind.CONFLICT
            )
        await asyncio.to_thread(hub.cameras.added.save_areas, camera_id, areas)
        return await hub.cameras.async_reconfigure(camera_id, config)
