"""Detection model outputs to scored boxes (YOLO, SSD, dense SSD heads), and class-aware NMS.

numpy only, so that every detector plugin (the local ONNX one, a remote
inference server's) reads a model's outputs the same way: `find_layout` tells
from the outputs' names and shapes which head a model has, `decode_outputs`
turns one image's outputs into `Candidates` in model-input pixels, and
`non_max_suppression` keeps the best of overlapping boxes of each class.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hub.detection.object_detector import DetectorError

MAX_CANDIDATES = 3000
"""Boxes over the score threshold that NMS looks at (the best ones), per image."""
MAX_DETECTIONS = 100
"""Boxes kept per image after NMS."""
SSD_BOX_SCALES = (10.0, 10.0, 5.0, 5.0)
"""The y, x, h, w scales of TensorFlow's SSD box coder (and of TFLite's post-processing)."""

Array = npt.NDArray[np.floating]
LayoutKind = Literal["yolov5", "yolov8", "ssd", "ssd_scores"]
KNOWN_LAYOUTS = (
    "YOLOv5 [batch, N, 5+C], YOLOv8/YOLO11 [batch, 4+C, N], SSD boxes [batch, N, 4] "
    "+ scores [batch, N] + classes [batch, N] (+ num_detections [batch]), or SSD boxes "
    "[batch, N, 4] + class scores [batch, N, C]"
)


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


@dataclass(frozen=True)
class OutputLayout:
    """Which output holds what. For the SSD heads `main` is the boxes.

    - `yolov5`/`yolov8`: one output, `main`.
    - `ssd`: boxes, scores and classes after the model's own NMS (+ an optional count).
    - `ssd_scores`: boxes and a score per class for every anchor, before NMS
      (TensorFlow's SSD head without its post-processing; the bundled model).
    """

    kind: LayoutKind
    main: int
    scores: int = -1
    classes: int = -1
    count: int | None = None
    num_classes: int | None = None
    """Columns of class scores (YOLO and `ssd_scores`; `ssd` models only give class ids)."""

    @property
    def used(self) -> list[int]:
        """Indices of the outputs this layout reads (the others need not be fetched)."""
        if self.kind in ("yolov5", "yolov8"):
            return [self.main]
        extra = [self.classes] if self.kind == "ssd" else []
        extra += [self.count] if self.count is not None else []
        return [self.main, self.scores, *extra]


@dataclass(frozen=True)
class DecodeOptions:
    """How to read boxes and classes beyond what the layout says."""

    threshold: float
    """Candidates scoring below this are dropped."""
    input_size: tuple[int, int]
    """Model input (width, height): normalised boxes are scaled to it."""
    box_order: Literal["yxyx", "xyxy"] = "yxyx"
    """`ssd`/`ssd_scores`: corner order of each box."""
    box_units: Literal["normalized", "pixels"] = "normalized"
    """`ssd`/`ssd_scores`: boxes as 0..1 of the model input, or its pixels."""
    first_class_column: int = 0
    """`ssd_scores`: score column of class 0 (1 when column 0 is a background slot)."""
    ignored_classes: Collection[int] = ()
    """Classes never reported (unused ids of a label map, written `???`)."""


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
    corners = _to_pixels(boxes[keep], order, units, input_size)
    return Candidates(
        corners, scores[keep].astype(np.float32), np.rint(classes[keep]).astype(np.intp)
    )


def decode_ssd_scores(
    boxes: Array,
    scores: Array,
    threshold: float,
    order: Literal["yxyx", "xyxy"],
    units: Literal["normalized", "pixels"],
    input_size: tuple[int, int],
    first_column: int = 0,
    ignored: Collection[int] = (),
) -> Candidates:
    """One image's dense SSD outputs: N x 4 boxes and N x C class scores, before NMS.

    Every (box, class) pair scoring at least `threshold` is a candidate, as
    TensorFlow's multi-class post-processing does (one box may be a person and
    a bicycle). Class k is score column `first_column + k`; columns before it
    (a background slot) and the `ignored` classes are never reported.
    """
    table = scores[:, first_column:]
    wanted = table >= threshold
    if ignored:
        skip = [k for k in ignored if 0 <= k < table.shape[1]]
        wanted[:, skip] = False
    rows, classes = np.nonzero(wanted)
    corners = _to_pixels(boxes[rows], order, units, input_size)
    return Candidates(corners, table[rows, classes].astype(np.float32), classes.astype(np.intp))


def decode_anchor_boxes(
    encodings: Array, anchors: Array, scales: tuple[float, float, float, float] = SSD_BOX_SCALES
) -> npt.NDArray[np.float32]:
    """SSD box encodings (..., N, 4: ty, tx, th, tw) over anchors (N, 4: yc, xc, h, w) as
    normalised (y0, x0, y1, x1) corners, for models exported without the decoding."""
    y_scale, x_scale, h_scale, w_scale = scales
    ya, xa, ha, wa = (anchors[:, i] for i in range(4))
    yc = encodings[..., 0] / y_scale * ha + ya
    xc = encodings[..., 1] / x_scale * wa + xa
    half_h = np.exp(encodings[..., 2] / h_scale) * ha / 2
    half_w = np.exp(encodings[..., 3] / w_scale) * wa / 2
    corners = np.stack([yc - half_h, xc - half_w, yc + half_h, xc + half_w], axis=-1)
    return corners.astype(np.float32)


def decode_outputs(
    layout: OutputLayout, outputs: Sequence[npt.NDArray[Any]], image: int, options: DecodeOptions
) -> Candidates:
    """Candidates of image `image` of a batch, from outputs in the model's order."""
    threshold = options.threshold
    if layout.kind == "yolov5":
        found = decode_yolov5(outputs[layout.main][image], threshold)
    elif layout.kind == "yolov8":
        found = decode_yolov8(outputs[layout.main][image], threshold)
    elif layout.kind == "ssd":
        count = None
        if layout.count is not None:
            counts = outputs[layout.count]
            count = int(counts.reshape(len(counts), -1)[image, 0])
        found = decode_ssd(
            outputs[layout.main][image],
            outputs[layout.scores][image],
            outputs[layout.classes][image],
            count,
            threshold,
            options.box_order,
            options.box_units,
            options.input_size,
        )
    else:
        found = decode_ssd_scores(
            outputs[layout.main][image],
            outputs[layout.scores][image],
            threshold,
            options.box_order,
            options.box_units,
            options.input_size,
            options.first_class_column,
            options.ignored_classes,
        )
    if options.ignored_classes and layout.kind != "ssd_scores":
        found = found.take(np.flatnonzero(~np.isin(found.classes, list(options.ignored_classes))))
    return found


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


def find_layout(
    source: str, requested: str, names: Sequence[str], outputs: Sequence[npt.NDArray[Any]]
) -> OutputLayout:
    """Tell which layout outputs (of a test inference) follow; raise DetectorError if none.

    `source` names the model in messages (`model /path/x.onnx`); `requested` is
    `auto` or a layout kind. Outputs without a batch axis (a constant anchor
    table) are allowed; the layout says which outputs it reads.
    """
    described = ", ".join(f"{n} {shape_text(o.shape)}" for n, o in zip(names, outputs, strict=True))

    def unusable(reason: str) -> DetectorError:
        return DetectorError(
            f"{source}: {reason}: outputs are {described}; expected {KNOWN_LAYOUTS}"
        )

    if requested in ("auto", "ssd_scores"):
        dense = _ssd_scores_layout(names, outputs)
        if dense is not None:
            return dense
        if requested == "ssd_scores":
            raise unusable("outputs do not look like SSD boxes and class scores")
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


def shape_text(shape: Sequence[Any]) -> str:
    """`[batch, 3, 640, 640]`: a shape with symbolic dimensions by name."""
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _role(name: str) -> str | None:
    lowered = name.lower()
    if "box" in lowered:
        return "boxes"
    if "score" in lowered:
        return "scores"
    if "class" in lowered or "label" in lowered:
        return "classes"
    if "num" in lowered or "count" in lowered:
        return "count"
    return None


def _ssd_scores_layout(
    names: Sequence[str], outputs: Sequence[npt.NDArray[Any]]
) -> OutputLayout | None:
    """Boxes [batch, N, 4] next to a [batch, N, C > 1] score table, told apart by name."""
    boxes = scores = None
    for index, (name, output) in enumerate(zip(names, outputs, strict=True)):
        role = _role(name)
        # "box_encodings" (raw, undecoded) also says "box": the decoded boxes come first.
        if role == "boxes" and boxes is None and "encod" not in name.lower():
            boxes = index
        elif role in ("scores", "classes") and scores is None and output.ndim == 3:
            scores = index
    if boxes is None or scores is None:
        return None
    box_array, score_array = outputs[boxes], outputs[scores]
    if box_array.ndim != 3 or box_array.shape[2] != 4 or score_array.shape[2] < 2:
        return None
    if box_array.shape[:2] != score_array.shape[:2]:
        return None
    return OutputLayout("ssd_scores", boxes, scores, num_classes=int(score_array.shape[2]))


def _ssd_layout(names: Sequence[str], outputs: Sequence[npt.NDArray[Any]]) -> OutputLayout | None:
    roles: dict[str, int] = {}
    for index, name in enumerate(names):
        role = _role(name)
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


def _to_pixels(
    boxes: Array,
    order: Literal["yxyx", "xyxy"],
    units: Literal["normalized", "pixels"],
    input_size: tuple[int, int],
) -> npt.NDArray[np.float32]:
    corners = boxes.astype(np.float32)
    if order == "yxyx":
        corners = corners[:, [1, 0, 3, 2]]
    if units == "normalized":
        width, height = input_size
        corners = corners * np.array([width, height, width, height], dtype=np.float32)
    return corners


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
