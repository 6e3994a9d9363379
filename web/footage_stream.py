"""Serving footage files by HTTP Range: plain ones read as they are, encrypted ones decrypted.

An encrypted file is decrypted only over the chunks a Range covers, so seeking in
a long segment stays cheap. Every piece is authenticated before it is sent: a
tampered chunk ends the response (logged, and an error status when it is the
first piece), it is never sent as garbage. Sealed footage while the hub is
locked answers 423 Locked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any, BinaryIO

from aiohttp import web

from hub.footage.store import UNREADABLE_ERRORS, FootageError, FootageLocked, FootageStore
from web.keys import HUB_KEY

_LOGGER = logging.getLogger(__name__)
PIECE = 256 * 1024
LOCKED_TEXT = (
    "footage is sealed and the hub is locked: an admin must unlock it "
    "(POST /api/storage/unlock, or `camhub run --unlock`)"
)


class HTTPLocked(web.HTTPClientError):
    """423 Locked: sealed footage before an admin unlocked the hub."""

    status_code = 423


def locked_error() -> HTTPLocked:
    """The 423 answer every footage route gives while sealed footage is locked."""
    return HTTPLocked(text=LOCKED_TEXT)


def require_unlocked(store: FootageStore) -> None:
    """Raise 423 while sealed footage cannot be read."""
    if store.locked:
        raise locked_error()


def corrupt_error(relpath: str, exc: BaseException) -> web.HTTPInternalServerError:
    """Log a decryption failure and say so to the client (never serve the bytes)."""
    _LOGGER.error("Footage %s cannot be decrypted, not served: %s", relpath, exc)
    return web.HTTPInternalServerError(
        text="this footage file failed its integrity check (tampered or wrong key); "
        "the hub log has details"
    )


_EMPTY_SUFFIX = re.compile(r"\s*bytes\s*=\s*-0+\s*")


def _byte_range(request: web.Request, size: int) -> tuple[int, int] | None:
    """[start, stop) a Range header asks for; None for the whole file; 416 if unsatisfiable."""
    unsatisfiable = web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if _EMPTY_SUFFIX.fullmatch(request.headers.get("Range", "")):
        raise unsatisfiable  # the last 0 bytes: nothing (aiohttp reads it as "from byte 0")
    try:
        wanted = request.http_range
    except ValueError:
        raise unsatisfiable from None
    if wanted.start is None and wanted.stop is None:
        return None
    if wanted.start is None:
        start, stop = 0, size
    elif wanted.start < 0:  # suffix range: the last N bytes
        start, stop = max(0, size + wanted.start), size
    else:
        start, stop = wanted.start, size if wanted.stop is None else min(wanted.stop, size)
    if start >= size or start >= stop:
        raise unsatisfiable
    return start, stop


class _PlainReader:
    """A plaintext footage file read by ranges, like a DecryptingReader."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self.size = os.fstat(raw.fileno()).st_size

    def read_range(self, start: int, stop: int) -> bytes:
        return os.pread(self._raw.fileno(), stop - start, start)

    def close(self) -> None:
        self._raw.close()


def _open(store: FootageStore, relpath: str) -> Any:
    """A reader (`size`, `read_range`, `close`) over the file, opened once and checked on
    the open file (regular, one link, the hub's), so nothing can be swapped in after."""
    try:
        raw = store.open_read(relpath, served=True)
    except FootageLocked:
        raise locked_error() from None
    except UNREADABLE_ERRORS as exc:
        raise corrupt_error(relpath, exc) from None
    except (FootageError, OSError):
        raise web.HTTPNotFound(text="footage file is missing") from None
    return raw if hasattr(raw, "read_range") else _PlainReader(raw)


def _read(reader: Any, start: int, stop: int) -> bytes:
    data: bytes = reader.read_range(start, stop)
    return data


async def footage_response(
    request: web.Request,
    relpath: str,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Serve one footage file with Range support, decrypting if it is encrypted."""
    store = request.app[HUB_KEY].footage
    if not await asyncio.to_thread(store.exists, relpath):
        raise web.HTTPNotFound(text="footage file is missing")
    if store.locked and await asyncio.to_thread(store.is_encrypted, relpath):
        raise locked_error()
    reader: Any = await asyncio.to_thread(_open, store, relpath)
    try:
        return await _stream(request, reader, relpath, content_type, headers or {})
    finally:
        reader.close()


async def _stream(
    request: web.Request, reader: Any, relpath: str, content_type: str, headers: dict[str, str]
) -> web.StreamResponse:
    size: int = reader.size
    wanted = _byte_range(request, size)
    start, stop = wanted if wanted is not None else (0, size)
    try:
        # The first piece is decrypted before any header goes out: a tampered file
        # gets an error status rather than a 200 cut short.
        piece = await asyncio.to_thread(_read, reader, start, min(stop, start + PIECE))
    except UNREADABLE_ERRORS as exc:
        raise corrupt_error(relpath, exc) from None
    response = web.StreamResponse(status=206 if wanted is not None else 200, headers=headers)
    response.content_type = content_type
    response.content_length = stop - start
    response.headers["Accept-Ranges"] = "bytes"
    if wanted is not None:
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()  # the headers only: a body here would be the next response
        return response
    position = start
    while piece:
        await response.write(piece)
        position += len(piece)
        if position >= stop:
            break
        try:
            piece = await asyncio.to_thread(_read, reader, position, min(stop, position + PIECE))
        except UNREADABLE_ERRORS as exc:
            _LOGGER.error("Footage %s failed its integrity check mid-response: %s", relpath, exc)
            # Headers are out: end the connection so the client sees a short body.
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    return response
