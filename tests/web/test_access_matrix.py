"""Every route the app registers, called as anonymous, two viewers and an admin.

The routes are enumerated from `create_app`, so a route added without an access
rule, or with the wrong one, fails here without anyone remembering to add it.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from aiohttp import web

from hub.extensions.registry import Route
from hub.footage.recordings import RecordingSegment
from hub.hookspecs import hookimpl
from tests.web_clients import AuthedClient
from web import access
from web.app import create_app
from web.keys import HUB_KEY

CONFIG = (
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
)
# Values for path parameters. Those bound to the camera `front` must be refused to a viewer
# granted only `back` exactly as an unknown one is (404, same text: nothing to enumerate);
# anything else unknown gets a harmless made-up value.
PARAMS = {
    "camera": "front",
    "event_id": "ev-front",
    "segment_id": "1",
    "name": "nobody",
    "token_id": "999",
}
UNKNOWN = {"camera": "nosuch", "event_id": "ev-nosuch", "segment_id": "999999"}
CAMERA_BOUND = {"camera", "event_id", "segment_id"}
# Public routes that still answer 401 to a caller without a session, by design.
PUBLIC_BUT_PERSONAL = {("GET", "/api/auth/me"), ("HEAD", "/api/auth/me")}
AUTH = (401, 403)


def concrete(path: str, values: dict[str, str] = PARAMS) -> tuple[str, set[str]]:
    """The path with its `{param}` / `{param:regex}` parts filled in, and the params used."""
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        used.add(name)
        return values.get(name, PARAMS.get(name, "x"))

    return re.sub(r"\{(\w+)(?::[^}]*)?\}", fill, path), used


def routes_of(app: web.Application) -> list[tuple[str, str, str | None]]:
    """(method, path template, rule) for every non-static route."""
    found = []
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource) or route.resource is None:
            continue
        found.append((route.method, route.resource.canonical, access.rule_of(route.handler)))
    return found


async def call(client: AuthedClient, method: str, path: str) -> int:
    return (await answer(client, method, path))[0]


async def answer(client: AuthedClient, method: str, path: str) -> tuple[int, str]:
    kwargs: dict[str, Any] = {}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kwargs["json"] = {}
    async with client.request(method, path, **kwargs) as response:
        return response.status, await response.text()


@pytest.fixture
async def clients(make_api_client):
    admin = await make_api_client(config=CONFIG)
    hub = admin.app[HUB_KEY]
    now = time.time()
    await hub.async_insert(
        "events",
        {"id": "ev-front", "camera": "front", "kind": "motion", "start": now - 5, "end": now},
    )
    await hub.recordings.async_add(
        RecordingSegment("front", now - 10, now - 5, "front/2026/seg.mp4", 100)
    )
    return {
        "anonymous": await make_api_client(hub=hub, role=None),
        "viewer_other": await make_api_client(hub=hub, role="viewer", cameras=["back"]),
        "viewer_granted": await make_api_client(hub=hub, role="viewer", cameras=["front"]),
        "admin": admin,
    }


def test_every_route_declares_an_access_rule(make_hub):
    app = create_app(make_hub(CONFIG))
    missing = [f"{m} {p}" for m, p, rule in routes_of(app) if rule is None]
    assert missing == [], f"routes without @access.public/admin/viewer: {missing}"
    assert len(routes_of(app)) > 40  # the enumeration really sees the API


async def test_authorization_matrix(clients):
    app = clients["admin"].app
    problems: list[str] = []
    plan = routes_of(app)
    # Destructive admin calls last, so the fixture rows exist for every other call.
    plan.sort(key=lambda r: r[0] == "DELETE")
    for who in ("anonymous", "viewer_other", "viewer_granted", "admin"):
        client = clients[who]
        for method, template, rule in plan:
            if rule == "public" and who != "anonymous":
                continue  # login/logout/setup would change who this client is
            path, params = concrete(template)
            status = await call(client, method, path)
            expected: str
            if rule == "public":
                ok = status not in AUTH or (method, template) in PUBLIC_BUT_PERSONAL
                expected = "no 401/403"
            elif who == "anonymous":
                ok, expected = status == 401, "401"
            elif rule == "admin" and who != "admin":
                ok, expected = status == 403, "403"
            elif who == "viewer_other" and params & CAMERA_BOUND:
                unknown = await answer(client, method, concrete(template, UNKNOWN)[0])
                for param in params & set(UNKNOWN):  # the answer may name the id asked for
                    unknown = (unknown[0], unknown[1].replace(UNKNOWN[param], PARAMS[param]))
                ok = status == 404 and await answer(client, method, path) == unknown
                expected = f"404 as for an unknown id {unknown}"
            else:
                ok = status not in AUTH and (status < 500 or status == 503)
                expected = "allowed (2xx/4xx, or 503 for a camera with no picture)"
            if not ok:
                problems.append(f"{who:15} {method:6} {path}: got {status}, want {expected}")
    assert problems == [], "\n" + "\n".join(problems)


async def test_viewer_lists_hold_only_granted_cameras(clients):
    other, granted = clients["viewer_other"], clients["viewer_granted"]
    for client, cameras in ((other, ["back"]), (granted, ["front"])):
        listed = (await (await client.get("/api/cameras")).json())["cameras"]
        assert [c["id"] for c in listed] == cameras
    assert (await (await other.get("/api/events")).json())["events"] == []
    assert [e["id"] for e in (await (await granted.get("/api/events")).json())["events"]] == [
        "ev-front"
    ]
    assert (await other.get("/api/events?camera=front")).status == 404
    other_recordings = await (await other.get("/api/recordings?segments=1")).json()
    assert other_recordings["segments"] == []
    granted_recordings = await (await granted.get("/api/recordings?segments=1")).json()
    assert [s["camera"] for s in granted_recordings["segments"]] == ["front"]
    assert (await (await other.get("/api/recordings")).json())["ranges"] == []


async def test_a_route_without_a_rule_is_refused_even_to_admins(api_client, caplog):
    async def forgot(request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app = create_app(api_client.app[HUB_KEY])
    app.router.add_get("/api/forgotten", forgot)
    client = AuthedClient(api_client.server.__class__(app))
    await client.start_server()
    try:
        assert (await client.login(api_client.username)).status == 200
        response = await client.get("/api/forgotten")
        assert response.status == 500 and "secret" not in await response.text()
    finally:
        await client.close()
    assert "declares no access rule" in caplog.text


class Routes:
    @hookimpl
    def web_routes(self, hub: Any) -> list[Route]:
        async def hello(request: web.Request) -> web.Response:
            who = request.get("camhub.principal")
            return web.json_response({"who": who.name if who else None})

        return [
            Route("GET", "/default", hello),
            Route("GET", "/viewers", hello, access="viewer"),
            Route("GET", "/open", hello, access="public"),
        ]


async def test_plugin_routes_are_admin_only_unless_they_say_otherwise(make_api_client):
    admin = await make_api_client(plugins={"routes": Routes()})
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer")
    anonymous = await make_api_client(hub=hub, role=None)
    assert (await admin.get("/api/x/routes/default")).status == 200
    assert (await viewer.get("/api/x/routes/default")).status == 403
    assert (await anonymous.get("/api/x/routes/default")).status == 401
    answer = await viewer.get("/api/x/routes/viewers")
    assert answer.status == 200 and (await answer.json())["who"] == viewer.username
    assert (await anonymous.get("/api/x/routes/viewers")).status == 401
    assert (await anonymous.get("/api/x/routes/open")).status == 200
