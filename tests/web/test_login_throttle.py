"""Login throttling over HTTP from several loopback addresses, and across a hub restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hub.core import Hub
from hub.security.users import async_add_user
from tests.web_clients import PASSWORD
from web.app import create_app
from web.auth import THROTTLE_KEY

Login = Callable[..., Awaitable[aiohttp.ClientResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Hub], Awaitable[tuple[TestServer, Login]]]]:
    """Serve a hub's app on 127.0.0.1; `login(address, name, password)` posts from `address`."""
    servers: list[TestServer] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(hub: Hub) -> tuple[TestServer, Login]:
        server = TestServer(create_app(hub), host="127.0.0.1")
        await server.start_server()
        servers.append(server)

        async def login(address: str, name: str, password: str) -> aiohttp.ClientResponse:
            # Linux answers on all of 127.0.0.0/8: each address is a different caller.
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))
            sessions.append(session)
            response = await session.post(
                server.make_url("/api/auth/login"), json={"username": name, "password": password}
            )
            await response.read()
            return response

        return server, login

    yield start
    for session in sessions:
        await session.close()
    for server in servers:
        await server.close()


async def audit_details(hub: Hub, action: str) -> list[dict]:
    return [r["details"] for r in await hub.audit.async_query(action=action)]


async def test_failed_logins_survive_a_hub_restart(make_hub, serve):
    hub = make_hub()
    await hub.async_start()
    await async_add_user(hub.storage, "ann", PASSWORD, "admin")
    _, login = await serve(hub)
    for _ in range(5):
        assert (await login("127.0.0.2", "ann", "wrong password")).status == 401
    assert (await login("127.0.0.2", "ann", PASSWORD)).status == 429
    await hub.async_stop()

    again = make_hub()  # same data dir
    await again.async_start()
    try:
        _, login = await serve(again)
        locked = await login("127.0.0.2", "ann", PASSWORD)
        assert locked.status == 429, "a restart forgave the failures"
        assert 0 < int(locked.headers["Retry-After"]) <= 31
        assert (await login("127.0.0.3", "ann", PASSWORD)).status == 200
    finally:
        await again.async_stop()


async def test_another_address_signs_in_at_once_while_one_is_locked(make_hub, serve):
    hub = make_hub()
    await hub.async_start()
    try:
        await async_add_user(hub.storage, "ann", PASSWORD, "admin")
        _, login = await serve(hub)
        for _ in range(5):
            assert (await login("127.0.0.2", "ann", "wrong password")).status == 401
        assert (await login("127.0.0.2", "ann", PASSWORD)).status == 429
        assert (await login("127.0.0.3", "ann", PASSWORD)).status == 200
        assert (await audit_details(hub, "login.ok"))[0]["delayed"] == 0
        # The locked address is locked for that name only, until it fails 15 times in all.
        await async_add_user(hub.storage, "bob", PASSWORD, "viewer")
        assert (await login("127.0.0.2", "bob", PASSWORD)).status == 200
        locked = [r["address"] for r in await hub.audit.async_query(action="login.locked")]
        assert locked == ["127.0.0.2"]
    finally:
        await hub.async_stop()


async def test_one_address_guessing_many_names_gets_locked(make_hub, serve):
    hub = make_hub()
    await hub.async_start()
    try:
        await async_add_user(hub.storage, "ann", PASSWORD, "admin")
        _, login = await serve(hub)
        for i in range(15):  # three times max_login_failures, one try per name
            assert (await login("127.0.0.4", f"guess{i}", "wrong password")).status == 401
        assert (await login("127.0.0.4", "ann", PASSWORD)).status == 429
        assert (await login("127.0.0.5", "ann", PASSWORD)).status == 200
    finally:
        await hub.async_stop()


async def test_a_name_guessed_from_everywhere_is_slowed_never_locked(make_hub, serve):
    # max_login_failures 1: a pair locks at 1, an address at 3, the name slows down after 10.
    hub = make_hub("server:\n  auth:\n    max_login_failures: 1\n")
    await hub.async_start()
    try:
        await async_add_user(hub.storage, "ann", PASSWORD, "admin")
        server, login = await serve(hub)
        throttle = server.app[THROTTLE_KEY]
        throttle.name_delay, throttle.name_max_delay = 0.05, 0.2  # the rule, on a short clock
        for i in range(10):
            assert (await login(f"127.0.1.{i}", "ann", "wrong password")).status == 401
        assert [d["delayed"] for d in await audit_details(hub, "login.failed")] == [0] * 10
        for i in range(10, 14):
            assert (await login(f"127.0.1.{i}", "ann", "wrong password")).status == 401
        delays = [d["delayed"] for d in await audit_details(hub, "login.failed")][:4]
        assert delays[::-1] == [0.05, 0.1, 0.2, 0.2]  # doubling, capped
        # The owner, from an address without failures, still gets in (after the delay).
        assert (await login("127.0.2.1", "ann", PASSWORD)).status == 200
        assert (await audit_details(hub, "login.ok"))[0]["delayed"] == 0.2
        # An address that did fail for the name is locked out of it, as always.
        assert (await login("127.0.1.3", "ann", PASSWORD)).status == 429
    finally:
        await hub.async_stop()


async def test_concurrent_guesses_are_reserved_before_the_password_is_checked(make_hub, serve):
    hub = make_hub()
    await hub.async_start()
    try:
        await async_add_user(hub.storage, "ann", PASSWORD, "admin")
        _, login = await serve(hub)
        answers = await asyncio.gather(
            *(login("127.0.0.6", "ann", f"guess {i}") for i in range(80))
        )
        statuses = [a.status for a in answers]
        # Exactly the limit were checked; every other try was refused before any hashing.
        assert statuses.count(401) == 5 and statuses.count(429) == 75, statuses
        assert len(await hub.audit.async_query(action="login.failed")) == 5
        # A success does not count as a failure of its address or name.
        for i in range(4):
            assert (await login(f"127.0.3.{i}", "ann", PASSWORD)).status == 200
        counts = await hub.storage.async_read(
            lambda db: {r["key"]: r["failures"] for r in db.query("SELECT * FROM login_throttle")}
        )
        assert counts == {"address:127.0.0.6": 5, "pair:127.0.0.6|ann": 5, "user:ann": 5}
    finally:
        await hub.async_stop()
