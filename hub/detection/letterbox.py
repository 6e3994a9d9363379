"""Letterboxing: fit an image into a model's input keeping its aspect, and map boxes back.

numpy only, shared by detector plugins: `draw_letterboxed` writes a picture
into one slot of a model's input buffer (bilinear, between grey bars, values
scaled and shifted to the range the model was trained on), and
`Letterbox.to_image` maps the model's boxes back to the picture's pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

PAD_VALUE = 114
"""Grey of the bars around a letterboxed image (what YOLO models are trained with)."""

FloatArray = npt.NDArray[np.float32]
IndexArray = npt.NDArray[np.intp]
AxisWeights = tuple[IndexArray, IndexArray, FloatArray]


@dataclass(frozen=True)
class Letterbox:
    """Where an image of `width` x `height` sits inside the model input."""

    width: int
    height: int
    new_width: int
    new_height: int
    pad_x: int
    pad_y: int

    @classmethod
    def fit(cls, width: int, height: int, input_width: int, input_height: int) -> Letterbox:
        """Scale to fit the input, keeping the aspect ratio, centred between grey bars."""
        scale = min(input_width / width, input_height / height)
        new_width = min(input_width, max(1, round(width * scale)))
        new_height = min(input_height, max(1, round(height * scale)))
        return cls(
            width,
            height,
            new_width,
            new_height,
            (input_width - new_width) // 2,
            (input_height - new_height) // 2,
        )

    def to_image(self, boxes: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """Boxes (K x 4, x0 y0 x1 y1) in model input pixels, in the image's pixels, clipped."""
        mapped = np.empty(boxes.shape, dtype=np.float64)
        # The per-axis ratio of the sizes actually drawn, so that mapping back is exact.
        scale_x = self.width / self.new_width
        scale_y = self.height / self.new_height
        mapped[:, 0::2] = (boxes[:, 0::2] - self.pad_x) * scale_x
        mapped[:, 1::2] = (boxes[:, 1::2] - self.pad_y) * scale_y
        np.clip(mapped[:, 0::2], 0, self.width, out=mapped[:, 0::2])
        np.clip(mapped[:, 1::2], 0, self.height, out=mapped[:, 1::2])
        return mapped


def draw_letterboxed(
    image: npt.NDArray[np.uint8],
    box: Letterbox,
    planes: npt.NDArray[np.generic],
    scale: float,
    offset: float = 0.0,
) -> None:
    """Draw `image` into one model input slot, seen as 3 x H x W planes: each value is
    `pixel * scale + offset` (1/255 and 0 for 0..1 models, 1/127.5 and -1 for -1..1)."""
    top, left = box.pad_y, box.pad_x
    bottom, right = top + box.new_height, left + box.new_width
    pad = PAD_VALUE * scale + offset
    # Only the bars are painted: the picture overwrites the rest.
    planes[:, :top] = pad
    planes[:, bottom:] = pad
    planes[:, top:bottom, :left] = pad
    planes[:, top:bottom, right:] = pad
    integer = np.issubdtype(planes.dtype, np.integer)
    same_size = (box.new_height, box.new_width) == image.shape[:2]
    rows = _axis_weights(image.shape[0], box.new_height)
    columns = _axis_weights(image.shape[1], box.new_width)
    # Plane by plane: gathers along contiguous rows are several times faster than on H x W x 3.
    for channel in range(3):
        plane = image[:, :, channel]
        region = planes[channel, top:bottom, left:right]
        if same_size:
            np.multiply(plane, scale, out=region, casting="unsafe")
        elif integer:
            np.rint(_resize_plane(plane, rows, columns), out=region, casting="unsafe")
        else:
            np.multiply(_resize_plane(plane, rows, columns), scale, out=region, casting="unsafe")
        if offset:
            np.add(region, offset, out=region, casting="unsafe")


def _resize_plane(
    plane: npt.NDArray[np.uint8], rows: AxisWeights, columns: AxisWeights
) -> FloatArray:
    """Bilinear resize of one plane (pixel centres aligned, like OpenCV's INTER_LINEAR)."""
    first_rows, second_rows, row_weights = rows
    blended = plane[first_rows].astype(np.float32)
    below = plane[second_rows].astype(np.float32)
    below -= blended
    below *= row_weights[:, None]
    blended += below
    first_columns, second_columns, column_weights = columns
    left = np.take(blended, first_columns, axis=1)
    right = np.take(blended, second_columns, axis=1)
    right -= left
    right *= column_weights
    left += right
    return left


@lru_cache(maxsize=64)
def _axis_weights(source: int, size: int) -> AxisWeights:
    """For each output index: the two source indices it blends and the second one's weight."""
    position = (np.arange(size, dtype=np.float64) + 0.5) * (source / size) - 0.5
    position = np.clip(position, 0, source - 1)
    first = np.floor(position).astype(np.intp)
    second = np.minimum(first + 1, source - 1)
    return first, second, (position - first).astype(np.float32)
