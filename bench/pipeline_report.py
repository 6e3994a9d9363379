"""Prints the pipeline benchmark's results: per-N details, then one summary table with targets."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

TARGET_CPU_RATIO = 1.25
TARGET_RSS_MB = 40.0
DETECT_FPS = 5.0


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _quantiles(values: list[float]) -> str:
    """p50 / p95 / max in milliseconds."""
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.0f} / {1000 * p95:.0f} / {1000 * ordered[-1]:.0f}"


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


def print_phase_details(
    cameras: int,
    phases: dict[str, dict[str, Any]],
    idle: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """Everything measured for one camera count, for reading where the time goes."""
    floor, hub = phases["floor"], phases["hub"]
    window = hub["window_seconds"]
    frames = floor["frames"]
    mbit = [8 * b / floor["window_seconds"] / 1e6 for b in floor["payload_bytes"]]
    print(f"\n=== N = {cameras} camera(s) ===")
    print(
        f"floor : {_pct(floor['cpu_core_fraction'])} of one core in total, "
        f"{min(frames) / floor['window_seconds']:.1f}-{max(frames) / floor['window_seconds']:.1f} "
        f"frames/s per camera, {statistics.mean(mbit):.2f} Mbit/s per camera, "
        f"RSS {floor['rss_kb'] / 1024:.0f} MB, errors: {floor['errors'] or 'none'}"
    )
    print(f"        threads: {_threads(floor, cameras)}")
    print(
        f"hub   : {_pct(hub['cpu_core_fraction'])} of one core in total; ready in "
        f"{hub['ready_seconds']:.1f} s, stopped in {hub['stop_seconds']:.2f} s; "
        f"RSS steady {hub['rss_kb_steady'] / 1024:.0f} MB, peak {hub['rss_kb_peak'] / 1024:.0f} MB "
        f"(idle hub {idle['rss_kb_steady'] / 1024:.0f} MB)"
    )
    print(f"        threads: {_threads(hub, cameras)}")
    print(
        f"        event-loop lag p50/p95/max ms: {_quantiles(hub['loop_lags'])}; "
        f"detection frame age at delivery p50/p95/max ms: {_quantiles(hub['frame_ages'])}"
    )
    cams = hub["cameras"]
    delivered = [c["delivered"] for c in cams]
    dropped = [c["dropped"] for c in cams]
    print(
        f"        detection frames per camera: delivered {min(delivered)}-{max(delivered)} "
        f"(expected {detect_expected(window)}), dropped {min(dropped)}-{max(dropped)}; "
        f"cameras gone offline in window: {hub['offline_events']}; consumers: "
        f"{hub['bench_consumers']} benchmark, {hub['motion_loops']} hub motion loop(s)"
    )
    loss = recording_loss(hub)
    segments = [c["segments"] for c in cams]
    fill = [c["fill_run"] for c in cams]
    print(
        f"        recording, window: {loss['window_received']} packets received, "
        f"{loss['window_lost']} not written; coverage of the window "
        f"{_pct(min(c['coverage_window'] for c in cams))} (worst camera)"
    )
    print(
        f"        recording, whole run: received {loss['received']}, written {loss['written']}, "
        f"refused by muxer {loss['skipped']}, not written "
        f"{loss['received'] - loss['written'] - loss['skipped']} (includes each camera's "
        f"packets before its first keyframe, < {2 * args.fps}), in the MP4 files "
        f"{loss['in_files']}"
    )
    print(
        f"        segments per camera {min(segments)}-{max(segments)}; sum of durations / span "
        f"{_pct(min(fill))}-{_pct(max(fill))}; largest gap "
        f"{1000 * max(c['largest_gap'] for c in cams):.0f} ms; overlap "
        f"{1000 * max(c['overlap'] for c in cams):.0f} ms; span / hub wall time "
        f"{_pct(min(c['run_span'] / c['run_wall'] for c in cams))} (worst; includes start-up); "
        f"left .partial: {len(hub['partial_files'])}"
    )
    if hub["problems"]:
        print(f"        hub problems: {hub['problems']}")
    if "hub_no_record" in phases:
        print_breakdown(cameras, phases, idle)


BREAKDOWN_LABELS = {
    "hub": "hub, as measured above",
    "hub_no_record": "hub, record.mode off",
    "hub_no_detect": "hub, no detection consumer (nothing decoded)",
    "floor": "floor (bare demux + decode)",
}


def print_breakdown(cameras: int, phases: dict[str, dict[str, Any]], idle: dict[str, Any]) -> None:
    """CPU and RSS per camera of each hub variant, and what each part costs by difference."""
    print("        breakdown, per camera (CPU % of one core; RSS above the idle hub):")
    width = max(len(label) for label in BREAKDOWN_LABELS.values())
    for name, label in BREAKDOWN_LABELS.items():
        result = phases[name]
        cpu = per_camera_cpu(result, cameras)
        if name == "floor":
            memory = f"RSS {result['rss_kb'] / 1024:.0f} MB total"
        else:
            memory = f"RSS {rss_per_camera_mb(result, idle, cameras)[0]:5.1f} MB"
        print(f"          {label:<{width}}  {_pct(cpu):>6}  {memory}")
    full, no_record, no_detect = (phases[n] for n in ("hub", "hub_no_record", "hub_no_detect"))

    def cost(without: dict[str, Any]) -> str:
        cpu = per_camera_cpu(full, cameras) - per_camera_cpu(without, cameras)
        rss = (
            rss_per_camera_mb(full, idle, cameras)[0] - rss_per_camera_mb(without, idle, cameras)[0]
        )
        return f"{100 * cpu:+.2f} points of a core, {rss:+.1f} MB"

    print(f"          recording costs {cost(no_record)} per camera")
    print(
        f"          detection frames (decode, gray scaling, delivery) cost {cost(no_detect)} "
        "per camera"
    )


def detect_expected(window: float) -> str:
    return f"~{DETECT_FPS * window:.0f} at {DETECT_FPS:g} fps"


def print_summary(
    results: dict[int, dict[str, Any]], idle: dict[str, Any], args: argparse.Namespace
) -> None:
    """One row per metric, one column per camera count, targets on the right."""
    counts = sorted(results)
    rows: list[tuple[str, list[str], str]] = []

    def row(label: str, target: str, cell: Any) -> None:
        rows.append(
            (label, [cell(n, results[n]["hub"], results[n]["floor"]) for n in counts], target)
        )

    row("hub CPU per camera (% of one core)", "", lambda n, h, f: _pct(per_camera_cpu(h, n)))
    row("floor CPU per camera (% of one core)", "", lambda n, h, f: _pct(per_camera_cpu(f, n)))
    row(
        "CPU ratio hub / floor",
        f"<= {TARGET_CPU_RATIO}",
        lambda n, h, f: f"{per_camera_cpu(h, n) / per_camera_cpu(f, n):.2f}",
    )
    row(
        "hub RSS per camera, steady (MB)",
        f"<= {TARGET_RSS_MB:g}",
        lambda n, h, f: f"{rss_per_camera_mb(h, idle, n)[0]:.1f}",
    )
    row(
        "hub RSS per camera, peak (MB)",
        "",
        lambda n, h, f: f"{rss_per_camera_mb(h, idle, n)[1]:.1f}",
    )
    row(
        "detection frames delivered / camera",
        f"~{DETECT_FPS * args.seconds:.0f}",
        lambda n, h, f: f"{statistics.mean(c['delivered'] for c in h['cameras']):.0f}",
    )
    row(
        "detection frames dropped / camera",
        "counted",
        lambda n, h, f: f"{statistics.mean(c['dropped'] for c in h['cameras']):.1f}",
    )
    row(
        "recording coverage of window (worst)",
        "100%",
        lambda n, h, f: _pct(min(c["coverage_window"] for c in h["cameras"])),
    )
    row(
        "packets lost in window (all cameras)",
        "0",
        lambda n, h, f: str(recording_loss(h)["window_lost"]),
    )
    row(
        "packets written but not in files",
        "0",
        lambda n, h, f: str(recording_loss(h)["written"] - recording_loss(h)["in_files"]),
    )
    row(
        "RTSP server CPU, hub / floor phase",
        "",
        lambda n, h, f: f"{_pct(h['server_core_fraction'])} / {_pct(f['server_core_fraction'])}",
    )
    row(
        "machine busy, hub / floor phase",
        "",
        lambda n, h, f: f"{_pct(h['machine_busy'])} / {_pct(f['machine_busy'])}",
    )
    label_width = max(len(r[0]) for r in rows)
    widths = [max(len(f"N={n}"), *(len(r[1][i]) for r in rows)) for i, n in enumerate(counts)]
    print(
        f"\nSummary (idle hub, 0 cameras: RSS {idle['rss_kb_steady'] / 1024:.0f} MB, "
        f"{_pct(idle['cpu_core_fraction'])} of one core)"
    )
    header = "  ".join(f"{f'N={n}':>{w}}" for n, w in zip(counts, widths, strict=True))
    print(f"{'':<{label_width}}  {header}  target")
    for label, cells, target in rows:
        values = "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
        print(f"{label:<{label_width}}  {values}  {target}")
