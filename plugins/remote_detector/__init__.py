"""Built-in remote detectors: `deepstack` (DeepStack, CodeProject.AI) and `kserve` (V2 servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub import DetectorError, TypeSpec, hookimpl
from plugins.remote_detector.detector import DeepStackDetector
from plugins.remote_detector.kserve import KServeDetector
from plugins.remote_detector.kserve_options import KServeOptions
from plugins.remote_detector.options import DeepStackOptions

__version__ = "1.1.0"

__all__ = ["DeepStackDetector", "DeepStackOptions", "KServeDetector", "KServeOptions"]

MODELS_DIRNAME = "models"
"""Folder of the data dir where a relative `labels` file is looked up first."""


def _create(hub: Any, detector_id: str, options: DeepStackOptions) -> DeepStackDetector:
    return DeepStackDetector(detector_id, options, hub)


def _create_kserve(hub: Any, detector_id: str, options: KServeOptions) -> KServeDetector:
    labels: tuple[str, ...] | None = None
    if isinstance(options.labels, list):
        labels = tuple(options.labels)
    elif isinstance(options.labels, str):
        labels = read_labels(_find_labels(hub, options.labels))
    return KServeDetector(detector_id, options, labels, hub)


def _find_labels(hub: Any, name: str) -> Path:
    """A labels file: absolute, else in `<data dir>/models`, else next to the config file."""
    path = Path(name).expanduser()
    candidates = [path] if path.is_absolute() else [hub.data_dir / MODELS_DIRNAME / path]
    config_path = getattr(getattr(hub, "loaded", None), "path", None)
    if not path.is_absolute() and config_path is not None:
        candidates.append(config_path.parent / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(candidate) for candidate in candidates)
    raise DetectorError(f"labels file {name} not found (looked for {looked})")


def read_labels(path: Path) -> tuple[str, ...]:
    """Class names from a text file, one per line; line N (from 0) names class N."""
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DetectorError(f"cannot read labels file {path}: {exc}") from exc
    while lines and not lines[-1]:
        lines.pop()
    if not lines or "" in lines:
        raise DetectorError(f"labels file {path} is empty or has an empty line")
    return tuple(lines)


@hookimpl
def detector_types() -> list[TypeSpec]:
    """Offer the `deepstack` and `kserve` detector types."""
    return [
        TypeSpec(
            name="deepstack",
            options=DeepStackOptions,
            create=_create,
            description="Send images to a DeepStack or CodeProject.AI server "
            "(POST /v1/vision/detection).",
        ),
        TypeSpec(
            name="kserve",
            options=KServeOptions,
            create=_create_kserve,
            description="Run a detection model on an inference server speaking the Open "
            "Inference Protocol (KServe V2): Triton, KServe, Seldon MLServer, OpenVINO Model "
            "Server.",
        ),
    ]
