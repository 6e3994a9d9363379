"""Options of an `onnx` detector entry (`detectors.<id>` with `type: onnx`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hub import PluginOptions

Layout = Literal["auto", "yolov5", "yolov8", "ssd"]
Side = Annotated[int, Field(ge=16, le=4096)]


class OnnxDetectorOptions(PluginOptions):
    """Options of an `onnx` detector."""

    model: str = Field(
        min_length=1,
        description=(
            "The .onnx model file. A relative path is looked up in the data dir's "
            "`models` folder, then next to the config file."
        ),
    )
    labels: Annotated[list[str], Field(min_length=1)] | str | None = Field(
        None,
        description=(
            "Class names in the model's order: a list, or a text file with one name per "
            "line (found like `model`). Default: the 80 COCO names of YOLO models."
        ),
    )
    layout: Layout = Field(
        "auto",
        description=(
            "How to read the model's outputs: yolov5 ([1, N, 5+C]), yolov8 (also YOLO11, "
            "[1, 4+C, N]) or ssd (boxes, scores, classes); auto tells them apart by shape."
        ),
    )
    input_size: Side | tuple[Side, Side] | None = Field(
        None,
        description=(
            "Model input size in pixels: one number for a square, or [width, height]. "
            "Default: the model's own input size, or 640 when the model accepts any."
        ),
    )
    score_threshold: float = Field(
        0.4, ge=0, le=1, description="Detections scoring below this are dropped."
    )
    nms_iou: float = Field(
        0.45,
        gt=0,
        le=1,
        description="Overlap (IoU) above which a lower-scoring box of the same label is dropped.",
    )
    threads: int = Field(2, ge=1, le=64, description="CPU threads one inference may use.")
    max_batch: int = Field(
        4,
        ge=1,
        le=64,
        description="Most images run in one inference, for models that accept a batch.",
    )
    ssd_box_order: Literal["yxyx", "xyxy"] = Field(
        "yxyx",
        description="ssd layout: corner order of each box (TensorFlow models use yxyx).",
    )
    ssd_box_units: Literal["normalized", "pixels"] = Field(
        "normalized",
        description="ssd layout: boxes as 0..1 fractions of the model input, or its pixels.",
    )
