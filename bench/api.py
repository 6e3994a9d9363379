"""API benchmark: event queries over a million events, and the live view's CPU per viewer.

Run: .venv/bin/python bench/api.py [--events 1000000] [--requests 200] [--viewers 1 4]
     [--seconds 15]

Part 1 bulk-inserts `--events` events straight into a real hub's SQLite file (8 cameras,
a year of history, labels and zones), starts `camhub run` on it and times `/api/events`
filtered queries and the timeline's day query (`start`/`end` of one day, up to 500 rows),
signed in like the panel. `/api/health` timed the same way is the baseline.

Part 2 starts the real RTSP server (tests/servers, gst-rtsp-server, 1280x720@15 H.264, about
2.3 Mbit/s) and `camhub run` with that one camera (recording and detection off, so the hub
only demuxes), measures the hub's CPU with no viewer, then with N WebSocket viewers of
`/api/cameras/{camera}/live` reading every fragment.

Prints numbers and ratios measured in the same run, never pass/fail (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import procstat  # noqa: E402

ADMIN = ("bench", "bench password 1")
CAMERAS = [f"cam{i}" for i in range(8)]
LABELS = ["motion"] * 12 + ["person"] * 5 + ["car"] * 2 + ["dog"]
ZONES = ["driveway", "porch", "garden", "street"]
DAY = 86400.0
TARGET_P95_MS = 50.0
TARGET_VIEWER_CORE = 0.01


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Camhub:
    """A `camhub run` subprocess on 127.0.0.1."""

    def __init__(self, directory: Path, config: str):
        self.port = free_port()
        self.directory = directory
        self.data = directory / "data"
        path = directory / "config.yaml"
        path.write_text(f"server:\n  port: {self.port}\n{config}", encoding="utf-8")
        self.url = f"http://127.0.0.1:{self.port}"
        camhub = Path(sys.executable).with_name("camhub")
        env = {**os.environ, "CAMHUB_DISABLE_PLUGIN_AUTOLOAD": "1"}
        self.log = (directory / "camhub.log").open("wb")
        self.process = subprocess.Popen(
            [str(camhub), "run", "--config", str(path), "--data", str(self.data)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"camhub exited; see {self.log.name}")
            try:
                async with session.get(f"{self.url}/api/health") as response:
                    # The port opens before the hub has started: wait for "ok".
                    if response.status == 200 and (await response.json())["status"] == "ok":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise SystemExit("camhub did not start in 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


async def sign_in(hub: Camhub) -> aiohttp.ClientSession:
    """A session signed in as an admin (created on first run)."""
    # unsafe=True: aiohttp ignores cookies of IP-address hosts otherwise.
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    await hub.ready(session)
    body = {"username": ADMIN[0], "password": ADMIN[1]}
    async with session.get(f"{hub.url}/api/auth/setup") as response:
        if (await response.json())["needed"]:
            # First run: the one-time code is in what `camhub run` printed.
            printed = await asyncio.to_thread(Path(hub.log.name).read_text, errors="replace")
            found = re.search(r"first-run setup code: (\S+)", printed)
            code = found.group(1) if found else ""
            setup = {**body, "code": code}
            async with session.post(f"{hub.url}/api/auth/setup", json=setup) as created:
                created.raise_for_status()
            return session
    async with session.post(f"{hub.url}/api/auth/login", json=body) as response:
        response.raise_for_status()
    return session


# ---------------------------------------------------------------- part 1: queries


def fill_events(db_path: Path, count: int, now: float) -> None:
    """Insert `count` events spread over the last year, in one transaction."""
    rng = random.Random(1)
    conn = sqlite3.connect(db_path)
    rows = []
    for index in range(count):
        start = now - rng.random() * 365 * DAY
        label = rng.choice(LABELS)
        zones = rng.sample(ZONES, rng.choice((0, 1, 1, 2)))
        rows.append(
            (
                f"bench{index:07d}",
                rng.choice(CAMERAS),
                "motion" if label == "motion" else "object",
                label,
                start,
                start + rng.uniform(2, 60),
                rng.uniform(0.5, 0.99),
                json.dumps(zones),
                0,
            )
        )
    with conn:
        conn.executemany(
            'INSERT INTO events (id, camera, kind, label, start, "end", top_score, zones, keep) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    conn.execute("ANALYZE")
    conn.close()


async def time_get(session: aiohttp.ClientSession, url: str, count: int) -> tuple[list[float], int]:
    """Latencies (ms) of `count` sequential GETs, after a few to warm caches; rows answered."""
    for _ in range(5):
        async with session.get(url) as response:
            body = await response.json()
    times = []
    for _ in range(count):
        began = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"{url}: HTTP {response.status}")
        times.append((time.perf_counter() - began) * 1000)
    return times, len(body.get("events", []))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def bench_queries(workdir: Path, events: int, requests: int) -> None:
    cameras = "".join(f"  {c}:\n    url: demo://\n    enabled: false\n" for c in CAMERAS)
    config = f"cameras:\n{cameras}"
    first = Camhub(workdir, config)
    session = await sign_in(first)  # creates the schema (and the admin)
    await session.close()
    first.stop()
    now = time.time()
    began = time.monotonic()
    fill_events(first.data / "camhub.db", events, now)
    print(f"inserted {events:,} events in {time.monotonic() - began:.1f} s")

    hub = Camhub(workdir, config)
    session = await sign_in(hub)
    try:
        day = now - 30 * DAY
        day_start = day - day % DAY
        queries = {
            "health (baseline)": "/api/health",
            "newest 50": "/api/events?limit=50",
            "camera": "/api/events?camera=cam3&limit=50",
            "label": "/api/events?label=person&limit=50",
            "rare label": "/api/events?label=dog&limit=50",
            "camera+label": "/api/events?camera=cam3&label=car&limit=50",
            "zone": "/api/events?zone=porch&limit=50",
            "page 20": "/api/events?camera=cam5&limit=50&offset=1000",
            "day (timeline)": f"/api/events?start={day_start}&end={day_start + DAY}&limit=500",
            "day+camera": (
                f"/api/events?camera=cam2&start={day_start}&end={day_start + DAY}&limit=500"
            ),
            "day+label+zone": (
                f"/api/events?label=person&zone=porch&start={day_start}"
                f"&end={day_start + DAY}&limit=500"
            ),
        }
        header = f"{'query':<20} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8} {'p95/health':>11}"
        print(f"\n{header}   target")
        base_p95 = None
        for name, path in queries.items():
            times, rows = await time_get(session, hub.url + path, requests)
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            base_p95 = base_p95 or p95
            mark = (
                ""
                if name.startswith("health")
                else (f"< {TARGET_P95_MS:.0f} ms {'ok' if p95 < TARGET_P95_MS else 'MISSED'}")
            )
            print(f"{name:<20} {rows:5d} {p50:8.1f} {p95:8.1f} {p95 / base_p95:11.1f}   {mark}")
    finally:
        await session.close()
        hub.stop()


# ---------------------------------------------------------------- part 2: live viewers


async def viewer(session: aiohttp.ClientSession, url: str, stop: asyncio.Event) -> int:
    received = 0
    async with session.ws_connect(url, max_msg_size=0) as socket:
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(socket.receive(), 1.0)
            except TimeoutError:
                continue
            if message.type == aiohttp.WSMsgType.BINARY:
                received += len(message.data)
            elif message.type != aiohttp.WSMsgType.TEXT:
                break
    return received


async def cpu_window(pid: int, seconds: float) -> float:
    before = procstat.cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (procstat.cpu_seconds(pid) - before) / seconds


async def bench_live(workdir: Path, counts: list[int], seconds: float) -> None:
    from tests.servers.fixtures import Mount, RtspServer

    # A camera-like 720p stream (~2.3 Mbit/s smpte pattern) from the real RTSP server, so the
    # bytes each viewer costs are a real camera's, and the encoder is not in the hub's process.
    server = RtspServer([Mount("/cam", width=1280, height=720, fps=15, pattern="smpte")]).start()
    config = (
        f"cameras:\n  yard:\n    url: {server.url('/cam')}\n"
        "    detect:\n      enabled: false\n    record:\n      mode: 'off'\n"
    )
    hub = Camhub(workdir, config)
    session = await sign_in(hub)
    url = hub.url.replace("http", "ws") + "/api/cameras/yard/live"
    try:
        await asyncio.sleep(3)  # the stream flows
        idle = await cpu_window(hub.process.pid, seconds)
        print(f"\nlive view, 1280x720@15 H.264 over RTSP, {seconds:.0f} s windows")
        print(f"hub CPU with no viewer: {idle * 100:6.2f} % of a core (RTSP demux)")
        for count in counts:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(viewer(session, url, stop)) for _ in range(count)]
            await asyncio.sleep(3)  # every viewer has joined at a keyframe
            busy = await cpu_window(hub.process.pid, seconds)
            stop.set()
            received = await asyncio.gather(*tasks)
            per_viewer = (busy - idle) / count
            rate = sum(received) / count / (seconds + 3) * 8 / 1e6
            verdict = "ok" if per_viewer < TARGET_VIEWER_CORE else "MISSED"
            print(
                f"{count} viewer(s): {busy * 100:6.2f} % ({busy / idle:4.2f}x idle); "
                f"per viewer {per_viewer * 100:5.2f} % of a core (target < "
                f"{TARGET_VIEWER_CORE * 100:.0f} %: {verdict}); {rate:.2f} Mbit/s each"
            )
            await asyncio.sleep(2)  # the muxer stops with the last viewer
    finally:
        await session.close()
        hub.stop()
        server.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    print(procstat.machine_summary())
    with tempfile.TemporaryDirectory(prefix="camhub-bench-api-") as tmp:
        if not args.skip_queries:
            (Path(tmp) / "q").mkdir()
            await bench_queries(Path(tmp) / "q", args.events, args.requests)
        if not args.skip_live:
            (Path(tmp) / "l").mkdir()
            await bench_live(Path(tmp) / "l", args.viewers, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
