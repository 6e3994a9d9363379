"""Camera-like H.264 files of a real, still scene (a photo with sensor grain) in which a
figure starts to walk at a known time: for the adaptive decoding tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
    bitrate: int | None = None
    """kbit/s with a camera's rate control (VBV); None: x264's default quality (CRF 23)."""

    @property
    def onset(self) -> float:
        """Stream seconds (from the first frame) at which the figure first moves."""
        return self.static_seconds

    def figure_box(self, t: float) -> tuple[int, int, int, int] | None:
        """The figure's box (x0, y0, x1, y1) at stream time `t`, None when not in view."""
        walked = t - self.static_seconds
        if walked < 0 or walked >= self.walk_seconds or self.walk_seconds <= 0:
            return None
        w, h = self.width // 10, self.height // 3
        x = int(walked / self.walk_seconds * (self.width - w))
        y = self.height // 2
        return x, y, x + w, y + h

    @property
    def frames(self) -> int:
        """Frames in the scene."""
        return round((self.static_seconds + self.walk_seconds + self.after_seconds) * self.fps)

    def pictures(self) -> Iterator[npt.NDArray[np.uint8]]:
        """The scene's RGB pictures, in order."""
        photo = still_photo(self.width, self.height)
        rng = np.random.default_rng(7)
        bank = rng.normal(0, self.grain, (self.height + 32, self.width + 32, 1)).astype(np.float32)
        for index in range(self.frames):
            oy, ox = rng.integers(0, 32, 2)
            picture = photo + bank[oy : oy + self.height, ox : ox + self.width]
            box = self.figure_box(index / self.fps)
            if box is not None:
                x0, y0, x1, y1 = box
                picture[y0:y1, x0:x1] = FIGURE
            yield np.clip(picture, 0, 255).astype(np.uint8)

    def encoder_options(self) -> dict[str, str]:
        """libx264 like a camera: main profile, no B-frames, a fixed GOP, no scene cuts."""
        gop = str(round(self.gop_seconds * self.fps))
        options = {
            "preset": "veryfast",
            "profile": "main",
            "g": gop,
            "keyint_min": gop,
            "sc_threshold": "0",
            "bf": "0",
        }
        if self.bitrate is not None:
            rate = f"{self.bitrate}k"
            options.update(b=rate, maxrate=rate, bufsize=f"{self.bitrate}k")
        return options

    def access_units(self) -> Iterator[bytes]:
        """The encoded scene as H.264 access units (Annex B, SPS/PPS at every keyframe)."""
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt = self.width, self.height, "yuv420p"
        codec.time_base = Fraction(1, self.fps)
        codec.framerate = Fraction(self.fps)
        codec.options = self.encoder_options()
        for index, picture in enumerate(self.pictures()):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            yield from (bytes(p) for p in codec.encode(frame))
        yield from (bytes(p) for p in codec.encode(None))

    def write(self, path: Path) -> Path:
        """Encode into an MPEG-TS file (a local-file camera plays it at its own pace)."""
        with av.open(str(path), "w", format="mpegts") as out:
            stream = out.add_stream("libx264", rate=self.fps, options=self.encoder_options())
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.codec_context.time_base = Fraction(1, self.fps)
            for index, picture in enumerate(self.pictures()):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = index
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path
