"""Idle, slowloris and slow-body connections are closed; one address cannot hold them all; the
hub stays responsive and keeps recording with a thousand of them open.

The panel is served exactly as `camhub run` serves it (web.server.async_listen), on
127.0.0.1; Linux answers on all of 127.0.0.0/8, so each 127.0.0.x is another client.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from hub.core import Hub
from tests.conftest import free_port
from tests.helpers import wait_until
from web.app import create_app
from web.server import Listener, async_listen

Opener = Callable[..., Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
LIMITS = (
    "server:\n  host: 127.0.0.1\n  port: {port}\n  limits:\n"
    "    idle_seconds: {idle}\n    body_seconds: 1\n    connections_per_address: {per_address}\n"
)
RECORDING = (
    "cameras:\n  yard:\n    url: demo://\n    detect:\n      enabled: false\n"
    "    record:\n      mode: continuous\n      segment_seconds: 1\n"
)


@pytest.fixture
async def serve(make_hub) -> AsyncIterator[Callable[..., Awaitable[tuple[Hub, Listener]]]]:
    started: list[tuple[Hub, Listener]] = []

    async def start(
        idle: float = 1, per_address: int = 20, extra: str = ""
    ) -> tuple[Hub, Listener]:
        config = LIMITS.format(port=free_port(), idle=idle, per_address=per_address)
        hub = make_hub(config + extra)
        await hub.async_start()
        listener = await async_listen(create_app(hub), hub.config.server)
        started.append((hub, listener))
        return hub, listener

    yield start
    for hub, listener in started:
        await listener.async_close()
        await hub.async_stop()


@pytest.fixture
async def open_from() -> AsyncIterator[Opener]:
    """Open raw connections from a given loopback address; all closed after the test."""
    writers: list[asyncio.StreamWriter] = []

    async def open_connection(port: int, address: str = "127.0.0.1"):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
        writers.append(writer)
        return reader, writer

    yield open_connection
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def closed_by_server(reader: asyncio.StreamReader, within: float = 15) -> bytes:
    """Everything the server sent until it closed the connection (fails if it never does)."""
    try:
        return await asyncio.wait_for(reader.read(), within)
    except ConnectionResetError:
        return b""


async def health(port: int, address: str = "127.0.0.1") -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    try:
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 30)
        return int(answer.split(b" ", 2)[1])
    finally:
        writer.close()


async def test_idle_slowloris_and_slow_body_connections_are_closed(serve, open_from):
    _, listener = await serve()
    port = listener.port
    idle_reader, _ = await open_from(port)
    loris_reader, loris = await open_from(port)
    loris.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    body_reader, body = await open_from(port)
    body.write(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
    )
    # Read all three at once, so an answer is taken in before a write could reset it.
    reads = [asyncio.create_task(closed_by_server(r)) for r in (idle_reader, loris_reader)]
    body_answer = asyncio.create_task(body_reader.read(12))

    async def dribble() -> None:
        # One more byte every 0.2 s: each write is activity, none completes anything.
        with contextlib.suppress(ConnectionError):
            for _ in range(100):
                if not reads[1].done():
                    loris.write(b"X")
                if not body_answer.done():
                    body.write(b" ")
                await asyncio.sleep(0.2)

    dribbling = asyncio.create_task(dribble())
    try:
        assert await reads[0] == b""
        assert await reads[1] == b""
        assert await asyncio.wait_for(body_answer, 15) == b"HTTP/1.1 408"
        assert await closed_by_server(body_reader)  # the rest of the answer, then closed
    finally:
        dribbling.cancel()
    assert await health(port) == 200


async def test_one_address_cannot_hold_more_than_its_share(serve, open_from):
    _, listener = await serve(idle=60, per_address=20)
    port = listener.port
    held = []
    for _ in range(20):
        reader, writer = await open_from(port, "127.0.0.7")
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        held.append(reader)
    await wait_until(lambda: listener.limiter.open["127.0.0.7"] == 20, what="20 counted")
    one_too_many, _ = await open_from(port, "127.0.0.7")
    assert await closed_by_server(one_too_many) == b""
    assert await health(port, "127.0.0.8") == 200  # another address is served at once
    assert listener.limiter.refused == 1


async def test_a_thousand_slow_connections_leave_the_hub_serving_and_recording(serve, open_from):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:  # this process holds both ends of every connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    hub, listener = await serve(idle=120, per_address=100, extra=RECORDING)
    port = listener.port

    async def segments() -> int:
        return await hub.storage.async_read(lambda db: int(db.table("recordings").count))

    await wait_until(lambda: hub.states.get("camera.yard").state == "online", 30, "camera on")
    opened = []
    for i in range(1000):
        reader, writer = await open_from(port, f"127.0.1.{i // 100 + 1}")
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        opened.append(reader)
    await wait_until(lambda: listener.limiter.count >= 1000, 60, "1000 connections open")
    before = await segments()
    for _ in range(5):
        assert await health(port) == 200
    deadline = asyncio.get_running_loop().time() + 60
    while await segments() < before + 3:
        assert asyncio.get_running_loop().time() < deadline, "recording stalled"
        await asyncio.sleep(0.2)
    assert listener.limiter.count >= 1000  # all still open: nothing was shed to cope
    assert hub.states.get("camera.yard").state == "online"


async def test_a_body_arriving_in_pieces_is_read_whole(serve, open_from):
    hub, listener = await serve()
    reader, writer = await open_from(listener.port)
    body = b'{"username": "nobody", "password": "wrong password"}'
    writer.write(
        b"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10]
    )
    await writer.drain()
    await asyncio.sleep(0.3)  # the rest comes in another packet
    writer.write(body[10:])
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:300]  # checked, not "not valid JSON"
    assert [r["target"] for r in await hub.audit.async_query(action="login.failed")] == ["nobody"]
