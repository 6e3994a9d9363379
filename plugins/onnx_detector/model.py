"""Opening an ONNX model and checking that its input and outputs are ones the detector reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hub import DetectorError
from plugins.onnx_detector.options import Layout

EXPECTED_INPUT = (
    "one image input [batch, 3, height, width] (or [batch, height, width, 3]) of float or uint8"
)
EXPECTED_OUTPUTS = (
    "YOLOv5 [batch, N, 5+C], YOLOv8/YOLO11 [batch, 4+C, N], or SSD boxes [batch, N, 4] "
    "+ scores [batch, N] + classes [batch, N] (+ num_detections [batch])"
)
DEFAULT_SIDE = 640
_INPUT_TYPES: dict[str, type[np.generic]] = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8}


@dataclass(frozen=True)
class ModelInput:
    """The model's image input: name, element type, axis order, size and batch size."""

    name: str
    dtype: type[np.generic]
    channels_last: bool
    width: int
    height: int
    batch: int | None
    """The fixed batch size, or None when the model takes any."""

    def describe(self) -> str:
        """Short text for logs: `640x640 float32 NCHW`."""
        order = "NHWC" if self.channels_last else "NCHW"
        return f"{self.width}x{self.height} {np.dtype(self.dtype).name} {order}"


@dataclass(frozen=True)
class OutputLayout:
    """Which output holds what; for SSD, `main` is the boxes."""

    kind: Literal["yolov5", "yolov8", "ssd"]
    main: int
    scores: int = -1
    classes: int = -1
    count: int | None = None
    num_classes: int | None = None
    """Classes the model scores (YOLO layouts; SSD models only give class ids)."""


def open_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU; raises DetectorError naming the file."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise DetectorError(
            "the onnx detector needs ONNX Runtime: pip install 'camhub[detect]'"
        ) from exc
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    settings.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    settings.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    settings.log_severity_level = 3
    # Spinning worker threads would take CPU from the decoders between inferences on a Pi.
    settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=settings, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ONNX Runtime raises its own types (InvalidProtobuf, Fail, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "protobuf" in reason.lower():
            reason = "the file is not an ONNX model (it could not be parsed)"
        raise DetectorError(
            f"cannot load model {path}: {reason}; expected an ONNX model with "
            f"{EXPECTED_INPUT} and outputs {EXPECTED_OUTPUTS}"
        ) from exc


def read_input(session: Any, path: Path, input_size: int | tuple[int, int] | None) -> ModelInput:
    """Check the model's single image input and settle the size images are letterboxed to."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(f"{i.name} {shape_text(i.shape)}" for i in inputs)
        raise DetectorError(
            f"model {path} has {len(inputs)} inputs ({names}); expected {EXPECTED_INPUT}"
        )
    name, shape = inputs[0].name, list(inputs[0].shape)
    problem = f"model {path}: input '{name}' is {inputs[0].type} {shape_text(shape)}"
    dtype = _INPUT_TYPES.get(inputs[0].type)
    if dtype is None or len(shape) != 4:
        raise DetectorError(f"{problem}; expected {EXPECTED_INPUT}")
    if shape[1] == 3 or (shape[3] != 3 and not _is_fixed(shape[1])):
        channels_last, height, width = False, shape[2], shape[3]
    elif shape[3] == 3:
        channels_last, height, width = True, shape[1], shape[2]
    else:
        raise DetectorError(f"{problem}, with no axis of 3 colours; expected {EXPECTED_INPUT}")
    wanted = (input_size, input_size) if isinstance(input_size, int) else input_size
    size = (
        width if _is_fixed(width) else wanted[0] if wanted else DEFAULT_SIDE,
        height if _is_fixed(height) else wanted[1] if wanted else DEFAULT_SIDE,
    )
    if wanted and wanted != size:
        raise DetectorError(
            f"{problem}: it takes {size[0]}x{size[1]} images, not input_size "
            f"{wanted[0]}x{wanted[1]}; leave input_size out or export the model at that size"
        )
    batch = shape[0] if _is_fixed(shape[0]) else None
    return ModelInput(name, dtype, channels_last, size[0], size[1], batch)


def find_layout(
    path: Path, requested: Layout, names: Sequence[str], outputs: Sequence[npt.NDArray[Any]]
) -> OutputLayout:
    """Tell which layout the outputs (of a test inference) follow; raise if none fits."""
    described = ", ".join(f"{n} {shape_text(o.shape)}" for n, o in zip(names, outputs, strict=True))

    def unusable(reason: str) -> DetectorError:
        return DetectorError(
            f"model {path}: {reason}: outputs are {described}; expected {EXPECTED_OUTPUTS}"
        )

    if requested == "ssd" or (requested == "auto" and len(outputs) >= 3):
        layout = _ssd_layout(names, outputs)
        if layout is None:
            raise unusable("outputs do not look like SSD boxes, scores and classes")
        return layout
    if requested == "auto" and len(outputs) != 1:
        raise unusable(f"{len(outputs)} outputs match no layout")
    main = outputs[0]
    if main.ndim != 3:
        raise unusable("the first output is not [batch, rows, columns]")
    rows, columns = main.shape[1:]
    kind = requested
    if kind == "auto":
        if rows == columns:
            raise unusable("cannot tell YOLOv5 from YOLOv8 by shape (set `layout`)")
        kind = "yolov8" if rows < columns else "yolov5"
    num_classes = rows - 4 if kind == "yolov8" else columns - 5
    if num_classes < 1:
        raise unusable(f"too few values per box for {kind}")
    return OutputLayout("yolov8" if kind == "yolov8" else "yolov5", 0, num_classes=num_classes)


def _ssd_layout(names: Sequence[str], outputs: Sequence[npt.NDArray[Any]]) -> OutputLayout | None:
    roles: dict[str, int] = {}
    for index, name in enumerate(names):
        lowered = name.lower()
        role = (
            "boxes"
            if "box" in lowered
            else "scores"
            if "score" in lowered
            else "classes"
            if "class" in lowered or "label" in lowered
            else "count"
            if "num" in lowered or "count" in lowered
            else None
        )
        if role is not None:
            roles.setdefault(role, index)
    if not {"boxes", "scores", "classes"} <= roles.keys():
        # Unnamed outputs: TensorFlow's order (boxes, classes, scores, num_detections).
        roles = dict(
            zip(("boxes", "classes", "scores", "count"), range(len(outputs)), strict=False)
        )
        if len(roles) < 3:
            return None
    boxes, scores, classes = (outputs[roles[r]] for r in ("boxes", "scores", "classes"))
    count = roles.get("count")
    if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 2 or classes.ndim != 2:
        return None
    if not boxes.shape[:2] == scores.shape == classes.shape:
        return None
    if count is not None and (outputs[count].size != boxes.shape[0]):
        return None
    return OutputLayout("ssd", roles["boxes"], roles["scores"], roles["classes"], count)


def shape_text(shape: Sequence[Any]) -> str:
    """`[batch, 3, 640, 640]`: a shape with symbolic dimensions by name."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _is_fixed(dim: Any) -> bool:
    return isinstance(dim, int) and dim > 0
