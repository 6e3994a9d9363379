"""Runs a hub with its web panel until SIGINT/SIGTERM, then stops it in stages."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import ssl
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from hub.core import Hub, HubStartError
from hub.security.users import async_count_users
from web.app import create_app

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


async def async_serve(hub: Hub, on_ready: Callable[[str], None] | None = None) -> None:
    """Bind the panel, start the hub, wait for a stop signal, then stop both."""
    server = hub.config.server
    try:
        context = tls_context(hub)
    except HubStartError:
        await hub.storage.async_close()
        raise
    app = create_app(hub)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=HTTP_SHUTDOWN_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, server.host, server.port, ssl_context=context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
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
        await runner.cleanup()
        await hub.async_stop()
