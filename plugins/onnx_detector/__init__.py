"""Built-in `onnx` detector type: the bundled COCO model, or YOLO and SSD models you give.

With no `detectors` section the hub builds one `onnx` detector, `coco`, on the
bundled SSD MobileNetV3 model (`TypeSpec.default_entry`), so every camera finds
people, cars and pets out of the box. ONNX Runtime is imported only when a
detector is built, so the type (and its options form) exists even where it is
missing; the detector is then reported as a problem and cameras keep motion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import TypeSpec, find_model_file, hookimpl, read_labels
from plugins.onnx_detector import bundled
from plugins.onnx_detector.coco import COCO_LABELS
from plugins.onnx_detector.detector import OnnxDetector
from plugins.onnx_detector.options import InputRange, OnnxDetectorOptions

if TYPE_CHECKING:
    from hub import Hub

__version__ = "1.1.0"
DEFAULT_ENTRY = "coco"
"""Id of the detector the hub builds on the bundled model when `detectors` is empty."""

"""Folder of the data dir where relative `model` and `labels` paths are looked up first."""

__all__ = [
    "COCO_LABELS",
    "DEFAULT_ENTRY",
    "OnnxDetector",
    "OnnxDetectorOptions",
    "bundled",
]


def _create(hub: Hub, detector_id: str, options: OnnxDetectorOptions) -> OnnxDetector:
    input_range: InputRange = options.input_range
    if options.model is None:
        model = bundled.model_path()
        default_labels = bundled.labels()
        description = bundled.DESCRIPTION
        if input_range == "auto":
            input_range = bundled.INPUT_RANGE
    else:
        model = find_model_file(hub, options.model, "model file")
        default_labels = COCO_LABELS
        description = f"model {model.name}"
    if options.labels is None:
        labels = default_labels
    elif isinstance(options.labels, str):
        labels = read_labels(find_model_file(hub, options.labels, "labels file"))
    else:
        labels = tuple(options.labels)
    return OnnxDetector(
        model,
        labels,
        options,
        default_labels=options.labels is None,
        input_range=input_range,
        description=description,
    )


@hookimpl
def detector_types() -> list[TypeSpec]:
    """Offer the `onnx` detector type."""
    return [
        TypeSpec(
            name="onnx",
            options=OnnxDetectorOptions,
            create=_create,
            description="Find objects on the CPU with the bundled COCO model, or a YOLO or SSD "
            "model of yours in ONNX format.",
            default_entry=DEFAULT_ENTRY,
        )
    ]
