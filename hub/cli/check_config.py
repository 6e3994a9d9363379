"""`camhub check-config`: every problem the hub would find in a config file, in one run.

The loader's checks (keys, types, values) come first; then, even when some of those
failed, the checks the hub makes at start: plugin sections against the plugins'
types, and automations against the cameras, zones and notifiers they name, the
placeholders their triggers fill and the types that exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub import hookspecs
from hub.automations.builder import Builder, Catalog
from hub.automations.catalog import builtin_types
from hub.automations.model import CheckEnv
from hub.cameras.added import AddedCameraStore
from hub.config.issues import Issue, KeyPath
from hub.config.loading import ConfigError, LoadedConfig, validate_source
from hub.config.models import HubConfig, TypedSection
from hub.config.yaml_source import YamlSource, parse_yaml
from hub.core import load_plugins
from hub.extensions.manager import PluginManager
from hub.extensions.registry import AutomationType
from hub.extensions.typed_sections import check_section, types_by_name

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass
class CheckResult:
    """What `check_file` found: the config (None when the loader refused it) and the issues."""

    config: HubConfig | None
    issues: list[Issue] = field(default_factory=list)


def _key_path(text: str) -> KeyPath:
    """`triggers[0].camera` -> ("triggers", 0, "camera")."""
    return tuple(int(index) if index else name for name, index in _STEP.findall(text))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _entries(raw: Any) -> dict[str, TypedSection]:
    """The entries of a raw notifiers/detectors section that have a type at all (the loader
    reported the others)."""
    found: dict[str, TypedSection] = {}
    for entry_id, entry in _mapping(raw).items():
        try:
            found[str(entry_id)] = TypedSection.model_validate(entry)
        except ValidationError:
            continue
    return found


def _plugins(source: YamlSource, loaded: LoadedConfig) -> PluginManager:
    """Plugins as the hub would load them, from what of `plugins`/`plugins_dir` is valid."""
    data = _mapping(source.data)
    try:
        partial = HubConfig.model_validate(
            {k: data[k] for k in ("plugins", "plugins_dir") if k in data}
        )
    except ValidationError:
        partial = HubConfig()
    return load_plugins(LoadedConfig(partial, loaded.path, loaded.secret_values, loaded.lines))


def _cameras(
    config: HubConfig | None, raw: Any, data_dir: Path | None
) -> dict[str, frozenset[str]]:
    """Camera ids with their zone names: the file's, the panel's overrides and additions."""
    if config is None:
        return {
            str(camera_id): frozenset(_mapping(_mapping(camera).get("zones")))
            for camera_id, camera in _mapping(raw).items()
        }
    cameras = {camera_id: camera for camera_id, camera in config.cameras.items()}
    if data_dir is not None and data_dir.is_dir():
        added = AddedCameraStore(data_dir).load(config.cameras)
        cameras.update(added.overrides)
        cameras.update(added.cameras)
    return {camera_id: frozenset(camera.zones) for camera_id, camera in cameras.items()}


def _automation_types(manager: PluginManager) -> dict[tuple[str, str], AutomationType]:
    types: dict[tuple[str, str], AutomationType] = {
        (spec.kind, spec.name): spec for spec in builtin_types()
    }
    for _, spec in manager.call_collect(hookspecs.automation_types):
        if isinstance(spec, AutomationType):
            types.setdefault((spec.kind, spec.name), spec)
    return types


def _has_location(data: Mapping[str, Any]) -> bool:
    location = _mapping(data.get("location"))
    return location.get("latitude") is not None and location.get("longitude") is not None


def check_file(
    path: Path, data_dir: Callable[[LoadedConfig], Path | None] = lambda loaded: None
) -> CheckResult:
    """Every problem in the config file at `path`, as the hub would see it with the data dir
    `data_dir(loaded)` gives (where the panel keeps the cameras it added)."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CheckResult(None, [Issue("", "config file not found", filename=shown)])
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return CheckResult(None, [Issue("", f"cannot read: {reason}", filename=shown)])
    source = parse_yaml(text, shown, path.parent / "secrets.yaml")
    config: HubConfig | None = None
    issues: list[Issue] = []
    try:
        config = validate_source(source)
    except ConfigError as exc:
        issues = list(exc.issues)
    if not isinstance(source.data, dict):
        return CheckResult(config, issues)
    loaded = LoadedConfig(
        config or HubConfig(), path, frozenset(source.secret_values), dict(source.lines)
    )
    manager = _plugins(source, loaded)
    notifiers: set[str] = set()
    for section, hook in (
        ("notifiers", hookspecs.notifier_types),
        ("detectors", hookspecs.detector_types),
    ):
        types = types_by_name(manager.call_collect(hook))
        good, found = check_section(loaded, section, _entries(source.data.get(section)), types)
        issues += found
        if section == "notifiers":
            notifiers = {entry.entry_id for entry in good}
    issues += [
        loaded.issue(("plugins_dir",), f"plugin {info.name} did not load: {info.error}")
        for info in manager.list_plugins()
        if info.state == "error"
    ]
    env = CheckEnv(
        cameras=_cameras(config, source.data.get("cameras"), data_dir(loaded) if config else None),
        notifiers=frozenset(notifiers),
        has_location=_has_location(source.data),
    )
    issues += _automation_issues(source.data.get("automations"), env, manager, loaded)
    # Named as the person typed it, every line alike; one problem found twice is said once.
    unique = list(
        dict.fromkeys(Issue(i.path, i.message, filename=shown, line=i.line) for i in issues)
    )
    return CheckResult(config, sorted(unique, key=lambda issue: issue.line or 0))


def _automation_issues(
    raw: Any, env: CheckEnv, manager: PluginManager, loaded: LoadedConfig
) -> list[Issue]:
    """The checks the automation engine makes at start, which disable what fails them."""
    catalog = Catalog(_automation_types(manager))
    issues: list[Issue] = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        builder = Builder(catalog, env, build=False)
        # The loader checked id, mode and the other keys beside the building blocks.
        builder.automation(item, check_top=False)
        for issue in builder.issues:
            where: KeyPath = ("automations", index, *_key_path(issue.path))
            issues.append(loaded.issue(where, issue.message))
    return issues
