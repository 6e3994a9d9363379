"""Keyframes-only decoding with PyAV: which way is cheapest, against decoding every frame.

Run: .venv/bin/python bench/keyframes.py [--width 1280 --height 720 --fps 15 --seconds 20]

Encodes the idle scene of bench/pipeline.py (a photo with sensor grain, x264 like a
camera) in memory, then decodes its packets in this process, best of `--repeat`, three
ways: every frame; `skip_frame = "NONKEY"` with every packet sent (what an idle camera
does); and only the keyframe packets sent. Prints CPU (all threads of this process) per
second of video as a share of one core, and each against decoding every frame.
"""

from __future__ import annotations

import argparse
import resource
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WAYS = {
    "every frame": "decode every packet",
    "NONKEY": "skip_frame = NONKEY, every packet sent",
    "keyframes sent": "only keyframe packets sent",
}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def packets(args: argparse.Namespace) -> list[Any]:
    """The scene's encoded packets, parsed as a demuxer would give them."""
    import av

    from tests.plugins.still_scenes import StillScene

    scene = StillScene(
        width=args.width,
        height=args.height,
        fps=args.fps,
        gop_seconds=args.gop_seconds,
        static_seconds=args.seconds,
        walk_seconds=0.0,
        after_seconds=0.0,
        bitrate=args.bitrate,
    )
    parser = av.CodecContext.create("h264", "r")
    found = []
    for unit in scene.access_units():
        for packet in parser.parse(unit):
            found.append(packet)
    for packet in parser.parse(None):
        found.append(packet)
    for index, packet in enumerate(found):
        packet.pts = packet.dts = index
        packet.time_base = Fraction(1, args.fps)
    return found


def decode(found: list[Any], way: str, thread_type: str) -> tuple[float, int]:
    """CPU seconds and frames out for one pass of one way."""
    import av

    codec = av.CodecContext.create("h264", "r")
    codec.thread_type = thread_type
    if way != "every frame":
        codec.skip_frame = "NONKEY"
    began = cpu_seconds()
    frames = 0
    for packet in found:
        if way == "keyframes sent" and not packet.is_keyframe:
            continue
        frames += len(codec.decode(packet))
    frames += len(codec.decode(None))
    return cpu_seconds() - began, frames


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--gop-seconds", type=float, default=2.0)
    parser.add_argument("--bitrate", type=int, default=2300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--thread-type", default="NONE", help="PyAV thread_type of the decoder")
    args = parser.parse_args(argv)
    import av

    from bench import procstat

    print("keyframes-only decoding with PyAV (ratios against decoding every frame)")
    print(f"machine: {procstat.machine_summary()}")
    print(f"software: PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}")
    found = packets(args)
    keyframes = sum(1 for p in found if p.is_keyframe)
    print(
        f"stream: idle scene {args.width}x{args.height}@{args.fps}, {len(found)} packets "
        f"({keyframes} keyframes), {args.bitrate} kbit/s, thread_type {args.thread_type}"
    )
    seconds = len(found) / args.fps
    best: dict[str, float] = {}
    outputs: dict[str, int] = {}
    for _ in range(args.repeat):
        for way in WAYS:
            spent, frames = decode(found, way, args.thread_type)
            best[way] = min(best.get(way, spent), spent)
            outputs[way] = frames
    full = best["every frame"]
    for way, label in WAYS.items():
        share = best[way] / seconds
        print(
            f"  {label:<40} {100 * share:6.2f}% of one core  {best[way] / full:5.2f}x  "
            f"({outputs[way]} frames)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
