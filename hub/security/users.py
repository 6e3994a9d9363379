"""Users: roles, per-camera grants and password hashing (scrypt, a memory-hard KDF)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlite_utils

from hub.errors import ErrorKind, HubError
from hub.security.names import NameProblem, checked_name, normal_form, skeleton
from hub.storage import Storage

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
# 16 MiB of memory per hash: slow for an attacker's GPU, fine on a Raspberry Pi.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8
# scrypt reads all of it: a megabyte password must not cost a megabyte of hashing per try.
MAX_PASSWORD_LENGTH = 1024


class UserError(HubError):
    """A user could not be created or changed; the message says why, `kind` what kind."""


class UnknownUserError(UserError):
    """No user has that name."""

    kind = ErrorKind.NOT_FOUND


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, base64 parts."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True if `password` matches a hash made by hash_password (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class User:
    """A person who may sign in; `cameras` are a viewer's grants (admins see everything)."""

    id: int
    name: str
    role: Role
    cameras: tuple[str, ...] = ()
    disabled: bool = False
    created: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the API (never the password hash)."""
        return {
            "name": self.name,
            "role": self.role,
            "cameras": list(self.cameras),
            "disabled": self.disabled,
            "created": self.created,
        }


def user_from_row(row: dict[str, Any]) -> User:
    """A User from a `users` row."""
    try:
        cameras = tuple(str(c) for c in json.loads(row.get("cameras") or "[]"))
    except ValueError:
        cameras = ()  # an unreadable grant list grants nothing
    role: Role = "admin" if row["role"] == "admin" else "viewer"
    return User(
        id=int(row["id"]),
        name=str(row["name"]),
        role=role,
        cameras=cameras,
        disabled=bool(row.get("disabled")),
        created=float(row.get("created") or 0.0),
    )


def _checked_name(name: str) -> str:
    try:
        return checked_name(name)
    except NameProblem as exc:
        raise UserError(str(exc)) from None


def _lookalike_of(db: sqlite_utils.Database, name: str) -> str | None:
    """An existing user's name that looks the same as `name` (case, width or script)."""
    wanted = skeleton(name)
    for row in db.query("SELECT name FROM users"):
        if skeleton(str(row["name"])) == wanted:
            return str(row["name"])
    return None


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)} (got '{role}')")


def _grants(cameras: Iterable[str]) -> str:
    return json.dumps(sorted({str(c) for c in cameras}))


def _row(db: sqlite_utils.Database, name: str) -> dict[str, Any]:
    rows = _user_rows(db, name)
    if not rows:
        raise UnknownUserError(f"no user '{name}'")
    return rows[0]


def _enabled_admins(db: sqlite_utils.Database) -> int:
    return int(db.table("users").count_where("role = 'admin' AND disabled = 0"))


async def async_add_user(
    storage: Storage,
    name: str,
    password: str,
    role: Role,
    cameras: Iterable[str] = (),
    only_if_no_users: bool = False,
) -> int:
    """Create a user; raises UserError for a taken name, a bad role or a short password.

    `only_if_no_users` is the first-run setup: the check and the insert share one
    transaction on the writer, so two racing setups cannot both create an admin.
    The name is stored in NFKC form (see hub.security.names; `normal_form` gives it).
    """
    _check_role(role)
    name = _checked_name(name)
    _check_password(password)
    hashed = await asyncio.to_thread(hash_password, password)
    grants = _grants(cameras)

    def insert(db: sqlite_utils.Database) -> int:
        if only_if_no_users and db.table("users").count:
            raise UserError("setup is done already: a user exists", ErrorKind.CONFLICT)
        if db.table("users").count_where("name = ?", [name]):
            raise UserError(f"user '{name}' already exists", ErrorKind.CONFLICT)
        if (taken := _lookalike_of(db, name)) is not None:
            raise UserError(
                f"user '{name}' already exists: '{taken}' looks the same", ErrorKind.CONFLICT
            )
        table = db.table("users").insert(
            {
                "name": name,
                "password_hash": hashed,
                "role": role,
                "created": time.time(),
                "cameras": grants,
            }
        )
        return int(table.last_pk or 0)

    return await storage.async_write(insert)


async def async_count_users(storage: Storage) -> int:
    """How many users exist (0 means the first-run setup is open)."""
    return await storage.async_read(lambda db: int(db.table("users").count))


def _user_rows(db: sqlite_utils.Database, name: str) -> list[dict[str, Any]]:
    """The user called `name`: as typed, else in normal form (fullwidth `admin` is `admin`)."""
    for spelling in dict.fromkeys((name, normal_form(name))):
        rows = [dict(r) for r in db.query("SELECT * FROM users WHERE name = ?", [spelling])]
        if rows:
            return rows
    return []


async def async_get_user(storage: Storage, name: str) -> User | None:
    """One user by name."""
    rows = await storage.async_read(lambda db: _user_rows(db, name))
    return user_from_row(rows[0]) if rows else None


async def async_list_users(storage: Storage) -> list[User]:
    """Every user, by name."""
    rows = await storage.async_read(
        lambda db: [dict(r) for r in db.query("SELECT * FROM users ORDER BY name")]
    )
    return [user_from_row(r) for r in rows]


_DUMMY_HASH: list[str] = []


async def async_authenticate(storage: Storage, name: str, password: str) -> User | None:
    """The enabled user with this name and password, or None.

    An unknown name still costs one scrypt, so timing does not tell which names exist.
    """
    rows = await storage.async_read(lambda db: _user_rows(db, name))
    if not rows:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(await asyncio.to_thread(hash_password, secrets.token_hex(8)))
        await asyncio.to_thread(verify_password, password, _DUMMY_HASH[0])
        return None
    good = await asyncio.to_thread(verify_password, password, str(rows[0]["password_hash"]))
    user = user_from_row(rows[0])
    return user if good and not user.disabled else None


async def async_update_user(
    storage: Storage,
    name: str,
    role: Role | None = None,
    cameras: Iterable[str] | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role, grants or disabled flag; at least one enabled admin stays.

    Disabling a user or taking their admin role ends their sessions; disabling also
    revokes the API tokens they made.
    """
    if role is not None:
        _check_role(role)
    changes: dict[str, Any] = {}
    if role is not None:
        changes["role"] = role
    if cameras is not None:
        changes["cameras"] = _grants(cameras)
    if disabled is not None:
        changes["disabled"] = int(disabled)

    def update(db: sqlite_utils.Database) -> User:
        row = _row(db, name)
        if changes:
            db.table("users").update(row["id"], changes)
        if _enabled_admins(db) == 0:
            raise UserError("at least one enabled admin must remain")
        if disabled or (role == "viewer" and row["role"] == "admin"):
            db.execute("DELETE FROM sessions WHERE user_id = ?", [row["id"]])
        if disabled:
            # A token acts for its maker: a disabled maker's tokens end with them (a demoted
            # maker's are narrowed on each use instead, see hub.security.sessions.ApiToken).
            db.execute("DELETE FROM api_tokens WHERE user_id = ?", [row["id"]])
        return user_from_row(dict(next(db.query("SELECT * FROM users WHERE id = ?", [row["id"]]))))

    return await storage.async_write(update)


async def async_set_password(storage: Storage, name: str, password: str) -> int:
    """Set a new password and end every session of that user; returns sessions ended."""
    _check_password(password)
    hashed = await asyncio.to_thread(hash_password, password)

    def update(db: sqlite_utils.Database) -> int:
        row = _row(db, name)
        db.table("users").update(row["id"], {"password_hash": hashed})
        return int(db.execute("DELETE FROM sessions WHERE user_id = ?", [row["id"]]).rowcount)

    return await storage.async_write(update)


async def async_delete_user(storage: Storage, name: str) -> None:
    """Delete a user, their sessions and the API tokens they made; the last enabled admin
    cannot go."""

    def delete(db: sqlite_utils.Database) -> None:
        row = _row(db, name)
        db.execute("DELETE FROM sessions WHERE user_id = ?", [row["id"]])
        db.execute("DELETE FROM api_tokens WHERE user_id = ?", [row["id"]])
        db.table("users").delete(row["id"])
        if _enabled_admins(db) == 0:
            raise UserError("at least one enabled admin must remain")

    await storage.async_write(delete)
