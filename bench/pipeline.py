"""Camera pipeline benchmark: the hub's CPU, memory, detection frames and recording loss,
for an idle and a busy scene, decoding every frame and adaptively.

Run: .venv/bin/python bench/pipeline.py [--cameras 4 16] [--many 64] [--onset-cameras 4]
     [--scenes idle busy] [--seconds 30] [--width 1280 --height 720 --fps 15]

Scenes are real-looking, encoded like a camera (x264 main profile, no B-frames, a
fixed GOP, VBV rate control) once per run and sent, looped, by the real RTSP server
(gst-rtsp-server, one shared mount that N camera entries read over N RTSP sessions):

- idle: a photo (scikit-image's motorcycle in a garage) with sensor grain, nothing moving;
- busy: the same with a figure walking across, again and again.

For each scene and camera count N it runs, one after the other in subprocesses, each
measured over the same window:

- floor:          N threads doing a bare PyAV demux + decode of every video frame;
- floor, key:     the same decoding keyframes only (what an idle camera must decode);
- hub, always:    a Hub with N cameras, `detect.decode: always` (continuous recording,
                  detection frames at 5 fps to a consumer; the motion loop off, so the
                  pipeline alone is measured);
- hub, adaptive:  the same with `detect.decode: adaptive` and the hub's motion loop on
                  (motion is what wakes a camera up).

`--many` runs the idle scene with that many cameras (floor, key and adaptive only: a
full decode of each would not fit this machine), and `--onset-cameras` a scene that is
still for 25.7 s and then moves, to time motion onset to the first detection frame.

It prints ratios against the floors measured in the same run, never pass/fail: the
machine is shared and noisy. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
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
from bench.pipeline_report import (  # noqa: E402
    DETECT_FPS,
    print_many,
    print_onsets,
    print_per_core,
    print_phase_details,
    print_scene_summary,
)

CHILD_SCRIPT = Path(__file__).resolve().with_name("pipeline_children.py")

# Hub phases: (record mode, decode, consumer attached, motion loop on).
HUB_VARIANTS = {
    "hub": ("continuous", "always", True, False),
    "hub_adaptive": ("continuous", "adaptive", True, True),
    "hub_no_record": ("off", "always", True, False),
    "hub_no_detect": ("continuous", "always", False, False),
}
ONSET_STILL_SECONDS = 25.7
"""The onset scene: still this long (not on a keyframe), then a figure walks until the loop
ends at 30 s; the camera is idle again well before the next onset."""
ONSET_LOOP_SECONDS = 30.0


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
                    "epoch": message["wall"],
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
    result["window_epoch"] = (start["epoch"], end["epoch"])
    result["cpu_core_fraction"] = (end["child_cpu"] - start["child_cpu"]) / wall
    result["server_core_fraction"] = (end["server_cpu"] - start["server_cpu"]) / wall
    result["machine_busy"] = (end["busy"] - start["busy"]) / max(1, end["total"] - start["total"])
    return result


def make_clips(args: argparse.Namespace, root: Path) -> dict[str, Path]:
    """Encode each scene once, as the looped clips the RTSP server sends."""
    from tests.plugins.still_scenes import StillScene
    from tests.servers.fixtures import write_clip

    common = {
        "width": args.width,
        "height": args.height,
        "fps": args.fps,
        "gop_seconds": args.gop_seconds,
        "bitrate": args.bitrate,
        "grain": args.grain,
    }
    # Loop lengths are whole GOPs, so every loop starts with a keyframe.
    scenes = {
        "idle": StillScene(static_seconds=20.0, walk_seconds=0.0, after_seconds=0.0, **common),
        "busy": StillScene(static_seconds=0.0, walk_seconds=6.0, after_seconds=0.0, **common),
        "onset": StillScene(
            static_seconds=ONSET_STILL_SECONDS,
            walk_seconds=ONSET_LOOP_SECONDS - ONSET_STILL_SECONDS,
            after_seconds=0.0,
            **common,
        ),
    }
    wanted = set(args.scenes) | ({"idle"} if args.many else set())
    wanted |= {"onset"} if args.onset_cameras else set()
    clips = {}
    for name in sorted(wanted):
        progress(f"encoding the {name} scene")
        clips[name] = write_clip(root / f"{name}.clip", scenes[name].access_units())
    return clips


def start_server(args: argparse.Namespace, clip: Path, cameras: int) -> tuple[Any, list[str]]:
    """The RTSP server sending one scene, and the URL each camera reads.

    A mount per camera, each starting a fraction of a GOP after the one before: independent
    cameras never send their keyframes at the same moment, and an idle hub decodes little
    else, so aligned keyframes would be a burst no real site sees (`--shared-mount` does it).
    """
    from tests.servers.fixtures import Mount, RtspServer

    def mount(path: str, delay: float) -> Mount:
        return Mount(
            path,
            width=args.width,
            height=args.height,
            fps=args.fps,
            clip=str(clip),
            start_delay=delay,
            # A media of its own per session: the test server now and then leaves a media
            # that never sends, and a camera reconnecting must not join it again.
            shared=False,
        )

    if args.shared_mount:
        server = RtspServer([mount("/cam", 0.0)], protocols=("tcp",)).start()
        return server, [server.url("/cam")] * cameras
    paths = [f"/cam{i:02d}" for i in range(cameras)]
    delays = [args.gop_seconds * i / cameras for i in range(cameras)]
    server = RtspServer(
        [mount(p, d) for p, d in zip(paths, delays, strict=True)], protocols=("tcp",)
    ).start()
    return server, [server.url(p) for p in paths]


def thread_type(args: argparse.Namespace, cameras: int) -> str:
    """The floor decodes with the hub's frame threading: none with a camera per core or more."""
    if args.floor_thread_type != "hub":
        return str(args.floor_thread_type)
    return "NONE" if cameras >= (os.cpu_count() or 1) else "AUTO"


def run_phases(
    args: argparse.Namespace,
    scene: str,
    count: int,
    names: list[str],
    common: dict[str, Any],
    root: Path,
    logs: Path,
    clips: dict[str, Path],
    seconds: float,
) -> dict[str, dict[str, Any]]:
    """The asked phases for one scene and camera count, against one RTSP server."""
    server, urls = start_server(args, clips[scene], count)
    timeout = seconds + args.warmup + 240
    phases: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            progress(f"{scene}, N={count}: {name.replace('_', ' ')}")
            if not server.running:
                # gst-rtsp-server has been seen to exit when many clients leave at once.
                progress("the RTSP server had exited; restarting it on the same port")
                server.restart()
            if name in ("floor", "floor_key"):
                spec = {
                    "urls": urls,
                    "seconds": seconds,
                    "thread_type": thread_type(args, count),
                    "keyframes_only": name == "floor_key",
                }
                phases[name] = run_child("_floor", {**common, **spec}, server.pid, timeout, logs)
                continue
            record_mode, decode, consume, motion = HUB_VARIANTS[name]
            spec = {
                "urls": urls,
                "seconds": seconds,
                "data_dir": str(root / f"{scene}-{name}-{count}"),
                "record_mode": record_mode,
                "decode": decode,
                "consume": consume,
                "motion": motion or (args.motion and name == "hub"),
                "observe": scene == "onset",
            }
            phases[name] = run_child("_hub", {**common, **spec}, server.pid, timeout, logs)
        phases["server_events"] = {"events": list(server.events)}
    finally:
        server.close()
    return phases


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[4, 16], help="camera counts")
    parser.add_argument("--scenes", nargs="+", choices=("idle", "busy"), default=["idle", "busy"])
    parser.add_argument(
        "--many", type=int, default=64, help="idle cameras for the many-camera run (0: skip)"
    )
    parser.add_argument(
        "--onset-cameras", type=int, default=4, help="cameras timing motion onsets (0: skip)"
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window per phase")
    parser.add_argument(
        "--onset-seconds", type=float, default=65.0, help="window of the onset run (2 onsets)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before the window")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--gop-seconds", type=float, default=2.0, help="keyframe interval")
    parser.add_argument(
        "--bitrate", type=int, default=2300, help="kbit/s, with a camera's VBV rate control"
    )
    parser.add_argument("--grain", type=float, default=3.0, help="sensor noise, grey levels")
    parser.add_argument(
        "--shared-mount",
        action="store_true",
        help="one mount for all cameras (their keyframes then come at the same moment)",
    )
    parser.add_argument(
        "--floor-thread-type",
        default="hub",
        help="PyAV thread_type of the floor's decoders; `hub`: as the hub's source chooses",
    )
    parser.add_argument(
        "--motion",
        action="store_true",
        help="keep the hub's own motion loop on in `always` mode too (else the benchmark's "
        "consumer reads the frames)",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also run the `always` hub without recording and without a detection consumer, "
        "to attribute its CPU and memory (adds two phases per scene and camera count)",
    )
    parser.add_argument(
        "--pi4-sysbench",
        type=float,
        default=1477.83,
        help="published sysbench cpu events/s of one Raspberry Pi 4 core (1.0.20, primes to "
        "10000), for the Pi estimate",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    from tests.servers.fixtures import gst_unavailable_reason

    reason = gst_unavailable_reason()
    if reason is not None:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    import av

    began = time.monotonic()
    print("camhub pipeline benchmark (ratios against floors measured in this run)")
    print(f"machine: {procstat.machine_summary()}")
    print(
        f"software: Python {sys.version.split()[0]}, PyAV {av.__version__}, "
        f"FFmpeg {av.ffmpeg_version_info}"
    )
    mounts = (
        "one shared mount"
        if args.shared_mount
        else "a mount per camera, keyframes staggered over a GOP"
    )
    print(
        f"streams: {args.width}x{args.height}@{args.fps} H.264 (x264 veryfast main, no "
        f"B-frames, {args.bitrate} kbit/s VBV, GOP {args.gop_seconds:g} s), a photo with "
        f"grain {args.grain:g}; {mounts}, RTSP over TCP on 127.0.0.1; window "
        f"{args.seconds:g} s after {args.warmup:g} s warm-up"
    )
    print(
        f"hub: record.mode continuous, detect.fps {DETECT_FPS:g}; always: the benchmark's "
        f"frame consumer{' and the motion loop' if args.motion else ''}; adaptive: the hub's "
        "motion loop; floor decoders use the hub's thread_type unless told"
    )
    results: dict[str, dict[int, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="camhub-bench-") as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        empty = root / "empty.yaml"
        empty.write_text(hub_config([]))
        common = {"config_empty": str(empty), "warmup": args.warmup}
        try:
            clips = make_clips(args, root)
            progress("idle hub (0 cameras)")
            idle_spec = {"data_dir": str(root / "idle"), "seconds": IDLE_SECONDS}
            idle = run_child("_idle", {**common, **idle_spec}, None, 120, logs)
            names = ["floor", "floor_key", "hub", "hub_adaptive"]
            if args.breakdown:
                names += ["hub_no_record", "hub_no_detect"]
            for scene in args.scenes:
                results[scene] = {}
                for count in args.cameras:
                    phases = run_phases(
                        args, scene, count, names, common, root, logs, clips, args.seconds
                    )
                    results[scene][count] = phases
                    print_phase_details(scene, count, phases, idle, args)
            # The last two runs are the longest and the likeliest to fail on a loaded
            # machine: a failure there is reported, and what was measured is still printed.
            many = None
            if args.many:
                # The hub first, each phase on a server of its own: the floor's 64 bare
                # sessions are the likelier to fail to start, and the hub's figures are the
                # point of this run.
                for name in ("hub_adaptive", "floor_key"):
                    try:
                        many = {
                            **(many or {}),
                            **run_phases(
                                args,
                                "idle",
                                args.many,
                                [name],
                                common,
                                root,
                                logs,
                                clips,
                                args.seconds,
                            ),
                        }
                    except ChildFailed as exc:
                        print(f"many-camera run, {name}: failed: {exc}", file=sys.stderr)
                if many is not None and "hub_adaptive" in many:
                    print_phase_details("idle", args.many, many, idle, args)
                else:
                    many = None
            onset = None
            if args.onset_cameras:
                try:
                    onset = run_phases(
                        args,
                        "onset",
                        args.onset_cameras,
                        ["hub_adaptive"],
                        common,
                        root,
                        logs,
                        clips,
                        args.onset_seconds,
                    )
                except ChildFailed as exc:
                    print(f"onset run failed: {exc}", file=sys.stderr)
        except ChildFailed as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 1
    for scene, by_count in results.items():
        print_scene_summary(scene, by_count, idle, args)
    if many is not None:
        print_many(args.many, many, args)
    if onset is not None:
        first = math.ceil(ONSET_STILL_SECONDS * args.fps) / args.fps
        print_onsets(onset, first, args)
    print_per_core(results, many, args)
    print(f"\ntotal run time {time.monotonic() - began:.0f} s")
    return 0


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
