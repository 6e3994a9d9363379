"""Slow-client benchmark: what a thousand slowloris connections cost a recording hub.

Run: .venv/bin/python bench/slow_clients.py [--connections 1000] [--seconds 20]

Starts a hub with one demo camera recording continuously (1 s segments) and serves its
panel exactly as `camhub run` does (web.server.async_listen), on 127.0.0.1. Phase one
times sequential `/api/health` requests and counts segments indexed over `--seconds` (the
baseline); phase two opens `--connections` connections from ten loopback addresses, each
sending half a request and then nothing, and does the same while they are open. Prints
p50/p95 latency, segments per minute and the ratios between the phases, never pass/fail
(see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("CAMHUB_DISABLE_PLUGIN_AUTOLOAD", "1")

from hub.config.loading import load_config  # noqa: E402
from hub.core import Hub  # noqa: E402
from web.app import create_app  # noqa: E402
from web.server import async_listen  # noqa: E402

CONFIG = """\
server:
  port: {port}
  limits: {{idle_seconds: 600, connections_per_address: {per_address}}}
cameras:
  yard:
    url: demo://
    detect: {{enabled: false}}
    record: {{mode: continuous, segment_seconds: 1}}
"""
ADDRESSES = 10


async def health_ms(port: int) -> float:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    answer = await reader.read()
    writer.close()
    if not answer.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"unexpected answer {answer[:40]!r}")
    return (time.perf_counter() - start) * 1000


async def phase(hub: Hub, port: int, seconds: float) -> tuple[list[float], float]:
    """Latencies of health requests (one every 50 ms) and segments indexed per minute."""

    async def segments() -> int:
        return await hub.storage.async_read(lambda db: int(db.table("recordings").count))

    before, started = await segments(), time.monotonic()
    times = []
    while time.monotonic() - started < seconds:
        times.append(await health_ms(port))
        await asyncio.sleep(0.05)
    per_minute = (await segments() - before) * 60 / (time.monotonic() - started)
    return times, per_minute


async def main(connections: int, seconds: float) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # both ends live in this process
    with tempfile.TemporaryDirectory() as folder:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = Path(folder) / "config.yaml"
        per_address = -(-connections // ADDRESSES)
        config.write_text(CONFIG.format(port=port, per_address=per_address))
        hub = Hub(load_config(config), Path(folder) / "data")
        await hub.async_start()
        listener = await async_listen(create_app(hub), hub.config.server)
        writers = []
        try:
            await asyncio.sleep(3)  # the camera connects and the first segments are cut
            rows = {"baseline": await phase(hub, port, seconds)}
            for i in range(connections):
                address = f"127.0.2.{i % ADDRESSES + 1}"
                _, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(address, 0)
                )
                writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                writers.append(writer)
            for _ in range(600):  # the server accepts them a little after we connect
                if listener.limiter.count >= connections:
                    break
                await asyncio.sleep(0.1)
            rows[f"{connections} slow connections open"] = await phase(hub, port, seconds)
        finally:
            for writer in writers:
                writer.close()
            await listener.async_close()
            await hub.async_stop()
    (base_times, base_rate) = rows["baseline"]
    print(f"{'phase':32} {'p50 ms':>8} {'p95 ms':>8} {'segments/min':>13} {'p50 ratio':>10}")
    for name, (times, rate) in rows.items():
        p95 = statistics.quantiles(times, n=100)[94]
        ratio = statistics.median(times) / statistics.median(base_times)
        print(f"{name:32} {statistics.median(times):8.2f} {p95:8.2f} {rate:13.1f} {ratio:10.2f}")
    print(f"segments/min ratio (slow / baseline): {rows[name][1] / base_rate:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000, help="slow connections (1000)")
    parser.add_argument("--seconds", type=float, default=20, help="seconds per phase (20)")
    args = parser.parse_args()
    asyncio.run(main(args.connections, args.seconds))
