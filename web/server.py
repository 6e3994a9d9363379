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

from hub.config.loading import ConfigError
from hub.config.models import ServerConfig
from hub.core import Hub, HubStartError
from hub.security.users import async_count_users
from web.addresses import ALL_IPV6, listen_hosts, panel_urls
from web.app import create_app
from web.connections import ConnectionLimiter, default_max_connections, limited_factory

_LOGGER = logging.getLogger(__name__)
HTTP_SHUTDOWN_SECONDS = 1.0


@dataclass(frozen=True)
class Ready:
    """What `camhub run` tells its person once the hub serves: where, and how to get in."""

    urls: list[str]
    """The panel's URLs, the one to try first first."""
    setup_code: str | None
    """The one-time first-run setup code while no user exists, else None."""


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


async def async_reload_automations(hub: Hub) -> None:
    """Apply the config file's automations again; a file that does not load changes nothing
    and says why in the log."""
    try:
        await hub.automations.async_reload_file()
    except ConfigError as exc:
        for issue in exc.issues:
            _LOGGER.error("Automations not reloaded: %s", hub.redactor(str(issue)))


@dataclass
class Listener:
    """The panel's listening sockets (one server per listen address) and the aiohttp runner."""

    runner: web.AppRunner
    servers: list[asyncio.Server]
    limiter: ConnectionLimiter
    bound: list[str]
    """The listen addresses bound (a wildcard stays a wildcard)."""

    @property
    def port(self) -> int:
        """The port bound (useful when asked for port 0)."""
        return int(self.servers[0].sockets[0].getsockname()[1])

    async def async_close(self) -> None:
        """Stop accepting, then end open connections (within HTTP_SHUTDOWN_SECONDS)."""
        for listening in self.servers:
            listening.close()
        await self.runner.cleanup()
        for listening in self.servers:
            await listening.wait_closed()


class ListenError(OSError):
    """An address could not be bound; `where` is it as `host:port` for the message."""

    def __init__(self, where: str, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause))
        self.where = where


async def async_listen(
    app: web.Application, server: ServerConfig, context: ssl.SSLContext | None = None
) -> Listener:
    """Serve `app` on every address `server.host` means (all of them by default) at
    `server.port`, with the connection limits of `server.limits`: idle and header time-out,
    caps per address and in all. IPv6 is skipped where the machine has none; any other
    address that cannot be bound raises ListenError."""
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
    loop = asyncio.get_running_loop()
    hosts = listen_hosts(server.host)
    servers: list[asyncio.Server] = []
    bound: list[str] = []
    port = server.port
    for address in hosts:
        try:
            listening = await loop.create_server(
                limited_factory(runner.server, limiter),
                address,
                port,
                ssl=context,
                # A TLS handshake never finished is an idle connection too.
                ssl_handshake_timeout=limits.idle_seconds if context is not None else None,
                reuse_address=True,
            )
        except OSError as exc:
            no_ipv6 = exc.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)
            if address == ALL_IPV6 and len(hosts) > 1 and no_ipv6:
                _LOGGER.info("No IPv6 on this machine: the panel listens on IPv4 only")
                continue
            for done in servers:
                done.close()
            await runner.cleanup()
            where = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            raise ListenError(where, exc) from None
        servers.append(listening)
        bound.append(address)
        # Port 0 (tests): every other address takes the port the first one got.
        port = port or int(listening.sockets[0].getsockname()[1])
    return Listener(runner, servers, limiter, bound)


async def async_serve(hub: Hub, on_ready: Callable[[Ready], None] | None = None) -> None:
    """Bind the panel, start the hub, wait for a stop signal, then stop both."""
    server = hub.config.server
    try:
        context = tls_context(hub)
    except HubStartError:
        await hub.storage.async_close()
        raise
    try:
        listener = await async_listen(create_app(hub), server, context)
    except ListenError as exc:
        await hub.storage.async_close()
        if exc.errno == errno.EADDRINUSE:
            raise HubStartError(
                f"cannot listen on {exc.where}: the port is already in use "
                "(stop the other program, or choose another with --port or server.port)"
            ) from None
        raise HubStartError(f"cannot listen on {exc.where}: {exc.strerror}") from None
    except BaseException:
        await hub.storage.async_close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # `camhub automations reload` (or `kill -HUP`): the config file's automations, again.
    loop.add_signal_handler(
        signal.SIGHUP,
        lambda: hub.async_create_task(async_reload_automations(hub), "reload-automations"),
    )
    try:
        await hub.async_start()
        urls = panel_urls(listener.bound, listener.port, tls=context is not None)
        _LOGGER.info("Panel at %s", ", ".join(urls))
        code = hub.setup_code.issue() if await async_count_users(hub.storage) == 0 else None
        if on_ready is not None:
            on_ready(Ready(urls, code))
        await stop.wait()
        _LOGGER.info("Stopping")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await listener.async_close()
        await hub.async_stop()
