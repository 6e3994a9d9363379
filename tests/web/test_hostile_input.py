"""Hostile requests: path traversal on every file-serving route (`../`, encoded, symlinks),
oversize and malformed JSON bodies, and property-based fuzzing of the login body."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import web.app
from hub.core import Hub
from hub.footage.recordings import RecordingSegment
from tests.threaded_hub import serve_in_thread
from tests.web_clients import PASSWORD, AuthedClient, anonymous_client
from web.auth import SESSION_COOKIE
from web.keys import HUB_KEY

SECRET = "TOP-SECRET-CONTENT-7f3a"
CONFIG = "cameras:\n  front:\n    url: demo://\n    enabled: false\n"


async def raw_get(
    client: AuthedClient, target: str, cookie: str | None = None
) -> tuple[int, bytes]:
    """Send the request line exactly as given (no client-side normalising of `..` or `%2e`)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    headers = f"Host: {client.host}:{client.port}\r\nConnection: close\r\n"
    if cookie:
        headers += f"Cookie: {SESSION_COOKIE}={cookie}\r\n"
    writer.write(f"GET {target} HTTP/1.1\r\n{headers}\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data


def session_of(client: AuthedClient) -> str:
    return next(c.value for c in client.session.cookie_jar if c.key == SESSION_COOKIE)


TRAVERSALS = [
    "../{name}",
    "%2e%2e/{name}",
    "%2E%2E/{name}",
    "..%2f{name}",
    "..%2F{name}",
    "%2e%2e%2f{name}",
    "..%5c{name}",
    "%252e%252e%252f{name}",
    "....//{name}",
    "..;/{name}",
    "%c0%ae%c0%ae/{name}",
]


@pytest.fixture
async def footage_hub(make_api_client, tmp_path):
    """A hub whose footage folder holds symlinks and rows that point outside it."""
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    admin = await make_api_client(config=CONFIG)
    hub = admin.app[HUB_KEY]
    root = hub.footage.root
    (root / "front").mkdir(parents=True, exist_ok=True)
    os.symlink(secret, root / "front" / "link.mp4")
    os.symlink(secret.parent, root / "front" / "dirlink")
    (root / "clips" / "front").mkdir(parents=True, exist_ok=True)
    os.symlink(secret, root / "clips" / "front" / "ev-link.mp4")
    rows = [
        ("front/link.mp4", 1.0),
        ("front/dirlink/secret.txt", 2.0),
        ("../outside/secret.txt", 3.0),
        (str(secret), 4.0),
    ]
    for path, start in rows:
        await hub.recordings.async_add(RecordingSegment("front", start, start + 1, path, 10))
    events = [
        {"id": "ev-link", "snapshot_path": "front/link.mp4"},
        {"id": "ev-up", "snapshot_path": "../outside/secret.txt"},
        {"id": "../../outside/secret", "snapshot_path": str(secret)},
    ]
    for event in events:
        await hub.async_insert(
            "events", {"camera": "front", "kind": "motion", "start": 1.0, "end": 2.0, **event}
        )
    return admin


async def test_static_files_cannot_be_escaped(api_client):
    for pattern in TRAVERSALS:
        for name in ("auth.py", "../hub/core.py", "..%2fhub%2fcore.py"):
            target = "/static/" + pattern.format(name=name)
            status, body = await raw_get(api_client, target)
            assert status in (400, 403, 404), (target, status)
            assert b"def " not in body and b"import" not in body, target
    assert (await raw_get(api_client, "/static/app.js"))[0] == 200


async def test_a_symlink_in_the_static_folder_is_not_followed(make_hub, tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<html>camhub</html>")
    (static / "app.js").write_text("// app")
    (tmp_path / "secret.txt").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", static / "leak.txt")
    os.symlink(tmp_path, static / "up")
    monkeypatch.setattr(web.app, "STATIC_DIR", static)
    hub = make_hub()
    await hub.async_start()
    client = await anonymous_client(hub)
    try:
        assert (await raw_get(client, "/static/app.js"))[0] == 200
        for target in ("/static/leak.txt", "/static/up/secret.txt", "/static/up/static/leak.txt"):
            status, body = await raw_get(client, target)
            assert status in (403, 404), (target, status)
            assert SECRET.encode() not in body
    finally:
        await client.close()
        await hub.async_stop()


async def test_footage_routes_never_serve_files_outside_the_footage_folder(footage_hub):
    admin = footage_hub
    cookie = session_of(admin)
    segments = (await (await admin.get("/api/recordings?segments=1")).json())["segments"]
    assert len(segments) == 4
    targets = [f"/api/recordings/{s['id']}/video.mp4" for s in segments]
    targets += [
        "/api/events/ev-link/snapshot.jpg",
        "/api/events/ev-up/snapshot.jpg",
        "/api/events/ev-link/clip.mp4",  # the cached clip is a symlink out
        "/api/events/..%2F..%2Foutside%2Fsecret/snapshot.jpg",
        "/api/events/..%2F..%2Foutside%2Fsecret/clip.mp4",
    ]
    for pattern in TRAVERSALS:
        targets.append("/api/recordings/" + pattern.format(name="1") + "/video.mp4")
        targets.append("/api/events/" + pattern.format(name="ev-link") + "/clip.mp4")
        targets.append("/api/cameras/" + pattern.format(name="front") + "/snapshot.jpg")
    for target in targets:
        status, body = await raw_get(admin, target, cookie)
        assert SECRET.encode() not in body, target
        assert status in (400, 403, 404), (target, status, body[-200:])


async def test_oversize_bodies_are_refused_before_they_are_read(api_client):
    huge = {"username": "a" * (2 * 1024**2), "password": "x" * 8}
    response = await api_client.post("/api/auth/login", json=huge)
    assert response.status == 413
    big_user = {"username": "kid", "password": "p" * 300_000, "role": "viewer"}
    assert (await api_client.post("/api/users", json=big_user)).status == 413

    async def chunks():  # no Content-Length: the cap must hold while streaming
        yield b'{"username": "'
        for _ in range(64):
            yield b"a" * 1024
        yield b'", "password": "xxxxxxxx"}'

    streamed = await api_client.post(
        "/api/auth/login", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status == 413
    over_app_limit = await api_client.post(
        "/api/users",
        data=b"{" + b" " * (5 * 1024**2) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert over_app_limit.status == 413


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"",
        b"[]",
        b"null",
        b'"username"',
        b"\xff\xfe{}",
        b'{"username": "a", "password": "b"',
        b"[" * 3000 + b"]" * 3000,  # deeper than the JSON parser recurses
        b'{"username": ["root"], "password": "password"}',
        b'{"username": "root", "password": 12345678}',
        b'{"username": "", "password": "password"}',
        b'{"username": "root\\u0000", "password": "password"}',
    ],
)
async def test_malformed_json_is_a_clear_400(api_client, body):
    for path in ("/api/auth/login", "/api/users", "/api/tokens"):
        response = await api_client.post(
            path, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status in (400, 401), (path, response.status)
        assert "Traceback" not in await response.text()


async def test_non_json_bodies_are_refused(api_client):
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = await api_client.post(
            "/api/users", data=b'{"username": "x"}', headers={"Content-Type": content_type}
        )
        assert response.status == 415, content_type


# ------------------------------------------------------------------ property-based


@pytest.fixture(scope="module")
def threaded_hub(tmp_path_factory) -> Iterator[tuple[str, int, Hub]]:
    """A hub and its app served from a thread, so synchronous hypothesis tests can hit it."""
    config = "server:\n  auth:\n    max_login_failures: 1000000\n"
    with serve_in_thread(tmp_path_factory.mktemp("fuzz"), config) as served:
        yield served.host, served.port, served.hub


def post(host: str, port: int, path: str, body: bytes) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=600))
def test_any_bytes_as_a_login_body_get_a_clean_4xx(threaded_hub, body):
    host, port, _ = threaded_hub
    status, text = post(host, port, "/api/auth/login", body)
    assert status in (400, 401, 413), (status, text[:200])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.fixed_dictionaries(
        {},
        optional={
            "username": json_values | st.text(max_size=80),
            "password": json_values | st.text(max_size=80),
        },
    ),
)
def test_any_json_object_as_a_login_body_never_signs_in_or_fails(threaded_hub, payload):
    host, port, _ = threaded_hub
    status, text = post(host, port, "/api/auth/login", json.dumps(payload).encode())
    assert status in (400, 401), (payload, status, text[:200])


def test_the_fuzzed_hub_still_lets_the_real_admin_in(threaded_hub):
    host, port, _ = threaded_hub
    status, body = post(
        host,
        port,
        "/api/auth/login",
        json.dumps({"username": "root", "password": PASSWORD}).encode(),
    )
    assert status == 200 and json.loads(body)["csrf_token"]


async def test_inputs_that_used_to_crash_a_handler_get_a_clear_4xx(make_api_client, caplog):
    admin = await make_api_client(config=CONFIG)
    anonymous = await make_api_client(hub=admin.app[HUB_KEY], role=None)
    nested = b"[" * 5_000 + b"]" * 5_000
    json_type = {"Content-Type": "application/json"}
    hook = await anonymous.post("/api/webhook/any-id", data=nested, headers=json_type)
    assert hook.status == 400 and "not valid JSON" in await hook.text()
    unlock = await admin.post(
        "/api/storage/unlock", data=b'{"passphrase": ' + nested + b"}", headers=json_type
    )
    assert unlock.status == 400
    for huge in ("9" * 30, str(2**63), str(2**64 + 1)):
        assert (await admin.get(f"/api/recordings/{huge}/video.mp4")).status == 404
        assert (await admin.delete(f"/api/tokens/{huge}")).status == 404
    assert "Traceback" not in caplog.text and "Error handling request" not in caplog.text


async def test_a_hard_link_or_a_foreign_file_in_the_footage_folder_is_not_served(
    footage_hub, tmp_path
):
    admin = footage_hub
    hub = admin.app[HUB_KEY]
    secret = tmp_path / "outside" / "secret.txt"
    os.link(secret, hub.footage.root / "front" / "hard.mp4")  # passes every path check
    segment_id = await hub.recordings.async_add(
        RecordingSegment("front", 10.0, 11.0, "front/hard.mp4", 10)
    )
    for ranges in ("", "bytes=0-", "bytes=5-"):
        headers = {"Range": ranges} if ranges else {}
        answer = await admin.get(f"/api/recordings/{segment_id}/video.mp4", headers=headers)
        assert answer.status == 404 and SECRET not in await answer.text()
    if os.geteuid() == 0:  # only root can give a file away to another user
        foreign = hub.footage.root / "front" / "foreign.mp4"
        foreign.write_text(SECRET)
        os.chown(foreign, 65534, 65534)
        foreign_id = await hub.recordings.async_add(
            RecordingSegment("front", 12.0, 13.0, "front/foreign.mp4", 10)
        )
        answer = await admin.get(f"/api/recordings/{foreign_id}/video.mp4")
        assert answer.status == 404 and SECRET not in await answer.text()


async def test_an_empty_suffix_range_is_unsatisfiable(make_api_client):
    for config in (CONFIG, CONFIG + "storage:\n  encryption:\n    mode: key\n"):
        admin = await make_api_client(config=config)
        hub = admin.app[HUB_KEY]
        out = hub.footage.create("front/seg.mp4")
        out.write(b"\x01" * 5000)
        out.finish()
        segment_id = await hub.recordings.async_add(
            RecordingSegment("front", 1.0, 2.0, "front/seg.mp4", 5000)
        )
        video = f"/api/recordings/{segment_id}/video.mp4"
        for empty in ("bytes=-0", "bytes= -000"):
            answer = await admin.get(video, headers={"Range": empty})
            assert answer.status == 416, (config, empty)
            assert answer.headers["Content-Range"] == "bytes */5000"
        tail = await admin.get(video, headers={"Range": "bytes=-10"})
        assert tail.status == 206 and len(await tail.read()) == 10
        assert tail.headers["Content-Range"] == "bytes 4990-4999/5000"
        whole = await admin.get(video)
        assert whole.status == 200 and len(await whole.read()) == 5000
        head = await admin.head(video)
        assert head.status == 200 and head.headers["Content-Length"] == "5000"
