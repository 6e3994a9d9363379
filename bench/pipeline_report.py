"""Prints the pipeline benchmark's results: per-phase details, then summaries with targets."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

TARGET_CPU_RATIO = 1.15
"""hub in `always` mode / bare full decode, at 16 cameras."""
TARGET_IDLE_RATIO = 1.3
"""hub in `adaptive` mode on an idle scene / bare keyframe-only decode."""
TARGET_LAG_P95_MS = 20.0
TARGET_RSS_MB = 40.0
TARGET_ONSET_EXTRA = 0.5
"""Motion onset to the first detection frame showing it: at most one GOP plus this."""
DETECT_FPS = 5.0
PHASE_LABELS = {
    "floor": "floor (bare demux + decode of every frame)",
    "floor_key": "floor, keyframes only (bare demux + keyframe decode)",
    "hub": "hub, decode always",
    "hub_adaptive": "hub, decode adaptive",
    "hub_no_record": "hub, always, record.mode off",
    "hub_no_detect": "hub, always, no detection consumer (nothing decoded)",
}


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _quantiles(values: list[float]) -> str:
    """p50 / p95 / max in milliseconds."""
    if not values:
        return "n/a"
    ordered = sorted(values)
    return (
        f"{1000 * statistics.median(ordered):.0f} / {1000 * p95(ordered):.0f} / "
        f"{1000 * ordered[-1]:.0f}"
    )


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _threads(result: dict[str, Any], cameras: int) -> str:
    wall = result["window_seconds"]
    parts = sorted(result["threads"].items(), key=lambda kv: -kv[1])
    shown = [
        f"{name} {_pct(seconds / wall)} ({_pct(seconds / wall / cameras)}/cam)"
        for name, seconds in parts
        if seconds / wall >= 0.001
    ]
    return "; ".join(shown) or "nothing measurable"


def per_camera_cpu(result: dict[str, Any], cameras: int) -> float:
    """CPU of the process over the window, as a fraction of one core per camera."""
    return float(result["cpu_core_fraction"]) / cameras


def rss_per_camera_mb(
    hub: dict[str, Any], idle: dict[str, Any], cameras: int
) -> tuple[float, float]:
    """(steady, peak) RSS above the idle hub's, per camera, in MB."""
    base = idle["rss_kb_steady"]
    return (
        (hub["rss_kb_steady"] - base) / cameras / 1024,
        (hub["rss_kb_peak"] - base) / cameras / 1024,
    )


def recording_loss(hub: dict[str, Any]) -> dict[str, int]:
    """Packet accounting summed over cameras."""
    cams = hub["cameras"]
    return {
        "window_received": sum(c["packets_window"] for c in cams),
        "window_lost": sum(c["packets_window"] - c["written_window"] for c in cams),
        "received": sum(c["packets_total"] for c in cams),
        "written": sum(c["written_total"] for c in cams),
        "skipped": sum(c["skipped_total"] for c in cams),
        "in_files": sum(c["in_files"] for c in cams),
    }


def loop_wait(hub: dict[str, Any]) -> float:
    """Share of the window the event loop's thread was runnable but had no CPU: lag from
    the machine being busy, not from work on the loop."""
    return float(hub.get("loop_waited_for_cpu", 0.0)) / hub["window_seconds"]


def decoded_fps(hub: dict[str, Any]) -> float:
    """Frames decoded per second per camera in the window (adaptive decoding's counter)."""
    cams = hub["cameras"]
    return statistics.mean(c["decoded"] for c in cams) / hub["window_seconds"]


def modes(hub: dict[str, Any]) -> str:
    """How many cameras ended the window in each decode mode."""
    counts: dict[str, int] = {}
    for camera in hub["cameras"]:
        counts[camera["decode_mode"]] = counts.get(camera["decode_mode"], 0) + 1
    return ", ".join(f"{n} {mode}" for mode, n in sorted(counts.items()))


def print_phase_details(
    scene: str,
    cameras: int,
    phases: dict[str, dict[str, Any]],
    idle: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """Everything measured for one scene and camera count, for reading where time goes."""
    print(f"\n=== {scene} scene, N = {cameras} camera(s) ===")
    for name, result in phases.items():
        if name.startswith("floor"):
            frames = result["frames"]
            window = result["window_seconds"]
            mbit = [8 * b / window / 1e6 for b in result["payload_bytes"]]
            print(
                f"{PHASE_LABELS[name]}: {_pct(result['cpu_core_fraction'])} of one core in "
                f"total, {min(frames) / window:.2f}-{max(frames) / window:.2f} frames/s per "
                f"camera, {statistics.mean(mbit):.2f} Mbit/s per camera, RSS "
                f"{result['rss_kb'] / 1024:.0f} MB, errors: {result['errors'] or 'none'}"
            )
            print(f"        threads: {_threads(result, cameras)}")
        elif name.startswith("hub"):
            print_hub_details(name, cameras, result, idle, args)


def print_hub_details(
    name: str,
    cameras: int,
    hub: dict[str, Any],
    idle: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """One hub phase: CPU, memory, loop lag, frames, decoding and recording."""
    window = hub["window_seconds"]
    print(
        f"{PHASE_LABELS[name]}: {_pct(hub['cpu_core_fraction'])} of one core in total; "
        f"ready in {hub['ready_seconds']:.1f} s, stopped in {hub['stop_seconds']:.2f} s; "
        f"RSS steady {hub['rss_kb_steady'] / 1024:.0f} MB, peak {hub['rss_kb_peak'] / 1024:.0f} "
        f"MB (idle hub {idle['rss_kb_steady'] / 1024:.0f} MB)"
    )
    print(f"        threads: {_threads(hub, cameras)}")
    print(
        f"        event-loop lag p50/p95/max ms: {_quantiles(hub['loop_lags'])} (the loop's "
        f"thread waited for a CPU {loop_wait(hub):.0%} of the window); detection frame age "
        f"at delivery p50/p95/max ms: {_quantiles(hub['frame_ages'])}"
    )
    cams = hub["cameras"]
    delivered = [c["delivered"] for c in cams]
    dropped = [c["dropped"] for c in cams]
    print(
        f"        decoding: {decoded_fps(hub):.2f} frames/s per camera, wake-ups "
        f"{sum(c['wakeups'] for c in cams)}, at the end {modes(hub)}; detection frames per "
        f"camera delivered {min(delivered)}-{max(delivered)} (every frame: ~"
        f"{DETECT_FPS * window:.0f}), dropped {min(dropped)}-{max(dropped)}; offline in "
        f"window: {hub['offline_events']}; consumers: {hub['bench_consumers']} benchmark, "
        f"{hub['motion_loops']} motion loop(s)"
    )
    loss = recording_loss(hub)
    print(
        f"        recording, window: {loss['window_received']} packets received, "
        f"{loss['window_lost']} not written; coverage of the window "
        f"{_pct(min(c['coverage_window'] for c in cams))} (worst camera); whole run: "
        f"received {loss['received']}, written {loss['written']}, refused by muxer "
        f"{loss['skipped']}, not written {loss['received'] - loss['written'] - loss['skipped']} "
        f"(each camera's packets before its first keyframe, < {args.gop_seconds * args.fps:.0f}"
        f"), in the MP4 files {loss['in_files']}; left .partial: {len(hub['partial_files'])}"
    )
    if hub["problems"]:
        print(f"        hub problems: {hub['problems']}")


def _table(title: str, counts: list[int], rows: list[tuple[str, list[str], str]]) -> None:
    label_width = max(len(r[0]) for r in rows)
    widths = [max(len(f"N={n}"), *(len(r[1][i]) for r in rows)) for i, n in enumerate(counts)]
    print(f"\n{title}")
    header = "  ".join(f"{f'N={n}':>{w}}" for n, w in zip(counts, widths, strict=True))
    print(f"{'':<{label_width}}  {header}  target")
    for label, cells, target in rows:
        values = "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        print(f"{label:<{label_width}}  {values}  {target}")


def print_scene_summary(
    scene: str,
    by_count: dict[int, dict[str, Any]],
    idle: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """One row per metric, one column per camera count, targets on the right."""
    counts = sorted(by_count)
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, target: str, cell: Any) -> None:
        rows.append((label, [cell(n, by_count[n]) for n in counts], target))

    def cpu(name: str) -> Any:
        return lambda n, p: _pct(per_camera_cpu(p[name], n))

    def ratio(a: str, b: str) -> Any:
        return lambda n, p: f"{per_camera_cpu(p[a], n) / per_camera_cpu(p[b], n):.2f}"

    row("floor, every frame: CPU per camera", "", cpu("floor"))
    row("floor, keyframes only: CPU per camera", "", cpu("floor_key"))
    row("hub, always: CPU per camera", "", cpu("hub"))
    row("hub, adaptive: CPU per camera", "", cpu("hub_adaptive"))
    row("ratio hub always / floor", f"<= {TARGET_CPU_RATIO} (N=16)", ratio("hub", "floor"))
    idle_target = f"<= {TARGET_IDLE_RATIO}" if scene == "idle" else ""
    row("ratio hub adaptive / floor keyframes", idle_target, ratio("hub_adaptive", "floor_key"))
    row("ratio hub adaptive / floor", "", ratio("hub_adaptive", "floor"))
    row(
        "hub adaptive: decoded frames/s per camera",
        "",
        lambda n, p: f"{decoded_fps(p['hub_adaptive']):.2f}",
    )
    row("hub adaptive: modes at the end", "", lambda n, p: modes(p["hub_adaptive"]))
    row(
        "RSS per camera, always / adaptive (MB)",
        f"<= {TARGET_RSS_MB:g}",
        lambda n, p: (
            f"{rss_per_camera_mb(p['hub'], idle, n)[0]:.1f} / "
            f"{rss_per_camera_mb(p['hub_adaptive'], idle, n)[0]:.1f}"
        ),
    )
    row(
        "detection frames / camera, always",
        f"~{DETECT_FPS * args.seconds:.0f}",
        lambda n, p: f"{statistics.mean(c['delivered'] for c in p['hub']['cameras']):.0f}",
    )
    row(
        "loop lag p95 ms, always / adaptive",
        "",
        lambda n, p: (
            f"{1000 * p95(p['hub']['loop_lags']):.0f} / "
            f"{1000 * p95(p['hub_adaptive']['loop_lags']):.0f}"
        ),
    )
    row(
        "packets lost in window, always / adaptive",
        "0",
        lambda n, p: (
            f"{recording_loss(p['hub'])['window_lost']} / "
            f"{recording_loss(p['hub_adaptive'])['window_lost']}"
        ),
    )
    row(
        "recording coverage (worst), always / adaptive",
        "100%",
        lambda n, p: (
            f"{min(c['coverage_window'] for c in p['hub']['cameras']):.1%} / "
            f"{min(c['coverage_window'] for c in p['hub_adaptive']['cameras']):.1%}"
        ),
    )
    row(
        "machine busy: floor / always / adaptive",
        "",
        lambda n, p: (
            f"{p['floor']['machine_busy']:.0%} / {p['hub']['machine_busy']:.0%} / "
            f"{p['hub_adaptive']['machine_busy']:.0%}"
        ),
    )
    _table(
        f"Summary, {scene} scene (idle hub, 0 cameras: RSS {idle['rss_kb_steady'] / 1024:.0f} MB)",
        counts,
        rows,
    )


def print_many(cameras: int, phases: dict[str, Any], args: argparse.Namespace) -> None:
    """The many-camera idle run: keyframes only, recorded and watched."""
    key, hub = phases.get("floor_key"), phases["hub_adaptive"]
    loss = recording_loss(hub)
    hub_cpu = per_camera_cpu(hub, cameras)
    floor_cpu = per_camera_cpu(key, cameras) if key is not None else None
    print(f"\nSummary, {cameras} idle cameras recorded and watched (adaptive)")
    lines = [
        ("floor, keyframes only: CPU per camera", _pct(floor_cpu) if floor_cpu else "failed", ""),
        ("hub, adaptive: CPU per camera", _pct(hub_cpu), ""),
        (
            "ratio hub / floor keyframes",
            f"{hub_cpu / floor_cpu:.2f}" if floor_cpu else "n/a",
            f"<= {TARGET_IDLE_RATIO}",
        ),
        ("hub, adaptive: whole process", _pct(hub["cpu_core_fraction"]), "of one core"),
        (
            "event-loop lag p50 / p95 / max ms",
            _quantiles(hub["loop_lags"]),
            f"p95 < {TARGET_LAG_P95_MS:g}",
        ),
        ("event loop's thread waiting for a CPU", f"{loop_wait(hub):.1%}", "of the window"),
        ("packets lost in window", str(loss["window_lost"]), "0"),
        ("packets written but not in files", str(loss["written"] - loss["in_files"]), "0"),
        (
            "recording coverage of window (worst)",
            f"{min(c['coverage_window'] for c in hub['cameras']):.1%}",
            "100%",
        ),
        ("decode modes at the end", modes(hub), "all idle"),
        ("decoded frames/s per camera", f"{decoded_fps(hub):.2f}", ""),
        (
            "machine busy: floor / hub",
            (f"{key['machine_busy']:.0%}" if key is not None else "-")
            + f" / {hub['machine_busy']:.0%}",
            "",
        ),
    ]
    width = max(len(line[0]) for line in lines)
    for label, value, target in lines:
        print(f"{label:<{width}}  {value:>16}  {target}")


def onset_latencies(phases: dict[str, Any], first: float, gop: float) -> list[dict[str, float]]:
    """Per camera and onset in the window: onset to the first detection frame showing it,
    whether that frame came live or replayed, and the motion event's start - onset."""
    hub = phases["hub_adaptive"]
    start, end = hub["window_epoch"]
    loops = [e for e in phases["server_events"]["events"] if e["event"] == "clip_loop"]
    paths = {e["path"] for e in loops}
    found = []
    for camera in sorted({c["camera"] for c in hub["cameras"]}):
        # Camera camNN reads mount /camNN (or all read the one shared mount, /cam).
        path = f"/{camera}" if f"/{camera}" in paths else "/cam"
        times = [e["time"] + first for e in loops if e["path"] == path]
        onsets = [t for t in times if start <= t <= end - gop - 1.0]
        frames = [f for f in hub["frames_seen"] if f[0] == camera]
        events = [e for e in hub["motion_events"] if e["camera"] == camera]
        for onset in onsets:
            # Frame times are the hub's reading of the camera's clock; 20 ms of slack.
            showing = [f for f in frames if f[2] >= onset - 0.02]
            if not showing:
                continue
            first_seen = min(showing, key=lambda f: f[1])
            near = [e["start"] - onset for e in events if -1.0 <= e["start"] - onset <= gop + 1]
            found.append(
                {
                    "first_frame": first_seen[1] - onset,
                    "replayed": float(first_seen[3]),
                    "event_start": min(near) if near else float("nan"),
                }
            )
    return found


def print_onsets(phases: dict[str, Any], first: float, args: argparse.Namespace) -> None:
    """Motion onset to the first detection frame, on idle cameras that then see motion."""
    gop = args.gop_seconds
    found = onset_latencies(phases, first, gop)
    print(
        f"\nMotion onset on idle cameras ({len(phases['hub_adaptive']['cameras'])} cameras, "
        f"still {first:.2f} s then moving, GOP {gop:g} s): {len(found)} onsets in the window"
    )
    if not found:
        print("  no onset fell in the window")
        return
    firsts = [f["first_frame"] for f in found]
    starts = [f["event_start"] for f in found if f["event_start"] == f["event_start"]]
    print(
        f"  onset -> first detection frame showing it, s: median {statistics.median(firsts):.2f}"
        f", max {max(firsts):.2f} (target <= GOP + {TARGET_ONSET_EXTRA:g} = "
        f"{gop + TARGET_ONSET_EXTRA:.1f})"
    )
    if starts:
        print(
            f"  motion event start - onset, s: median {statistics.median(starts):+.2f}, max "
            f"{max(starts):+.2f} (the replayed GOP dates it; without it, up to +{gop:g})"
        )


def print_per_core(
    results: dict[str, dict[int, dict[str, Any]]],
    many: dict[str, Any] | None,
    args: argparse.Namespace,
) -> None:
    """Cameras one core holds, idle and busy, here and (estimated) on a Raspberry Pi 4."""
    from bench import procstat

    ours = procstat.sysbench_cpu()
    print("\nCameras per core (1 / hub CPU per camera; 720p15 unless told)")
    estimates: list[tuple[str, float]] = []
    for scene, by_count in results.items():
        count = max(by_count)
        for name in ("hub", "hub_adaptive"):
            per_core = 1 / per_camera_cpu(by_count[count][name], count)
            label = f"{scene} scene, {PHASE_LABELS[name].removeprefix('hub, ')}, N={count}"
            estimates.append((label, per_core))
    if many is not None:
        per_core = 1 / per_camera_cpu(many["hub_adaptive"], args.many)
        estimates.append((f"idle scene, decode adaptive, N={args.many}", per_core))
    width = max(len(label) for label, _ in estimates)
    factor = ours / args.pi4_sysbench if ours else None
    for label, per_core in estimates:
        pi = f"  Raspberry Pi 4 (estimate): {per_core / factor:5.0f} per core" if factor else ""
        print(f"  {label:<{width}}  {per_core:6.0f} here{pi}")
    if factor:
        print(
            f"  Estimate: this machine's core ran sysbench cpu at {ours:.0f} events/s (under "
            f"this run's load), a Pi 4 core at a published {args.pi4_sysbench:.0f}: "
            f"{factor:.1f}x. Video decoding leans on SIMD (AVX2 here, NEON there), where the "
            "gap is likely wider: read the Pi figures as an upper bound."
        )
    else:
        print("  (install sysbench for the Raspberry Pi 4 estimate)")
