"""Built-in `deepstack` detector: object detection by a DeepStack / CodeProject.AI server."""

from __future__ import annotations

from typing import Any

from hub import TypeSpec, hookimpl
from plugins.remote_detector.detector import DeepStackDetector
from plugins.remote_detector.options import DeepStackOptions

__version__ = "1.0.0"

__all__ = ["DeepStackDetector", "DeepStackOptions"]

# Detectors built for each hub, so `shutdown` closes the sessions of that hub only.


def _create(hub: Any, detector_id: str, options: DeepStackOptions) -> DeepStackDetector:
    return DeepStackDetector(detector_id, options)


@hookimpl
def detector_types() -> list[TypeSpec]:
    """Offer the `deepstack` detector type."""
    return [
        TypeSpec(
            name="deepstack",
            options=DeepStackOptions,
            create=_create,
            description="Send images to a DeepStack or CodeProject.AI server "
            "(POST /v1/vision/detection).",
        )
    ]
