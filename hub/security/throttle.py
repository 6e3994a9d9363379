"""Login throttling kept in SQLite: locks per (address, user) and per address, a delay per name."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from hub.security.names import normal_form
from hub.storage import Storage

MAX_TRACKED = 10_000
"""Rows kept at most, so a flood of made-up names from many addresses stays bounded."""
PRUNE_EVERY = 100
"""Failures between two prunes (the first failure after a start prunes too)."""
ADDRESS_FACTOR = 3
"""One address may fail this many times `max_failures` (over any names) before it is locked:
a household behind one NAT or reverse proxy shares an address and should not lock itself out
as quickly as one (address, user) pair does."""
NAME_FACTOR = 10
"""Failures for one user name from anywhere before logins for it are slowed down (never locked:
a lock would let anyone who knows the name keep its owner out)."""


def pair_key(address: str | None, name: str) -> str:
    """The key of one user name tried from one address."""
    return f"pair:{address or '?'}|{normal_form(name).casefold()}"


def address_key(address: str | None) -> str:
    """The key of everything tried from one address."""
    return f"address:{address or '?'}"


def name_key(name: str) -> str:
    """The key of one user name tried from anywhere."""
    return f"user:{normal_form(name).casefold()}"


@dataclass(frozen=True)
class Verdict:
    """What the throttle says about one login attempt."""

    locked_for: float = 0.0
    """Seconds until this address may try this name again (answer 429); 0 when free."""
    delay: float = 0.0
    """Seconds to wait before checking the password (the name is under attack); 0 normally."""
    lock_if_failed: float = 0.0
    """For a reserved attempt: the lock (seconds) its failure puts on this address (for this
    name, or for all names); taken back by `async_release` if the password was right."""


class LoginThrottle:
    """Counts failed logins in the `login_throttle` table, so a restart forgives nothing.

    - (address, user) pair: after `max_failures` failures it is locked for `base_lock`
      seconds, each further failure doubling that up to `max_lock`;
    - address: the same, after `ADDRESS_FACTOR` x `max_failures` failures over any names
      (guessing many names from one place);
    - user name: after `NAME_FACTOR` x `max_failures` failures from anywhere, every attempt
      for it waits `name_delay` seconds, doubling per further `max_failures` failures up to
      `name_max_delay`; it is never locked, so a stranger cannot keep its owner out.

    A success clears its pair only: an address or a name under attack stays counted until
    it has been quiet for `forget_after` seconds. All writes go through the storage writer,
    so concurrent failures are counted exactly.

    A login reserves its attempt (`async_reserve`: checked and counted as a failure in one
    transaction) before the password is hashed, and gives it back if the password was
    right (`async_release`): however many guesses arrive at once, no more than the limit
    are ever checked.
    """

    def __init__(
        self,
        storage: Storage,
        max_failures: int = 5,
        base_lock: float = 30.0,
        max_lock: float = 3600.0,
        forget_after: float = 3600.0,
        name_delay: float = 1.0,
        name_max_delay: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        self.storage = storage
        self.max_failures = max_failures
        self.base_lock = base_lock
        self.max_lock = max_lock
        self.forget_after = forget_after
        self.name_delay = name_delay
        self.name_max_delay = name_max_delay
        # Wall-clock time: lock ends are stored and must mean the same after a restart.
        self.clock = clock
        self._writes = 0

    def _thresholds(self, address: str | None, name: str) -> dict[str, int]:
        return {
            pair_key(address, name): self.max_failures,
            address_key(address): self.max_failures * ADDRESS_FACTOR,
        }

    async def async_check(self, address: str | None, name: str) -> Verdict:
        """May `address` try to sign in as `name` now, and after what delay?"""
        keys = [*self._thresholds(address, name), name_key(name)]
        now = self.clock()
        rows = await self.storage.async_read(lambda db: _load(db, keys))
        locked = max(
            [0.0, *(r["locked_until"] - now for k, r in rows.items() if k != name_key(name))]
        )
        named = rows.get(name_key(name))
        delay = 0.0
        if named is not None and now - named["last_failure"] <= self.forget_after:
            delay = self._name_delay(int(named["failures"]))
        return Verdict(locked_for=locked, delay=delay)

    async def async_reserve(self, address: str | None, name: str) -> Verdict:
        """Check an attempt and, unless it is refused, count it as a failure now, before the
        password is checked; a right password then calls `async_release`. The verdict's delay
        is the one in force before this attempt."""
        now = self.clock()
        thresholds = {**self._thresholds(address, name), name_key(name): 0}
        self._writes += 1
        prune = self._writes % PRUNE_EVERY == 1
        return await self.storage.async_write(
            lambda db: self._reserve(db, thresholds, name_key(name), now, prune)
        )

    def _reserve(
        self,
        db: sqlite_utils.Database,
        thresholds: dict[str, int],
        named_key: str,
        now: float,
        prune: bool,
    ) -> Verdict:
        rows = _load(db, list(thresholds))
        locked = max([0.0, *(r["locked_until"] - now for k, r in rows.items() if k != named_key)])
        if locked > 0:
            return Verdict(locked_for=locked)
        named = rows.get(named_key)
        delay = 0.0
        if named is not None and now - named["last_failure"] <= self.forget_after:
            delay = self._name_delay(int(named["failures"]))
        return Verdict(delay=delay, lock_if_failed=self._count(db, thresholds, now, prune))

    async def async_release(self, address: str | None, name: str) -> None:
        """A reserved attempt had the right password: clear its pair and take it off the
        address's and the name's counts (with a lock only it had brought on)."""
        thresholds = {address_key(address): self.max_failures * ADDRESS_FACTOR, name_key(name): 0}
        pair = pair_key(address, name)

        def release(db: sqlite_utils.Database) -> None:
            db.execute("DELETE FROM login_throttle WHERE key = ?", [pair])
            for key, row in _load(db, list(thresholds)).items():
                failures = max(0, int(row["failures"]) - 1)
                locked_until = float(row["locked_until"])
                if failures < thresholds[key]:
                    locked_until = 0.0  # a lock needs that many failures; this one was not
                if failures == 0:
                    db.execute("DELETE FROM login_throttle WHERE key = ?", [key])
                    continue
                db.execute(
                    "UPDATE login_throttle SET failures = ?, locked_until = ? WHERE key = ?",
                    [failures, locked_until, key],
                )

        await self.storage.async_write(release)

    def _name_delay(self, failures: int) -> float:
        over = failures - self.max_failures * NAME_FACTOR
        if over < 0:
            return 0.0
        return float(
            min(self.name_max_delay, self.name_delay * 2 ** min(over // self.max_failures, 32))
        )

    async def async_failed(self, address: str | None, name: str) -> float:
        """Count a failure; returns the lock (seconds) now in force for this pair, if any."""
        now = self.clock()
        thresholds = {**self._thresholds(address, name), name_key(name): 0}
        self._writes += 1
        prune = self._writes % PRUNE_EVERY == 1
        return await self.storage.async_write(lambda db: self._count(db, thresholds, now, prune))

    def _count(
        self, db: sqlite_utils.Database, thresholds: dict[str, int], now: float, prune: bool
    ) -> float:
        """On the writer: bump each key's counter and set its lock (threshold 0: never locks)."""
        rows = _load(db, list(thresholds))
        locked = 0.0
        for key, threshold in thresholds.items():
            row = rows.get(key) or {"failures": 0, "locked_until": 0.0, "last_failure": now}
            failures = int(row["failures"])
            if now - float(row["last_failure"]) > self.forget_after:
                failures = 0
            failures += 1
            locked_until = float(row["locked_until"])
            if threshold and failures >= threshold:
                over = failures - threshold
                locked_until = now + min(self.max_lock, self.base_lock * 2 ** min(over, 32))
            db.execute(
                "INSERT OR REPLACE INTO login_throttle (key, failures, locked_until, last_failure)"
                " VALUES (?, ?, ?, ?)",
                [key, failures, locked_until, now],
            )
            if threshold:
                locked = max(locked, locked_until - now)
        if prune:
            _prune(db, now, self.forget_after)
        return locked

    async def async_succeeded(self, address: str | None, name: str) -> None:
        """A good login clears its own pair (not the address's or the name's count)."""
        key = pair_key(address, name)
        await self.storage.async_write(
            lambda db: db.execute("DELETE FROM login_throttle WHERE key = ?", [key])
        )


def _load(db: sqlite_utils.Database, keys: list[str]) -> dict[str, dict[str, Any]]:
    marks = ", ".join("?" for _ in keys)
    sql = f"SELECT * FROM login_throttle WHERE key IN ({marks})"
    return {str(r["key"]): dict(r) for r in db.query(sql, keys)}


def _prune(db: sqlite_utils.Database, now: float, forget_after: float) -> None:
    """Drop rows that are quiet and unlocked, then the oldest ones while over MAX_TRACKED."""
    db.execute(
        "DELETE FROM login_throttle WHERE last_failure < ? AND locked_until < ?",
        [now - forget_after, now],
    )
    db.execute(
        "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle "
        "ORDER BY last_failure DESC, rowid DESC LIMIT -1 OFFSET ?)",
        [MAX_TRACKED],
    )


def migrate(db: sqlite_utils.Database) -> None:
    """The `login_throttle` table (core migration `core:0005_login_throttle`)."""
    db.table("login_throttle").create(
        {"key": str, "failures": int, "locked_until": float, "last_failure": float},
        pk="key",
        not_null={"failures", "locked_until", "last_failure"},
    )
    db.table("login_throttle").create_index(["last_failure"])
