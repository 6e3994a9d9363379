"""Privacy masks: the CPU a masked camera costs, against plain stream copy, in the same run.

A demo-like stream (the demo camera's garden and walking figure, with sensor
grain so it is not all skip blocks, H.264 at 15 fps with a 2 s GOP) is written
to a file at 1280x720 and 1920x1080. Each phase reads the whole file as fast as
it can in this process and muxes it into fragmented MP4 in memory (what the
recorder does), measuring process CPU seconds (all threads) per second of video,
i.e. the share of one core the camera costs at real time:

- copy: demux and mux (the hub's path for a camera without privacy masks and
  without detection),
- copy + decode: the same, decoding every frame (a camera with detection),
- masked: `masked_stream` (decode, fill, x264 re-encode, NUT) then mux,
- masked + decode: the same, decoding the masked stream (detection on it).

    .venv/bin/python bench/privacy.py            # --seconds 20 --fps 15

Ratios are printed against copy and against copy + decode. The x264 settings
are the hub's (ultrafast, zerolatency, crf 23); its threads are FFmpeg's default.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import av

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.procstat import cpu_seconds, machine_summary  # noqa: E402
from plugins.pyav_source.demo import DemoScene  # noqa: E402
from plugins.pyav_source.privacy import masked_stream  # noqa: E402
from plugins.pyav_source.recorder import MP4_OPTIONS  # noqa: E402

SIZES = ((1280, 720), (1920, 1080))
# A neighbour's window at the top right and the street along the bottom: ~20 % of the picture.
MASKS = [
    [(0.75, 0.0), (1.0, 0.0), (1.0, 0.3), (0.75, 0.3)],
    [(0.0, 0.88), (1.0, 0.88), (1.0, 1.0), (0.0, 1.0)],
]


def write_source(path: Path, width: int, height: int, fps: int, seconds: float) -> float:
    """The demo scene with grain, encoded like a camera (x264 main profile, no B-frames,
    constant bitrate about what a camera sends at this size); returns its Mbit/s."""
    scene = DemoScene(width, height, period=10.0, walk_seconds=6.0, first_walk=1.0, sensor_noise=4)
    bitrate = 2_500_000 if height <= 720 else 4_000_000
    with av.open(str(path), "w", format="mpegts") as container:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "veryfast",
                "profile": "main",
                "bf": "0",
                "x264-params": f"keyint={2 * fps}:min-keyint={2 * fps}:scenecut=0",
            },
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(scene.frame(index / fps), format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.stat().st_size * 8 / seconds / 1e6


def run_phase(path: Path, masked: bool, decode: bool) -> tuple[float, int]:
    """CPU seconds to read, (mask,) (decode,) and mux the whole file; and frames muxed."""
    began = cpu_seconds()
    packets = 0
    with av.open(str(path), format="mpegts") as raw:
        wrapper: AbstractContextManager[Any] = (
            masked_stream(raw, "bench", MASKS) if masked else nullcontext(raw)
        )
        with wrapper as container:
            video = next(s for s in container.streams if s.type == "video")
            out = av.open(io.BytesIO(), "w", format="mp4", options=MP4_OPTIONS)
            target = out.add_stream_from_template(video)
            for packet in container.demux(video):
                if packet.dts is None or packet.size == 0:
                    continue
                if decode:
                    packet.decode()
                packet.stream = target
                out.mux(packet)
                packets += 1
            out.close()
    return cpu_seconds() - began, packets


def measure(label: str, result: tuple[float, int], seconds: float) -> float:
    """Print one phase's CPU seconds and share of a core; returns the share."""
    spent, packets = result
    share = spent / seconds
    print(f"  {label:18} {spent:6.2f} CPU s  {packets:5d} packets  {share * 100:6.1f} % of a core")
    return share


def ratio(value: float, baseline: float) -> str:
    """`value / baseline` as `12.3x`, or a bound when the baseline is below one clock tick."""
    tick = 0.01 / 20  # one CPU tick spread over a run: the resolution of these shares
    if baseline < tick:
        return f">{value / tick:.0f}x"
    return f"{value / baseline:.1f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="video length (20)")
    parser.add_argument("--fps", type=int, default=15, help="frames per second (15)")
    args = parser.parse_args()
    print(machine_summary())
    print(f"PyAV {av.__version__}, FFmpeg {av.ffmpeg_version_info}")
    summary = []
    with tempfile.TemporaryDirectory(prefix="camhub-bench-privacy-") as folder:
        for width, height in SIZES:
            path = Path(folder) / f"demo-{height}p.ts"
            mbit = write_source(path, width, height, args.fps, args.seconds)
            print(f"\n{width}x{height} @ {args.fps} fps, {args.seconds:g} s, {mbit:.1f} Mbit/s")
            shares = {}
            for label, masked, decode in (
                ("copy", False, False),
                ("copy + decode", False, True),
                ("masked", True, False),
                ("masked + decode", True, True),
            ):
                shares[label] = measure(label, run_phase(path, masked, decode), args.seconds)
            summary.append((f"{height}p", shares))
            time.sleep(0.5)
    print("\nsummary: share of one core per camera at real time, and ratios")
    print(
        f"{'':6} {'copy':>7} {'+decode':>8} {'masked':>8} {'+decode':>8} "
        f"{'masked/copy':>12} {'masked+dec / copy+dec':>22} {'extra':>7}"
    )
    for name, s in summary:
        extra = s["masked + decode"] - s["copy + decode"]
        print(
            f"{name:6} {s['copy'] * 100:6.1f}% {s['copy + decode'] * 100:7.1f}% "
            f"{s['masked'] * 100:7.1f}% {s['masked + decode'] * 100:7.1f}% "
            f"{ratio(s['masked'], s['copy']):>12} "
            f"{ratio(s['masked + decode'], s['copy + decode']):>22} {extra * 100:6.1f}%"
        )
    print("(extra: what privacy masks add to a camera that already decodes for detection)")


if __name__ == "__main__":
    main()
