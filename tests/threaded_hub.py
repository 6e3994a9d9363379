"""A hub and its web app served from a thread, for synchronous (hypothesis) tests to call."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hub.config.loading import load_config
from hub.core import Hub
from hub.security.users import async_add_user
from tests.web_clients import PASSWORD
from web.app import create_app


@dataclass
class ThreadedHub:
    """Where the served hub listens, and an admin session on it."""

    host: str
    port: int
    hub: Hub
    app: web.Application
    loop: asyncio.AbstractEventLoop
    cookie: str = ""
    csrf_token: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
        signed_in: bool = False,
    ) -> tuple[int, bytes]:
        """One request on a fresh connection: (status, body)."""
        headers = {"Content-Type": content_type} if body is not None else {}
        if signed_in:
            headers |= {"Cookie": self.cookie, "X-CSRF-Token": self.csrf_token}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def sign_in(self, username: str) -> None:
        """Log in as `username` (password PASSWORD) and keep the session for `signed_in`."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            body = json.dumps({"username": username, "password": PASSWORD})
            conn.request("POST", "/api/auth/login", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200, response.read()
            self.cookie = response.headers["Set-Cookie"].split(";", 1)[0]
            self.csrf_token = json.loads(response.read())["csrf_token"]
        finally:
            conn.close()


@contextmanager
def serve_in_thread(folder: Path, config: str, admin: str = "root") -> Iterator[ThreadedHub]:
    """Start a hub on `config` with an admin `admin`, serve it on 127.0.0.1, stop it after."""
    (folder / "config.yaml").write_text(config)
    hub = Hub(load_config(folder / "config.yaml"), folder / "data")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runners: list[web.AppRunner] = []

    async def start() -> ThreadedHub:
        await hub.async_start()
        await async_add_user(hub.storage, admin, PASSWORD, "admin")
        app = create_app(hub)
        runner = web.AppRunner(app)
        runners.append(runner)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        return ThreadedHub(host, port, hub, app, loop)

    async def stop() -> None:
        for runner in runners:
            await runner.cleanup()
        await hub.async_stop()

    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
