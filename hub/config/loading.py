"""Loading the config: YAML to models, with errors that name the key and the line."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from hub.config.models import (
    CameraConfig,
    HubConfig,
    RecordConfig,
    TypedSection,
)
from hub.config.yaml_source import KeyPath, YamlSource, line_of, parse_yaml, path_to_str
from hub.security.redact import Redactor


@dataclass(frozen=True)
class ConfigIssue:
    """One config problem, located by file, line and key path."""

    filename: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config is invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "list": "a list",
    "tuple": "a list",
}


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return args[0] if is_union and len(args) == 1 else annotation


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The model class whose fields are the keys at `path` (for 'did you mean')."""
    current: Any = HubConfig
    for part in path:
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def describe_error(error: Any, path: KeyPath, parent: type[BaseModel] | None = None) -> str:
    """A short user-facing message for one pydantic error; `parent` helps suggest keys."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        model = parent or _model_at(path[:-1])
        hint = ""
        if model is not None:
            close = difflib.get_close_matches(key, list(model.model_fields), n=1)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {_BOUNDS[kind]} {bound} (got {_show(got)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_show(got)}){_yaml_bool_hint(got)}"
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix) and kind.removesuffix(suffix) in _TYPE_NAMES:
            return f"must be {_TYPE_NAMES[kind.removesuffix(suffix)]} (got {_show(got)})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(got)})"
    if kind == "too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "too_long" and "max_length" in ctx:
        return f"allows at most {ctx['max_length']} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _yaml_bool_hint(got: Any) -> str:
    """Why a word became true/false: YAML 1.1 reads bare on/off/yes/no as booleans."""
    if not isinstance(got, bool):
        return ""
    words = "on, yes or true" if got else "off, no or false"
    return f"; YAML reads a bare {words} as {_show(got)}: write the word in quotes"


def _issues_from_validation(exc: ValidationError, source: YamlSource) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        raw = tuple(error["loc"])
        # Dict keys checked by a pattern report the key with a '[key]' suffix.
        path: KeyPath = tuple(p for p in raw if p != "[key]")
        if path in source.unresolved:
            continue  # the missing secret or variable is already reported; its stand-in is noise
        message = describe_error(error, path)
        if "[key]" in raw:
            message = f"ids use lowercase letters, digits and _ (got {_show(path[-1])})"
        issues.append(
            ConfigIssue(source.filename, source.line_of(path), path_to_str(path), message)
        )
    return issues


def _duplicate_automation_ids(data: Any, source: YamlSource) -> list[ConfigIssue]:
    # Read from the raw data so duplicates are reported even when other keys are invalid.
    automations = data.get("automations") if isinstance(data, dict) else None
    if not isinstance(automations, list):
        return []
    issues: list[ConfigIssue] = []
    seen: set[str] = set()
    for index, item in enumerate(automations):
        auto_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(auto_id, str) or not auto_id:
            continue
        if auto_id in seen:
            path: KeyPath = ("automations", index, "id")
            message = f"duplicate automation id '{auto_id}'"
            issues.append(
                ConfigIssue(source.filename, source.line_of(path), path_to_str(path), message)
            )
        seen.add(auto_id)
    return issues


def _unknown_detectors(config: HubConfig, source: YamlSource) -> list[ConfigIssue]:
    issues = []
    for camera_id, camera in config.cameras.items():
        wanted = camera.objects.detector
        if wanted is not None and wanted not in config.detectors:
            path: KeyPath = ("cameras", camera_id, "objects", "detector")
            known = ", ".join(sorted(config.detectors)) or "none configured"
            message = f"unknown detector '{wanted}' (known: {known})"
            issues.append(
                ConfigIssue(source.filename, source.line_of(path), path_to_str(path), message)
            )
    return issues


def validate_source(source: YamlSource) -> HubConfig:
    """Validate parsed YAML; raises ConfigError listing every problem found."""
    issues = [
        ConfigIssue(source.filename, issue.line, path_to_str(issue.path), issue.message)
        for issue in source.issues
    ]
    data = source.data
    if data is None and not issues:
        data = {}
    if data is not None and not isinstance(data, dict):
        issues.append(ConfigIssue(source.filename, 1, "", "the config must be a mapping of keys"))
        data = None
    config: HubConfig | None = None
    if data is not None:
        try:
            config = HubConfig.model_validate(data)
        except ValidationError as exc:
            issues.extend(_issues_from_validation(exc, source))
    issues.extend(_duplicate_automation_ids(data, source))
    if config is not None:
        issues.extend(_unknown_detectors(config, source))
    if issues:
        redact = Redactor(source.secret_values)
        issues = [
            ConfigIssue(i.filename, i.line, i.path, redact(i.message))
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

    def issue(self, path: KeyPath, message: str) -> ConfigIssue:
        """A ConfigIssue located in this file (used for checks made after loading)."""
        line = line_of(self.lines, path)
        filename = self.path.name if self.path else "<default config>"
        # Plugin option errors quote the bad value, which may have come from a secret.
        redact = Redactor(self.secret_values)
        return ConfigIssue(filename, line, path_to_str(path), redact(message))


def load_config(path: Path) -> LoadedConfig:
    """Read, parse and validate a config file; raises ConfigError for any problem."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), None, "", "config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError([ConfigIssue(str(path), None, "", f"cannot read: {reason}")]) from None
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
