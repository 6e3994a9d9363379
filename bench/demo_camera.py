"""The demo camera's CPU: drawing and encoding the empty garden against the garden with its walker.

The demo camera (`demo://`) draws every frame and encodes it with x264 in its own thread,
so on a Raspberry Pi it costs what a real camera does not. For each size, in one run and
alternating so that load on a shared machine hits both alike:

- empty: the garden with nobody in it (x264 sends skip blocks),
- walking: the walker in view 80% of the time (a walk of 8 s every 10 s),

as process CPU milliseconds per second of video (drawing + encoding, 10 fps), the part of it
spent drawing frames, the bitrate, and the ratio walking / empty. The walker's poses are drawn
once per camera and then reused: that one-off cost is printed apart ("first walk").

    .venv/bin/python bench/demo_camera.py          # --seconds 10 --rounds 5

When the walker was still a dark silhouette of three rectangles (which the bundled model did
not see as a person), walking / empty measured about 1.15 at 640x360 on the dev machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.procstat import machine_summary  # noqa: E402
from plugins.pyav_source.demo import DemoScene, write_demo_stream  # noqa: E402

FPS = 10
SIZES = ((640, 360), (1280, 720))


def measure(scene: DemoScene, seconds: float) -> tuple[float, float, float, float]:
    """(first-walk drawing s, drawing s, drawing + encoding s, bytes) for `seconds` of video."""
    times = [i / FPS for i in range(round(seconds * FPS))]
    started = time.process_time()
    for t in times:
        scene.frame(t)
    cold = time.process_time() - started
    started = time.process_time()
    for t in times:
        scene.frame(t)
    drawing = time.process_time() - started
    buf = io.BytesIO()
    started = time.process_time()
    write_demo_stream(
        buf, scene.width, scene.height, FPS, realtime=False, duration=seconds, scene=scene
    )
    total = time.process_time() - started
    return cold - drawing, drawing, total, len(buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="video per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="measurements per scene (median)")
    args = parser.parse_args()
    print(machine_summary())
    for width, height in SIZES:
        runs: dict[str, list[tuple[float, float, float, float]]] = {"empty": [], "walking": []}
        for _ in range(args.rounds):
            # New scenes each round, so each walking round pays (and shows) the first walk.
            empty = DemoScene(width, height, period=1000.0, first_walk=900.0)
            walking = DemoScene(width, height, period=10.0, walk_seconds=8.0, first_walk=0.0)
            runs["empty"].append(measure(empty, args.seconds))
            runs["walking"].append(measure(walking, args.seconds))
        per_second = {}
        for name, values in runs.items():
            first, drawing, total, size = (
                statistics.median(v[i] for v in values) for i in range(4)
            )
            per_second[name] = total / args.seconds
            print(
                f"{width}x{height}@{FPS} {name:7}: {total / args.seconds * 1000:6.1f} ms CPU per "
                f"second of video (drawing {drawing / args.seconds * 1000:.1f} ms of it), "
                f"{size * 8 / args.seconds / 1000:.0f} kbit/s; first walk +{first * 1000:.0f} ms"
            )
        print(
            f"{width}x{height}: walking / empty = {per_second['walking'] / per_second['empty']:.2f}"
        )


if __name__ == "__main__":
    main()
