"""Making faces unrecognisable: coarse pixelation of each enlarged face box, and JPEG in/out."""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from plugins.face_blur.centerface import Box

RGB = npt.NDArray[np.uint8]

# Each side of a face box grows by this share of its size: hair, ears and chin go too.
MARGIN = 0.25
# A face becomes at most this many blocks across: nobody is recognised from 6 x 6 colours.
BLOCKS_ACROSS = 6
JPEG_QUALITY = 4  # mjpeg qscale, 2 best .. 31 worst


def enlarge(box: Box, width: int, height: int, margin: float = MARGIN) -> tuple[int, int, int, int]:
    """The box grown by `margin` on every side, in whole pixels, clipped to the picture."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    return (
        max(0, int(x0 - dx)),
        max(0, int(y0 - dy)),
        min(width, int(np.ceil(x1 + dx))),
        min(height, int(np.ceil(y1 + dy))),
    )


def pixelate(region: RGB, blocks: int = BLOCKS_ACROSS) -> None:
    """Replace `region` (a view, changed in place) by its block averages, then smooth the
    block edges away: what is left is a few soft patches of colour."""
    height, width = region.shape[:2]
    if height == 0 or width == 0:
        return
    size = max(1, int(np.ceil(max(height, width) / blocks)))
    coarse = region.astype(np.float32)
    for y in range(0, height, size):
        for x in range(0, width, size):
            block = coarse[y : y + size, x : x + size]
            block[:] = block.reshape(-1, block.shape[-1]).mean(axis=0)
    # Two box passes of a block's width on each axis: close to a Gaussian of that size.
    for _ in range(2):
        coarse = _box_blur(_box_blur(coarse, size, axis=0), size, axis=1)
    region[:] = np.clip(np.rint(coarse), 0, 255).astype(np.uint8)


def _box_blur(values: npt.NDArray[np.float32], size: int, axis: int) -> npt.NDArray[np.float32]:
    """Mean over a window of `size` along `axis` (edges repeated), via a running sum."""
    before, after = size // 2, size - 1 - size // 2
    pad = [(0, 0)] * values.ndim
    pad[axis] = (before + 1, after)
    sums = np.cumsum(np.pad(values, pad, mode="edge"), axis=axis, dtype=np.float64)
    length = values.shape[axis]
    upper = np.take(sums, np.arange(size, size + length), axis=axis)
    lower = np.take(sums, np.arange(0, length), axis=axis)
    return ((upper - lower) / size).astype(np.float32)


def blur_faces(image: RGB, boxes: Sequence[Box], margin: float = MARGIN) -> RGB:
    """A copy of `image` with every face box (enlarged by `margin`) pixelated."""
    out = image.copy()
    height, width = out.shape[:2]
    for box in boxes:
        x0, y0, x1, y1 = enlarge(box, width, height, margin)
        pixelate(out[y0:y1, x0:x1])
    return out


def decode_jpeg(data: bytes) -> RGB:
    """RGB pixels of a JPEG (or any single picture FFmpeg reads)."""
    container: Any = av.open(io.BytesIO(data))
    with container:
        frame = next(container.decode(video=0))
    return np.ascontiguousarray(frame.to_ndarray(format="rgb24"))


def encode_jpeg(image: RGB, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG bytes of an RGB image (PyAV's mjpeg encoder)."""
    height, width = image.shape[:2]
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": str(quality), "qmax": str(quality)}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    converted = frame.reformat(format="yuvj420p")
    converted.pts = 0
    data = b"".join(bytes(p) for p in codec.encode(converted))
    data += b"".join(bytes(p) for p in codec.encode(None))
    return data
