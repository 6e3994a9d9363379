"""Motion detection: our numpy detector against Frigate's published algorithm on OpenCV.

Both detectors see the same synthetic frames in the same run (a noisy,
textured room left empty, then a textured figure walking across it, once at a
walking pace and once slowly), at 720p and 360p input. For each: median and
p95 ms per frame, false boxes on the empty room, and against the true box of
the figure, boxes per frame, hit rate and mean IoU. Timings are wall-clock per
`detect` call with the frame already in cache (it has just been drawn, as a
decoder's output would be), the two detectors taking turns to go first.

    .venv/bin/python bench/motion.py

OpenCV is only for the baseline: `pip install opencv-python-headless`
(or `pip install -e '.[bench]'`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from plugins.motion.detector import Box, MotionDetector  # noqa: E402
from tests.plugins.motion_scenes import Scene, SceneFrame, box_iou  # noqa: E402

try:
    import cv2
except ImportError:  # the baseline is optional
    cv2 = None  # type: ignore[assignment]

STATIC_FRAMES = 200
SETTLE_FRAMES = 150
"""False boxes are counted on the empty room once both detectors have settled."""
WALK_FRAMES = 120
SLOW_FRAMES = 360
RESOLUTIONS = ((1280, 720), (640, 360))

TARGET_SPEEDUP = 2.0
TARGET_IOU = 0.6


DILATION = np.ones((3, 3), np.uint8)  # what cv2.dilate uses for kernel=None, as Frigate calls it


class FrigateBaseline:
    """Frigate's "improved" motion detector as published, on OpenCV and numpy.

    Nearest downscale to 100 rows; contrast stretch between the 4th and 96th
    percentiles averaged over the last 50 frames; Gaussian blur sigma 1 (3x3,
    Frigate's radius 1); absolute difference with a float running average;
    threshold 30; one 3x3 dilation; outer contours with area > 10 give boxes
    scaled back up; alpha 0.2 while calibrating and 0.01 after; calibrating
    again when the contours cover more than 80% of the frame. As in Frigate,
    calibration ends once under 5% of the frame moves in at most 4 boxes, and
    frames with motion are only averaged in after 10 of them in a row.
    """

    def __init__(self, threshold: int = 30, contour_area: int = 10, frame_height: int = 100):
        assert cv2 is not None
        self.threshold = threshold
        self.contour_area = contour_area
        self.frame_height = frame_height
        self.shape: tuple[int, ...] | None = None

    def _start(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.resize_factor = shape[0] / self.frame_height
        self.size = (self.frame_height, self.frame_height * shape[1] // shape[0])
        self.avg = np.zeros(self.size, np.float32)
        self.motion_frames = 0
        self.calibrating = True
        self.contrast = np.zeros((50, 2), np.uint8)
        self.contrast[:, 1] = 255
        self.contrast_next = 0

    def detect(self, gray: np.ndarray) -> list[Box]:
        if gray.shape != self.shape:
            self._start(gray.shape)
        small = cv2.resize(gray, (self.size[1], self.size[0]), interpolation=cv2.INTER_NEAREST)
        low = np.percentile(small, 4).astype(np.uint8)
        high = np.percentile(small, 96).astype(np.uint8)
        if low < high:
            self.contrast[self.contrast_next] = [low, high]
            self.contrast_next = (self.contrast_next + 1) % len(self.contrast)
            avg_low, avg_high = np.mean(self.contrast, axis=0)
            small = np.clip(small, avg_low, avg_high)
            small = (((small - avg_low) / (avg_high - avg_low)) * 255).astype(np.uint8)
        small = cv2.GaussianBlur(small, (3, 3), 1)
        delta = cv2.absdiff(small, cv2.convertScaleAbs(self.avg))
        thresh = cv2.threshold(delta, self.threshold, 255, cv2.THRESH_BINARY)[1]
        thresh = cv2.dilate(thresh, DILATION, iterations=1)
        contours, _ = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes: list[Box] = []
        total_area = 0.0
        f = self.resize_factor
        for contour in contours:
            area = cv2.contourArea(contour)
            total_area += area
            if area > self.contour_area:
                x, y, w, h = cv2.boundingRect(contour)
                boxes.append((int(x * f), int(y * f), int((x + w) * f), int((y + h) * f)))
        moving = total_area / (self.size[0] * self.size[1])
        if moving < 0.05 and len(boxes) <= 4:
            self.calibrating = False
        if self.calibrating or moving > 0.8:
            self.calibrating = True
        alpha = 0.2 if self.calibrating else 0.01
        if boxes:
            self.motion_frames += 1
            if self.motion_frames >= 10:
                cv2.accumulateWeighted(small, self.avg, alpha)
        else:
            cv2.accumulateWeighted(small, self.avg, alpha)
            self.motion_frames = 0
        return boxes


@dataclass
class Tally:
    """What one detector did on one resolution."""

    times: dict[str, list[float]] = field(default_factory=lambda: {"static": [], "moving": []})
    startup_false: int = 0
    settled_false: int = 0
    walks: dict[str, list[tuple[int, float, bool, int]]] = field(default_factory=dict)
    """Per walk: (boxes, best IoU, hit, stray boxes) per frame."""

    def record(self, part: str, frame: SceneFrame, index: int, boxes: list[Box]) -> None:
        if frame.box is None:
            if index < SETTLE_FRAMES:
                self.startup_false += len(boxes)
            else:
                self.settled_false += len(boxes)
            return
        ious = [box_iou(b, frame.box) for b in boxes]
        best = max(ious, default=0.0)
        stray = sum(1 for iou in ious if iou == 0.0)
        self.walks.setdefault(part, []).append((len(boxes), best, best > 0.0, stray))


def ms(values: Iterable[float]) -> tuple[float, float]:
    data = sorted(values)
    return statistics.median(data) * 1e3, data[int(0.95 * (len(data) - 1))] * 1e3


def run(width: int, height: int, detectors: dict[str, Any]) -> dict[str, Tally]:
    scene = Scene(width, height, seed=7)
    parts: list[tuple[str, Iterable[SceneFrame]]] = [
        ("static", scene.static(STATIC_FRAMES)),
        ("walk", scene.crossing(WALK_FRAMES)),
        ("slow walk", scene.crossing(SLOW_FRAMES)),
    ]
    tallies = {name: Tally() for name in detectors}
    names = list(detectors)
    clock: Callable[[], float] = time.perf_counter
    turn = 0
    for part, frames in parts:
        for index, frame in enumerate(frames):
            turn += 1
            order = names if turn % 2 else names[::-1]
            for name in order:
                start = clock()
                boxes = detectors[name].detect(frame.gray)
                elapsed = clock() - start
                tally = tallies[name]
                tally.times["static" if frame.box is None else "moving"].append(elapsed)
                tally.record(part, frame, index, boxes)
    return tallies


def mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(width: int, height: int, tallies: dict[str, Tally]) -> None:
    print(f"\n== {width}x{height} input ==")
    header = f"{'':10s} {'median ms':>10s} {'p95 ms':>8s}"
    print(f"{header}   (per frame; static = empty room, moving = figure in view)")
    medians: dict[str, dict[str, float]] = {}
    for name, tally in tallies.items():
        medians[name] = {}
        for kind in ("all", "static", "moving"):
            if kind == "all":
                values = tally.times["static"] + tally.times["moving"]
            else:
                values = tally.times[kind]
            median, p95 = ms(values)
            medians[name][kind] = median
            print(f"{name + ' ' + kind:18s} {median:8.3f} {p95:8.3f}")
    if "frigate" in medians:
        for kind in ("all", "static", "moving"):
            ratio = medians["frigate"][kind] / medians["ours"][kind]
            print(
                f"speed ratio frigate/ours ({kind}): {ratio:.2f}x"
                f"   target >= {TARGET_SPEEDUP:.0f}x: {mark(ratio >= TARGET_SPEEDUP)}"
            )
    print(
        f"\n{'':10s} {'startup':>8s} {'settled':>8s}  false boxes on the empty room "
        f"(first {SETTLE_FRAMES} frames / last {STATIC_FRAMES - SETTLE_FRAMES})"
    )
    for name, tally in tallies.items():
        print(
            f"{name:10s} {tally.startup_false:8d} {tally.settled_false:8d}"
            f"   target 0 settled: {mark(tally.settled_false == 0)}"
        )
    for part in ("walk", "slow walk"):
        columns = f"{'boxes/frame':>12s} {'one box':>8s} {'hit':>9s} {'stray':>6s} {'IoU':>6s}"
        print(f"\n{part}: {columns}")
        for name, tally in tallies.items():
            rows = tally.walks[part]
            boxes = statistics.mean(r[0] for r in rows)
            single = sum(1 for r in rows if r[0] == 1)
            hits = sum(1 for r in rows if r[2])
            stray = sum(r[3] for r in rows)
            iou = statistics.mean(r[1] for r in rows)
            print(
                f"  {name:10s} {boxes:10.2f} {single:5d}/{len(rows):<3d} {hits:5d}/{len(rows):<3d}"
                f" {stray:6d} {iou:6.3f}   target IoU >= {TARGET_IOU}: {mark(iou >= TARGET_IOU)}"
                f", hit all: {mark(hits == len(rows))}"
            )


def main() -> None:
    print(__doc__.split("\n\n")[0])
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}", end="")
    if cv2 is None:
        print("\nOpenCV is not installed: running ours only. For the baseline:")
        print("    pip install opencv-python-headless")
    else:
        print(f", opencv {cv2.__version__} ({cv2.getNumThreads()} threads)")
    for width, height in RESOLUTIONS:
        detectors: dict[str, Any] = {"ours": MotionDetector()}
        if cv2 is not None:
            detectors["frigate"] = FrigateBaseline()
        report(width, height, run(width, height, detectors))


if __name__ == "__main__":
    main()
