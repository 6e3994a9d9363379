"""Runs a hub with its web panel until SIGINT/SIGTERM, then stops it in stages."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hub.config.models import ServerConfig
from hub.core import Hub, HubStartError
from hub.security.users import async_count_users
from web.app import create_app
from web.connections import ConnectionLimiter, default_max_connections, limited_factory

_LOGGER = logging.getLogger(__name__)
HTTP_SHUTDOWN_SECONDS = 1.0


def panel_url(host: str, port: int, tls: bool = False) -> str:
    """The URL a person types to open the panel."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def tls_context(hub: Hub) -> ssl.SSLContext | None:
    """The server's TLS context from `server.tls` (None when not configured).

    Relative paths are read from the config file's folder; a missing or
    mismatched file stops the start with a one-line reason.
    """
    tls = hub.config.server.tls
    if tls.cert is None or tls.key is None:
        return None
    base = hub.loaded.path.parent if hub.loaded.path is not None else Path.cwd()
    cert, key = (base / Path(p).expanduser() for p in (tls.cert, tls.key))
    for path in (cert, key):
        if not path.is_file():
            raise HubStartError(f"server.tls: cannot read {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise HubStartError(
            f"server.tls: {cert} and {key} are not a PEM certificate and its key ({exc})"
        ) from None
    return context


@dataclass
class Listener:
    """The panel's listening socket(s) and the aiohttp runner behind them."""

    runner: web.AppRunner
    server: asyncio.Server
    limiter: ConnectionLimiter

    @property
    def port(self) -> int:
        """The port bound (useful when asked for port 0)."""
        return int(self.server.sockets[0].getsockname()[1])

    async def async_close(self) -> None:
        """Stop accepting, then end open connections (within HTTP_SHUTDOWN_SECONDS)."""
        self.server.close()
        await self.runner.cleanup()
        await self.server.wait_closed()


async def async_listen(
    app: web.Application, server: ServerConfig, context: ssl.SSLContext | None = None
) -> Listener:
    """Serve `app` on `server.host`/`server.port` with the connection limits of
    `server.limits`: idle and header time-out, caps per address and in all (OSError if the
    address cannot be bound)."""
    limits = server.limits
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,
        shutdown_timeout=HTTP_SHUTDOWN_SECONDS,
        # Runs from the moment a connection opens until its request is whole, and again
        # between requests: it closes idle connections and slowloris ones alike.
        keepalive_timeout=limits.idle_seconds,
    )
    await runner.setup()
    assert runner.server is not None
    limiter = ConnectionLimiter(
        limits.connections_per_address, limits.max_connections or default_max_connections()
    )
    try:
        listening = await asyncio.get_running_loop().create_server(
            limited_factory(runner.server, limiter),
            server.host or None,
            server.port,
            ssl=context,
            # A TLS handshake never finished is an idle connection too.
            ssl_handshake_timeout=limits.idle_seconds if context is not None else None,
            reuse_address=True,
        )
    except OSError:
        await runner.cleanup()
        raise
    return Listener(runner, listening, limiter)


async def async_serve(hub: Hub, on_ready: Callable[[str], None] | None = None) -> None:
    """Bind the panel, start the hub, wait for a stop signal, then stop both."""
    server = hub.config.server
    try:
        context = tls_context(hub)
    except HubStartError:
        await hub.storage.async_close()
        raise
    try:
        listener = await async_listen(create_app(hub), server, context)
    except OSError as exc:
        await hub.storage.async_close()
        if exc.errno == errno.EADDRINUSE:
            raise HubStartError(
                f"cannot listen on {server.host}:{server.port}: the port is already in use "
                "(stop the other program or set server.port)"
            ) from None
        raise HubStartError(
            f"cannot listen on {server.host}:{server.port}: {exc.strerror or exc}"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await hub.async_start()
        url = panel_url(server.host, server.port, tls=context is not None)
        _LOGGER.info("Panel at %s", url)
        if on_ready is not None:
            on_ready(url)
        if await async_count_users(hub.storage) == 0:
            _LOGGER.warning(
                "No user yet: the first visit to %s creates the administrator "
                "(or run `camhub user add NAME --role admin` first)",
                url,
            )
        await stop.wait()
        _LOGGER.info("Stopping")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await listener.async_close()
        await hub.async_stop()
