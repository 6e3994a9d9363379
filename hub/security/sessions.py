"""Login sessions and API tokens: random secrets handed out once, stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

import sqlite_utils

from hub.errors import HubError
from hub.security.users import User, user_from_row
from hub.storage import Storage

_LOGGER = logging.getLogger(__name__)
Scope = Literal["read", "events", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "events", "admin")
TOKEN_PREFIX = "chb_"
# Writing last_seen on every request would make each page view a disk write.
TOUCH_EVERY_SECONDS = 60.0


def secret_hash(secret: str) -> str:
    """SHA-256 hex: secrets are 256 random bits, so a fast hash is enough (no guessing)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_of(secret: str) -> str:
    """A session's CSRF token, derived from its cookie value (HMAC-SHA256), so it is never
    stored: a copied database holds no token to forge writes with, and a page that cannot
    read the HttpOnly cookie cannot compute it."""
    digest = hmac.new(secret.encode(), b"camhub csrf token", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose it is, its CSRF token and when it ends."""

    key: str
    """Hash of the cookie value (the row id)."""
    user: User
    csrf_token: str
    created: float
    expires: float


class SessionStore:
    """Sessions in SQLite, so they survive a restart and an admin can end them."""

    def __init__(
        self,
        storage: Storage,
        idle_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
    ):
        self.storage = storage
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock

    async def async_create(
        self, user: User, address: str | None = None, user_agent: str = ""
    ) -> tuple[str, Session]:
        """A fresh session for `user`: (cookie value, session). Always a new id, so a
        session id planted before login is worth nothing after it."""
        secret = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(
            key=secret_hash(secret),
            user=user,
            csrf_token=csrf_token_of(secret),
            created=now,
            expires=now + self.max_seconds,
        )
        row = {
            "id": session.key,
            "user_id": user.id,
            "csrf_token": "",  # derived from the cookie on each request, never stored
            "created": now,
            "last_seen": now,
            "expires": session.expires,
            "address": address,
            "user_agent": user_agent[:200],
        }

        def insert(db: sqlite_utils.Database) -> None:
            # Expired rows go whenever someone signs in: no separate sweeper needed.
            db.execute(
                "DELETE FROM sessions WHERE expires < ? OR last_seen < ?",
                [now, now - self.idle_seconds],
            )
            db.table("sessions").insert(row)

        await self.storage.async_write(insert)
        return secret, session

    async def async_lookup(self, secret: str) -> Session | None:
        """The live session for a cookie value, or None (unknown, expired, idle, disabled)."""
        key = secret_hash(secret)
        rows = await self.storage.async_read(
            lambda db: [
                dict(r)
                for r in db.query(
                    "SELECT s.created, s.last_seen, s.expires, u.* "
                    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?",
                    [key],
                )
            ]
        )
        if not rows:
            return None
        row = rows[0]
        now = self.clock()
        if row["expires"] < now or row["last_seen"] + self.idle_seconds < now:
            await self.async_revoke(secret)
            return None
        user = user_from_row(row)
        if user.disabled:
            return None
        if now - row["last_seen"] > TOUCH_EVERY_SECONDS:
            await self.storage.async_write(
                lambda db: db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", [now, key])
            )
        return Session(key, user, csrf_token_of(secret), row["created"], row["expires"])

    async def async_revoke(self, secret: str) -> None:
        """End one session (logout)."""
        key = secret_hash(secret)
        await self.storage.async_write(
            lambda db: db.execute("DELETE FROM sessions WHERE id = ?", [key])
        )

    async def async_revoke_user(self, user_id: int) -> int:
        """End every session of a user; returns how many there were."""
        return await self.storage.async_write(
            lambda db: int(db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id]).rowcount)
        )

    async def async_count_user(self, user_id: int) -> int:
        """Sessions a user has now (expired ones included until swept)."""
        return await self.storage.async_read(
            lambda db: int(db.table("sessions").count_where("user_id = ?", [user_id]))
        )


@dataclass(frozen=True)
class ApiToken:
    """A token for scripts and integrations; the secret itself is shown once, at creation.

    A token acts for the user who made it (`maker`) and never with more than that user's
    rights now: it stops when the maker is deleted or disabled, and an `admin` token of a
    maker since demoted reads like a `read` token limited to the maker's cameras.
    """

    id: int
    name: str
    scopes: tuple[Scope, ...]
    cameras: tuple[str, ...] = ()
    """Cameras a non-admin token may see; empty means all (of the maker's)."""
    created_by: str = ""
    created: float = 0.0
    last_used: float | None = None
    expires: float | None = None
    user_id: int | None = None
    """The maker's user id; a token without a live maker does nothing."""
    maker: User | None = None
    """The maker as they are now (set by `async_lookup_token`)."""

    @property
    def effective_scopes(self) -> tuple[Scope, ...]:
        """The scopes this token may use now: `admin` only while its maker is an admin."""
        if "admin" not in self.scopes or (self.maker is not None and self.maker.role == "admin"):
            return self.scopes
        narrowed = {s for s in self.scopes if s != "admin"} | {"read"}
        return tuple(s for s in SCOPES if s in narrowed)

    def visible_cameras(self, all_cameras: Iterable[str]) -> frozenset[str]:
        """Cameras the token may see: its own list (or all), within its maker's grants."""
        seen = frozenset(self.cameras) if self.cameras else frozenset(all_cameras)
        if self.maker is not None and self.maker.role != "admin":
            seen &= frozenset(self.maker.cameras)
        return seen

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the API (no secret, no hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "cameras": list(self.cameras),
            "created_by": self.created_by,
            "created": self.created,
            "last_used": self.last_used,
            "expires": self.expires,
        }


class TokenError(HubError):
    """A token could not be created; the message says why."""


def forget_stored_csrf_tokens(db: sqlite_utils.Database) -> None:
    """CSRF tokens are derived from the session cookie now (core migration
    `core:0008_csrf_derived`): blank the ones older versions stored in plain text."""
    db.execute("UPDATE sessions SET csrf_token = ''")


def migrate_token_makers(db: sqlite_utils.Database) -> None:
    """Bind each token to its maker's user id (core migration `core:0007_token_makers`).

    Older tokens name their maker in `created_by` (a user, or `token:NAME` when made with
    a token). A token whose maker cannot be found any more is deleted: it would act for
    nobody, and a token must never outlive the person who made it.
    """
    db.table("api_tokens").add_column("user_id", int)
    db.table("api_tokens").create_index(["user_id"])
    users = {str(r["name"]): int(r["id"]) for r in db.query("SELECT id, name FROM users")}
    tokens = [dict(r) for r in db.query("SELECT id, name, created_by FROM api_tokens ORDER BY id")]
    makers: dict[int, int] = {}
    for _ in range(len(tokens)):  # tokens made with tokens resolve once their parent has
        for token in tokens:
            if token["id"] in makers:
                continue
            by = str(token["created_by"] or "")
            parent = next(
                (t["id"] for t in tokens if by == f"token:{t['name']}" and t["id"] in makers),
                None,
            )
            maker = users.get(by) if parent is None else makers[parent]
            if maker is not None:
                makers[token["id"]] = maker
    for token in tokens:
        if token["id"] in makers:
            db.execute(
                "UPDATE api_tokens SET user_id = ? WHERE id = ?", [makers[token["id"]], token["id"]]
            )
        else:
            _LOGGER.warning(
                "API token %r (made by %r) is revoked: its maker is gone",
                token["name"],
                token["created_by"],
            )
            db.execute("DELETE FROM api_tokens WHERE id = ?", [token["id"]])


def _token_from_row(row: dict[str, Any]) -> ApiToken:
    scopes = tuple(s for s in json.loads(row["scopes"] or "[]") if s in SCOPES)
    return ApiToken(
        id=int(row["id"]),
        name=str(row["name"]),
        scopes=scopes,
        cameras=tuple(json.loads(row.get("cameras") or "[]")),
        created_by=str(row.get("created_by") or ""),
        created=float(row["created"]),
        last_used=row.get("last_used"),
        expires=row.get("expires"),
        user_id=int(row["user_id"]) if row.get("user_id") is not None else None,
    )


async def async_create_token(
    storage: Storage,
    name: str,
    scopes: Iterable[str],
    user_id: int,
    cameras: Iterable[str] = (),
    created_by: str = "",
    expires: float | None = None,
) -> tuple[str, ApiToken]:
    """A new token acting for user `user_id`: (secret to hand out once, its record)."""
    wanted = sorted(set(scopes))
    if not wanted or any(s not in SCOPES for s in wanted):
        raise TokenError(f"scopes must be a non-empty list from {', '.join(SCOPES)}")
    if not name or len(name) > 64 or not name.isprintable():
        raise TokenError("token name must be 1-64 printable characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {
        "name": name,
        "token_hash": secret_hash(secret),
        "scopes": json.dumps(wanted),
        "cameras": json.dumps(sorted(set(cameras))),
        "created_by": created_by,
        "created": time.time(),
        "expires": expires,
        "user_id": user_id,
    }

    def insert(db: sqlite_utils.Database) -> int:
        if not db.table("users").count_where("id = ? AND disabled = 0", [user_id]):
            raise TokenError("only an enabled user can make a token")
        return int(db.table("api_tokens").insert(row).last_pk or 0)

    token_id = await storage.async_write(insert)
    return secret, _token_from_row({**row, "id": token_id})


async def async_list_tokens(storage: Storage) -> list[ApiToken]:
    """Every token, oldest first."""
    rows = await storage.async_read(
        lambda db: [dict(r) for r in db.query("SELECT * FROM api_tokens ORDER BY id")]
    )
    return [_token_from_row(r) for r in rows]


async def async_revoke_token(storage: Storage, token_id: int) -> ApiToken | None:
    """Delete a token; returns what it was, or None if there was no such token."""

    def delete(db: sqlite_utils.Database) -> ApiToken | None:
        rows = [dict(r) for r in db.query("SELECT * FROM api_tokens WHERE id = ?", [token_id])]
        if not rows:
            return None
        db.execute("DELETE FROM api_tokens WHERE id = ?", [token_id])
        return _token_from_row(rows[0])

    return await storage.async_write(delete)


async def async_lookup_token(storage: Storage, secret: str) -> ApiToken | None:
    """The live token for a bearer secret with its maker as they are now, or None (unknown,
    expired, or its maker deleted or disabled). Checked on every use: a change to the maker
    applies to the next request."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    key = secret_hash(secret)
    rows = await storage.async_read(
        lambda db: [
            dict(r)
            for r in db.query(
                "SELECT t.*, u.id AS maker_id, u.name AS maker_name, u.role AS maker_role, "
                "u.cameras AS maker_cameras, u.disabled AS maker_disabled, "
                "u.created AS maker_created "
                "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                [key],
            )
        ]
    )
    if not rows:
        return None
    row = rows[0]
    maker = user_from_row({k[len("maker_") :]: v for k, v in row.items() if k.startswith("maker_")})
    if maker.disabled:
        return None
    token = replace(_token_from_row(row), maker=maker)
    now = time.time()
    if token.expires is not None and token.expires < now:
        return None
    if token.last_used is None or now - token.last_used > TOUCH_EVERY_SECONDS:
        await storage.async_write(
            lambda db: db.execute(
                "UPDATE api_tokens SET last_used = ? WHERE id = ?", [now, token.id]
            )
        )
    return token
