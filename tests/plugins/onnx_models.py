"""Tiny ONNX models with known outputs, built with `onnx.helper`, for the onnx detector's tests.

Two kinds: models whose outputs are constants (one copy per image of the batch),
and a "white box finder" that really looks at its input: it reports the
bounding box of the pixels whose red channel is above 0.5, as a YOLOv8 or SSD
head would, so letterboxing and the mapping back can be checked exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
# Old enough for every onnxruntime the `detect` extra allows (>= 1.17).
IR_VERSION = 8
BIG = 1.0e6

Dim = int | str


def save(
    path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
) -> Path:
    """Check and write a single-graph model; returns `path`."""
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def constant_model(
    path: Path,
    outputs: dict[str, np.ndarray],
    input_shape: Sequence[Dim] = (1, 3, 64, 64),
    input_type: int = TensorProto.FLOAT,
    per_image: bool = True,
) -> Path:
    """A model answering `outputs` (each with a leading batch dim of 1) whatever the input.

    With `per_image`, each output is repeated for every image of the batch; without,
    the outputs keep their batch of 1 (a model that cannot run batches).
    """
    nodes = [helper.make_node("Shape", ["images"], ["batch"], start=0, end=1)]
    initializers = []
    infos = []
    for name, value in outputs.items():
        value = np.asarray(value)
        initializers.append(numpy_helper.from_array(value, f"{name}_value"))
        if per_image:
            rest = np.array(value.shape[1:], dtype=np.int64)
            initializers.append(numpy_helper.from_array(rest, f"{name}_rest"))
            nodes += [
                helper.make_node("Concat", ["batch", f"{name}_rest"], [f"{name}_shape"], axis=0),
                helper.make_node("Expand", [f"{name}_value", f"{name}_shape"], [name]),
            ]
            dims: list[Dim] = ["batch", *value.shape[1:]]
        else:
            nodes.append(helper.make_node("Identity", [f"{name}_value"], [name]))
            dims = list(value.shape)
        elem = helper.np_dtype_to_tensor_dtype(value.dtype)
        infos.append(helper.make_tensor_value_info(name, elem, dims))
    # Shape's output must be used by something even without per_image.
    if not per_image:
        nodes.pop(0)
    image = helper.make_tensor_value_info("images", input_type, list(input_shape))
    return save(path, nodes, [image], infos, initializers)


def yolov8_rows(
    boxes: Sequence[tuple[float, float, float, float]], scores: np.ndarray
) -> np.ndarray:
    """A YOLOv8 output [1, 4+C, N] from N (cx, cy, w, h) boxes and an N x C score table."""
    table = np.asarray(scores, dtype=np.float32)
    return np.concatenate([np.asarray(boxes, np.float32), table], axis=1).T[None].copy()


def white_box_finder(
    path: Path,
    size: tuple[int, int] = (64, 64),
    batch: Dim = "batch",
    head: Literal["yolov8", "ssd"] = "yolov8",
    channels_last_uint8: bool = False,
    candidates: int = 8,
) -> Path:
    """A model reporting the box around the pixels whose red value is above half, score 0.9.

    The yolov8 head answers [batch, 5, candidates] (one class; the other candidates
    score 0); the ssd head answers normalised y0, x0, y1, x1 boxes [batch, 1, 4],
    scores, classes (0) and num_detections (1).
    """
    width, height = size
    consts = {
        "half": np.array(0.5, np.float32),
        "one": np.array(1.0, np.float32),
        "big": np.array(BIG, np.float32),
        "two": np.array(2.0, np.float32),
        "score_scale": np.array(0.9, np.float32),
        "red_start": np.array([0], np.int64),
        "red_end": np.array([1], np.int64),
        "channel_axis": np.array([1], np.int64),
        "ramp_w": np.arange(width, dtype=np.float32),
        "ramp_h": np.arange(height, dtype=np.float32),
        "last_axis": np.array([2], np.int64),
        "one_axis": np.array([1], np.int64),
        "pads": np.array([0, 0, 0, 0, 0, candidates - 1], np.int64),
        "size_yxyx": np.array([height, width, height, width], np.float32),
        "inv255": np.array(1 / 255, np.float32),
    }
    nodes = []
    source = "images"
    if channels_last_uint8:
        nodes += [
            helper.make_node("Cast", ["images"], ["as_float"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["as_float", "inv255"], ["scaled"]),
            helper.make_node("Transpose", ["scaled"], ["nchw"], perm=[0, 3, 1, 2]),
        ]
        source = "nchw"
    nodes += [
        helper.make_node("Slice", [source, "red_start", "red_end", "channel_axis"], ["red"]),
        helper.make_node("Greater", ["red", "half"], ["bright"]),
        helper.make_node("Cast", ["bright"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMax", ["mask"], ["cols"], axes=[1, 2], keepdims=0),
        helper.make_node("ReduceMax", ["mask"], ["rows"], axes=[1, 3], keepdims=0),
        helper.make_node("ReduceMax", ["cols"], ["score_raw"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["score_raw", "score_scale"], ["score"]),
    ]
    for axis, ramp in (("x", "ramp_w"), ("y", "ramp_h")):
        mask = "cols" if axis == "x" else "rows"
        nodes += [
            # End (exclusive): the largest index + 1 where the mask is set.
            helper.make_node("Add", [ramp, "one"], [f"{axis}_ramp1"]),
            helper.make_node("Mul", [mask, f"{axis}_ramp1"], [f"{axis}_ends"]),
            helper.make_node("ReduceMax", [f"{axis}_ends"], [f"{axis}1"], axes=[1], keepdims=1),
            # Start: the smallest index where the mask is set (unset ones count as BIG).
            helper.make_node("Sub", ["one", mask], [f"{axis}_unset"]),
            helper.make_node("Mul", [f"{axis}_unset", "big"], [f"{axis}_far"]),
            helper.make_node("Mul", [mask, ramp], [f"{axis}_near"]),
            helper.make_node("Add", [f"{axis}_near", f"{axis}_far"], [f"{axis}_starts"]),
            helper.make_node("ReduceMin", [f"{axis}_starts"], [f"{axis}0"], axes=[1], keepdims=1),
        ]
    if head == "yolov8":
        nodes += [
            helper.make_node("Add", ["x0", "x1"], ["x_sum"]),
            helper.make_node("Div", ["x_sum", "two"], ["cx"]),
            helper.make_node("Add", ["y0", "y1"], ["y_sum"]),
            helper.make_node("Div", ["y_sum", "two"], ["cy"]),
            helper.make_node("Sub", ["x1", "x0"], ["w"]),
            helper.make_node("Sub", ["y1", "y0"], ["h"]),
            helper.make_node("Concat", ["cx", "cy", "w", "h", "score"], ["column"], axis=1),
            helper.make_node("Unsqueeze", ["column", "last_axis"], ["one_candidate"]),
            helper.make_node("Pad", ["one_candidate", "pads"], ["output0"]),
        ]
        outputs = [
            helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 5, candidates])
        ]
    else:
        nodes += [
            helper.make_node("Concat", ["y0", "x0", "y1", "x1"], ["corners"], axis=1),
            helper.make_node("Div", ["corners", "size_yxyx"], ["normalised"]),
            helper.make_node("Unsqueeze", ["normalised", "one_axis"], ["detection_boxes"]),
            helper.make_node("Identity", ["score"], ["detection_scores"]),
            helper.make_node("Sub", ["score", "score"], ["detection_classes"]),
            helper.make_node("Add", ["detection_classes", "one"], ["num_ones"]),
            helper.make_node("ReduceMax", ["num_ones"], ["num_detections"], axes=[1], keepdims=0),
        ]
        outputs = [
            helper.make_tensor_value_info("detection_boxes", TensorProto.FLOAT, [batch, 1, 4]),
            helper.make_tensor_value_info("detection_classes", TensorProto.FLOAT, [batch, 1]),
            helper.make_tensor_value_info("detection_scores", TensorProto.FLOAT, [batch, 1]),
            helper.make_tensor_value_info("num_detections", TensorProto.FLOAT, [batch]),
        ]
    if channels_last_uint8:
        image = helper.make_tensor_value_info(
            "images", TensorProto.UINT8, [batch, height, width, 3]
        )
    else:
        image = helper.make_tensor_value_info(
            "images", TensorProto.FLOAT, [batch, 3, height, width]
        )
    used = {name for node in nodes for name in node.input}
    initializers = [numpy_helper.from_array(v, n) for n, v in consts.items() if n in used]
    return save(path, nodes, [image], outputs, initializers)


def picture(width: int, height: int, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A black RGB image with a white rectangle at `box` (x0, y0, x1, y1; x1/y1 exclusive)."""
    image = np.zeros((height, width, 3), np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        image[y0:y1, x0:x1] = 255
    return image
