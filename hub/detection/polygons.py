"""Rasterising zone and mask polygons (corners normalised 0..1) to pixel masks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def polygon_mask(
    polygons: Sequence[Sequence[tuple[float, float]]], width: int, height: int
) -> npt.NDArray[np.bool_]:
    """Rasterise polygons in normalised (0..1) coordinates to a height x width bool array.

    A pixel is True when its centre lies inside any of the polygons (even-odd
    rule within each polygon). Each edge flips the pixels left of where it
    crosses the rows it spans: one vectorised comparison per edge.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"mask size must be positive, got {width}x{height}")
    out = np.zeros((height, width), dtype=bool)
    centres_x = (np.arange(width) + 0.5) / width
    centres_y = (np.arange(height) + 0.5) / height
    for polygon in polygons:
        if len(polygon) < 3:
            raise ValueError(f"a polygon needs at least 3 points, got {len(polygon)}")
        inside = np.zeros((height, width), dtype=bool)
        points = np.asarray(polygon, dtype=np.float64)
        for (xa, ya), (xb, yb) in zip(points, np.roll(points, -1, axis=0), strict=True):
            if ya == yb:
                continue  # a horizontal edge never crosses a row through pixel centres
            # Rows whose centre lies in [min y, max y): half-open, so the vertex
            # two edges share is counted once.
            r0 = int(np.searchsorted(centres_y, min(ya, yb), side="left"))
            r1 = int(np.searchsorted(centres_y, max(ya, yb), side="left"))
            if r0 < r1:
                crossing = xa + (centres_y[r0:r1] - ya) * ((xb - xa) / (yb - ya))
                inside[r0:r1] ^= centres_x[None, :] < crossing[:, None]
        out |= inside
    return out
