"""`register_routes`: the old name of `web_routes` still mounts routes, with a warning."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub import Route, hookimpl
from tests.web_clients import signed_in_client


class OldStyle:
    @hookimpl
    def register_routes(self, hub: Any) -> list[Route]:
        async def ping(request: web.Request) -> web.Response:
            return web.json_response({"pong": True})

        return [Route("GET", "/ping", ping)]


async def test_the_old_name_still_mounts_its_routes_and_says_so(make_hub, caplog):
    hub = make_hub()
    caplog.set_level("WARNING")
    hub.plugins.register(OldStyle(), "old")
    assert "register_routes, a deprecated hook name: rename it to web_routes" in caplog.text
    await hub.async_start()
    try:
        async with await signed_in_client(hub) as client:
            response = await client.get("/api/x/old/ping")
            assert response.status == 200
            assert await response.json() == {"pong": True}
    finally:
        await hub.async_stop()
