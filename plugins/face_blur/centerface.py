"""Finding faces with CenterFace on ONNX Runtime: resize, infer, decode the heatmap, NMS.

CenterFace predicts, on a grid a quarter of the input's size, a heatmap of face
centres, the log of each face's height and width (in grid cells), and the
sub-cell offset of the centre. A face is a heatmap peak above the threshold;
overlapping boxes of one face are merged by non-maximum suppression.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from hub import release_free_memory

RGB = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) in pixels of the image given."""

STRIDE = 4
# The network downsamples 32 times: its input sides must be multiples of that.
ALIGN = 32
# Low on purpose: a missed face is a privacy leak, an extra blurred patch is not.
DEFAULT_THRESHOLD = 0.3
NMS_IOU = 0.3
# Output channels, in the model's output order: heatmap, scale (log h, w), offset (y, x),
# landmarks.
OUTPUT_CHANNELS = (1, 2, 2, 10)


class FaceModelError(Exception):
    """The face model is missing or unusable; the message says what to do."""


def input_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Network input size: the picture scaled to fit `max_side`, sides multiples of 32."""
    scale = min(1.0, max_side / max(width, height))
    return (
        max(ALIGN, math.ceil(width * scale / ALIGN) * ALIGN),
        max(ALIGN, math.ceil(height * scale / ALIGN) * ALIGN),
    )


def resize_rgb(image: RGB, width: int, height: int) -> RGB:
    """`image` scaled to width x height (swscale, area-averaging when shrinking)."""
    if image.shape[1] == width and image.shape[0] == height:
        return image
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return np.asarray(frame.reformat(width=width, height=height).to_ndarray())


def decode(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
) -> list[tuple[float, Box]]:
    """(score, box) of every heatmap cell above `threshold`, boxes in input pixels."""
    rows, cols = np.nonzero(heatmap[0, 0] > threshold)
    found = []
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        height = math.exp(float(scale[0, 0, row, col])) * STRIDE
        width = math.exp(float(scale[0, 1, row, col])) * STRIDE
        centre_y = (row + float(offset[0, 0, row, col]) + 0.5) * STRIDE
        centre_x = (col + float(offset[0, 1, row, col]) + 0.5) * STRIDE
        box = (
            centre_x - width / 2,
            centre_y - height / 2,
            centre_x + width / 2,
            centre_y + height / 2,
        )
        found.append((float(heatmap[0, 0, row, col]), box))
    return found


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def non_max_suppression(found: list[tuple[float, Box]], threshold: float) -> list[Box]:
    """The best-scored box of each group of boxes overlapping by more than `threshold`."""
    kept: list[Box] = []
    for _, box in sorted(found, key=lambda item: item[0], reverse=True):
        if all(iou(box, other) <= threshold for other in kept):
            kept.append(box)
    return kept


class CenterFace:
    """A loaded CenterFace model; `detect(rgb)` is blocking (run it in a worker thread)."""

    def __init__(self, path: Path, threads: int = 2):
        if not path.is_file():
            raise FaceModelError(
                f"face model {path} not found: run `camhub models install centerface`"
            )
        try:
            import onnxruntime  # the `faces` extra: only needed once face blur is on
        except ImportError:
            raise FaceModelError(
                "onnxruntime is not installed: pip install 'camhub[faces]'"
            ) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # the model's unused initializers are not news
        # Pictures come in many sizes, and a memory pattern (one arena block per input shape)
        # kept the arena 40 MB larger after pictures of 1280, 960 and 640 pixels, for no speed.
        options.enable_mem_pattern = False
        try:
            self.session: Any = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own types for a bad file
            raise FaceModelError(f"face model {path} cannot be loaded: {exc}") from None
        release_free_memory()  # what loading freed (15 MB), kept by the C heap otherwise
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != len(OUTPUT_CHANNELS):
            raise FaceModelError(
                f"{path} is not a prepared CenterFace model "
                f"({len(inputs)} input(s), {len(outputs)} output(s)); "
                "run `camhub models install centerface`"
            )
        self.input_name = inputs[0].name

    def detect(
        self, image: RGB, max_side: int = 1280, threshold: float = DEFAULT_THRESHOLD
    ) -> list[Box]:
        """Face boxes in `image` (H x W x 3 RGB), in its own pixels."""
        height, width = image.shape[:2]
        in_w, in_h = input_size(width, height, max_side)
        small = resize_rgb(image, in_w, in_h)
        blob = small.transpose(2, 0, 1)[None].astype(np.float32)
        heatmap, scale, offset, _ = self.session.run(None, {self.input_name: blob})
        boxes = non_max_suppression(decode(heatmap, scale, offset, threshold), NMS_IOU)
        sx, sy = width / in_w, height / in_h
        return [(x0 * sx, y0 * sy, x1 * sx, y1 * sy) for x0, y0, x1, y1 in boxes]
