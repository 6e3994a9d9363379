"""Owner controls over stored footage: unlock sealed storage, erase a time range, export it.

All admin-only and audited: `storage.unlock` (and `storage.unlock.failed`),
`storage.lock`, `keys.rotate`, `footage.erase`, `footage.export`.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from typing import Any

from aiohttp import web

from hub.footage.export import async_plan_export, write_export
from hub.footage.keyring import KeyringError, WrongPassphrase
from hub.footage.store import LOCK_ENTITY, UNREADABLE_ERRORS, FootageLocked
from web import access
from web.body import read_json_object
from web.footage_stream import locked_error, require_unlocked
from web.keys import HUB_KEY

_LOGGER = logging.getLogger(__name__)
routes = web.RouteTableDef()
EXPORT_BLOCK = 256 * 1024
EXPORT_QUEUE = 16
MAX_PASSPHRASE = 1024


def _time_range(values: Any) -> tuple[float, float]:
    """`start` and `end` (seconds since the epoch) from a body or query; 400 unless start < end."""
    try:
        start, end = float(values["start"]), float(values["end"])
    except KeyError:
        raise web.HTTPBadRequest(text="start and end are required") from None
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text="start and end must be numbers (epoch seconds)") from None
    if not start < end:
        raise web.HTTPBadRequest(text="start must be before end")
    return start, end


def _cameras(request: web.Request, raw: Any) -> list[str] | None:
    """Optional camera filter: a list, or a comma-separated string; unknown ids are 404."""
    if raw in (None, "", []):
        return None
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise web.HTTPBadRequest(text="cameras must be a list of camera ids")
    known = request.app[HUB_KEY].cameras
    for name in names:
        if name not in known:
            raise web.HTTPNotFound(text=f"no camera '{name}'")
    return list(names)


@routes.get("/api/storage/encryption")
@access.admin
async def encryption_status(request: web.Request) -> web.Response:
    """Mode, lock state and key ids (never key material)."""
    keyring = request.app[HUB_KEY].footage.keyring
    return web.json_response(await asyncio.to_thread(keyring.status))


@routes.post("/api/storage/unlock")
@access.admin
async def unlock(request: web.Request) -> web.Response:
    """Open sealed footage with the passphrase; the key stays in memory until restart or lock."""
    body = await read_json_object(request)
    passphrase = body.get("passphrase")
    if not isinstance(passphrase, str) or not 0 < len(passphrase) <= MAX_PASSPHRASE:
        raise web.HTTPBadRequest(text="passphrase is required")
    keyring = request.app[HUB_KEY].footage.keyring
    if not any(k.kind == "sealed" for k in keyring.owner_keys()):
        raise web.HTTPConflict(text="there is no sealed key: nothing to unlock")
    try:
        opened = await asyncio.to_thread(keyring.unlock, passphrase)
    except WrongPassphrase:
        await access.audit(request, "storage.unlock.failed")
        raise web.HTTPForbidden(text="wrong passphrase") from None
    hub = request.app[HUB_KEY]
    # Tells whoever waits for readable footage (start-up repair of sealed segments).
    hub.states.async_set(LOCK_ENTITY, hub.footage.lock_state())
    await access.audit(request, "storage.unlock", keys=opened)
    return web.json_response({"locked": keyring.locked, "keys_unlocked": opened})


@routes.post("/api/storage/lock")
@access.admin
async def lock(request: web.Request) -> web.Response:
    """Forget the unlocked key: sealed footage is unreadable again until the next unlock."""
    keyring = request.app[HUB_KEY].footage.keyring
    keyring.lock()
    hub = request.app[HUB_KEY]
    hub.states.async_set(LOCK_ENTITY, hub.footage.lock_state())
    await access.audit(request, "storage.lock")
    return web.json_response({"locked": keyring.locked})


@routes.post("/api/storage/rotate")
@access.admin
async def rotate(request: web.Request) -> web.Response:
    """A new owner key; every file's key re-wrapped to it (the footage is not re-encrypted).

    Sealed footage must be unlocked first; a sealed key needs `new_passphrase`.
    """
    hub = request.app[HUB_KEY]
    body = await read_json_object(request)
    store = hub.footage
    if store.keyring.mode == "off":
        raise web.HTTPConflict(text="storage.encryption.mode is off: no key to rotate")
    require_unlocked(store)
    passphrase = body.get("new_passphrase")
    if store.keyring.mode == "sealed" and (
        not isinstance(passphrase, str) or not 0 < len(passphrase) <= MAX_PASSPHRASE
    ):
        raise web.HTTPBadRequest(text="new_passphrase is required for a sealed key")
    try:
        report = await asyncio.to_thread(store.rotate_keys, passphrase)
    except KeyringError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    current = store.keyring.current()
    await access.audit(request, "keys.rotate", current.key_id.hex() if current else "", **report)
    hub.states.async_set(LOCK_ENTITY, store.lock_state())
    return web.json_response({**report, "current_key": current.key_id.hex() if current else None})


@routes.post("/api/footage/erase")
@access.admin
async def erase(request: web.Request) -> web.Response:
    """Erase footage and events of a time range now (all cameras unless `cameras` is given).

    Events on legal hold (`keep`) and the footage around them stay.
    """
    body = await read_json_object(request)
    start, end = _time_range(body)
    cameras = _cameras(request, body.get("cameras"))
    result = await request.app[HUB_KEY].retention.async_erase(start, end, cameras)
    await access.audit(
        request, "footage.erase", f"{start}-{end}", start=start, end=end, cameras=cameras, **result
    )
    return web.json_response(result)


class _QueueWriter:
    """A write-only file object for the export thread; blocks (back-pressure) when the
    response is slower, and gives up once the response is gone."""

    def __init__(self, blocks: queue.Queue[bytes | BaseException | None], gone: threading.Event):
        self.blocks = blocks
        self.gone = gone
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        if len(self.buffer) >= EXPORT_BLOCK:
            self._put(bytes(self.buffer))
            self.buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Nothing: blocks go out when full, and at the end."""

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self.gone.is_set():
            try:
                self.blocks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue
        raise ConnectionAbortedError("the export download was cancelled")

    def run(self, work: Any) -> None:
        try:
            work(self)
            if self.buffer:
                self._put(bytes(self.buffer))
            self._put(None)
        except ConnectionAbortedError:
            return
        except BaseException as exc:  # handed to the response side, which reports it
            try:
                self._put(exc)
            except ConnectionAbortedError:
                return


def _take(
    blocks: queue.Queue[bytes | BaseException | None], gone: threading.Event
) -> bytes | BaseException | None:
    """The next block; None at the end or once the response is gone (never blocks forever)."""
    while not gone.is_set():
        try:
            return blocks.get(timeout=0.5)
        except queue.Empty:
            continue
    return None


@routes.get("/api/footage/export")
@access.admin
async def export(request: web.Request) -> web.StreamResponse:
    """A tar of everything stored about a time range: events.json, recordings.json, each
    event's clip and snapshot, and the recorded segments, decrypted."""
    hub = request.app[HUB_KEY]
    start, end = _time_range(request.query)
    cameras = _cameras(request, request.query.get("cameras"))
    require_unlocked(hub.footage)
    plan = await async_plan_export(hub, start, end, cameras)
    await access.audit(request, "footage.export", f"{start}-{end}", **plan.summary())
    blocks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=EXPORT_QUEUE)
    gone = threading.Event()
    writer = _QueueWriter(blocks, gone)
    worker = asyncio.create_task(
        asyncio.to_thread(writer.run, lambda out: write_export(hub.footage, plan, out))
    )
    name = f"camhub-export-{int(start)}-{int(end)}.tar"
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/x-tar",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        }
    )
    try:
        first = await asyncio.to_thread(_take, blocks, gone)
        if isinstance(first, FootageLocked):
            raise locked_error()
        if isinstance(first, BaseException):
            _LOGGER.error("Export %s-%s failed: %s", start, end, first)
            raise web.HTTPInternalServerError(text=f"the export failed: {first}")
        await response.prepare(request)
        item: bytes | BaseException | None = first
        while isinstance(item, bytes):
            await response.write(item)
            item = await asyncio.to_thread(_take, blocks, gone)
        if isinstance(item, BaseException):
            level = logging.ERROR if isinstance(item, UNREADABLE_ERRORS) else logging.WARNING
            _LOGGER.log(level, "Export %s-%s stopped part way: %s", start, end, item)
            # Headers are out: cut the connection so the archive is visibly incomplete.
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
    finally:
        gone.set()
        await worker
