"""Built-in remote detectors: `deepstack` (DeepStack, CodeProject.AI) and `kserve` (V2 servers)."""

from __future__ import annotations

from typing import Any

from hub import TypeSpec, find_model_file, hookimpl, read_labels
from plugins.remote_detector.detector import DeepStackDetector
from plugins.remote_detector.kserve import KServeDetector
from plugins.remote_detector.kserve_options import KServeOptions
from plugins.remote_detector.options import DeepStackOptions

__version__ = "1.1.0"

__all__ = ["DeepStackDetector", "DeepStackOptions", "KServeDetector", "KServeOptions"]


def _create(hub: Any, detector_id: str, options: DeepStackOptions) -> DeepStackDetector:
    return DeepStackDetector(detector_id, options, hub)


def _create_kserve(hub: Any, detector_id: str, options: KServeOptions) -> KServeDetector:
    labels: tuple[str, ...] | None = None
    if isinstance(options.labels, list):
        labels = tuple(options.labels)
    elif isinstance(options.labels, str):
        labels = read_labels(find_model_file(hub, options.labels, "labels file"))
    return KServeDetector(detector_id, options, labels, hub)


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
