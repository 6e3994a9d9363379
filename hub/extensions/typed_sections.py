"""Checks `notifiers`/`detectors` entries against the types plugins provide, and builds them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hub.config.issues import Issue
from hub.config.loading import LoadedConfig
from hub.config.models import TypedSection
from hub.extensions.registry import PluginOptions, TypeSpec


@dataclass(frozen=True)
class CheckedEntry:
    """A config entry whose type exists and whose options validated."""

    entry_id: str
    spec: TypeSpec
    options: PluginOptions


def check_section(
    loaded: LoadedConfig,
    section: str,
    entries: Mapping[str, TypedSection],
    types: Mapping[str, TypeSpec],
) -> tuple[list[CheckedEntry], list[Issue]]:
    """Validate each entry of a typed section; returns the good ones and every issue."""
    good: list[CheckedEntry] = []
    issues: list[Issue] = []
    kind = section.rstrip("s")
    for entry_id, entry in entries.items():
        spec = types.get(entry.type)
        if spec is None:
            known = ", ".join(sorted(types)) or "none loaded"
            issues.append(
                loaded.issue(
                    (section, entry_id, "type"),
                    f"unknown {kind} type '{entry.type}' (known: {known})",
                )
            )
            continue
        try:
            options = spec.options.model_validate(entry.options())
        except ValidationError as exc:
            issues.extend(loaded.validation_issues(exc, spec.options, (section, entry_id)))
            continue
        good.append(CheckedEntry(entry_id, spec, options))
    return good, issues


def types_by_name(pairs: list[tuple[str, Any]]) -> dict[str, TypeSpec]:
    """Index (plugin, TypeSpec) pairs by type name; the first plugin to offer a name wins."""
    found: dict[str, TypeSpec] = {}
    for plugin, spec in pairs:
        if isinstance(spec, TypeSpec) and spec.name not in found:
            found[spec.name] = dataclasses.replace(spec, plugin=plugin)
    return found
