"""The demo camera's walker: a person drawn from shaded capsules, seen from the side mid-stride."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Point = tuple[float, float]
Floats = NDArray[np.floating[Any]]
Sprite = tuple[NDArray[np.float32], NDArray[np.float32]]
"""(rgb H x W x 3 in 0..255, alpha H x W in 0..1) of one pose."""

# Proportions as shares of the figure's height (top of the hair to the soles), about 7.5
# heads tall like an adult. Angles are radians from straight down, positive towards the
# direction of walking (to the right).
_HEAD_RADIUS = 0.064
_SHOULDER_Y, _HIP_Y = 0.19, 0.52
_UPPER_ARM, _FOREARM = 0.165, 0.15
_THIGH, _SHIN = 0.225, 0.225
_FOOT = 0.085
_ANKLE_Y = 0.968
"""Where the standing foot's ankle is: its shoe's sole then touches the bottom edge."""
_LIMB_RADIUS = {"arm": 0.033, "forearm": 0.027, "thigh": 0.05, "shin": 0.038}
_CANVAS_WIDTH = 0.62
"""Wide enough for the longest stride and arm swing."""

# Colours (RGB): skin, dark brown hair, a dark blue jacket, blue jeans, dark shoes.
_SKIN = (214, 160, 124)
_HAIR = (58, 40, 30)
_JACKET = (34, 48, 104)
_JEANS = (52, 74, 120)
_SHOES = (40, 36, 34)
_SOLE = (150, 142, 130)
_ZIP = (120, 125, 140)
_SEAM = (96, 112, 140)
_EYE = (40, 30, 28)
_SHADOW_DEPTH = 0.45
"""Share of the lawn's light the contact shadow under the feet takes away."""


@dataclass(frozen=True)
class _Pose:
    """Joint positions (x, y as shares of the height) for one instant of the gait."""

    hip: Point
    shoulder: Point
    knees: tuple[Point, Point]
    """Near side first, then far side (likewise below)."""
    ankles: tuple[Point, Point]
    toes: tuple[Point, Point]
    elbows: tuple[Point, Point]
    hands: tuple[Point, Point]


def _step(start: Point, angle: float, length: float) -> Point:
    return start[0] + length * math.sin(angle), start[1] + length * math.cos(angle)


def _pose(phase: float) -> _Pose:
    """The gait at `phase` (radians; one cycle is two steps): legs and arms in opposite phase."""
    hip_x = _CANVAS_WIDTH / 2
    hip = (hip_x, 0.0)
    shoulder = (hip_x + 0.02, _SHOULDER_Y - _HIP_Y)
    knees, ankles, elbows, hands = [], [], [], []
    for side in (0.0, math.pi):  # near leg, far leg
        swing = math.sin(phase + side)
        thigh = 0.42 * swing
        # The knee bends while the leg swings forward, and stays almost straight in stance.
        bend = 0.1 + 0.75 * max(0.0, math.cos(phase + side)) ** 2
        knee = _step(hip, thigh, _THIGH)
        knees.append(knee)
        ankles.append(_step(knee, thigh - bend, _SHIN))
        # Each arm swings against the leg on its side, the forearm bent forward.
        arm = -0.38 * swing
        elbow = _step(shoulder, arm, _UPPER_ARM)
        elbows.append(elbow)
        hands.append(_step(elbow, arm + 0.35 + 0.2 * max(0.0, -swing), _FOREARM))
    # The lower ankle stands on the ground: the body dips at the widest stride by itself.
    drop = _ANKLE_Y - max(ankles[0][1], ankles[1][1])

    def placed(point: Point) -> Point:
        return point[0], point[1] + drop

    def pair(points: list[Point]) -> tuple[Point, Point]:
        return placed(points[0]), placed(points[1])

    toes = [(x + _FOOT, y + 0.008) for x, y in ankles]
    return _Pose(
        placed(hip),
        placed(shoulder),
        pair(knees),
        pair(ankles),
        pair(toes),
        pair(elbows),
        pair(hands),
    )


class _Canvas:
    """Paints parts back to front onto an RGB + alpha sprite, anti-aliased by distance.

    Each part is computed only in the window its shape can touch, so a pose costs a few
    milliseconds even for a tall figure.
    """

    def __init__(self, height: int, width: int) -> None:
        self.scale = float(height)
        self.xs = (np.arange(width, dtype=np.float32) + 0.5) / self.scale
        self.ys = (np.arange(height, dtype=np.float32) + 0.5) / self.scale
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32)
        # Cloth weave: a faint fixed grain (the same in every pose, so it costs few bits).
        rng = np.random.default_rng(height)
        self.weave = 1.0 + rng.normal(0.0, 0.035, (height, width)).astype(np.float32)

    def _window(
        self, x0: float, y0: float, x1: float, y1: float
    ) -> tuple[slice, slice, NDArray[np.float32], NDArray[np.float32]]:
        """Rows, columns and their centre coordinates for a box in height units (one
        pixel of margin for the anti-aliased edge)."""
        margin = 1.5 / self.scale
        rows = slice(*_index_range(self.ys, y0 - margin, y1 + margin))
        cols = slice(*_index_range(self.xs, x0 - margin, x1 + margin))
        return rows, cols, self.xs[cols][None, :], self.ys[rows][:, None]

    def _paint(
        self,
        rows: slice,
        cols: slice,
        distance: Floats,
        colour: tuple[int, int, int],
        shade: Floats | float,
        cloth: bool,
    ) -> None:
        """Lay `colour` (times `shade`) where `distance` (height units) is inside the shape."""
        coverage = np.clip(0.5 - distance * self.scale, 0.0, 1.0)
        if cloth:
            shade = shade * self.weave[rows, cols]
        lit = np.asarray(colour, np.float32) * np.asarray(shade, np.float32)[..., None]
        rgb, alpha = self.rgb[rows, cols], self.alpha[rows, cols]
        rgb += coverage[..., None] * (lit - rgb)
        alpha += coverage * (1.0 - alpha)

    def capsule(
        self,
        a: Point,
        b: Point,
        radius: float,
        colour: tuple[int, int, int],
        dim: float = 1.0,
        cloth: bool = False,
    ) -> None:
        """A limb from `a` to `b`, rounder-looking with light from the upper left."""
        ax, ay = a
        dx, dy = b[0] - ax, b[1] - ay
        rows, cols, xx, yy = self._window(
            min(ax, b[0]) - radius,
            min(ay, b[1]) - radius,
            max(ax, b[0]) + radius,
            max(ay, b[1]) + radius,
        )
        length2 = max(dx * dx + dy * dy, 1e-9)
        along = np.clip(((xx - ax) * dx + (yy - ay) * dy) / length2, 0.0, 1.0)
        px, py = xx - (ax + along * dx), yy - (ay + along * dy)
        distance = np.sqrt(px * px + py * py) - radius
        # Across the limb from -1 (left edge) to 1 (right edge): the left side faces the sun.
        across = np.clip((px * dy - py * dx) / (math.sqrt(length2) * radius), -1.0, 1.0)
        shade = dim * (1.0 - 0.28 * (across + 1) / 2)
        self._paint(rows, cols, distance, colour, shade, cloth)

    def ellipse(
        self,
        centre: Point,
        radii: tuple[float, float],
        colour: tuple[int, int, int],
        dim: float = 1.0,
        clip_below: float | None = None,
    ) -> None:
        """A filled ellipse (head, hair, ear, hand); `clip_below` cuts it off at that height."""
        (cx, cy), (rx, ry) = centre, radii
        rows, cols, xx, yy = self._window(cx - rx, cy - ry, cx + rx, cy + ry)
        nx, ny = (xx - cx) / rx, (yy - cy) / ry
        distance = (np.sqrt(nx * nx + ny * ny) - 1.0) * min(radii)
        if clip_below is not None:
            distance = np.maximum(distance, yy - clip_below)
        shade = dim * (1.0 - 0.25 * np.clip((nx - ny * 0.5 + 1) / 2, 0.0, 1.0))
        self._paint(rows, cols, distance, colour, shade, False)


def _index_range(centres: NDArray[np.float32], low: float, high: float) -> tuple[int, int]:
    """The indexes of the sorted `centres` between `low` and `high`."""
    return int(np.searchsorted(centres, low)), int(np.searchsorted(centres, high, side="right"))


def draw_walker(height: int, phase: float) -> Sprite:
    """The walker `height` pixels tall at gait `phase`, on a canvas `canvas_width(height)` wide."""
    canvas = _Canvas(height, canvas_width(height))
    pose = _pose(phase)
    far, near = 1, 0
    # The far side first, in shadow.
    _arm(canvas, pose, far, 0.7)
    _leg(canvas, pose, far, 0.72)
    # Trunk: a jacket from the shoulders to below the belt, over the top of the jeans.
    hip, shoulder = pose.hip, pose.shoulder
    canvas.capsule(hip, (hip[0] + 0.005, hip[1] + 0.02), 0.075, _JEANS, cloth=True)
    chest = (shoulder[0], shoulder[1] + 0.045)
    waist = (hip[0], hip[1] - 0.035)
    canvas.capsule(chest, waist, 0.085, _JACKET, cloth=True)
    # Its ribbed hem, and the zip down the front edge.
    canvas.capsule(
        (waist[0] - 0.07, waist[1] + 0.045),
        (waist[0] + 0.07, waist[1] + 0.045),
        0.012,
        _JACKET,
        0.8,
    )
    front = 0.075
    canvas.capsule(
        (chest[0] + front, chest[1] - 0.01), (waist[0] + front, waist[1] + 0.03), 0.004, _ZIP
    )
    _leg(canvas, pose, near, 1.0)
    _head(canvas, shoulder)
    # The near arm last, in front of the jacket.
    _arm(canvas, pose, near, 1.0)
    return canvas.rgb, canvas.alpha


def _head(canvas: _Canvas, shoulder: Point) -> None:
    """Neck, face, ear and hair; the face looks the way the person walks (right)."""
    head = (shoulder[0] + 0.018, shoulder[1] - 0.1)
    neck = (shoulder[0] + 0.008, shoulder[1])
    canvas.capsule(neck, (head[0], head[1] + 0.045), 0.026, _SKIN, 0.85)
    canvas.capsule(
        (neck[0] - 0.03, neck[1] + 0.005), (neck[0] + 0.03, neck[1] + 0.01), 0.014, _JACKET, 0.9
    )
    canvas.ellipse(head, (_HEAD_RADIUS * 0.92, _HEAD_RADIUS), _SKIN)
    canvas.ellipse((head[0] + 0.052, head[1] + 0.008), (0.012, 0.014), _SKIN)  # nose
    canvas.ellipse((head[0] + 0.032, head[1] - 0.006), (0.006, 0.005), _EYE)
    canvas.ellipse(
        (head[0] - 0.012, head[1] - 0.008),
        (_HEAD_RADIUS * 0.9, _HEAD_RADIUS * 0.95),
        _HAIR,
        clip_below=head[1] - 0.012,
    )
    canvas.ellipse((head[0] - 0.035, head[1] + 0.0), (0.03, 0.045), _HAIR)
    canvas.ellipse((head[0] - 0.004, head[1] + 0.006), (0.011, 0.017), _SKIN, 0.85)  # ear


def _arm(canvas: _Canvas, pose: _Pose, side: int, dim: float) -> None:
    """A jacket sleeve to the wrist, and the hand."""
    shoulder, elbow, hand = pose.shoulder, pose.elbows[side], pose.hands[side]
    canvas.capsule(shoulder, elbow, _LIMB_RADIUS["arm"], _JACKET, dim * 0.95, cloth=True)
    wrist = (elbow[0] + 0.8 * (hand[0] - elbow[0]), elbow[1] + 0.8 * (hand[1] - elbow[1]))
    canvas.capsule(elbow, wrist, _LIMB_RADIUS["forearm"], _JACKET, dim * 0.95, cloth=True)
    canvas.ellipse(hand, (0.02, 0.026), _SKIN, dim)


def _leg(canvas: _Canvas, pose: _Pose, side: int, dim: float) -> None:
    """A jeans leg with its outer seam, and the shoe."""
    hip, knee, ankle = pose.hip, pose.knees[side], pose.ankles[side]
    canvas.capsule(hip, knee, _LIMB_RADIUS["thigh"], _JEANS, dim, cloth=True)
    canvas.capsule(knee, ankle, _LIMB_RADIUS["shin"], _JEANS, dim, cloth=True)
    canvas.capsule(hip, knee, 0.004, _SEAM, dim)
    canvas.capsule(knee, ankle, 0.004, _SEAM, dim)
    canvas.capsule(ankle, pose.toes[side], 0.022, _SHOES, dim)
    sole = (pose.toes[side][0] + 0.004, pose.toes[side][1] + 0.018)
    canvas.capsule((ankle[0] - 0.018, ankle[1] + 0.026), sole, 0.006, _SOLE, dim)


def canvas_width(height: int) -> int:
    """Width of the walker's canvas for a figure `height` pixels tall (even)."""
    return 2 * round(_CANVAS_WIDTH * height / 2)


def contact_shadow(alpha: NDArray[np.float32]) -> NDArray[np.float32]:
    """The share of the lawn's light left under each pixel of the canvas (1: no shadow).

    A soft contact shadow under the soles, inside the walker's own box, so it grounds the
    figure without moving the box.
    """
    rows = np.nonzero(alpha.max(axis=1) > 0.05)[0]
    cols = np.nonzero(alpha.max(axis=0) > 0.05)[0]
    remain = np.ones_like(alpha)
    if not len(rows):
        return remain
    bottom, left, right = rows[-1] + 1, cols[0], cols[-1] + 1
    band = max(2, round(0.03 * alpha.shape[0]))
    yy, xx = np.mgrid[bottom - band : bottom, left:right].astype(np.float32)
    cy, cx = bottom - 0.5, (left + right) / 2
    rx, ry = max((right - left) / 2, 1.0), float(band)
    inside = np.clip(1.0 - ((xx - cx) / rx) ** 2 - ((yy - cy) / ry) ** 2, 0.0, 1.0)
    remain[bottom - band : bottom, left:right] -= _SHADOW_DEPTH * inside
    return remain
