"""Real-photo video clips with a person walking by, for the detection tests and benchmarks.

No person video ships with the test tools, so one is made: scikit-image's `rocket`
photo (a launch pad, nobody there) as the background, and the person of its
`astronaut` photo (cut along her hand-checked box) walking across it.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

ASTRONAUT_PERSON = (20, 15, 365, 512)
"""The person in scikit-image's `astronaut` photo (x0, y0, x1, y1), checked by eye."""


def background(width: int, height: int) -> npt.NDArray[np.uint8]:
    """The launch pad photo scaled to width x height (RGB)."""
    from skimage import data
    from skimage.transform import resize

    return (resize(data.rocket(), (height, width), anti_aliasing=True) * 255).astype(np.uint8)


def person(height: int) -> npt.NDArray[np.uint8]:
    """The astronaut, `height` pixels tall (RGB)."""
    from skimage import data
    from skimage.transform import resize

    x0, y0, x1, y1 = ASTRONAUT_PERSON
    cut = data.astronaut()[y0:y1, x0:x1]
    width = round(height * cut.shape[1] / cut.shape[0])
    return (resize(cut, (height, width), anti_aliasing=True) * 255).astype(np.uint8)


def walking_person_video(
    path: Path,
    size: tuple[int, int] = (640, 360),
    fps: int = 10,
    before: float = 1.0,
    walk: float = 4.0,
    after: float = 1.5,
    preset: str = "ultrafast",
) -> tuple[int, int]:
    """An H.264 MPEG-TS clip: the empty launch pad for `before` s, the person walking across
    it left to right for `walk` s, then empty for `after` s. Returns her (width, height)."""
    width, height = size
    scene = background(width, height)
    sprite = person(round(height / 2))
    sprite_h, sprite_w = sprite.shape[:2]
    top = height - sprite_h - height // 36  # feet just above the bottom edge
    steps = max(2, round(walk * fps))
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": preset, "g": str(fps)})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for index in range(round((before + walk + after) * fps)):
            image = scene.copy()
            step = index - round(before * fps)
            if 0 <= step < steps:
                x = round(-sprite_w / 2 + step * (width - sprite_w / 2) / (steps - 1))
                left, right = max(0, x), min(width, x + sprite_w)
                image[top : top + sprite_h, left:right] = sprite[:, left - x : right - x]
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return sprite_w, sprite_h
