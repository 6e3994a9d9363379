"""Automations under load: 500 automations, 1,000 object events a second on the bus.

Each event matches exactly one automation (50 cameras x 10 labels), whose run
checks a time window and the house mode, then starts one action. Measured:
latency from `bus.publish` to the action's start (p50/p95/max), CPU of the
process, memory growth between the first and last third of the run, traces
written, events the engine's bus queue dropped. The baseline, in the same run
and at the same rate, is a bare bus listener doing nothing: the ratio is what
the engine adds on top of the bus.

    .venv/bin/python bench/automations.py            # --automations 500 --rate 1000 --seconds 20

Target: p95 under 5 ms per event, no unbounded growth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.procstat import cpu_seconds  # noqa: E402
from hub.bus import EventBus  # noqa: E402
from hub.config.loading import load_config  # noqa: E402
from hub.core import Hub  # noqa: E402
from hub.events import Context, Event, EventStarted  # noqa: E402
from hub.extensions.manager import DISABLE_AUTOLOAD_ENV  # noqa: E402
from hub.extensions.registry import AutomationType, PluginOptions  # noqa: E402
from hub.hookspecs import hookimpl  # noqa: E402

CAMERAS = 50
LABELS = ("person", "car", "dog", "cat", "bicycle", "truck", "bird", "horse", "sheep", "cow")
TARGET_P95_MS = 5.0


def rss_mb() -> float:
    """Resident memory of this process, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Stamp:
    """A bench plugin: the `bench_mark` action records event-to-action-start latency."""

    def __init__(self) -> None:
        self.latencies: list[float] = []

    @hookimpl
    def automation_types(self) -> list[AutomationType]:
        stamp = self

        class Mark:
            async def async_run(self, variables: Mapping[str, Any], context: Context) -> None:
                fired = variables["event"]["time_fired"]
                stamp.latencies.append(time.time() - fired)

        return [
            AutomationType(
                name="bench_mark",
                kind="action",
                options=PluginOptions,
                create=lambda hub, automation_id, options: Mark(),
            )
        ]


def config(automations: int) -> str:
    lines = ["cameras:"]
    for number in range(CAMERAS):
        lines += [f"  c{number}:", "    url: demo://", "    enabled: false"]
    lines.append("automations:")
    for number in range(automations):
        camera, label = f"c{number % CAMERAS}", LABELS[(number // CAMERAS) % len(LABELS)]
        lines += [
            f"  - id: a{number}",
            "    mode: parallel",
            "    triggers:",
            f"      - {{type: object, camera: {camera}, label: {label}, min_score: 0.5}}",
            "    conditions:",
            "      - {type: time, after: '00:00', before: '23:59:59'}",
            "      - {type: mode, mode: [home, away]}",
            "    actions:",
            "      - {type: bench_mark}",
        ]
    return "\n".join(lines) + "\n"


async def publish_at_rate(bus: EventBus, rate: float, seconds: float, prefix: str) -> int:
    """Publish object events at `rate` per second (in 10 ms batches); returns how many."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent = 0
    while (elapsed := loop.time() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            camera, label = f"c{sent % CAMERAS}", LABELS[(sent // 7) % len(LABELS)]
            bus.publish(
                EventStarted(
                    camera=camera,
                    event_id=f"{prefix}{sent}",
                    label=label,
                    top_score=0.9,
                    zones=(),
                    start=time.time(),
                )
            )
            sent += 1
        await asyncio.sleep(0.01)
    return sent


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def baseline(rate: float, seconds: float) -> list[float]:
    """A bare bus of its own: one listener that only notes when each event arrived."""
    latencies: list[float] = []
    bus = EventBus()

    def note(event: Event) -> None:
        latencies.append(time.time() - event.time_fired)

    bus.async_listen("bench-baseline", note, (EventStarted,), 10_000)
    await publish_at_rate(bus, rate, seconds, "x")
    await bus.async_drain(10)
    await bus.async_close()
    return latencies


async def run(args: argparse.Namespace) -> None:
    os.environ[DISABLE_AUTOLOAD_ENV] = "1"
    with tempfile.TemporaryDirectory(prefix="camhub-bench-") as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(config(args.automations))
        hub = Hub(load_config(path), Path(folder) / "data")
        stamp = Stamp()
        hub.plugins.register(stamp, "bench")
        started = time.perf_counter()
        await hub.async_start()
        start_seconds = time.perf_counter() - started
        base = await baseline(args.rate, min(args.seconds, 5.0))

        gc.collect()
        third = args.seconds / 3
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        sent = await publish_at_rate(hub.bus, args.rate, third, "a")
        rss_early = rss_mb()
        sent += await publish_at_rate(hub.bus, args.rate, args.seconds - third, "b")
        await hub.bus.async_drain(10)
        await asyncio.sleep(0.2)
        cpu, wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
        rss_late = rss_mb()
        await hub.automations.async_flush()
        traces = await hub.storage.async_read(
            lambda db: db.execute("select count(*) from traces").fetchone()[0]
        )
        dropped = sum(s.dropped for s in hub.bus.stats() if s.name == "automations")
        await hub.async_stop()

    ms = [v * 1000 for v in stamp.latencies]
    base_ms = [v * 1000 for v in base]
    p50, p95 = statistics.median(ms), percentile(ms, 0.95)
    b50, b95 = statistics.median(base_ms), percentile(base_ms, 0.95)
    verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
    lines = [
        f"automations: {args.automations}, events: {sent} at {args.rate:.0f}/s over {wall:.1f} s; "
        f"hub start with every automation built: {start_seconds:.2f} s",
        f"actions started: {len(ms)} ({len(ms) / max(sent, 1):.1%} of events), bus events "
        f"dropped by the engine: {dropped}, traces kept: {traces} (50 per automation at most)",
        f"event -> action start: p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {max(ms):.1f} ms "
        f"(target p95 < {TARGET_P95_MS:.0f} ms: {verdict})",
        f"baseline, bare bus listener: p50 {b50:.2f} ms, p95 {b95:.2f} ms; "
        f"ratio p50 {p50 / max(b50, 1e-6):.1f}x, p95 {p95 / max(b95, 1e-6):.1f}x",
        f"CPU: {cpu / wall:.0%} of one core ({cpu / max(sent, 1) * 1e6:.0f} us per event)",
        f"memory: {rss_early:.0f} MB after the first third, {rss_late:.0f} MB at the end "
        f"(growth {rss_late - rss_early:+.1f} MB over {sent} events)",
    ]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--automations", type=int, default=500)
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
