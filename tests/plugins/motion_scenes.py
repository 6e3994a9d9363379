"""Synthetic camera sequences with known ground truth, for motion detection tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]
Gray = npt.NDArray[np.uint8]

NOISE_SIGMA = 8.0
"""Gaussian sensor noise (grey levels) of every scene by default: a grainy evening picture."""

_NOISE_MARGIN = 64


@dataclass(frozen=True)
class SceneFrame:
    """One frame and the true boxes (x0, y0, x1, y1, ends exclusive) of the figures in it."""

    gray: Gray
    boxes: tuple[Box, ...] = ()

    @property
    def box(self) -> Box | None:
        """The box of the only (or first) figure, None when there is none."""
        return self.boxes[0] if self.boxes else None


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes with exclusive ends."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _upsample(coarse: npt.NDArray[np.float64], height: int, width: int) -> npt.NDArray[np.float64]:
    """Bilinear upsampling of a small grid to height x width (smooth shading)."""
    gy = np.linspace(0, coarse.shape[0] - 1, height)
    gx = np.linspace(0, coarse.shape[1] - 1, width)
    rows = np.array([np.interp(gx, np.arange(coarse.shape[1]), r) for r in coarse])
    return np.array([np.interp(gy, np.arange(coarse.shape[0]), c) for c in rows.T]).T


def _blocks(
    rng: np.random.Generator, height: int, width: int, cell: int, low: float, high: float
) -> npt.NDArray[np.float64]:
    """A random block pattern: cell x cell squares of uniform grey levels."""
    grid = rng.uniform(low, high, (height // cell + 1, width // cell + 1))
    return np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)[:height, :width]


class Scene:
    """A textured room at one resolution, with fresh sensor noise on every frame.

    Sizes are relative to the frame height, so a 720p and a 360p scene with the
    same seed show the same picture. The noise comes from one large bank,
    cropped at a random offset per frame: as good as independent noise for a
    detector, and far cheaper than drawing a frame's worth of normals.
    """

    def __init__(self, width: int, height: int, *, seed: int = 1, noise: float = NOISE_SIGMA):
        self.width = width
        self.height = height
        self.rng = np.random.default_rng(seed)
        shading = _upsample(self.rng.uniform(60, 190, (5, 8)), height, width)
        texture = _blocks(self.rng, height, width, max(2, height // 45), -22, 22)
        room = shading + texture
        for _ in range(6):  # furniture: flat rectangles with hard edges
            w, h = (self.rng.uniform(0.1, 0.3, 2) * (width, height)).astype(int)
            x, y = self.rng.integers(0, width - w), self.rng.integers(0, height - h)
            room[y : y + h, x : x + w] = self.rng.uniform(40, 210) + texture[y : y + h, x : x + w]
        self.background = np.clip(room, 0, 255).astype(np.int16)
        bank = self.rng.normal(0, noise, (height + _NOISE_MARGIN, width + _NOISE_MARGIN))
        self._noise = np.clip(np.rint(bank), -127, 127).astype(np.int16)
        figure_h, figure_w = int(0.42 * height), int(0.18 * height)  # person-sized
        cell = max(2, figure_h // 8)
        self.figure = _blocks(self.rng, figure_h, figure_w, cell, 15, 240).astype(np.int16)

    def noisy(self, picture: npt.NDArray[np.int16]) -> Gray:
        """The picture as the camera delivers it: with sensor noise, clipped to 0..255."""
        dy, dx = self.rng.integers(0, _NOISE_MARGIN, 2)
        noisy = picture + self._noise[dy : dy + self.height, dx : dx + self.width]
        gray: Gray = np.clip(noisy, 0, 255).astype(np.uint8)
        return gray

    def render(self, *corners: tuple[int, int]) -> SceneFrame:
        """The room with the figure drawn at each top-left corner (all inside the frame)."""
        picture = self.background.copy()
        boxes = []
        figure_h, figure_w = self.figure.shape
        for x, y in corners:
            picture[y : y + figure_h, x : x + figure_w] = self.figure
            boxes.append((x, y, x + figure_w, y + figure_h))
        return SceneFrame(self.noisy(picture), tuple(boxes))

    def static(self, frames: int) -> Iterator[SceneFrame]:
        """The empty room."""
        for _ in range(frames):
            yield SceneFrame(self.noisy(self.background))

    def walk_position(self, progress: float) -> tuple[int, int]:
        """Top-left corner of the figure when it has walked `progress` (0..1) of its way."""
        figure_w = self.figure.shape[1]
        x = round(0.04 * self.width + progress * (0.92 * self.width - figure_w))
        return x, round(0.38 * self.height)

    def crossing(self, frames: int) -> Iterator[SceneFrame]:
        """The textured figure walks from the left edge to the right edge at a steady pace."""
        for i in range(frames):
            yield self.render(self.walk_position(i / max(1, frames - 1)))

    def lights(self, frames: int, gain: float, offset: float) -> Iterator[SceneFrame]:
        """The empty room after a global change of brightness (IR cut filter, lights on)."""
        changed = np.clip(self.background * gain + offset, 0, 255).astype(np.int16)
        for _ in range(frames):
            yield SceneFrame(self.noisy(changed))
