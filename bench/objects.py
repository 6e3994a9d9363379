"""Object-detector calls per minute on a camera with ~10% motion, against calling it on every frame.

Runs the hub on the demo camera (a figure walks through for 2 s every 20 s),
with the built-in motion detector and a detector that only counts its calls,
and prints calls per minute next to what running the detector on every
detection frame would cost. With --kserve, then compares the `kserve` path
(a real V2 server on loopback) with the local `onnx` path on the same model
(bench/objects_remote.py). Usage: .venv/bin/python bench/objects.py
[--seconds 60] [--kserve [--kserve-seconds 20] [--hubs 1 2 4]]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.config.loading import load_config
from hub.core import Hub
from hub.detection.object_detector import Detection
from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl

CONFIG = """
detectors:
  counter:
    type: counting
cameras:
  demo:
    url: demo://?period={period}&walk={walk}&first=3
    detect:
      fps: {fps}
    objects:
      max_fps: {max_fps}
    record:
      mode: "off"
"""


class CountingDetector:
    """Counts calls and crops; finds nothing."""

    def __init__(self) -> None:
        self.calls = 0
        self.crops = 0
        self.pixels = 0

    async def async_detect(self, images: list) -> list[list[Detection]]:
        self.calls += 1
        self.crops += len(images)
        self.pixels += sum(i.shape[0] * i.shape[1] for i in images)
        return [[] for _ in images]


DETECTOR = CountingDetector()


class Plugin:
    @hookimpl
    def detector_types(self) -> list[TypeSpec]:
        return [TypeSpec("counting", PluginOptions, lambda hub, i, o: DETECTOR)]


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(
            CONFIG.format(period=args.period, walk=args.walk, fps=args.fps, max_fps=args.max_fps)
        )
        hub = Hub(load_config(config), Path(tmp) / "data")
        hub.plugins.register(Plugin(), "counting")
        await hub.async_start()
        started = time.monotonic()
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - started
        motion_on = sum(
            (end or time.time()) - begin
            for begin, end in hub.cameras["demo"].motion.intervals
            if begin is not None
        )
        frames = hub.cameras["demo"].frames.delivered
        await hub.async_stop()
    minutes = elapsed / 60
    every_frame = args.fps * 60
    calls = DETECTOR.calls / minutes
    print(__doc__.split("\n\n")[0])
    print(
        f"window {elapsed:.0f} s; the figure is in view {args.walk / args.period:.0%} of the time"
    )
    print(f"motion seen {motion_on / elapsed:.0%} of the window")
    print(f"detection frames per minute (all consumers): {frames / minutes:.0f}")
    print(
        f"detector calls per minute: {calls:.1f}  (every frame at {args.fps:g} fps: {every_frame})"
    )
    print(
        f"crops per call: {DETECTOR.crops / max(1, DETECTOR.calls):.2f}; "
        f"pixels per call vs a full 640x360 frame: "
        f"{DETECTOR.pixels / max(1, DETECTOR.calls) / (640 * 360):.2f}"
    )
    print(f"ratio every-frame / ours: {every_frame / max(calls, 1e-9):.1f}x fewer calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--period", type=float, default=20)
    parser.add_argument("--walk", type=float, default=2)
    parser.add_argument("--fps", type=float, default=5)
    parser.add_argument("--max-fps", type=float, default=2)
    parser.add_argument("--kserve", action="store_true", help="also the kserve vs local paths")
    parser.add_argument("--kserve-only", action="store_true", help="only the kserve comparison")
    parser.add_argument("--kserve-seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=30, help="timed calls per latency figure")
    parser.add_argument("--hubs", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    if not args.kserve_only:
        asyncio.run(run(args))
    if args.kserve or args.kserve_only:
        from bench.objects_remote import compare

        asyncio.run(compare(args.kserve_seconds, args.rounds, args.hubs))


if __name__ == "__main__":
    main()
