"""Auth benchmark: what a session or token lookup adds to a request, and what a login costs.

Run: .venv/bin/python bench/auth.py [--requests 500]

Starts a hub with its web app on 127.0.0.1 (in this process), creates an admin and an API
token, then times sequential requests to `/api/health` with no credentials (the baseline:
the middleware runs but looks nothing up), with the session cookie, and with a bearer
token; then `/api/cameras` signed in (a viewer-rule route), and the login itself (one
scrypt hash, on purpose slow). Prints p50/p95 and ratios against the baseline measured in
the same run, never pass/fail (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("CAMHUB_DISABLE_PLUGIN_AUTOLOAD", "1")

from hub.config.loading import load_config  # noqa: E402
from hub.core import Hub  # noqa: E402
from hub.security.sessions import async_create_token  # noqa: E402
from hub.security.users import async_add_user  # noqa: E402
from web.app import create_app  # noqa: E402

PASSWORD = "bench password 1"


async def timed(count: int, call: Callable[[], Awaitable[int]]) -> list[float]:
    """Milliseconds per call; every answer must be 200."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        status = await call()
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"unexpected HTTP {status}")
    return times


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def main(requests: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text("cameras:\n  yard:\n    url: demo://\n    enabled: false\n")
        hub = Hub(load_config(config), Path(folder) / "data")
        await hub.async_start()
        maker = await async_add_user(hub.storage, "bench", PASSWORD, "admin")
        token, _ = await async_create_token(hub.storage, "bench", ["read"], maker)
        runner = web.AppRunner(create_app(hub), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        try:
            jar = aiohttp.CookieJar(unsafe=True)
            async with (
                aiohttp.ClientSession(cookie_jar=jar) as signed,
                aiohttp.ClientSession() as bare,
            ):
                login = {"username": "bench", "password": PASSWORD}

                async def do_login() -> int:
                    async with signed.post(f"{base}/api/auth/login", json=login) as r:
                        return r.status

                async def get(session: aiohttp.ClientSession, path: str, **kw: object) -> int:
                    async with session.get(f"{base}{path}", **kw) as r:  # type: ignore[arg-type]
                        await r.read()
                        return r.status

                bearer = {"Authorization": f"Bearer {token}"}
                logins = await timed(20, do_login)
                await timed(50, lambda: get(bare, "/api/health"))  # warm-up
                rows = {
                    "/api/health, anonymous (baseline)": await timed(
                        requests, lambda: get(bare, "/api/health")
                    ),
                    "/api/health, session cookie": await timed(
                        requests, lambda: get(signed, "/api/health")
                    ),
                    "/api/health, bearer token": await timed(
                        requests, lambda: get(bare, "/api/health", headers=bearer)
                    ),
                    "/api/cameras, session cookie": await timed(
                        requests, lambda: get(signed, "/api/cameras")
                    ),
                }
        finally:
            await runner.cleanup()
            await hub.async_stop()
    baseline = statistics.median(next(iter(rows.values())))
    print(f"{'request':40} {'p50 ms':>8} {'p95 ms':>8} {'p50 / baseline':>15}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:40} {median:8.2f} {p(values, 95):8.2f} {median / baseline:15.2f}")
    print(
        f"{'login (scrypt n=2^14, r=8)':40} {statistics.median(logins):8.1f} "
        f"{p(logins, 95):8.1f} {statistics.median(logins) / baseline:15.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="requests per row (500)")
    asyncio.run(main(parser.parse_args().requests))
