"""Authentication: first-run setup, login/logout, sessions, API tokens, and the middleware
that enforces every route's access rule (deny by default) and CSRF on writes."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from hub.core import Hub
from hub.extensions.registry import PRINCIPAL_KEY
from hub.security.names import normal_form
from hub.security.sessions import ApiToken, Session, SessionStore, async_lookup_token
from hub.security.setup_code import SetupCodeError
from hub.security.throttle import LoginThrottle
from hub.security.users import (
    User,
    UserError,
    async_add_user,
    async_authenticate,
    async_count_users,
    async_get_user,
    async_set_password,
)
from web import access
from web.body import read_json_object, string_field
from web.hosts import HOST_GUARD_KEY, host_name
from web.keys import HUB_KEY

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()

SESSION_COOKIE = "camhub_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "camhub.session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_BODY_BYTES = 8 * 1024
SESSIONS_KEY = web.AppKey("sessions", SessionStore)
THROTTLE_KEY = web.AppKey("login_throttle", LoginThrottle)
_CSRF_EXEMPT = "__camhub_csrf_exempt__"
# Paths an `events`-scoped token may read: the event list, its pictures and clips, the feed.
EVENT_PATHS = ("/api/events", "/api/ws")


def csrf_exempt(handler: Any) -> Any:
    """Mark a handler that establishes a session (login, setup): there is no token yet."""
    setattr(handler, _CSRF_EXEMPT, True)
    return handler


def setup_auth(app: web.Application, hub: Hub) -> None:
    """Give the app its session store, login throttle and auth routes."""
    settings = hub.config.server.auth
    app[SESSIONS_KEY] = SessionStore(
        hub.storage,
        idle_seconds=settings.session_idle_hours * 3600,
        max_seconds=settings.session_max_days * 86400,
    )
    app[THROTTLE_KEY] = LoginThrottle(
        hub.storage, max_failures=settings.max_login_failures, base_lock=settings.lockout_seconds
    )
    app.add_routes(routes)


# ------------------------------------------------------------------ middleware


def route_rule(request: web.Request) -> access.Rule | None:
    """The rule of the route this request matched (static files are public)."""
    route = request.match_info.route
    if isinstance(route.resource, web.StaticResource):
        return "public"
    return access.rule_of(request.match_info.handler)


def token_allows(token: ApiToken, method: str, path: str, rule: access.Rule) -> bool:
    """Scopes: `admin` may do anything; `read` may GET any viewer route; `events` may GET
    the event list, event snapshots and clips, and the live feed. The scopes are those the
    token's maker allows now (an `admin` token of a demoted maker only reads)."""
    scopes = token.effective_scopes
    if "admin" in scopes:
        return True
    if rule == "admin" or method not in SAFE_METHODS:
        return False
    if "read" in scopes:
        return True
    return "events" in scopes and any(
        path == prefix or path.startswith(prefix + "/") for prefix in EVENT_PATHS
    )


def _token_principal(hub: Hub, token: ApiToken) -> access.Principal:
    """The token acting for its maker, with at most the maker's current rights."""
    cameras = token.visible_cameras(hub.cameras)
    name = f"token:{token.name}"
    role: Literal["admin", "viewer"] = "admin" if "admin" in token.effective_scopes else "viewer"
    return access.Principal(name, role, cameras, token=token.name, user_id=token.user_id)


def session_principal(user: User) -> access.Principal:
    """The principal of a signed-in user."""
    return access.Principal(user.name, user.role, frozenset(user.cameras), user_id=user.id)


def _cross_origin(request: web.Request) -> bool:
    """A browser request from another site (the Origin header names a different host)."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin == "null"
    return urlsplit(origin).netloc.lower() != request.host.lower()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """401 without a session or token, 403 for a wrong role, scope, CSRF token or origin."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404/405: nothing to protect
    rule = route_rule(request)
    if rule is None:
        _LOGGER.error("Route %s %s declares no access rule: refused", request.method, request.path)
        raise web.HTTPInternalServerError(text="this route declares no access rule")
    unsafe = request.method not in SAFE_METHODS
    if (unsafe or request.headers.get("Upgrade", "").lower() == "websocket") and _cross_origin(
        request
    ):
        raise web.HTTPForbidden(text="cross-origin request refused")
    hub = request.app[HUB_KEY]
    token: ApiToken | None = None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    # Only Bearer is ours: a reverse proxy's Basic auth header must not hide the session.
    if scheme.lower() == "bearer":
        token = await async_lookup_token(hub.storage, secret.strip())
        if token is None and rule != "public":
            raise web.HTTPUnauthorized(
                text="invalid or expired API token", headers={"WWW-Authenticate": "Bearer"}
            )
    if token is not None:
        request[PRINCIPAL_KEY] = _token_principal(hub, token)
    elif cookie := request.cookies.get(SESSION_COOKIE):
        session = await request.app[SESSIONS_KEY].async_lookup(cookie)
        if session is not None:
            if unsafe and not getattr(request.match_info.handler, _CSRF_EXEMPT, False):
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                    raise web.HTTPForbidden(text="missing or wrong X-CSRF-Token header")
            request[SESSION_KEY] = session
            request[PRINCIPAL_KEY] = session_principal(session.user)
    if rule == "public":
        return await handler(request)
    who = access.principal(request)
    if who is None:
        raise web.HTTPUnauthorized(text="sign in first (or send an API token)")
    if token is not None and not token_allows(token, request.method, request.path, rule):
        raise web.HTTPForbidden(text="this API token's scopes do not allow that")
    if rule == "admin" and who.role != "admin":
        raise web.HTTPForbidden(text="admins only")
    return await handler(request)


def check_rules(app: web.Application) -> list[str]:
    """Routes without an access rule (logged at startup; the middleware refuses them)."""
    missing = []
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource):
            continue
        if access.rule_of(route.handler) is None:
            missing.append(f"{route.method} {route.resource.canonical if route.resource else ''}")
    for name in missing:
        _LOGGER.error("Route %s declares no access rule; every request to it will fail", name)
    return missing


# ------------------------------------------------------------------ routes


def _session_of(request: web.Request) -> Session | None:
    found = request.get(SESSION_KEY)
    return found if isinstance(found, Session) else None


async def _start_session(request: web.Request, user: User, status: int = 200) -> web.Response:
    """A new session (never the one the browser brought) in a cookie, plus its CSRF token."""
    store = request.app[SESSIONS_KEY]
    if (old := request.cookies.get(SESSION_COOKIE)) is not None:
        await store.async_revoke(old)
    secret, session = await store.async_create(
        user, request.remote, request.headers.get("User-Agent", "")
    )
    response = web.json_response(
        {"csrf_token": session.csrf_token, "user": user.as_dict()}, status=status
    )
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
        max_age=int(store.max_seconds),
    )
    return response


async def _setup_needed(hub: Hub) -> bool:
    """No user exists yet; the one-time code is issued (and logged) the first time it is asked."""
    if await async_count_users(hub.storage):
        return False
    hub.setup_code.issue()
    return True


@routes.get("/api/auth/setup")
@access.public
async def setup_state(request: web.Request) -> web.Response:
    """Whether the first-run setup is still open (no user exists yet); it needs the code."""
    needed = await _setup_needed(request.app[HUB_KEY])
    return web.json_response({"needed": needed, "code_required": needed})


@routes.get("/api/auth/state")
@access.public
async def auth_state(request: web.Request) -> web.Response:
    """What a page needs before it draws anything, 200 signed in or not:
    `{"setup_needed", "user" (null when signed out), "csrf_token"}`."""
    hub = request.app[HUB_KEY]
    who = access.principal(request)
    session = _session_of(request)
    user = None
    if who is not None:
        user = {"name": who.name, "role": who.role, "cameras": sorted(who.cameras)}
    return web.json_response(
        {
            "setup_needed": who is None and await _setup_needed(hub),
            "user": user,
            "csrf_token": session.csrf_token if session else None,
        }
    )


def _code_refused(message: str, retry_after: float) -> web.Response:
    headers = {"Retry-After": str(int(retry_after) + 1)} if retry_after else None
    return web.json_response(
        {"error": message, "errors": [{"path": "code", "message": message}]},
        status=429 if retry_after else 403,
        headers=headers,
    )


@routes.post("/api/auth/setup")
@access.public
@csrf_exempt
async def setup(request: web.Request) -> web.Response:
    """Create the first admin (only while no user exists, with the one-time setup code that
    `camhub run` printed) and sign them in."""
    hub = request.app[HUB_KEY]
    origin = request.headers.get("Origin")
    if origin is not None and not request.app[HOST_GUARD_KEY].allows(
        host_name(urlsplit(origin).netloc)
    ):
        # Whoever reaches a fresh hub first makes the admin: never a page of another site.
        raise web.HTTPForbidden(text="setup refused: the request comes from another site")
    body = await read_json_object(request, AUTH_BODY_BYTES)
    name = string_field(body, "username", 64)
    password = string_field(body, "password", 1024)
    code = body.get("code")
    if not await _setup_needed(hub):
        raise web.HTTPConflict(text="setup is done: an administrator exists; log in instead")
    try:
        hub.setup_code.check(code if isinstance(code, str) else "")
    except SetupCodeError as exc:
        if await async_count_users(hub.storage):  # another setup won meanwhile
            raise web.HTTPConflict(text="setup is done: an administrator exists") from None
        await hub.audit.async_log(name, "user.setup_refused", name, request.remote)
        return _code_refused(str(exc), exc.retry_after)
    try:
        await async_add_user(hub.storage, name, password, "admin", only_if_no_users=True)
    except UserError as exc:
        if await async_count_users(hub.storage):
            raise web.HTTPConflict(text=str(exc)) from None
        raise web.HTTPBadRequest(text=str(exc)) from None
    hub.setup_code.used()
    name = normal_form(name)  # as stored
    await hub.audit.async_log(name, "user.setup", name, request.remote, role="admin")
    user = await async_get_user(hub.storage, name)
    assert user is not None
    return await _start_session(request, user, status=201)


@routes.post("/api/auth/login")
@access.public
@csrf_exempt
async def login(request: web.Request) -> web.Response:
    """`{"username", "password"}` -> session cookie and `{"csrf_token", "user"}`."""
    hub = request.app[HUB_KEY]
    body = await read_json_object(request, AUTH_BODY_BYTES)
    name = string_field(body, "username", 64)
    password = string_field(body, "password", 1024)
    throttle = request.app[THROTTLE_KEY]
    # Counted as a failure before the password is hashed: concurrent guesses cannot slip
    # past the limit while earlier ones are still being checked.
    verdict = await throttle.async_reserve(request.remote, name)
    if (wait := verdict.locked_for) > 0:
        await hub.audit.async_log(name, "login.locked", name, request.remote)
        raise web.HTTPTooManyRequests(
            text=f"too many failed logins; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    if verdict.delay > 0:
        # The name is being guessed from elsewhere: slow every try for it, lock none out.
        await asyncio.sleep(verdict.delay)
    user = await async_authenticate(hub.storage, name, password)
    if user is None:
        await hub.audit.async_log(
            name,
            "login.failed",
            name,
            request.remote,
            locked=verdict.lock_if_failed,
            delayed=verdict.delay,
        )
        raise web.HTTPUnauthorized(text="wrong user name or password")
    await throttle.async_release(request.remote, name)
    await hub.audit.async_log(name, "login.ok", name, request.remote, delayed=verdict.delay)
    return await _start_session(request, user)


@routes.post("/api/auth/logout")
@access.public
async def logout(request: web.Request) -> web.Response:
    """End this browser's session and drop its cookie."""
    session = _session_of(request)
    if session is not None:
        await request.app[SESSIONS_KEY].async_revoke(request.cookies[SESSION_COOKIE])
        await access.audit(request, "logout", session.user.name)
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/auth/me")
@access.public
async def me(request: web.Request) -> web.Response:
    """Who is signed in, with the CSRF token the panel needs after a reload (401 if nobody)."""
    who = access.principal(request)
    if who is None:
        raise web.HTTPUnauthorized(text="not signed in")
    session = _session_of(request)
    return web.json_response(
        {
            "user": {"name": who.name, "role": who.role, "cameras": sorted(who.cameras)},
            "csrf_token": session.csrf_token if session else None,
        }
    )


@routes.post("/api/auth/password")
@access.viewer
async def change_password(request: web.Request) -> web.Response:
    """`{"current_password", "new_password"}`: ends every session, then starts a new one."""
    hub = request.app[HUB_KEY]
    session = _session_of(request)
    if session is None:
        raise web.HTTPForbidden(text="API tokens have no password")
    body = await read_json_object(request, AUTH_BODY_BYTES)
    current = string_field(body, "current_password", 1024)
    new = string_field(body, "new_password", 1024)
    # Guessing the current password from a stolen session is throttled like a login.
    throttle = request.app[THROTTLE_KEY]
    verdict = await throttle.async_reserve(request.remote, session.user.name)
    if (wait := verdict.locked_for) > 0:
        raise web.HTTPTooManyRequests(
            text=f"too many wrong passwords; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    await asyncio.sleep(verdict.delay)
    if await async_authenticate(hub.storage, session.user.name, current) is None:
        await access.audit(request, "password.change_failed", session.user.name)
        raise web.HTTPForbidden(text="the current password is wrong")
    await throttle.async_release(request.remote, session.user.name)
    try:
        await async_set_password(hub.storage, session.user.name, new)
    except UserError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    await access.audit(request, "password.change", session.user.name)
    return await _start_session(request, session.user)
