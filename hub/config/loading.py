"""Loading the config: YAML to models, with issues that name the key and the line."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.config.issues import Issue, KeyPath, line_of, path_to_str, validation_issues
from hub.config.models import (
    CameraConfig,
    HubConfig,
    ObjectsConfig,
    RecordConfig,
    TypedSection,
)
from hub.config.yaml_source import YamlSource, parse_yaml
from hub.security.redact import Redactor


class ConfigError(Exception):
    """The config is invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def _issue(source: YamlSource, path: KeyPath, message: str) -> Issue:
    return Issue(path_to_str(path), message, source.filename, source.line_of(path))


def _issues_from_validation(exc: ValidationError, source: YamlSource) -> list[Issue]:
    # A missing secret or variable is already reported; its stand-in value is noise.
    return validation_issues(
        exc, HubConfig, filename=source.filename, lines=source.lines, skip=source.unresolved
    )


def _duplicate_automation_ids(data: Any, source: YamlSource) -> list[Issue]:
    # Read from the raw data so duplicates are reported even when other keys are invalid.
    automations = data.get("automations") if isinstance(data, dict) else None
    if not isinstance(automations, list):
        return []
    issues: list[Issue] = []
    seen: set[str] = set()
    for index, item in enumerate(automations):
        auto_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(auto_id, str) or not auto_id:
            continue
        if auto_id in seen:
            path: KeyPath = ("automations", index, "id")
            message = f"duplicate automation id '{auto_id}'"
            issues.append(_issue(source, path, message))
        seen.add(auto_id)
    return issues


def _object_issues(config: HubConfig, source: YamlSource) -> list[Issue]:
    """Detectors that do not exist, and label filters for labels nobody looks for."""
    issues: list[Issue] = []
    known = ", ".join(sorted(config.detectors)) or "none configured"
    sections: list[tuple[KeyPath, ObjectsConfig, ObjectsConfig]] = [
        (("objects",), config.objects, config.objects)
    ]
    sections += [
        (("cameras", camera_id, "objects"), camera.objects, camera.objects.under(config.objects))
        for camera_id, camera in config.cameras.items()
    ]
    for path, written, effective in sections:
        if written.detector is not None and written.detector not in config.detectors:
            message = f"unknown detector '{written.detector}' (known: {known})"
            issues.append(_issue(source, (*path, "detector"), message))
        if not {"filters", "labels"} & written.model_fields_set:
            continue
        for label in effective.filters:
            if label not in effective.labels:
                message = (
                    f"'{label}' is not in objects.labels ({', '.join(effective.labels)}), so "
                    "this filter would never apply"
                )
                issues.append(_issue(source, (*path, "filters", label), message))
    return issues


def validate_source(source: YamlSource) -> HubConfig:
    """Validate parsed YAML; raises ConfigError listing every problem found."""
    issues = list(source.issues)
    data = source.data
    if data is None and not issues:
        data = {}
    if data is not None and not isinstance(data, dict):
        issues.append(Issue("", "the config must be a mapping of keys", source.filename, 1))
        data = None
    config: HubConfig | None = None
    if data is not None:
        try:
            config = HubConfig.model_validate(data)
        except ValidationError as exc:
            issues.extend(_issues_from_validation(exc, source))
    issues.extend(_duplicate_automation_ids(data, source))
    if config is not None:
        issues.extend(_object_issues(config, source))
    if issues:
        redact = Redactor(source.secret_values)
        issues = [
            dataclasses.replace(i, message=redact(i.message))
            for i in sorted(issues, key=lambda issue: issue.line or 0)
        ]
        raise ConfigError(issues)
    assert config is not None
    return config


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from, its key lines and which values are secret."""

    config: HubConfig
    path: Path | None
    secret_values: frozenset[str] = frozenset()
    lines: Mapping[KeyPath, int] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        """The config file's name, for issues."""
        return self.path.name if self.path else "<default config>"

    def issue(self, path: KeyPath, message: str) -> Issue:
        """An issue located in this file (used for checks made after loading)."""
        # Plugin option errors quote the bad value, which may have come from a secret.
        redact = Redactor(self.secret_values)
        return Issue(path_to_str(path), redact(message), self.filename, line_of(self.lines, path))

    def validation_issues(
        self, exc: ValidationError, model: type[BaseModel], at: KeyPath
    ) -> list[Issue]:
        """Issues for a section validated after loading (`model` checked the data at `at`)."""
        redact = Redactor(self.secret_values)
        return [
            dataclasses.replace(issue, message=redact(issue.message))
            for issue in validation_issues(exc, model, at, self.filename, self.lines)
        ]


def load_config(path: Path) -> LoadedConfig:
    """Read, parse and validate a config file; raises ConfigError for any problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Issue("", "config file not found", str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([Issue("", f"cannot read: {reason}", str(path))]) from None
    source = parse_yaml(text, name, path.parent / "secrets.yaml")
    config = validate_source(source)
    return LoadedConfig(config, path, frozenset(source.secret_values), dict(source.lines))


def default_config() -> LoadedConfig:
    """The embedded default used when `camhub run` is given no config: one demo camera."""
    demo = CameraConfig(
        name="Demo camera",
        url="demo://",
        # Continuous, but small: the demo shows recordings without filling the disk.
        record=RecordConfig(mode="continuous", max_days=1, max_gb=0.5),
    )
    # Notifications show up live in the panel: the one notifier that needs no setup.
    panel = TypedSection(type="panel")
    return LoadedConfig(HubConfig(cameras={"demo": demo}, notifiers={"panel": panel}), None)
