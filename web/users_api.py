"""User and API token management (admins): create, change, delete, reset, revoke."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from hub.security.names import normal_form
from hub.security.sessions import (
    SCOPES,
    TokenError,
    async_create_token,
    async_list_tokens,
    async_revoke_token,
)
from hub.security.users import (
    ROLES,
    Role,
    UserError,
    async_add_user,
    async_delete_user,
    async_get_user,
    async_list_users,
    async_set_password,
    async_update_user,
)
from web import access
from web.auth import SESSIONS_KEY
from web.body import read_json_object, string_field
from web.errors import http_error
from web.keys import HUB_KEY
from web.query import id_param

routes = web.RouteTableDef()
USER_BODY_BYTES = 16 * 1024


def _role(body: dict[str, Any], required: bool) -> Role | None:
    role = body.get("role")
    if role is None and not required:
        return None
    if role not in ROLES:
        raise web.HTTPBadRequest(text=f"'role' must be one of {', '.join(ROLES)}")
    return "admin" if role == "admin" else "viewer"


def _cameras(request: web.Request, body: dict[str, Any]) -> list[str] | None:
    """The `cameras` grant list, each one a configured camera (400 otherwise)."""
    cameras = body.get("cameras")
    if cameras is None:
        return None
    if not isinstance(cameras, list) or not all(isinstance(c, str) for c in cameras):
        raise web.HTTPBadRequest(text="'cameras' must be a list of camera ids")
    known = request.app[HUB_KEY].cameras
    unknown = [c for c in cameras if c not in known]
    if unknown:
        raise web.HTTPBadRequest(text=f"no camera {', '.join(repr(c) for c in unknown)}")
    return cameras


async def _user_json(request: web.Request, name: str) -> dict[str, Any]:
    hub = request.app[HUB_KEY]
    user = await async_get_user(hub.storage, name)
    if user is None:
        raise web.HTTPNotFound(text=f"no user '{name}'")
    data = user.as_dict()
    data["sessions"] = await request.app[SESSIONS_KEY].async_count_user(user.id)
    return data


@routes.get("/api/users")
@access.admin
async def list_users(request: web.Request) -> web.Response:
    """Every user: name, role, camera grants, disabled."""
    users = await async_list_users(request.app[HUB_KEY].storage)
    return web.json_response({"users": [u.as_dict() for u in users]})


@routes.post("/api/users")
@access.admin
async def create_user(request: web.Request) -> web.Response:
    """`{"username", "password", "role", "cameras"}` -> 201 with the user."""
    hub = request.app[HUB_KEY]
    body = await read_json_object(request, USER_BODY_BYTES)
    name = string_field(body, "username", 64)
    password = string_field(body, "password", 1024)
    role = _role(body, required=True)
    assert role is not None
    cameras = _cameras(request, body) or []
    try:
        await async_add_user(hub.storage, name, password, role, cameras)
    except UserError as exc:
        raise http_error(exc) from None
    name = normal_form(name)  # as stored
    await access.audit(request, "user.create", name, role=role, cameras=cameras)
    return web.json_response(await _user_json(request, name), status=201)


@routes.get("/api/users/{name}")
@access.admin
async def get_user(request: web.Request) -> web.Response:
    """One user, with how many sessions they have."""
    return web.json_response(await _user_json(request, request.match_info["name"]))


@routes.patch("/api/users/{name}")
@access.admin
async def update_user(request: web.Request) -> web.Response:
    """`{"role"?, "cameras"?, "disabled"?}`; disabling or demoting ends their sessions."""
    hub = request.app[HUB_KEY]
    name = request.match_info["name"]
    body = await read_json_object(request, USER_BODY_BYTES)
    unknown = set(body) - {"role", "cameras", "disabled"}
    if unknown:
        raise web.HTTPBadRequest(text=f"unknown field(s): {', '.join(sorted(unknown))}")
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise web.HTTPBadRequest(text="'disabled' must be true or false")
    role, cameras = _role(body, required=False), _cameras(request, body)
    try:
        await async_update_user(hub.storage, name, role, cameras, disabled)
    except UserError as exc:
        raise http_error(exc) from None
    await access.audit(request, "user.update", name, **body)
    return web.json_response(await _user_json(request, name))


@routes.delete("/api/users/{name}")
@access.admin
async def delete_user(request: web.Request) -> web.Response:
    """Delete a user and end their sessions (the last admin stays)."""
    hub = request.app[HUB_KEY]
    name = request.match_info["name"]
    try:
        await async_delete_user(hub.storage, name)
    except UserError as exc:
        raise http_error(exc) from None
    await access.audit(request, "user.delete", name)
    return web.json_response({"deleted": name})


@routes.post("/api/users/{name}/password")
@access.admin
async def reset_password(request: web.Request) -> web.Response:
    """`{"password"}`: set a user's password (ends all their sessions)."""
    hub = request.app[HUB_KEY]
    name = request.match_info["name"]
    body = await read_json_object(request, USER_BODY_BYTES)
    password = string_field(body, "password", 1024)
    try:
        revoked = await async_set_password(hub.storage, name, password)
    except UserError as exc:
        raise http_error(exc) from None
    await access.audit(request, "user.password_reset", name, sessions_ended=revoked)
    return web.json_response({"sessions_ended": revoked})


@routes.delete("/api/users/{name}/sessions")
@access.admin
async def revoke_sessions(request: web.Request) -> web.Response:
    """End every session of a user (they must sign in again)."""
    hub = request.app[HUB_KEY]
    name = request.match_info["name"]
    user = await async_get_user(hub.storage, name)
    if user is None:
        raise web.HTTPNotFound(text=f"no user '{name}'")
    revoked = await request.app[SESSIONS_KEY].async_revoke_user(user.id)
    await access.audit(request, "user.sessions_revoke", name, sessions_ended=revoked)
    return web.json_response({"sessions_ended": revoked})


@routes.get("/api/tokens")
@access.admin
async def list_tokens(request: web.Request) -> web.Response:
    """API tokens (never their secrets)."""
    tokens = await async_list_tokens(request.app[HUB_KEY].storage)
    return web.json_response({"tokens": [t.as_dict() for t in tokens], "scopes": list(SCOPES)})


@routes.post("/api/tokens")
@access.admin
async def create_token(request: web.Request) -> web.Response:
    """`{"name", "scopes", "cameras"?, "expires_days"?}` -> 201 with the secret, shown once."""
    hub = request.app[HUB_KEY]
    body = await read_json_object(request, USER_BODY_BYTES)
    name = string_field(body, "name", 64)
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise web.HTTPBadRequest(text=f"'scopes' must be a list from {', '.join(SCOPES)}")
    cameras = _cameras(request, body) or []
    days = body.get("expires_days")
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 3650
    ):
        raise web.HTTPBadRequest(text="'expires_days' must be a number of days (at most 3650)")
    expires = time.time() + float(days) * 86400 if days is not None else None
    who = access.principal(request)
    if who is None or who.user_id is None:
        raise web.HTTPForbidden(text="a token must be made by a signed-in user")
    try:
        secret, token = await async_create_token(
            hub.storage, name, scopes, who.user_id, cameras, who.name, expires
        )
    except TokenError as exc:
        raise http_error(exc) from None
    await access.audit(request, "token.create", name, id=token.id, scopes=list(token.scopes))
    return web.json_response({**token.as_dict(), "token": secret}, status=201)


@routes.delete("/api/tokens/{token_id:\\d+}")
@access.admin
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token: it stops working at once."""
    hub = request.app[HUB_KEY]
    token = await async_revoke_token(hub.storage, id_param(request, "token_id", "no such token"))
    if token is None:
        raise web.HTTPNotFound(text="no such token")
    await access.audit(request, "token.revoke", token.name, id=token.id)
    return web.json_response({"revoked": token.id})
