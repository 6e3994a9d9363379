"""Face blur: what blurring a snapshot and a clip frame costs, against handling it unblurred.

The astronaut photo (scikit-image) is scaled to 1280x720 and 1920x1080. For each
size, in the same run:

- snapshot: JPEG decode + encode (the floor any redaction pays) against
  `blur_jpeg` (decode, CenterFace at up to 1280 px, pixelate, encode);
- clip frame: the face search at the clip size (960 px) plus pixelation, per
  frame, against an x264 `veryfast` encode of the frame (what a re-encoded clip
  pays anyway), and how many seconds of 15 fps video one core blurs per second.

    .venv/bin/python bench/face_blur.py                    # installs the model to a temp dir
    .venv/bin/python bench/face_blur.py --model PATH       # or uses a prepared one

Medians of `--repeat` runs (default 15); wall clock on one thread of the caller,
ONNX Runtime with its 2 intra-op threads.
"""

from __future__ import annotations

import argparse
import importlib.resources
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.procstat import machine_summary  # noqa: E402
from plugins.face_blur import CenterFace, blur_jpeg  # noqa: E402
from plugins.face_blur.blur import blur_faces, decode_jpeg, encode_jpeg  # noqa: E402
from plugins.face_blur.centerface import resize_rgb  # noqa: E402
from plugins.face_blur.clips import CLIP_DETECT_SIDE, X264_OPTIONS  # noqa: E402
from plugins.face_blur.install import install_centerface  # noqa: E402

SIZES = ((1280, 720), (1920, 1080))
CLIP_FPS = 15


def astronaut(width: int, height: int) -> np.ndarray:
    path = importlib.resources.files("skimage") / "data" / "astronaut.png"
    with av.open(str(path)) as image:
        picture = next(image.decode(video=0)).to_ndarray(format="rgb24")
    # The photo in the middle of a grey frame, as large as fits: one face, realistic size.
    side = height
    scaled = resize_rgb(picture, side, side)
    canvas = np.full((height, width, 3), 128, np.uint8)
    left = (width - side) // 2
    canvas[:, left : left + side] = scaled
    return canvas


def median_ms(work: Callable[[], object], repeat: int) -> float:
    work()  # warm up (first inference allocates)
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def x264_encoder(width: int, height: int) -> Callable[[np.ndarray], None]:
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, CLIP_FPS)
    codec.framerate = Fraction(CLIP_FPS)
    codec.options = dict(X264_OPTIONS)
    state = {"pts": 0}

    def encode(picture: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = state["pts"]
        state["pts"] += 1
        codec.encode(frame)

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a prepared centerface.onnx")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    print(machine_summary())
    with tempfile.TemporaryDirectory(prefix="camhub-bench-faces-") as folder:
        model = args.model or install_centerface(Path(folder))
        detector = CenterFace(model)
        rows = []
        for width, height in SIZES:
            picture = astronaut(width, height)
            jpeg = encode_jpeg(picture)
            found = detector.detect(picture)
            floor = median_ms(lambda j=jpeg: encode_jpeg(decode_jpeg(j)), args.repeat)
            blurred = median_ms(lambda j=jpeg: blur_jpeg(detector, j), args.repeat)

            def clip_frame(p: np.ndarray = picture) -> None:
                blur_faces(p, detector.detect(p, max_side=CLIP_DETECT_SIDE))

            blur_ms = median_ms(clip_frame, args.repeat)
            encode = x264_encoder(width, height)
            encode_ms = median_ms(lambda p=picture, e=encode: e(p), args.repeat)
            rows.append((f"{height}p", len(found), floor, blurred, blur_ms, encode_ms))
    print(f"\nmedian of {args.repeat}, ms")
    print(
        f"{'':6} {'faces':>5} {'jpeg in+out':>11} {'blurred':>8} {'ratio':>6} "
        f"{'clip blur':>9} {'x264':>6} {'ratio':>6} {'clip s/s':>8}"
    )
    for name, faces, floor, blurred, blur_ms, encode_ms in rows:
        speed = 1000 / ((blur_ms + encode_ms) * CLIP_FPS)
        print(
            f"{name:6} {faces:5d} {floor:11.1f} {blurred:8.1f} {blurred / floor:5.1f}x "
            f"{blur_ms:9.1f} {encode_ms:6.1f} {(blur_ms + encode_ms) / encode_ms:5.1f}x "
            f"{speed:8.2f}"
        )
    print("(clip s/s: seconds of 15 fps video blurred and encoded per second of wall time)")


if __name__ == "__main__":
    main()
