"""Cameras added at run time (discovery or a URL) and panel edits, kept in the data dir.

`<data>/cameras.yaml` holds added cameras in the config file's own format, under
`cameras:`, with passwords written `!secret <name>` and kept in
`<data>/secrets.yaml` (mode 0600). Stream URLs are stored without credentials;
the ONVIF username and password (or, for a camera added by URL, the `login:`
mapping taken out of its URL) are put into them when the camera is loaded, so
the password lives in one place. A camera id also present in the config file
is skipped: the config file wins.

Zones, motion masks and privacy masks saved from the panel go into the added
camera's own entry, or, for a camera of the config file, under `overrides:`;
those keys then replace the config file's (each key whole, not zone by zone).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import yaml
from pydantic import Field, ValidationError

from hub.config.issues import validation_issues
from hub.config.models import CAMERA_ID_RULE, CameraConfig, Polygon, StrictModel, Zone, is_camera_id
from hub.config.yaml_source import parse_yaml
from hub.security.redact import find_login

_LOGGER = logging.getLogger(__name__)

CAMERAS_FILE = "cameras.yaml"
SECRETS_FILE = "secrets.yaml"
OVERRIDE_KEYS = ("zones", "masks", "privacy_masks")
LOGIN_KEY = "login"
"""Store-only key of a camera added by URL: the `username` and `password` taken out of it."""
_HEADER = (
    "# Cameras added from the panel or API (camhub writes this file; editing it by hand is\n"
    "# fine while camhub is stopped). Passwords are in secrets.yaml beside it.\n"
)


@dataclass(frozen=True)
class SecretRef:
    """`!secret name` in a written file."""

    name: str


class _Dumper(yaml.SafeDumper):
    pass


class _Loader(yaml.SafeLoader):
    pass


_Dumper.add_representer(SecretRef, lambda d, ref: d.represent_scalar("!secret", ref.name))
_Loader.add_constructor("!secret", lambda loader, node: SecretRef(str(node.value)))


class CameraAreas(StrictModel):
    """The part of a camera the panel's zone editor saves; a key left out is not changed."""

    zones: dict[str, Zone] | None = Field(None, description="Named zones.")
    masks: list[Polygon] | None = Field(None, description="Motion masks.")
    privacy_masks: list[Polygon] | None = Field(None, description="Privacy masks.")

    def as_entry(self) -> dict[str, Any]:
        """The keys given, as plain data for the YAML file."""
        return self.model_dump(mode="json", exclude_none=True)


@dataclass
class LoadedCameras:
    """What was read: cameras by id, the secret values to redact, and problems to show."""

    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    overrides: dict[str, CameraConfig] = field(default_factory=dict)
    """Cameras of the config file with the panel's zones and masks put over them."""


def strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    """`url` without `user:password@`, and the user and password taken out (percent-encoded
    ones decoded). The login ends at the last `@` before the host, so a password may hold
    `@`, `/` or `:` as typed; `rtsp://:password@host` (no user) is a login too."""
    login = find_login(url)
    if login is None:
        return url, None, None
    password = unquote(login.password) if login.password is not None else None
    return url[: login.start] + url[login.end + 1 :], unquote(login.username), password


def apply_areas(config: CameraConfig, areas: Mapping[str, Any]) -> CameraConfig:
    """`config` with zones/masks from `areas` (checked by the config's own models)."""
    checked = CameraAreas.model_validate(areas)
    update = {k: getattr(checked, k) for k in OVERRIDE_KEYS if getattr(checked, k) is not None}
    return config.model_copy(update=update)


def with_credentials(url: str | None, username: str | None, password: str | None) -> str | None:
    """`url` with `username:password@` put in (percent-encoded), unless it has credentials
    already; an empty user name with a password gives `:password@`."""
    if not url or username is None or (not username and not password):
        return url
    parts = urlsplit(url)
    if find_login(url) is not None or not parts.hostname:
        return url
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


class AddedCameraStore:
    """Reads and writes `<data>/cameras.yaml` and its `secrets.yaml`."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / CAMERAS_FILE
        self.secrets_path = data_dir / SECRETS_FILE

    def load(self, configured: Mapping[str, object]) -> LoadedCameras:
        """Cameras in the file, minus ids the config already has; problems instead of raising."""
        loaded = LoadedCameras()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return loaded
        except (OSError, UnicodeDecodeError) as exc:
            loaded.problems.append(f"{self.path}: cannot read: {exc}")
            return loaded
        source = parse_yaml(text, CAMERAS_FILE, self.secrets_path)
        loaded.secrets.update(source.secret_values)
        loaded.problems += [str(issue) for issue in source.issues]
        data = source.data if isinstance(source.data, dict) else {}
        cameras = data.get("cameras") or {}
        if not isinstance(cameras, dict):
            loaded.problems.append(f"{CAMERAS_FILE}: cameras: must be a mapping")
            return loaded
        for camera_id, entry in cameras.items():
            problem = self._load_one(loaded, configured, str(camera_id), entry)
            if problem:
                line = source.line_of(("cameras", camera_id))
                loaded.problems.append(f"{CAMERAS_FILE}:{line}: cameras.{camera_id}: {problem}")
        overrides = data.get("overrides") or {}
        for camera_id, areas in overrides.items() if isinstance(overrides, dict) else ():
            base = configured.get(str(camera_id))
            if not isinstance(base, CameraConfig) or not isinstance(areas, dict):
                continue  # a camera since removed from the config: its edits wait unused
            try:
                loaded.overrides[str(camera_id)] = apply_areas(base, areas)
            except ValidationError as exc:
                at = ("overrides", str(camera_id))
                first = validation_issues(exc, CameraAreas, at, CAMERAS_FILE, source.lines)[0]
                loaded.problems.append(str(first))
        return loaded

    @staticmethod
    def _load_one(
        loaded: LoadedCameras, configured: Mapping[str, object], camera_id: str, entry: Any
    ) -> str | None:
        if not is_camera_id(camera_id):
            return f"ids use {CAMERA_ID_RULE}"
        if camera_id in configured:
            return "also in the config file, which wins"
        if not isinstance(entry, dict):
            return "must be a mapping"
        entry = dict(entry)
        login = entry.pop(LOGIN_KEY, None)
        onvif = entry.get("onvif")
        if not isinstance(login, dict):
            login = onvif if isinstance(onvif, dict) else {}
        username, password = login.get("username"), login.get("password")
        for key in ("url", "detect_url"):
            if isinstance(entry.get(key), str):
                entry[key] = with_credentials(entry[key], username, password)
        try:
            loaded.cameras[camera_id] = CameraConfig.model_validate(entry)
        except ValidationError as exc:
            return _first_error(exc)
        return None

    def ids(self) -> set[str]:
        """Ids of the cameras this file adds (whether or not they loaded)."""
        data = self._read_raw(self.path) or {}
        cameras = data.get("cameras")
        return {str(k) for k in cameras} if isinstance(cameras, dict) else set()

    def save(
        self, camera_id: str, entry: dict[str, Any], password: str | None, section: str = "onvif"
    ) -> None:
        """Add or replace one camera; its password goes to secrets.yaml as `<id>_password`.

        `entry` must not hold the password (nor credentials in URLs); the password's
        reference goes under `section` (`onvif`, or `login` for a camera added by URL).
        """
        data = self._read_raw(self.path) or {}
        cameras = data.setdefault("cameras", {})
        if section in entry or password:
            entry = {**entry, section: dict(entry.get(section) or {})}
        if password:
            name = f"{camera_id}_password"
            secrets = self._read_raw(self.secrets_path) or {}
            secrets[name] = password
            _write_private(self.secrets_path, yaml.safe_dump(secrets, sort_keys=True))
            entry[section]["password"] = SecretRef(name)
        cameras[camera_id] = entry
        self._write(data)

    def remove(self, camera_id: str) -> bool:
        """Forget an added camera and its password; False if the file does not add it."""
        data = self._read_raw(self.path) or {}
        cameras = data.get("cameras")
        if not isinstance(cameras, dict) or camera_id not in cameras:
            return False
        del cameras[camera_id]
        self._write(data)
        secrets = self._read_raw(self.secrets_path)
        if secrets and secrets.pop(f"{camera_id}_password", None) is not None:
            _write_private(self.secrets_path, yaml.safe_dump(secrets, sort_keys=True))
        return True

    def update(self, camera_id: str, changes: Mapping[str, Any]) -> None:
        """Change keys of an added camera's entry (None removes one; a mapping is merged
        into the one there, as `record: {mode: off}` keeps the other `record` keys)."""
        data = self._read_raw(self.path) or {}
        cameras = data.get("cameras")
        if not isinstance(cameras, dict) or not isinstance(cameras.get(camera_id), dict):
            raise KeyError(camera_id)
        entry = cameras[camera_id]
        for key, value in changes.items():
            if value is None:
                entry.pop(key, None)
            elif isinstance(value, Mapping) and isinstance(entry.get(key), dict):
                entry[key] = {**entry[key], **value}
            else:
                entry[key] = value
        self._write(data)

    def save_areas(self, camera_id: str, areas: CameraAreas) -> None:
        """Store zones/masks edited in the panel: in the added camera's entry, or as an
        override of a config-file camera."""
        data = self._read_raw(self.path) or {}
        cameras = data.get("cameras")
        if isinstance(cameras, dict) and isinstance(cameras.get(camera_id), dict):
            cameras[camera_id].update(areas.as_entry())
        else:
            overrides = data.setdefault("overrides", {})
            overrides[camera_id] = {**(overrides.get(camera_id) or {}), **areas.as_entry()}
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        text = _HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False)
        _write_private(self.path, text)

    @staticmethod
    def _read_raw(path: Path) -> dict[str, Any] | None:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None


def _first_error(exc: ValidationError) -> str:
    return str(validation_issues(exc, CameraConfig)[0])


def _write_private(path: Path, text: str) -> None:
    """Write atomically (a crash leaves the old file or the new one), readable by us only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
