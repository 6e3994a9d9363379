"""Built-in `onnx` detector type: YOLOv5, YOLOv8/YOLO11 and SSD models run by ONNX Runtime.

ONNX Runtime is imported only when a detector is built, so the type (and its
options form) exists even where the `detect` extra is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hub import DetectorError, TypeSpec, hookimpl
from plugins.onnx_detector.coco import COCO_LABELS
from plugins.onnx_detector.detector import OnnxDetector
from plugins.onnx_detector.options import OnnxDetectorOptions

if TYPE_CHECKING:
    from hub import Hub

__version__ = "1.0.0"

"""Folder of the data dir where relative `model` and `labels` paths are looked up first."""

__all__ = ["COCO_LABELS", "OnnxDetector", "OnnxDetectorOptions", "find_file", "read_labels"]


def find_file(hub: Hub, name: str, what: str) -> Path:
    """A user-given file: absolute, else in `<data dir>/models`, else next to the config file."""
    path = Path(name).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [hub.models_dir / path]
        if hub.loaded.path is not None:
            candidates.append(hub.loaded.path.parent / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(candidate) for candidate in candidates)
    raise DetectorError(f"{what} {name} not found (looked for {looked})")


def read_labels(path: Path) -> tuple[str, ...]:
    """Class names from a text file, one per line; line N (from 0) names class N."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"cannot read labels file {path}: {exc}") from exc
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DetectorError(f"labels file {path} is empty")
    if "" in lines:
        raise DetectorError(f"labels file {path}: line {lines.index('') + 1} is empty")
    return tuple(lines)


def _create(hub: Hub, detector_id: str, options: OnnxDetectorOptions) -> OnnxDetector:
    model = find_file(hub, options.model, "model file")
    if options.labels is None:
        labels = COCO_LABELS
    elif isinstance(options.labels, str):
        labels = read_labels(find_file(hub, options.labels, "labels file"))
    else:
        labels = tuple(options.labels)
    return OnnxDetector(model, labels, options, default_labels=options.labels is None)


@hookimpl
def detector_types() -> list[TypeSpec]:
    """Offer the `onnx` detector type."""
    return [
        TypeSpec(
            name="onnx",
            options=OnnxDetectorOptions,
            create=_create,
            description="Find objects with a YOLO or SSD model in ONNX format, on the CPU.",
        )
    ]
