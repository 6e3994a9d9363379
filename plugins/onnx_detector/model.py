"""Opening an ONNX model and checking that its image input is one the detector can fill."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hub import KNOWN_LAYOUTS, DetectorError, release_free_memory, shape_text

EXPECTED_INPUT = (
    "one image input [batch, 3, height, width] (or [batch, height, width, 3]) of float or uint8"
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


def open_session(path: Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU; raises DetectorError naming the file."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise DetectorError(
            "the onnx detector needs ONNX Runtime, which did not import: reinstall camhub "
            "(pip install onnxruntime)"
        ) from exc
    settings = ort.SessionOptions()
    settings.intra_op_num_threads = threads
    settings.inter_op_num_threads = 1
    settings.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    settings.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    settings.log_severity_level = 3
    # Spinning worker threads would take CPU from the decoders between inferences on a Pi.
    settings.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # A memory pattern is planned per input shape and served as one block from the arena,
    # on top of what the first run took: without it the bundled model's arena holds 21 MB
    # instead of 30 after runs of one picture (62 instead of 100 after batches of four),
    # at the same speed (x1.01; x86, 2026-12-06). No other memory option of ONNX Runtime
    # saved more than 1 MB without costing speed (docs/performance.md).
    settings.enable_mem_pattern = False
    try:
        session = ort.InferenceSession(
            str(path), sess_options=settings, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # ONNX Runtime raises its own types (InvalidProtobuf, Fail, ...)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "protobuf" in reason.lower():
            reason = "the file is not an ONNX model (it could not be parsed)"
        raise DetectorError(
            f"cannot load model {path}: {reason}; expected an ONNX model with "
            f"{EXPECTED_INPUT} and outputs {KNOWN_LAYOUTS}"
        ) from exc
    # Loading freed the graph and weights it rewrote (18 MB for the bundled model), which
    # the C heap would otherwise keep resident for good.
    release_free_memory()
    return session


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


def _is_fixed(dim: Any) -> bool:
    return isinstance(dim, int) and dim > 0
