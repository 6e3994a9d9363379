"""`web_routes`: a plugin's routes answer under `/api/x/<plugin name>/`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hub.extensions.registry import Route
from hub.hookspecs import hookimpl
from tests.web_clients import signed_in_client


class Greeter:
    def __init__(self) -> None:
        self.hubs: list[Any] = []

    @hookimpl
    def web_routes(self, hub: Any) -> list[Any]:
        self.hubs.append(hub)

        async def hello(request: web.Request) -> web.Response:
            return web.json_response({"hello": request.match_info["name"], "running": hub.running})

        async def echo(request: web.Request) -> web.Response:
            return web.json_response(await request.json())

        return [
            Route("GET", "/hello/{name}", hello),
            Route("post", "echo", echo),  # method case and leading slash do not matter
            "not a Route",  # logged and skipped
        ]


async def test_routes_are_mounted_under_the_plugin_name(make_hub):
    hub = make_hub()
    greeter = Greeter()
    hub.plugins.register(greeter, "greeter")
    await hub.async_start()
    try:
        async with await signed_in_client(hub) as client:
            response = await client.get("/api/x/greeter/hello/ada")
            assert response.status == 200
            assert await response.json() == {"hello": "ada", "running": True}

            response = await client.post("/api/x/greeter/echo", json={"a": [1, 2]})
            assert response.status == 200
            assert await response.json() == {"a": [1, 2]}

            assert (await client.get("/api/x/greeter/echo")).status == 405
            assert (await client.get("/hello/ada")).status == 404
            assert (await client.get("/api/x/other/hello/ada")).status == 404
            assert (await client.get("/api/health")).status == 200  # core API untouched
        assert greeter.hubs == [hub]
    finally:
        await hub.async_stop()


async def test_a_failed_web_routes_mounts_nothing_and_the_app_still_builds(make_hub):
    class Broken:
        @hookimpl
        def web_routes(self, hub: Any) -> list[Route]:
            raise KeyError("no config")

    hub = make_hub()
    hub.plugins.register(Broken(), "broken")
    hub.plugins.register(Greeter(), "greeter")
    await hub.async_start()
    try:
        async with await signed_in_client(hub) as client:
            assert (await client.get("/api/x/greeter/hello/bob")).status == 200
        assert hub.plugins.infos["broken"].failures == 1
    finally:
        await hub.async_stop()
