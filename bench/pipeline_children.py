"""The measured subprocesses of the pipeline benchmark: floor, hub and idle hub.

Run by bench/pipeline.py as `python bench/pipeline_children.py MODE SPEC_JSON`.
Each prints JSON lines on stdout: "window_start", "window_end" (the parent
reads CPU time at those marks), then one "result".
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import procstat  # noqa: E402
from bench.pipeline_report import DETECT_FPS  # noqa: E402

IDLE_SECONDS = 5.0
READY_TIMEOUT = 60.0
OPEN_ATTEMPTS = 4
LAG_TICK = 0.1


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout for the parent (children only)."""
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


# ---------------------------------------------------------------- floor child


def floor_child(spec: dict[str, Any]) -> None:
    """N threads: bare PyAV RTSP demux + decode of every video frame, nothing else."""
    import av

    urls: list[str] = spec["urls"]
    stop = threading.Event()
    frames = [0] * len(urls)
    payload = [0] * len(urls)
    ready = [threading.Event() for _ in urls]
    errors: list[str] = []

    def read(index: int, url: str) -> None:
        # Opening is retried, as the hub's supervisor does: with dozens of mounts the test
        # server now and then never answers one DESCRIBE.
        for attempt in range(OPEN_ATTEMPTS):
            try:
                container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=(10.0, None))
                break
            except av.error.FFmpegError as exc:
                if attempt == OPEN_ATTEMPTS - 1:
                    errors.append(f"floor-{index:02d}: {type(exc).__name__}: {exc}")
                    ready[index].set()
                    return
        try:
            with container:
                video = container.streams.video[0]
                video.thread_type = spec["thread_type"]  # as the hub's source sets it
                if spec.get("keyframes_only"):
                    # As an idle adaptive camera: every packet goes in, only keyframes are
                    # decoded (as cheap as sending keyframes alone; see bench/keyframes.py).
                    video.codec_context.skip_frame = "NONKEY"
                for packet in container.demux(video):
                    payload[index] += packet.size
                    for _ in packet.decode():
                        frames[index] += 1
                        ready[index].set()
                    if stop.is_set():
                        return
        except Exception as exc:
            errors.append(f"floor-{index:02d}: {type(exc).__name__}: {exc}")
            ready[index].set()

    threads = [
        threading.Thread(target=read, args=(i, url), name=f"floor-{i:02d}", daemon=True)
        for i, url in enumerate(urls)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + READY_TIMEOUT + len(urls)  # as the hub gets (see _hub)
    for event in ready:
        event.wait(max(0.0, deadline - time.monotonic()))
    if errors or not all(e.is_set() for e in ready):
        raise SystemExit(f"floor: streams did not start: {errors or 'timeout'}")
    time.sleep(spec["warmup"])

    threads_before = procstat.thread_cpu()
    frames_before, payload_before = list(frames), list(payload)
    emit("window_start", wall=time.time())
    time.sleep(spec["seconds"])
    emit("window_end", wall=time.time())
    threads_after = procstat.thread_cpu()
    rss = procstat.memory_kb()
    frames_window = [a - b for a, b in zip(frames, frames_before, strict=True)]
    payload_window = [a - b for a, b in zip(payload, payload_before, strict=True)]
    stop.set()
    for thread in threads:
        thread.join(2.0)
    emit(
        "result",
        frames=frames_window,
        payload_bytes=payload_window,
        errors=errors,
        rss_kb=rss["VmRSS"],
        threads=procstat.thread_cpu_by_group(threads_before, threads_after),
    )


# ---------------------------------------------------------------- hub child


def hub_config(
    urls: list[str],
    record_mode: str = "continuous",
    motion: bool = False,
    decode: str = "always",
) -> str:
    """YAML for a hub reading every URL as its own camera (nothing on the LAN).

    The hub's own motion loop is off unless asked for, so what is measured is the
    pipeline (source, recorder, detection frames), with the benchmark's consumer.
    Adaptive decoding needs it on: motion is what wakes a camera up.
    """
    lines = ["discovery:", "  enabled: false", "logging:", "  level: warning", "cameras:"]
    if not urls:
        return "discovery:\n  enabled: false\ncameras: {}\n"
    for index, url in enumerate(urls):
        lines += [
            f"  cam{index:02d}:",
            f"    url: {json.dumps(url)}",
            "    record:",
            f"      mode: {json.dumps(record_mode)}",
            "    detect:",
            f"      fps: {DETECT_FPS}",
            f"      decode: {decode}",
            "    motion:",
            f"      enabled: {json.dumps(motion)}",
        ]
    return "\n".join(lines) + "\n"


class HubProbe:
    """What the benchmark watches inside the hub: frame consumers, loop lag, camera states."""

    def __init__(self, hub: Any, consume: bool, observe: bool = False):
        self.hub = hub
        self.consume = consume
        self.observe = observe
        self.in_window = False
        self.frame_ages: list[float] = []
        self.loop_lags: list[float] = []
        self.offline_events = 0
        self.rss_samples: list[int] = []
        self.consumers = 0
        self.frames_seen: list[tuple[str, float, float, bool]] = []
        """(camera, delivered at, frame time, replayed) of every frame observed."""
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Consume the frames of every camera the hub's own motion loop does not read;
        with `observe`, also note every camera's frames as a detector gets them."""
        loop = asyncio.get_running_loop()
        motion = {m.camera_id for m in self.hub.motion_loops}
        for camera_id, runtime in self.hub.cameras.items():
            if self.observe:
                slot = runtime.frames.attach()
                self._tasks.append(loop.create_task(self._note(camera_id, slot)))
            if not self.consume or camera_id in motion:
                continue
            slot = runtime.frames.attach()
            self.consumers += 1
            self._tasks.append(loop.create_task(self._consume(slot), name=camera_id))
        self._tasks.append(loop.create_task(self._watch()))

    async def _consume(self, slot: Any) -> None:
        while True:
            frame = await slot.get()
            if self.in_window:
                self.frame_ages.append(time.time() - frame.time)

    async def _note(self, camera_id: str, slot: Any) -> None:
        while True:
            frame = await slot.get()
            if self.in_window:
                self.frames_seen.append((camera_id, time.time(), frame.time, frame.replayed))

    async def _watch(self) -> None:
        states: dict[str, str] = {}
        next_rss = 0.0
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_TICK)
            now = time.monotonic()
            if not self.in_window:
                continue
            self.loop_lags.append(now - before - LAG_TICK)
            for camera_id in self.hub.cameras:
                state = self.hub.states.get(f"camera.{camera_id}")
                current = state.state if state else "unknown"
                if current == "offline" and states.get(camera_id) != "offline":
                    self.offline_events += 1
                states[camera_id] = current
            if now >= next_rss:
                self.rss_samples.append(procstat.memory_kb()["VmRSS"])
                next_rss = now + 1.0

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def stable_counts(runtime: Any) -> tuple[int, int]:
    """(packets received, packets written or refused) read while no packet is in flight."""
    source = runtime.source

    def read() -> tuple[int, int]:
        recorder = source.recorder.stats
        return source.stats.packets, recorder.packets_written + recorder.packets_skipped

    # Three equal reads 20 ms apart: a demux thread the scheduler paused between counting a
    # packet and writing it (a busy machine) would otherwise look like a lost packet.
    last, same = read(), 0
    for _ in range(100):
        await asyncio.sleep(0.02)
        current = read()
        same = same + 1 if current == last else 0
        if same == 2:
            return current
        last = current
    return last


def not_ready(hub: Any, recording: bool, consuming: bool) -> list[str]:
    """Cameras not yet online, recording and delivering detection frames, and why."""
    waiting = []
    for camera_id, runtime in hub.cameras.items():
        state = hub.states.get(f"camera.{camera_id}")
        if state is None or state.state != "online" or runtime.source is None:
            waiting.append(f"{camera_id}: {state.state if state else 'no state'}")
        elif recording and runtime.source.recorder.stats.packets_written == 0:
            waiting.append(f"{camera_id}: nothing recorded")
        elif consuming and runtime.frames.delivered == 0:
            waiting.append(f"{camera_id}: no detection frame")
    return waiting


def coverage(segments: list[Any], start: float, end: float) -> tuple[float, float, float, float]:
    """(covered fraction of [start, end], sum of durations / span, largest gap s, overlap s)."""
    intervals = sorted((s.start, s.end) for s in segments)
    covered, cursor = 0.0, start
    largest_gap, overlap, previous_end = 0.0, 0.0, None
    for seg_start, seg_end in intervals:
        if previous_end is not None:
            largest_gap = max(largest_gap, seg_start - previous_end)
            overlap += max(0.0, previous_end - seg_start)
        previous_end = seg_end if previous_end is None else max(previous_end, seg_end)
        lo, hi = max(seg_start, cursor), min(seg_end, end)
        if hi > lo:
            covered += hi - lo
            cursor = hi
    span = (intervals[-1][1] - intervals[0][0]) if intervals else 0.0
    total = sum(e - s for s, e in intervals)
    return covered / (end - start), (total / span if span else 0.0), largest_gap, overlap


def count_file_packets(path: Path) -> int:
    """Packets with data in a recorded MP4 (demuxed, not decoded)."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for p in container.demux() if p.size and p.dts is not None)


@dataclass
class WindowCounts:
    """Per-camera counters read at one edge of the measured window."""

    slots: dict[str, tuple[int, int]]
    """(detection frames delivered, dropped)"""
    packets: dict[str, tuple[int, int]]
    """(packets received, packets written or refused), see `stable_counts`"""
    decoded: dict[str, tuple[int, int]]
    """(frames decoded, wake-ups) of adaptive decoding"""
    modes: dict[str, str]
    """decode mode (off, idle, full)"""

    @classmethod
    async def read(cls, hub: Any) -> WindowCounts:
        cameras = hub.cameras
        return cls(
            slots={c: (r.frames.delivered, r.frames.dropped) for c, r in cameras.items()},
            packets={c: await stable_counts(r) for c, r in cameras.items()},
            decoded={c: (r.decode.frames.total, r.decode.wakeups) for c, r in cameras.items()},
            modes={c: r.decode.mode for c, r in cameras.items()},
        )


async def start_hub(spec: dict[str, Any]) -> tuple[Any, HubProbe, float]:
    """A started hub whose cameras all stream, its probe, and the start time."""
    from hub.config.loading import load_config
    from hub.core import Hub

    hub = Hub(load_config(Path(spec["config"])), Path(spec["data_dir"]))
    probe = HubProbe(hub, spec["consume"], spec.get("observe", False))
    started = time.time()
    await hub.async_start()
    probe.start()
    timeout = READY_TIMEOUT + len(hub.cameras)  # dozens of cameras take a while to connect
    deadline = time.monotonic() + timeout
    while waiting := not_ready(hub, spec["record_mode"] != "off", spec["consume"]):
        if time.monotonic() > deadline:
            raise SystemExit(f"hub: {len(waiting)} camera(s) not ready in {timeout} s: {waiting}")
        await asyncio.sleep(0.1)
    return hub, probe, started


async def hub_child_async(spec: dict[str, Any]) -> None:
    hub, probe, started = await start_hub(spec)
    ready_seconds = time.time() - started
    await asyncio.sleep(spec["warmup"])

    before = await WindowCounts.read(hub)
    threads_before = procstat.thread_cpu()
    waited_before = procstat.run_queue_seconds()
    probe.in_window = True
    window = (time.time(), 0.0)
    emit("window_start", wall=window[0])
    await asyncio.sleep(spec["seconds"])
    window = (window[0], time.time())
    emit("window_end", wall=window[1])
    threads_after = procstat.thread_cpu()
    loop_waited = procstat.run_queue_seconds() - waited_before
    probe.in_window = False
    memory = procstat.memory_kb()
    after = await WindowCounts.read(hub)

    await probe.stop()
    stop_began = time.monotonic()
    await hub.async_stop()
    stop_seconds = time.monotonic() - stop_began
    run = (started, time.time())

    data_dir = Path(spec["data_dir"])
    segments = await indexed_segments(data_dir, spec["config_empty"])
    cameras = [
        await camera_report(runtime, before, after, segments.get(camera_id, []), window, run)
        for camera_id, runtime in hub.cameras.items()
    ]
    motion_starts = await motion_events(data_dir, spec["config_empty"])
    footage = data_dir / "footage"
    partial = await asyncio.to_thread(lambda: [p.name for p in footage.rglob("*.partial")])
    emit(
        "result",
        ready_seconds=ready_seconds,
        stop_seconds=stop_seconds,
        rss_kb_steady=statistics.median(probe.rss_samples) if probe.rss_samples else 0,
        rss_kb_end=memory["VmRSS"],
        rss_kb_peak=memory["VmHWM"],
        threads=procstat.thread_cpu_by_group(threads_before, threads_after),
        cameras=cameras,
        frame_ages=probe.frame_ages,
        loop_lags=probe.loop_lags,
        loop_waited_for_cpu=loop_waited,
        offline_events=probe.offline_events,
        partial_files=partial,
        bench_consumers=probe.consumers,
        motion_loops=len(hub.motion_loops),
        problems=hub.problems,
        frames_seen=probe.frames_seen,
        motion_events=motion_starts,
    )


async def camera_report(
    runtime: Any,
    before: WindowCounts,
    after: WindowCounts,
    segments: list[Any],
    window: tuple[float, float],
    run: tuple[float, float],
) -> dict[str, Any]:
    """One camera's detection frames, packet accounting and recording coverage."""
    camera_id, source = runtime.camera_id, runtime.source
    footage = source.recorder.store
    covered, fill, gap, overlap = coverage(segments, *window)
    in_files = await asyncio.to_thread(
        lambda: sum(count_file_packets(footage.path_of(s.path)) for s in segments)
    )
    recorder = source.recorder.stats
    return {
        "camera": camera_id,
        "decode_mode": after.modes[camera_id],
        "decoded": after.decoded[camera_id][0] - before.decoded[camera_id][0],
        "wakeups": after.decoded[camera_id][1] - before.decoded[camera_id][1],
        "delivered": after.slots[camera_id][0] - before.slots[camera_id][0],
        "dropped": after.slots[camera_id][1] - before.slots[camera_id][1],
        "packets_window": after.packets[camera_id][0] - before.packets[camera_id][0],
        "written_window": after.packets[camera_id][1] - before.packets[camera_id][1],
        "packets_total": source.stats.packets,
        "written_total": recorder.packets_written,
        "skipped_total": recorder.packets_skipped,
        "bad_packets": source.stats.bad_packets,
        "in_files": in_files,
        "segments": len(segments),
        "bytes": recorder.bytes_written,
        "coverage_window": covered,
        "fill_run": fill,
        "largest_gap": gap,
        "overlap": overlap,
        "run_span": (segments[-1].end - segments[0].start) if segments else 0.0,
        "run_wall": run[1] - run[0],
    }


async def motion_events(data_dir: Path, config_empty: str) -> list[dict[str, Any]]:
    """(camera, start, end) of every motion event stored, read by a fresh hub."""
    from hub.config.loading import load_config
    from hub.core import Hub

    reader = Hub(load_config(Path(config_empty)), data_dir)
    await reader.async_start()
    try:
        query = "select camera, start, end from events where kind = 'motion'"
        return await reader.storage.async_read(lambda db: [dict(r) for r in db.query(query)])
    finally:
        await reader.async_stop()


async def indexed_segments(data_dir: Path, config_empty: str) -> dict[str, list[Any]]:
    """Every indexed segment by camera, read by a fresh hub on the same data dir."""
    from hub.config.loading import load_config
    from hub.core import Hub

    reader = Hub(load_config(Path(config_empty)), data_dir)
    await reader.async_start()
    try:
        segments = await reader.recordings.async_segments()
    finally:
        await reader.async_stop()
    found: dict[str, list[Any]] = {}
    for segment in segments:
        found.setdefault(segment.camera, []).append(segment)
    return found


def hub_child(spec: dict[str, Any]) -> None:
    from hub.extensions.manager import DISABLE_AUTOLOAD_ENV
    from hub.native_memory import limit_heap_arenas

    os.environ[DISABLE_AUTOLOAD_ENV] = "1"
    limit_heap_arenas()  # as `camhub run` does, before any thread
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = Path(spec["data_dir"]).with_suffix(".yaml")
    motion = spec["motion"] and spec["consume"]
    decode = spec.get("decode", "always")
    config.write_text(hub_config(spec["urls"], spec["record_mode"], motion, decode))
    asyncio.run(hub_child_async({**spec, "config": str(config)}))


async def idle_child_async(spec: dict[str, Any]) -> None:
    from hub.config.loading import load_config
    from hub.core import Hub

    hub = Hub(load_config(Path(spec["config_empty"])), Path(spec["data_dir"]))
    await hub.async_start()
    await asyncio.sleep(spec["warmup"])
    emit("window_start", wall=time.time())
    samples = []
    for _ in range(int(spec["seconds"])):
        await asyncio.sleep(1.0)
        samples.append(procstat.memory_kb()["VmRSS"])
    emit("window_end", wall=time.time())
    memory = procstat.memory_kb()
    await hub.async_stop()
    emit(
        "result",
        rss_kb_steady=statistics.median(samples),
        rss_kb_peak=memory["VmHWM"],
    )


def idle_child(spec: dict[str, Any]) -> None:
    from hub.extensions.manager import DISABLE_AUTOLOAD_ENV
    from hub.native_memory import limit_heap_arenas

    os.environ[DISABLE_AUTOLOAD_ENV] = "1"
    limit_heap_arenas()  # as `camhub run` does, before any thread
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(idle_child_async(spec))


CHILDREN = {"_floor": floor_child, "_hub": hub_child, "_idle": idle_child}


if __name__ == "__main__":
    CHILDREN[sys.argv[1]](json.loads(sys.argv[2]))
    sys.stdout.flush()
    os._exit(0)  # decoder threads may still sit in FFmpeg: do not wait for them
