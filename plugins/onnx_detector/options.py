"""Options of an `onnx` detector entry (`detectors.<id>` with `type: onnx`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hub import PluginOptions

Layout = Literal["auto", "yolov5", "yolov8", "ssd", "ssd_scores"]
InputRange = Literal["auto", "0..1", "-1..1", "0..255"]
Side = Annotated[int, Field(ge=16, le=4096)]
BUNDLED_NMS_IOU = 0.6
"""Class-aware NMS overlap for the bundled SSD model (what its TensorFlow post-processing used)."""
OTHER_NMS_IOU = 0.45
"""Class-aware NMS overlap for other models (what YOLO exports are tuned for)."""


class OnnxDetectorOptions(PluginOptions):
    """Options of an `onnx` detector."""

    model: str | None = Field(
        None,
        min_length=1,
        description=(
            "The .onnx model file. A relative path is looked up in the data dir's "
            "`models` folder, then next to the config file. Default: the bundled COCO model "
            "(SSD MobileNetV3-Large, 90 labels)."
        ),
    )
    labels: Annotated[list[str], Field(min_length=1)] | str | None = Field(
        None,
        description=(
            "Class names in the model's order: a list, or a text file with one name per "
            "line (found like `model`); `???` marks an unused class. Default: the bundled "
            "model's names, or for your own model the 80 COCO names of YOLO models."
        ),
    )
    layout: Layout = Field(
        "auto",
        description=(
            "How to read the model's outputs: yolov5 ([1, N, 5+C]), yolov8 (also YOLO11, "
            "[1, 4+C, N]), ssd (boxes, scores, classes after NMS) or ssd_scores (boxes and a "
            "score per class, before NMS); auto tells them apart by shape and name."
        ),
    )
    input_size: Side | tuple[Side, Side] | None = Field(
        None,
        description=(
            "Model input size in pixels: one number for a square, or [width, height]. "
            "Default: the model's own input size, or 640 when the model accepts any."
        ),
    )
    input_range: InputRange = Field(
        "auto",
        description=(
            "Pixel values the model expects: 0..1 (YOLO), -1..1 (TensorFlow MobileNet "
            "models) or 0..255. auto: -1..1 for the bundled model, 0..1 for other float "
            "inputs, 0..255 for uint8 inputs."
        ),
    )
    score_threshold: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Detections scoring below this are dropped (cameras' `min_score` may be "
        "higher, never lower).",
    )
    nms_iou: float | None = Field(
        None,
        gt=0,
        le=1,
        description=(
            "Overlap (IoU) above which a lower-scoring box of the same label is dropped. "
            f"Default: {BUNDLED_NMS_IOU} for the bundled model, {OTHER_NMS_IOU} for others."
        ),
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        description="CPU threads one inference may use. One leaves the other cores to the "
        "cameras; more makes each inference faster when there are few cameras.",
    )
    # One: on a CPU a batch is no faster per picture (the bundled model: 7% slower in
    # batches of four) and costs memory (its arena grows by 40 MB for batches of four).
    max_batch: int = Field(
        1,
        ge=1,
        le=64,
        description="Most images (regions of one frame) run in one inference, for models "
        "that accept a batch. One: on a CPU batches are no faster and take more memory.",
    )
    ssd_box_order: Literal["yxyx", "xyxy"] = Field(
        "yxyx",
        description="ssd and ssd_scores layouts: corner order of each box (TensorFlow models "
        "use yxyx).",
    )
    ssd_box_units: Literal["normalized", "pixels"] = Field(
        "normalized",
        description="ssd and ssd_scores layouts: boxes as 0..1 fractions of the model input, "
        "or its pixels.",
    )

    @property
    def bundled(self) -> bool:
        """True when this entry runs the model shipped with camhub."""
        return self.model is None

    def summary(self) -> str:
        """One line for `camhub plugins` and the panel: which model this entry runs."""
        if self.bundled:
            return "bundled COCO model (SSD MobileNetV3-Large)"
        return f"model {self.model}"
