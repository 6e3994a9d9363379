"""The notification outbox: every message is stored first, then delivered with retries.

A row goes `pending` -> `sending` -> `delivered`, or `failed` (permanent error, unknown
notifier, or still undelivered after `max_age`), or `dropped` (cool-down). A row is
marked `sending` before the notifier is called, and `sending` rows are pending again
after a restart: a crash between send and mark can deliver a message twice, so
notifiers send the message id as an idempotency key for receivers to drop the copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from hub.events import Context
from hub.footage.store import UNREADABLE_ERRORS, FootageError
from hub.idle import Pending
from hub.notify.message import Message, PermanentNotifyError
from hub.tasks import OwnedTasks

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)

TABLE = "notifications"
STATES = ("pending", "sending", "delivered", "failed", "dropped")
BACKOFF_FIRST = 2.0
BACKOFF_MAX = 600.0
MAX_AGE = 24 * 3600.0
SEND_TIMEOUT = 120.0
"""A guard around one `async_send`; notifiers have their own, shorter, timeouts."""
RATE_PER_MINUTE = 10
SNAPSHOT_DIR = "notifications"


def backoff_delay(attempts: int) -> float:
    """Seconds before try `attempts + 1`: doubling from BACKOFF_FIRST, capped, with jitter."""
    base: float = min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, attempts - 1))
    return float(min(BACKOFF_MAX, base * random.uniform(0.75, 1.25)))


@dataclass
class TokenBucket:
    """At most `per_minute` sends a minute on average, in bursts of up to `per_minute`."""

    per_minute: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.per_minute

    def wait(self) -> float:
        """Seconds until a token is free (0 when one is free now)."""
        now = time.monotonic()
        self.tokens = min(self.per_minute, self.tokens + (now - self.stamp) * self.per_minute / 60)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) * 60 / self.per_minute

    def take(self) -> None:
        """Use one token (call after `wait()` returned 0)."""
        self.tokens -= 1


def _insert(db: sqlite_utils.Database, row: dict[str, Any], cooldown: float | None) -> bool:
    """Insert `row`, as `dropped` if its automation notified this notifier within `cooldown`."""
    if cooldown and row["automation_id"]:
        last = db.execute(
            f"select max(created) from {TABLE} where automation_id = ? and notifier = ? "
            "and state != 'dropped'",
            [row["automation_id"], row["notifier"]],
        ).fetchone()[0]
        if last is not None and row["created"] - last < cooldown:
            row.update(
                state="dropped",
                snapshot=None,
                next_attempt=None,
                error=f"cool-down: automation {row['automation_id']} notified "
                f"{row['notifier']} {row['created'] - last:.0f} s ago (cool-down {cooldown:g} s)",
            )
    db.table(TABLE).insert(row)
    return bool(row["state"] == "pending")


class Outbox:
    """Stores notifications and delivers them through `hub.notifiers`, one at a time each."""

    def __init__(self, hub: Hub, max_age: float = MAX_AGE):
        self.hub = hub
        self.max_age = max_age
        self._wake = asyncio.Event()
        self._sends = OwnedTasks("outbox", _LOGGER)
        self._sending: set[str] = set()
        """Notifiers with a delivery under way (one at a time each)."""
        self._buckets: dict[str, TokenBucket] = {}
        self._runner: asyncio.Task[None] | None = None
        # Done when the sender has looked at the table since it was last woken.
        self._looked: asyncio.Future[None] | None = None
        self._looking = False

    # ---------------------------------------------------------- lifecycle

    async def async_start(self) -> None:
        """Make rows left `sending` by a crash pending again and start the sender."""
        now = time.time()
        resumed = await self.hub.storage.async_write(
            lambda db: (
                db.execute(
                    f"update {TABLE} set state = 'pending', next_attempt = ?, updated = ? "
                    "where state = 'sending'",
                    [now, now],
                ).rowcount
            )
        )
        if resumed:
            _LOGGER.warning("Resending %d notification(s) interrupted by a stop", resumed)
        self._runner = self.hub.async_create_background_task(self._async_run(), "outbox")

    async def async_stop(self) -> None:
        """Stop sending; a send cut short stays `sending` and is retried after a restart."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
        self._sends.cancel()
        if runner is not None:
            await asyncio.gather(runner, return_exceptions=True)
        await self._sends.async_cancel()

    def pending(self) -> list[Pending]:
        """Sends under way, and a look at the table when woken (see `hub.idle`); a row
        waiting for its retry or a rate-limit token is not pending."""
        found = [Pending(f"task {task.get_name()}", task) for task in self._sends]
        awake = self._wake.is_set() or self._looking
        if self._runner is not None and not self._runner.done() and awake:
            if self._looked is None or self._looked.done():
                self._looked = asyncio.get_running_loop().create_future()
            found.append(Pending("outbox: due notifications", self._looked))
        return found

    # ---------------------------------------------------------- public API

    async def async_enqueue(
        self,
        notifier_id: str,
        message: Message,
        automation_id: str | None = None,
        cooldown: float | None = None,
    ) -> str | None:
        """Store `message` for `notifier_id`; returns its id, or None if dropped by cool-down.

        With `automation_id` and `cooldown` (seconds), a message is dropped (and logged as
        `dropped`) when the same automation notified the same notifier less than
        `cooldown` seconds ago.
        """
        now = time.time()
        snapshot = None
        if message.snapshot_jpeg:
            snapshot = f"{SNAPSHOT_DIR}/{message.id}.jpg"
            await asyncio.to_thread(self._write_snapshot, snapshot, message.snapshot_jpeg)
        row: dict[str, Any] = {
            "id": message.id,
            "notifier": notifier_id,
            "title": message.title,
            "body": message.body,
            "priority": message.priority,
            "tags": json.dumps(list(message.tags)),
            "clip_url": message.clip_url,
            "event_id": message.event_id,
            "context_id": message.context.id,
            "automation_id": automation_id,
            "snapshot": snapshot,
            "state": "pending",
            "attempts": 0,
            "next_attempt": now,
            "created": now,
            "updated": now,
            "delivered_at": None,
            "error": None,
        }
        queued = await self.hub.storage.async_write(lambda db: _insert(db, row, cooldown))
        if not queued:
            _LOGGER.info("Notification %s dropped: %s", message.id, row["error"])
            if snapshot is not None:
                await asyncio.to_thread(self.hub.footage.delete, snapshot)
            return None
        self._wake.set()
        return message.id

    async def async_list(
        self, state: str | None = None, notifier: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The delivery log, newest first."""
        where, params = [], []
        if state:
            where.append("state = ?")
            params.append(state)
        if notifier:
            where.append("notifier = ?")
            params.append(notifier)

        def read(db: sqlite_utils.Database) -> list[dict[str, Any]]:
            return list(
                db.table(TABLE).rows_where(
                    " and ".join(where) or None,
                    params,
                    order_by="created desc, rowid desc",
                    limit=limit,
                )
            )

        rows = await self.hub.storage.async_read(read)
        for row in rows:
            row["tags"] = json.loads(row["tags"] or "[]")
        return rows

    async def async_get(self, message_id: str) -> dict[str, Any] | None:
        """One row of the delivery log, or None."""
        rows = await self.hub.storage.async_read(
            lambda db: list(db.table(TABLE).rows_where("id = ?", [message_id]))
        )
        return rows[0] if rows else None

    # ---------------------------------------------------------- sender

    def _write_snapshot(self, relpath: str, jpeg: bytes) -> None:
        file = self.hub.footage.create(relpath)
        try:
            file.write(jpeg)
        except BaseException:
            file.abort()
            raise
        file.finish()

    def _bucket(self, notifier_id: str) -> TokenBucket:
        bucket = self._buckets.get(notifier_id)
        if bucket is None:
            notifier = self.hub.notifiers.get(notifier_id)
            rate = getattr(notifier, "rate_per_minute", None) or RATE_PER_MINUTE
            bucket = self._buckets[notifier_id] = TokenBucket(float(rate))
        return bucket

    async def _async_run(self) -> None:
        try:
            while True:
                self._wake.clear()
                self._looking = True
                try:
                    timeout = await self._async_start_due()
                finally:
                    self._looking = False
                if not self._wake.is_set():
                    self._looked_done()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            self._looked_done()

    def _looked_done(self) -> None:
        if self._looked is not None and not self._looked.done():
            self._looked.set_result(None)

    async def _async_start_due(self) -> float | None:
        """Start a send for each idle notifier's oldest due row; seconds until more are due."""
        now = time.time()
        rows = await self.hub.storage.async_read(
            lambda db: list(
                db.query(
                    f"select * from {TABLE} where state = 'pending' "
                    # Due rows oldest first, then the others soonest due first.
                    "order by next_attempt > ?, "
                    "case when next_attempt > ? then next_attempt else created end, rowid",
                    [now, now],
                )
            )
        )
        timeout: float | None = None
        seen: set[str] = set()
        for row in rows:
            notifier_id = row["notifier"]
            if notifier_id in seen:
                continue
            seen.add(notifier_id)
            wait = max(0.0, row["next_attempt"] - now)
            if notifier_id not in self._sending and wait == 0:
                wait = self._bucket(notifier_id).wait()
                if wait == 0:
                    self._bucket(notifier_id).take()
                    self._sending.add(notifier_id)
                    self._sends.spawn(self._async_deliver(row), f"outbox:{notifier_id}")
                    continue
            if notifier_id not in self._sending:
                timeout = wait if timeout is None else min(timeout, wait)
        return timeout

    async def _async_deliver(self, row: dict[str, Any]) -> None:
        try:
            await self._async_deliver_row(row)
        except Exception:
            _LOGGER.exception("Outbox could not record the delivery of %s", row["id"])
        finally:
            self._sending.discard(row["notifier"])
            self._wake.set()

    async def _async_deliver_row(self, row: dict[str, Any]) -> None:
        message_id = row["id"]
        notifier = self.hub.notifiers.get(row["notifier"])
        if notifier is None:
            await self._async_finish(row, "failed", f"unknown notifier {row['notifier']!r}")
            return
        attempts = row["attempts"] + 1
        await self._async_update(message_id, state="sending", attempts=attempts)
        try:
            message = await self._async_message(row)
            await asyncio.wait_for(notifier.async_send(message), SEND_TIMEOUT)
        except PermanentNotifyError as exc:
            await self._async_finish(row, "failed", self.hub.redactor(f"permanent: {exc}"))
            return
        except Exception as exc:
            reason = self.hub.redactor(str(exc) or type(exc).__name__)
            if isinstance(exc, TimeoutError):
                reason = f"timed out after {SEND_TIMEOUT:g} s"
            if time.time() - row["created"] >= self.max_age:
                await self._async_finish(
                    row, "failed", f"gave up after {attempts} attempt(s): {reason}"
                )
                return
            delay = backoff_delay(attempts)
            _LOGGER.warning(
                "Notification %s via %s failed (%s); retry in %.0f s",
                message_id,
                row["notifier"],
                reason,
                delay,
            )
            await self._async_update(
                message_id, state="pending", next_attempt=time.time() + delay, error=reason
            )
            return
        await self._async_finish(row, "delivered", None)

    async def _async_message(self, row: dict[str, Any]) -> Message:
        snapshot = None
        if row["snapshot"] and self.hub.footage.exists(row["snapshot"]):
            try:
                snapshot = await asyncio.to_thread(self.hub.footage.read_bytes, row["snapshot"])
            except (FootageError, *UNREADABLE_ERRORS) as exc:
                # Sealed and locked (or damaged): the message still goes, without the picture.
                _LOGGER.warning("Notification %s sent without its snapshot: %s", row["id"], exc)
        return Message(
            title=row["title"] or "",
            body=row["body"] or "",
            priority=row["priority"] or 3,
            tags=tuple(json.loads(row["tags"] or "[]")),
            snapshot_jpeg=snapshot,
            clip_url=row["clip_url"],
            event_id=row["event_id"],
            context=Context(id=row["context_id"]) if row["context_id"] else Context(),
            id=row["id"],
        )

    async def _async_finish(self, row: dict[str, Any], state: str, error: str | None) -> None:
        now = time.time()
        if state == "failed":
            _LOGGER.error("Notification %s via %s failed: %s", row["id"], row["notifier"], error)
        await self._async_update(
            row["id"],
            state=state,
            error=error,
            next_attempt=None,
            delivered_at=now if state == "delivered" else None,
            snapshot=None,
        )
        if row["snapshot"]:
            # The picture was only kept to be sent: footage does not linger in the outbox.
            await asyncio.to_thread(self.hub.footage.delete, row["snapshot"])

    async def _async_update(self, message_id: str, **values: Any) -> None:
        values["updated"] = time.time()
        await self.hub.storage.async_write(lambda db: db.table(TABLE).update(message_id, values))
