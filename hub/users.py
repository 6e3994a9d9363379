"""Users and password hashing (scrypt, a memory-hard KDF from the standard library)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Literal

import sqlite_utils

from hub.storage import Storage

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")
# 16 MiB of memory per hash: slow for an attacker's GPU, fine on a Raspberry Pi.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 8


class UserError(Exception):
    """A user could not be created or changed; the message says why."""


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


async def async_add_user(storage: Storage, name: str, password: str, role: Role) -> int:
    """Create a user; raises UserError for a taken name, a bad role or a short password."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)} (got '{role}')")
    if not name or len(name) > 64 or not name.isprintable() or name.strip() != name:
        raise UserError("user name must be 1-64 printable characters without edge spaces")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    hashed = hash_password(password)

    def insert(db: sqlite_utils.Database) -> int:
        if db.table("users").count_where("name = ?", [name]):
            raise UserError(f"user '{name}' already exists")
        table = db.table("users").insert(
            {"name": name, "password_hash": hashed, "role": role, "created": time.time()}
        )
        return int(table.last_pk or 0)

    return await storage.async_write(insert)
