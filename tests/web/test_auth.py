"""Sign-in: first-run setup, login/logout, session cookies, CSRF, fixation, throttling, tokens."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from hub.security.users import async_add_user
from tests.web_clients import PASSWORD, AuthedClient, anonymous_client
from web.auth import SESSION_COOKIE, SESSIONS_KEY, THROTTLE_KEY
from web.keys import HUB_KEY

CAMERAS = (
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
)


def cookie_of(client: AuthedClient) -> str | None:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    return None


def plant_cookie(client: AuthedClient, value: str) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value}, client.make_url("/"))


async def audit_rows(client: AuthedClient, action: str) -> list[dict]:
    return await client.app[HUB_KEY].audit.async_query(action=action)


async def test_first_run_setup_creates_one_admin_and_signs_in(make_api_client):
    client = await make_api_client(role=None)
    hub = client.app[HUB_KEY]
    assert await (await client.get("/api/auth/setup")).json() == {
        "needed": True,
        "code_required": True,
    }
    code = hub.setup_code.issued
    assert code is not None
    assert (await client.get("/api/cameras")).status == 401
    short = await client.post(
        "/api/auth/setup", json={"username": "root", "password": "short", "code": code}
    )
    assert short.status == 400 and "at least 8" in await short.text()
    # Typed on a phone: lower case and without the dashes is the same code.
    typed = code.lower().replace("-", " ")
    made = await client.post(
        "/api/auth/setup", json={"username": "root", "password": PASSWORD, "code": typed}
    )
    assert made.status == 201
    body = await made.json()
    assert body["user"]["role"] == "admin" and body["csrf_token"]
    assert await (await client.get("/api/auth/setup")).json() == {
        "needed": False,
        "code_required": False,
    }
    assert hub.setup_code.issued is None  # spent
    assert (await client.get("/api/users")).status == 200  # signed in by the setup
    other = await anonymous_client(hub)
    try:
        again = await other.post(
            "/api/auth/setup",
            json={"username": "evil", "password": "password-evil", "code": code},
        )
        assert again.status == 409
        assert (await other.login("evil", "password-evil")).status == 401
    finally:
        await other.close()
    assert [r["target"] for r in await audit_rows(client, "user.setup")] == ["root"]


async def test_setup_without_the_code_is_refused_and_wrong_codes_are_throttled(make_api_client):
    client = await make_api_client(role=None)
    hub = client.app[HUB_KEY]
    missing = await client.post("/api/auth/setup", json={"username": "x", "password": PASSWORD})
    assert missing.status == 403
    assert (await missing.json())["errors"][0]["path"] == "code"
    for _ in range(3):
        wrong = await client.post(
            "/api/auth/setup", json={"username": "x", "password": PASSWORD, "code": "AAAA-AAAA"}
        )
        assert wrong.status == 403
        assert "printed in the terminal" in (await wrong.json())["error"]
    # The fifth wrong code pauses every try, the right one included, for a while.
    assert (
        await client.post(
            "/api/auth/setup", json={"username": "x", "password": PASSWORD, "code": "AAAA"}
        )
    ).status == 403
    paused = await client.post(
        "/api/auth/setup",
        json={"username": "x", "password": PASSWORD, "code": hub.setup_code.issued},
    )
    assert paused.status == 429 and int(paused.headers["Retry-After"]) > 0
    assert (
        await hub.storage.async_read(
            lambda db: db.execute("select count(*) from users").fetchone()[0]
        )
        == 0
    )
    assert len(await audit_rows(client, "user.setup_refused")) == 6


async def test_auth_state_answers_200_signed_in_or_not(make_api_client):
    anonymous = await make_api_client(role=None)
    state = await anonymous.get("/api/auth/state")
    assert state.status == 200
    assert await state.json() == {"setup_needed": True, "user": None, "csrf_token": None}
    admin = await make_api_client(hub=anonymous.app[HUB_KEY])
    body = await (await admin.get("/api/auth/state")).json()
    assert body["user"]["role"] == "admin" and body["user"]["cameras"] == []
    assert body["setup_needed"] is False and body["csrf_token"]
    after = await (await anonymous.get("/api/auth/state")).json()
    assert after == {"setup_needed": False, "user": None, "csrf_token": None}


async def test_racing_setups_create_exactly_one_admin(make_api_client):
    first = await make_api_client(role=None)
    hub = first.app[HUB_KEY]
    others = [await make_api_client(hub=hub, role=None) for _ in range(4)]
    code = hub.setup_code.issue()
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/auth/setup", json={"username": f"u{i}", "password": PASSWORD, "code": code}
            )
            for i, client in enumerate([first, *others])
        )
    )
    assert sorted(a.status for a in answers) == [201, 409, 409, 409, 409]
    users = await hub.storage.async_read(
        lambda db: [r["name"] for r in db.query("SELECT name FROM users")]
    )
    assert len(users) == 1


async def test_login_sets_a_strict_httponly_cookie_and_audits_with_address(make_api_client):
    admin = await make_api_client()
    hub = admin.app[HUB_KEY]
    client = await make_api_client(hub=hub, role=None)
    wrong = await client.login(admin.username, "not the password")
    assert wrong.status == 401 and cookie_of(client) is None
    unknown = await client.login("nobody", PASSWORD)
    assert unknown.status == 401  # same answer as a wrong password
    assert await wrong.text() == await unknown.text()
    good = await client.login(admin.username)
    assert good.status == 200
    body = await good.json()
    assert body["user"] == {
        "name": admin.username,
        "role": "admin",
        "cameras": [],
        "disabled": False,
        "created": body["user"]["created"],
    }
    header = good.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Path=/" in header
    assert "Secure" not in header  # plain HTTP here; tests/web/test_tls.py covers HTTPS
    me = await (await client.get("/api/auth/me")).json()
    assert me["user"]["name"] == admin.username and me["csrf_token"] == body["csrf_token"]
    failures = await audit_rows(client, "login.failed")
    assert {r["target"] for r in failures} == {admin.username, "nobody"}
    assert all(r["address"] == "127.0.0.1" and r["user"] for r in failures)
    successes = [r for r in await audit_rows(client, "login.ok") if r["address"] == "127.0.0.1"]
    assert len(successes) == 2  # the fixture's and this one


async def test_the_session_is_stored_hashed(api_client):
    secret = cookie_of(api_client)
    assert secret
    hub = api_client.app[HUB_KEY]
    conn = sqlite3.connect(hub.storage.path)
    ids = [r[0] for r in conn.execute("SELECT id FROM sessions")]
    assert ids and secret not in ids
    assert all(secret not in str(r) for r in conn.execute("SELECT * FROM sessions"))


async def test_api_needs_a_session_and_health_does_not(make_api_client):
    client = await make_api_client(role=None)
    assert (await client.get("/api/health")).status == 200
    assert (await client.get("/")).status == 200
    assert (await client.get("/static/app.js")).status == 200
    for path in ("/api/cameras", "/api/events", "/api/plugins", "/api/audit", "/metrics"):
        assert (await client.get(path)).status == 401, path
    assert (await client.get("/api/auth/me")).status == 401
    plant_cookie(client, "made-up-session")
    assert (await client.get("/api/cameras")).status == 401


async def test_writes_need_the_csrf_token_of_the_session(api_client):
    ok = await api_client.post("/api/notifiers/log/test")  # auto header: passes CSRF
    assert ok.status == 404  # no such notifier here; the point is it got past auth
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}):
        refused = await api_client.post("/api/notifiers/log/test", headers=headers)
        assert refused.status == 403 and "CSRF" in await refused.text()
    refused = await api_client.post(
        "/api/users",
        json={"username": "x", "password": PASSWORD, "role": "viewer"},
        headers={"X-CSRF-Token": ""},
    )
    assert refused.status == 403
    users = (await (await api_client.get("/api/users")).json())["users"]
    assert [u["name"] for u in users] == [api_client.username]  # nothing was created


async def test_cross_site_requests_are_refused(api_client):
    origin = {"Origin": "http://evil.example"}
    assert (await api_client.post("/api/notifiers/log/test", headers=origin)).status == 403
    login = await api_client.post(
        "/api/auth/login", json={"username": "a", "password": "b" * 8}, headers=origin
    )
    assert login.status == 403
    same = {"Origin": str(api_client.make_url("/")).rstrip("/")}
    assert (await api_client.post("/api/notifiers/log/test", headers=same)).status == 404
    form = await api_client.post(
        "/api/auth/login", data={"username": api_client.username, "password": PASSWORD}
    )
    assert form.status == 415  # a cross-site HTML form cannot send JSON


async def test_login_issues_a_new_session_id_never_the_planted_one(make_api_client):
    admin = await make_api_client()
    client = await make_api_client(hub=admin.app[HUB_KEY], role=None)
    plant_cookie(client, "attacker-chosen-session-id")
    assert (await client.login(admin.username)).status == 200
    first = cookie_of(client)
    assert first and first != "attacker-chosen-session-id"
    assert (await client.login(admin.username)).status == 200
    second = cookie_of(client)
    assert second and second != first
    # The session from before the second login is gone, not merely replaced in this jar.
    stale = await anonymous_client(admin.app[HUB_KEY])
    try:
        plant_cookie(stale, first)
        assert (await stale.get("/api/cameras")).status == 401
    finally:
        await stale.close()


async def test_logout_ends_the_session_on_the_server(make_api_client):
    client = await make_api_client()
    secret = cookie_of(client)
    assert secret
    out = await client.post("/api/auth/logout")
    assert out.status == 200
    assert (await client.get("/api/cameras")).status == 401
    replay = await anonymous_client(client.app[HUB_KEY])
    try:
        plant_cookie(replay, secret)  # a copy of the cookie taken before logout
        assert (await replay.get("/api/cameras")).status == 401
    finally:
        await replay.close()
    assert [r["target"] for r in await audit_rows(client, "logout")] == [client.username]


async def test_repeated_failures_lock_the_login_exponentially(make_api_client):
    admin = await make_api_client()
    client = await make_api_client(hub=admin.app[HUB_KEY], role=None)
    throttle = client.app[THROTTLE_KEY]
    now = [1000.0]
    throttle.clock = lambda: now[0]
    for _ in range(5):
        assert (await client.login(admin.username, "wrong password")).status == 401
    locked = await client.login(admin.username)  # even the right password waits
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) == 31
    assert (await audit_rows(client, "login.locked"))[0]["address"] == "127.0.0.1"
    now[0] += 31
    assert (await client.login(admin.username, "wrong again")).status == 401  # 6th: 60 s
    now[0] += 59
    assert (await client.login(admin.username)).status == 429
    now[0] += 2
    assert (await client.login(admin.username)).status == 200
    assert (await client.login(admin.username, "wrong")).status == 401  # counter was reset
    assert (await client.login(admin.username)).status == 200


async def test_changing_the_password_ends_every_other_session(make_api_client):
    first = await make_api_client(config=CAMERAS, role="viewer", cameras=["front"])
    hub = first.app[HUB_KEY]
    second = await make_api_client(hub=hub, role=None)
    assert (await second.login(first.username)).status == 200
    wrong = await first.post(
        "/api/auth/password",
        json={"current_password": "not it at all", "new_password": "brand new password"},
    )
    assert wrong.status == 403
    changed = await first.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand new password"},
    )
    assert changed.status == 200
    first.csrf_token = (await changed.json())["csrf_token"]
    assert (await first.get("/api/cameras")).status == 200  # this browser got a new session
    assert (await second.get("/api/cameras")).status == 401
    assert (await second.login(first.username)).status == 401
    assert (await second.login(first.username, "brand new password")).status == 200
    for _ in range(5):
        guess = await second.post(
            "/api/auth/password",
            json={"current_password": "a wrong guess", "new_password": "whatever it is"},
        )
        assert guess.status == 403
    locked = await second.post(
        "/api/auth/password",
        json={"current_password": "brand new password", "new_password": "whatever it is"},
    )
    assert locked.status == 429


async def test_admin_revokes_sessions_disables_and_demotes(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["front"])
    other_admin = await make_api_client(hub=hub)
    revoked = await admin.delete(f"/api/users/{viewer.username}/sessions")
    assert await revoked.json() == {"sessions_ended": 1}
    assert (await viewer.get("/api/cameras")).status == 401
    assert (await viewer.login(viewer.username)).status == 200
    disabled = await admin.patch(f"/api/users/{viewer.username}", json={"disabled": True})
    assert disabled.status == 200
    assert (await viewer.get("/api/cameras")).status == 401
    assert (await viewer.login(viewer.username)).status == 401
    demoted = await admin.patch(f"/api/users/{other_admin.username}", json={"role": "viewer"})
    assert demoted.status == 200
    assert (await other_admin.get("/api/users")).status == 401


async def test_sessions_end_when_idle_and_at_their_maximum_age(make_api_client):
    client = await make_api_client()
    store = client.app[SESSIONS_KEY]
    start = time.time()
    store.clock = lambda: start + 23 * 3600  # within the 24 h idle limit
    assert (await client.get("/api/cameras")).status == 200
    store.clock = lambda: start + 23 * 3600 + 25 * 3600  # idle for 25 h
    assert (await client.get("/api/cameras")).status == 401
    store.clock = time.time
    assert (await client.login(client.username)).status == 200
    born = time.time()
    for step in range(1, 36):  # used every 20 hours, so never idle...
        store.clock = lambda step=step: born + step * 20 * 3600
        assert (await client.get("/api/cameras")).status == 200
    store.clock = lambda: born + 30 * 86400 + 1  # ...yet over the 30-day maximum
    assert (await client.get("/api/cameras")).status == 401


async def test_api_tokens_follow_their_scopes_and_skip_csrf(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    hub = admin.app[HUB_KEY]
    anonymous = await make_api_client(hub=hub, role=None)
    tokens = {}
    for scope in ("read", "events", "admin"):
        made = await admin.post("/api/tokens", json={"name": f"ha-{scope}", "scopes": [scope]})
        assert made.status == 201
        tokens[scope] = (await made.json())["token"]
    bad_scope = await admin.post("/api/tokens", json={"name": "x", "scopes": ["root"]})
    assert bad_scope.status == 400

    def bearer(scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[scope]}"}

    get = anonymous.get
    assert (await get("/api/cameras", headers=bearer("read"))).status == 200
    assert (await get("/api/events", headers=bearer("read"))).status == 200
    assert (await get("/api/users", headers=bearer("read"))).status == 403
    refused = await anonymous.post("/api/notifiers/log/test", headers=bearer("read"))
    assert refused.status == 403
    assert (await get("/api/events", headers=bearer("events"))).status == 200
    assert (await get("/api/cameras", headers=bearer("events"))).status == 403
    assert (await get("/api/users", headers=bearer("admin"))).status == 200
    created = await anonymous.post(
        "/api/users",
        json={"username": "kid", "password": PASSWORD, "role": "viewer"},
        headers=bearer("admin"),  # no cookie, no CSRF token: a script
    )
    assert created.status == 201
    actor = (await hub.audit.async_query(action="user.create"))[0]["user"]
    assert actor == "token:ha-admin"
    listed = await (await admin.get("/api/tokens")).json()
    assert {t["name"] for t in listed["tokens"]} == {"ha-read", "ha-events", "ha-admin"}
    text = str(listed) + str(
        list(sqlite3.connect(hub.storage.path).execute("SELECT * FROM api_tokens"))
    )
    assert not any(secret in text for secret in tokens.values())
    token_id = next(t["id"] for t in listed["tokens"] if t["name"] == "ha-read")
    assert (await admin.delete(f"/api/tokens/{token_id}")).status == 200
    assert (await get("/api/cameras", headers=bearer("read"))).status == 401
    assert (await get("/api/cameras", headers={"Authorization": "Bearer chb_nope"})).status == 401
    assert (await get("/api/health", headers={"Authorization": "Bearer chb_nope"})).status == 200
    # A proxy's Basic auth is not a token: the session still counts, and alone it is nothing.
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert (await admin.get("/api/users", headers=basic)).status == 200
    assert (await get("/api/cameras", headers=basic)).status == 401


async def test_a_camera_limited_token_sees_only_its_cameras(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    made = await admin.post(
        "/api/tokens", json={"name": "door", "scopes": ["read"], "cameras": ["front"]}
    )
    headers = {"Authorization": f"Bearer {(await made.json())['token']}"}
    anonymous = await make_api_client(hub=admin.app[HUB_KEY], role=None)
    cameras = (await (await anonymous.get("/api/cameras", headers=headers)).json())["cameras"]
    assert [c["id"] for c in cameras] == ["front"]
    assert (await anonymous.get("/api/cameras/back/snapshot.jpg", headers=headers)).status == 404


async def test_an_expired_token_is_refused(make_api_client):
    admin = await make_api_client()
    made = await admin.post(
        "/api/tokens", json={"name": "short", "scopes": ["read"], "expires_days": 0.00001}
    )
    secret = (await made.json())["token"]
    conn = sqlite3.connect(admin.app[HUB_KEY].storage.path)
    conn.execute("UPDATE api_tokens SET expires = ?", [time.time() - 1])
    conn.commit()
    conn.close()
    refused = await admin.get("/api/cameras", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status == 401


async def test_a_user_made_on_the_command_line_can_sign_in(make_api_client):
    admin = await make_api_client()
    hub = admin.app[HUB_KEY]
    await async_add_user(hub.storage, "cli-made", "some long password", "viewer")
    client = await make_api_client(hub=hub, role=None)
    assert (await client.login("cli-made", "some long password")).status == 200
    assert (await client.get("/api/cameras")).status == 200
    assert (await client.get("/api/plugins")).status == 403
