"""Cameras added at run time (from discovery), kept in the data dir and merged with the config.

`<data>/cameras.yaml` holds them in the config file's own format, under
`cameras:`, with passwords written `!secret <name>` and kept in
`<data>/secrets.yaml` (mode 0600). Stream URLs are stored without credentials;
the ONVIF username and password are put into them when the camera is loaded, so
the password lives in one place. A camera id also present in the config file
is skipped: the config file wins.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import yaml
from pydantic import ValidationError

from hub.config import CameraConfig, describe_error
from hub.yamlsource import parse_yaml, path_to_str

_LOGGER = logging.getLogger(__name__)

CAMERAS_FILE = "cameras.yaml"
SECRETS_FILE = "secrets.yaml"
CAMERA_ID = re.compile(r"^[a-z0-9_]{1,64}$")
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


@dataclass
class LoadedCameras:
    """What was read: cameras by id, the secret values to redact, and problems to show."""

    cameras: dict[str, CameraConfig] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def with_credentials(url: str | None, username: str | None, password: str | None) -> str | None:
    """`url` with `username:password@` put in, unless it has credentials already."""
    if not url or not username:
        return url
    parts = urlsplit(url)
    if parts.username or not parts.hostname:
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
        for issue in source.issues:
            where = f"{CAMERAS_FILE}:{issue.line}" if issue.line else CAMERAS_FILE
            loaded.problems.append(f"{where}: {path_to_str(issue.path)}: {issue.message}")
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
        return loaded

    @staticmethod
    def _load_one(
        loaded: LoadedCameras, configured: Mapping[str, object], camera_id: str, entry: Any
    ) -> str | None:
        if not CAMERA_ID.match(camera_id):
            return "ids use lowercase letters, digits and _"
        if camera_id in configured:
            return "also in the config file, which wins"
        if not isinstance(entry, dict):
            return "must be a mapping"
        onvif = entry.get("onvif")
        if not isinstance(onvif, dict):
            onvif = {}
        username, password = onvif.get("username"), onvif.get("password")
        entry = dict(entry)
        for key in ("url", "detect_url"):
            if isinstance(entry.get(key), str):
                entry[key] = with_credentials(entry[key], username, password)
        try:
            loaded.cameras[camera_id] = CameraConfig.model_validate(entry)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in error["loc"])
            return f"{where}: {describe_error(error, tuple(error['loc']))}"
        return None

    def save(self, camera_id: str, entry: dict[str, Any], password: str | None) -> None:
        """Add or replace one camera; its password goes to secrets.yaml as `<id>_password`.

        `entry` must not hold the password (nor credentials in URLs).
        """
        data = self._read_raw(self.path) or {}
        cameras = data.setdefault("cameras", {})
        entry = {**entry, "onvif": dict(entry.get("onvif") or {})}
        if password:
            name = f"{camera_id}_password"
            secrets = self._read_raw(self.secrets_path) or {}
            secrets[name] = password
            _write_private(self.secrets_path, yaml.safe_dump(secrets, sort_keys=True))
            entry["onvif"]["password"] = SecretRef(name)
        cameras[camera_id] = entry
        text = _HEADER + yaml.dump(data, Dumper=_Dumper, sort_keys=False)
        _write_private(self.path, text)

    @staticmethod
    def _read_raw(path: Path) -> dict[str, Any] | None:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None


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
