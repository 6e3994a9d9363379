"""Signed-in aiohttp test clients: an admin or a viewer with camera grants, CSRF handled."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from hub.core import Hub
from hub.security.users import async_add_user
from web.app import create_app

PASSWORD = "correct horse battery"
_names = itertools.count(1)


class AuthedClient(TestClient):  # type: ignore[type-arg]
    """A TestClient whose POST/PUT/PATCH/DELETE carry the session's X-CSRF-Token.

    Pass `headers={"X-CSRF-Token": ""}` (or another value) to send something else.
    """

    csrf_token: str | None = None
    username: str = ""

    async def _request(self, method: str, path: str | URL, **kwargs: Any) -> ClientResponse:
        if self.csrf_token and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRF-Token", self.csrf_token)
            kwargs["headers"] = headers
        return await super()._request(method, path, **kwargs)

    async def login(self, username: str, password: str = PASSWORD) -> ClientResponse:
        """POST /api/auth/login and remember the CSRF token it answers."""
        response = await self.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        if response.status == 200:
            self.csrf_token = (await response.json())["csrf_token"]
            self.username = username
        return response


async def anonymous_client(hub: Hub) -> AuthedClient:
    """A started client on a fresh app for `hub`, not signed in."""
    client = AuthedClient(TestServer(create_app(hub)))
    await client.start_server()
    return client


async def signed_in_client(
    hub: Hub,
    role: str = "admin",
    cameras: Iterable[str] = (),
    username: str | None = None,
) -> AuthedClient:
    """Create a user (admin, or viewer granted `cameras`) on a started hub and sign in."""
    name = username or f"{role}{next(_names)}"
    await async_add_user(hub.storage, name, PASSWORD, role, cameras)  # type: ignore[arg-type]
    client = await anonymous_client(hub)
    response = await client.login(name)
    assert response.status == 200, await response.text()
    return client
