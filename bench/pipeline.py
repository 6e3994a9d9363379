"""Camera pipeline benchmark: the hub's CPU, memory, detection frames and recording loss.

Run: .venv/bin/python bench/pipeline.py [--cameras 4 16] [--seconds 30]
     [--width 1280 --height 720 --fps 15]

For each camera count N it starts the real RTSP server (gst-rtsp-server, one
shared H.264 mount that N camera entries read over N RTSP sessions), then runs
two subprocesses one after the other, each measured over the same window:

- floor: N threads doing a bare PyAV demux + decode of every video frame;
- hub:   a Hub with N cameras (continuous recording, detection at 5 fps, a
         consumer on every camera's frame slot).

It prints ratios against the floor measured in the same run, never pass/fail:
the machine is shared and noisy. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import procstat  # noqa: E402
from bench.pipeline_children import IDLE_SECONDS, hub_config  # noqa: E402
from bench.pipeline_report import DETECT_FPS, print_phase_details, print_summary  # noqa: E402

CHILD_SCRIPT = Path(__file__).resolve().with_name("pipeline_children.py")

# Hub phases: (record mode, detection consumer attached); "hub" is the one compared.
HUB_VARIANTS = {
    "hub": ("continuous", True),
    "hub_no_record": ("off", True),
    "hub_no_detect": ("continuous", False),
}


class ChildFailed(RuntimeError):
    """A measured subprocess failed; the message ends with its stderr."""


def run_child(
    mode: str, spec: dict[str, Any], server_pid: int | None, timeout: float, logs: Path
) -> dict[str, Any]:
    """Run a child phase; CPU of it and of the server is read here at its window marks."""
    log_path = logs / f"{mode}-{len(list(logs.iterdir()))}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(CHILD_SCRIPT), mode, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    marks: dict[str, dict[str, float]] = {}
    result: dict[str, Any] | None = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            event = message.pop("event")
            if event in ("window_start", "window_end"):
                busy, total = procstat.machine_jiffies()
                marks[event] = {
                    "wall": time.monotonic(),
                    "child_cpu": procstat.cpu_seconds(proc.pid),
                    "server_cpu": procstat.cpu_seconds(server_pid) if server_pid else 0.0,
                    "busy": busy,
                    "total": total,
                }
            elif event == "result":
                result = message
        proc.wait()
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or result is None or len(marks) != 2:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise ChildFailed(f"{mode} exited with {proc.returncode}; its stderr ends:\n{tail}")
    start, end = marks["window_start"], marks["window_end"]
    wall = end["wall"] - start["wall"]
    result["window_seconds"] = wall
    result["cpu_core_fraction"] = (end["child_cpu"] - start["child_cpu"]) / wall
    result["server_core_fraction"] = (end["server_cpu"] - start["server_cpu"]) / wall
    result["machine_busy"] = (end["busy"] - start["busy"]) / max(1, end["total"] - start["total"])
    return result


def start_server(args: argparse.Namespace, cameras: int) -> tuple[Any, list[str]]:
    """The RTSP server and the URL each camera reads (one shared mount unless asked)."""
    from tests.servers.fixtures import Mount, RtspServer

    def mount(path: str) -> Any:
        return Mount(path, width=args.width, height=args.height, fps=args.fps, pattern=args.pattern)

    if args.mount_per_camera:
        paths = [f"/cam{i:02d}" for i in range(cameras)]
        server = RtspServer([mount(p) for p in paths], protocols=("tcp",)).start()
        return server, [server.url(p) for p in paths]
    server = RtspServer([mount("/cam")], protocols=("tcp",)).start()
    return server, [server.url("/cam")] * cameras


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[4, 16], help="camera counts")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument(
        "--pattern",
        default="smpte",
        help="videotestsrc pattern; smpte gives a camera-like ~2-3 Mbit/s at 720p15",
    )
    parser.add_argument(
        "--mount-per-camera",
        action="store_true",
        help="one server mount (and encoder) per camera instead of one shared mount",
    )
    parser.add_argument(
        "--floor-thread-type",
        default="AUTO",
        help="PyAV thread_type of the floor's decoders (the hub's source uses AUTO)",
    )
    parser.add_argument(
        "--motion",
        action="store_true",
        help="keep the hub's own motion loop on (cameras it reads get no benchmark consumer)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run the hub without recording and without a detection consumer, "
        "to attribute its CPU and memory (adds two phases per camera count)",
    )
    return parser.parse_args(argv)


def run_camera_count(
    args: argparse.Namespace, count: int, common: dict[str, Any], root: Path, logs: Path
) -> dict[str, dict[str, Any]]:
    """The floor, then the hub (and its breakdown variants), against one RTSP server."""
    server, urls = start_server(args, count)
    timeout = args.seconds + args.warmup + 180
    phases: dict[str, dict[str, Any]] = {}
    try:
        progress(f"N={count}: floor")
        floor_spec = {"urls": urls, "seconds": args.seconds, "thread_type": args.floor_thread_type}
        phases["floor"] = run_child("_floor", {**common, **floor_spec}, server.pid, timeout, logs)
        names = list(HUB_VARIANTS) if args.breakdown else ["hub"]
        for name in names:
            record_mode, consume = HUB_VARIANTS[name]
            progress(f"N={count}: {name.replace('_', ' ')}")
            if not server.running:
                # gst-rtsp-server has been seen to exit when many clients leave at once.
                progress("the RTSP server had exited; restarting it on the same port")
                server.restart()
            hub_spec = {
                "urls": urls,
                "seconds": args.seconds,
                "data_dir": str(root / f"{name}-{count}"),
                "record_mode": record_mode,
                "consume": consume,
                "motion": args.motion,
            }
            phases[name] = run_child("_hub", {**common, **hub_spec}, server.pid, timeout, logs)
    finally:
        server.close()
    return phases


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from tests.servers.fixtures import gst_unavailable_reason

    reason = gst_unavailable_reason()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    import av

    began = time.monotonic()
    print("camhub pipeline benchmark (ratios against a floor measured in this run)")
    print(f"machine: {procstat.machine_summary()}")
    print(
        f"software: Python {sys.version.split()[0]}, PyAV {av.__version__}, "
        f"FFmpeg {av.ffmpeg_version_info}"
    )
    mounts = "one mount per camera" if args.mount_per_camera else "one shared mount"
    print(
        f"stream: {args.width}x{args.height}@{args.fps} H.264 ({args.pattern} pattern, "
        f"GOP {2 * args.fps}), {mounts}, RTSP over TCP on 127.0.0.1; "
        f"window {args.seconds:g} s after {args.warmup:g} s warm-up"
    )
    consumer = (
        "the hub's motion loop where a motion detector plugin is loaded, else the benchmark's"
        if args.motion
        else "the benchmark's own (the hub's motion loop is off)"
    )
    print(
        f"hub: record.mode continuous, detect.fps {DETECT_FPS:g}; detection frame consumer: "
        f"{consumer}; floor decoders use thread_type {args.floor_thread_type}"
    )
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="camhub-bench-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        empty = root / "empty.yaml"
        empty.write_text(hub_config([]))
        common = {"config_empty": str(empty), "warmup": args.warmup}
        try:
            progress("idle hub (0 cameras)")
            idle_spec = {"data_dir": str(root / "idle"), "seconds": IDLE_SECONDS}
            idle = run_child("_idle", {**common, **idle_spec}, None, 120, logs)
            for count in args.cameras:
                results[count] = run_camera_count(args, count, common, root, logs)
                print_phase_details(count, results[count], idle, args)
        except ChildFailed as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    print_summary(results, idle, args)
    print(f"\ntotal run time {time.monotonic() - began:.0f} s")
    return 0


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
