"""Camera-like H.264 files of a real, still scene (a photo with sensor grain) in which a
figure starts to walk at a known time: for the adaptive decoding tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

FIGURE = (30, 160, 60)
"""The walker's coat (RGB): a green no pixel of the photo has, for a stub detector."""


def still_photo(width: int, height: int) -> npt.NDArray[np.float32]:
    """scikit-image's motorcycle in a garage (a real photo, shipped with it), resized."""
    from skimage import data, io, transform

    path = os.path.join(os.path.dirname(data.__file__), "motorcycle_left.png")
    photo = io.imread(path)[..., :3]
    resized = transform.resize(photo, (height, width), anti_aliasing=True)
    return (resized * 255).astype(np.float32)


@dataclass(frozen=True)
class StillScene:
    """`static_seconds` of the photo with grain, then a figure crossing for `walk_seconds`."""

    width: int = 640
    height: int = 360
    fps: int = 10
    gop_seconds: float = 2.0
    static_seconds: float = 12.0
    walk_seconds: float = 6.0
    after_seconds: float = 2.0
    grain: float = 3.0
    """Sensor noise, standard deviation in grey levels, fresh in every frame."""

    @property
    def onset(self) -> float:
        """Stream seconds (from the first frame) at which the figure first moves."""
        return self.static_seconds

    def figure_box(self, t: float) -> tuple[int, int, int, int] | None:
        """The figure's box (x0, y0, x1, y1) at stream time `t`, None when not in view."""
        walked = t - self.static_seconds
        if walked < 0 or walked > self.walk_seconds:
            return None
        w, h = self.width // 10, self.height // 3
        x = int(walked / self.walk_seconds * (self.width - w))
        y = self.height // 2
        return x, y, x + w, y + h

    def write(self, path: Path) -> Path:
        """Encode like a camera: x264 main profile, no B-frames, fixed GOP, MPEG-TS."""
        photo = still_photo(self.width, self.height)
        rng = np.random.default_rng(7)
        bank = rng.normal(0, self.grain, (self.height + 32, self.width + 32, 1)).astype(np.float32)
        gop = round(self.gop_seconds * self.fps)
        total = round((self.static_seconds + self.walk_seconds + self.after_seconds) * self.fps)
        with av.open(str(path), "w", format="mpegts") as out:
            stream = out.add_stream(
                "libx264",
                rate=self.fps,
                options={
                    "preset": "veryfast",
                    "profile": "main",
                    "g": str(gop),
                    "keyint_min": str(gop),
                    "sc_threshold": "0",
                    "bf": "0",
                },
            )
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.codec_context.time_base = Fraction(1, self.fps)
            for index in range(total):
                oy, ox = rng.integers(0, 32, 2)
                picture = photo + bank[oy : oy + self.height, ox : ox + self.width]
                box = self.figure_box(index / self.fps)
                if box is not None:
                    x0, y0, x1, y1 = box
                    picture[y0:y1, x0:x1] = FIGURE
                frame = av.VideoFrame.from_ndarray(
                    np.clip(picture, 0, 255).astype(np.uint8), format="rgb24"
                )
                frame.pts = index
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path
