"""Decoding YOLOv5, YOLOv8/YOLO11 and SSD outputs into scored boxes, and class-aware NMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

MAX_CANDIDATES = 3000
"""Boxes over the score threshold that NMS looks at (the best ones), per image."""
MAX_DETECTIONS = 100
"""Boxes kept per image after NMS."""

Array = npt.NDArray[np.floating]


@dataclass(frozen=True)
class Candidates:
    """Scored boxes of one image: K x 4 (x0, y0, x1, y1) in model input pixels."""

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    classes: npt.NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, indices: npt.NDArray[np.intp]) -> Candidates:
        """The candidates at `indices`, in that order."""
        return Candidates(self.boxes[indices], self.scores[indices], self.classes[indices])


def decode_yolov5(rows: Array, threshold: float) -> Candidates:
    """One image's YOLOv5 output, N x (5 + C): cx, cy, w, h, objectness, class scores."""
    # Class scores are at most 1, so a box whose objectness is below the threshold cannot pass.
    rows = rows[rows[:, 4] >= threshold]
    class_scores = rows[:, 5:] * rows[:, 4:5]
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(rows)), classes]
    keep = scores >= threshold
    return Candidates(
        _corners(rows[keep, :4]), scores[keep].astype(np.float32), classes[keep].astype(np.intp)
    )


def decode_yolov8(columns: Array, threshold: float) -> Candidates:
    """One image's YOLOv8/YOLO11 output, (4 + C) x N: cx, cy, w, h, class scores (no objectness)."""
    class_scores = columns[4:]
    best = class_scores.max(axis=0)
    keep = np.flatnonzero(best >= threshold)
    classes = class_scores[:, keep].argmax(axis=0)
    return Candidates(
        _corners(columns[:4, keep].T), best[keep].astype(np.float32), classes.astype(np.intp)
    )


def decode_ssd(
    boxes: Array,
    scores: Array,
    classes: npt.NDArray[np.number],
    count: int | None,
    threshold: float,
    order: Literal["yxyx", "xyxy"],
    units: Literal["normalized", "pixels"],
    input_size: tuple[int, int],
) -> Candidates:
    """One image's SSD outputs: N x 4 boxes, N scores, N class ids, and how many are valid."""
    if count is not None:
        boxes, scores, classes = boxes[:count], scores[:count], classes[:count]
    keep = scores >= threshold
    corners = boxes[keep].astype(np.float32)
    if order == "yxyx":
        corners = corners[:, [1, 0, 3, 2]]
    if units == "normalized":
        width, height = input_size
        corners *= np.array([width, height, width, height], dtype=np.float32)
    return Candidates(
        corners, scores[keep].astype(np.float32), np.rint(classes[keep]).astype(np.intp)
    )


def non_max_suppression(candidates: Candidates, iou_threshold: float) -> Candidates:
    """Greedy NMS within each class; the result is sorted by score, best first."""
    if not len(candidates):
        return candidates
    order = np.argsort(-candidates.scores, kind="stable")[:MAX_CANDIDATES]
    classes = candidates.classes[order]
    kept = np.concatenate(
        [
            _greedy(candidates.boxes, order[classes == label], iou_threshold)
            for label in np.unique(classes)
        ]
    )
    # Best first; equal scores keep the model's order, so results are reproducible.
    kept = kept[np.lexsort((kept, -candidates.scores[kept]))][:MAX_DETECTIONS]
    return candidates.take(kept)


def _greedy(
    boxes: npt.NDArray[np.float32], indices: npt.NDArray[np.intp], iou_threshold: float
) -> npt.NDArray[np.intp]:
    """Indices (best first) kept after dropping each box that overlaps a better one too much."""
    x0, y0, x1, y1 = boxes[indices].astype(np.float64).T
    areas = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    kept: list[int] = []
    remaining = np.arange(len(indices))
    while remaining.size:
        best, rest = remaining[0], remaining[1:]
        kept.append(int(indices[best]))
        width = np.minimum(x1[best], x1[rest]) - np.maximum(x0[best], x0[rest])
        height = np.minimum(y1[best], y1[rest]) - np.maximum(y0[best], y0[rest])
        inter = np.maximum(width, 0) * np.maximum(height, 0)
        union = np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        remaining = rest[inter / union <= iou_threshold]
    return np.array(kept, dtype=np.intp)


def _corners(centre_size: Array) -> npt.NDArray[np.float32]:
    """cx, cy, w, h rows as x0, y0, x1, y1 rows."""
    corners = np.empty((len(centre_size), 4), dtype=np.float32)
    half = centre_size[:, 2:4] / 2
    corners[:, :2] = centre_size[:, :2] - half
    corners[:, 2:] = centre_size[:, :2] + half
    return corners
