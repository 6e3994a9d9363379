"""Connection limits: caps per client address and in all, and a deadline for request bodies.

Idle connections and ones dribbling their headers are closed by aiohttp's keep-alive
timer (set to `server.limits.idle_seconds` in web/server.py): until a request is
complete, that timer runs from the moment the connection opened. What aiohttp does
not do is cap how many connections an address holds, or time out a body sent a byte
at a time; this module does both.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

_LOGGER = logging.getLogger(__name__)
FD_RESERVE = 256
"""File descriptors kept for everything but HTTP clients: camera streams, segments being
written, the database, the audit head. Connections past the limit are refused instead."""
MAX_LOGGED = 100


def raise_open_file_limit() -> int:
    """Raise this process's soft open-file limit to its hard limit; returns the soft limit now.

    The default soft limit (often 1024) would let a thousand idle connections starve the
    recorder of file descriptors.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError) as exc:
            _LOGGER.warning("Cannot raise the open-file limit from %d: %s", soft, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections() -> int:
    """Connections the open-file limit allows with room kept for recording."""
    return max(64, raise_open_file_limit() - FD_RESERVE)


class ConnectionLimiter:
    """Counts open connections per client address and in all."""

    def __init__(self, per_address: int, total: int):
        self.per_address = per_address
        self.total = total
        self.open: Counter[str] = Counter()
        self.refused = 0
        self._logged: set[str] = set()

    @property
    def count(self) -> int:
        """Open connections now."""
        return sum(self.open.values())

    def admit(self, address: str) -> bool:
        """Count a new connection from `address`, or say it is one too many."""
        over_address = bool(self.per_address) and self.open[address] >= self.per_address
        if over_address or self.count >= self.total:
            self.refused += 1
            self._log_refused(address, "this address" if over_address else "all addresses")
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        """A counted connection ended."""
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]

    def _log_refused(self, address: str, scope: str) -> None:
        if address in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(address)
        _LOGGER.warning(
            "Refusing connections from %s: too many open from %s "
            "(server.limits.connections_per_address / max_connections)",
            address,
            scope,
        )


class LimitedProtocol(asyncio.Protocol):
    """Wraps one aiohttp request handler: counted against its address, closed at once when
    over a cap (before aiohttp sees it)."""

    def __init__(self, inner: asyncio.Protocol, limiter: ConnectionLimiter):
        self._inner = inner
        self._limiter = limiter
        self._address: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        if not self._limiter.admit(address):
            transport.close()  # nothing was read or written: closes at once
            return
        self._address = address
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._address is None:
            return
        self._limiter.release(self._address)
        self._address = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._address is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._address is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def limited_factory(
    factory: Callable[[], asyncio.Protocol], limiter: ConnectionLimiter
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory whose connections are counted and capped by `limiter`."""
    return lambda: LimitedProtocol(factory(), limiter)


class BodyTimeout(Exception):
    """The request body did not arrive in time."""


BODY_SECONDS_KEY = web.AppKey("body_seconds", float)


@web.middleware
async def body_deadline_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """408 when a request's body has not arrived whole within `server.limits.body_seconds`
    of its headers: a body sent a byte at a time must not hold a connection forever."""
    if not request.body_exists or request.content.is_eof():
        return await handler(request)
    content = request.content

    def expire() -> None:
        if not content.is_eof():
            content.set_exception(BodyTimeout())

    timer = asyncio.get_running_loop().call_later(request.app[BODY_SECONDS_KEY], expire)
    try:
        return await handler(request)
    except BodyTimeout:
        raise web.HTTPRequestTimeout(
            text="the request body did not arrive in time", headers={"Connection": "close"}
        ) from None
    finally:
        timer.cancel()
