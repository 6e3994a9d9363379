"""Rectangles drawn on event snapshots (an object's box, the areas that moved), in numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

OBJECT_COLOR = (255, 56, 0)
"""An object's box: a warm orange that stands out on grass, walls and skin alike."""
MOTION_COLOR = (255, 214, 0)
"""Areas that moved: yellow."""


@dataclass(frozen=True)
class Outline:
    """A rectangle to draw on a picture: corners as fractions 0..1 of its width and height."""

    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1), x1/y1 exclusive."""
    color: tuple[int, int, int] = OBJECT_COLOR

    @classmethod
    def around(
        cls,
        box: Sequence[float],
        size: tuple[int, int],
        color: tuple[int, int, int] = OBJECT_COLOR,
    ) -> Outline:
        """The outline of `box`, given in pixels of a picture of `size` (width, height)."""
        width, height = size
        x0, y0, x1, y1 = (float(v) for v in box)
        return cls((x0 / width, y0 / height, x1 / width, y1 / height), color)


def draw_outlines(rgb: npt.NDArray[np.uint8], outlines: Sequence[Outline]) -> None:
    """Draw each outline into an H x W x 3 RGB picture, in place, a few pixels thick."""
    height, width = rgb.shape[:2]
    # About 0.4 % of the short side: visible on a phone's thumbnail, thin on a 4K frame.
    thickness = max(2, round(min(width, height) / 240))
    for outline in outlines:
        x0, y0, x1, y1 = outline.box
        left = min(max(int(x0 * width), 0), width - 1)
        top = min(max(int(y0 * height), 0), height - 1)
        right = max(min(round(x1 * width), width), left + 1)
        bottom = max(min(round(y1 * height), height), top + 1)
        line = min(thickness, right - left, bottom - top)
        color = np.array(outline.color, np.uint8)
        rgb[top : top + line, left:right] = color
        rgb[bottom - line : bottom, left:right] = color
        rgb[top:bottom, left : left + line] = color
        rgb[top:bottom, right - line : right] = color
