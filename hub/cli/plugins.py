"""`camhub plugins`: every plugin with its state, and which object detector each camera uses.

Nothing is started: the detectors are worked out from the config (and the
cameras the panel added in the data dir) the way the hub chooses them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub import hookspecs
from hub.cameras.added import AddedCameraStore
from hub.config.loading import LoadedConfig
from hub.detection.detectors import plan_detectors
from hub.extensions.manager import PluginManager
from hub.extensions.typed_sections import types_by_name


def plugins_command(
    loaded: LoadedConfig, data_dir: Path, manager: PluginManager, as_json: bool
) -> str:
    """What `camhub plugins [--json]` prints."""
    types = types_by_name(manager.call_collect(hookspecs.detector_types))
    cameras = dict(AddedCameraStore(data_dir).load(loaded.config.cameras).cameras)
    cameras.update(loaded.config.cameras)
    entries, choices = plan_detectors(loaded.config, cameras, types)
    detectors: dict[str, list[dict[str, Any]]] = {}
    for entry_id, entry in entries.items():
        spec = types.get(entry.type)
        detectors.setdefault(spec.plugin if spec else "", []).append(
            {
                "id": entry_id,
                "type": entry.type,
                "summary": entry.summary,
                "default": entry.default,
                "cameras": sorted(
                    c for c, choice in choices.items() if choice.detector_id == entry_id
                ),
            }
        )
    infos = manager.list_plugins()
    if as_json:
        return json.dumps(
            [{**info.as_dict(), "detectors": detectors.get(info.name, [])} for info in infos],
            indent=2,
        )
    lines = []
    for info in infos:
        lines.append(f"{info.name:24} {info.version or '-':10} {info.source:10} {info.state}")
        lines.append(f"    hooks: {', '.join(sorted(info.hooks)) or '-'}")
        if info.error:
            lines.append(f"    error: {info.error}")
        for detector in detectors.get(info.name, []):
            default = ", built in default" if detector["default"] else ""
            used = ", ".join(detector["cameras"]) or "no camera"
            lines.append(
                f"    detector {detector['id']} ({detector['type']}{default}): "
                f"{detector['summary'] or '-'}; used by {used}"
            )
    off = {c: choice.reason for c, choice in sorted(choices.items()) if choice.detector_id is None}
    if off:
        lines.append("cameras without object detection:")
        lines += [f"    {camera}: {reason}" for camera, reason in off.items()]
    return "\n".join(lines)
