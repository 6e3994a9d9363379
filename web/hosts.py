"""The names the hub answers to: a Host (or Origin) naming anything else is refused.

DNS rebinding: a page on another site points its own name at the hub's address, so
the browser sends the hub requests carrying that site's Host and a matching Origin,
which a same-origin check alone accepts. Refusing every Host the hub does not serve
stops it before any route runs. Served names are loopback names and addresses, the
configured `server.host`, this machine's names and interface addresses (looked up
again, at most every few seconds, when a request names an unknown one: DHCP may
change them), and `server.allowed_hosts` for reverse proxies.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable

import ifaddr
from aiohttp import web
from aiohttp.typedefs import Handler

_LOGGER = logging.getLogger(__name__)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
REFRESH_SECONDS = 10.0
MAX_LOGGED = 100
"""Refused names logged at most once each, and this many in all (a scanner sends thousands)."""


def host_name(header: str) -> str | None:
    """The name or address in a Host header (lower case, without port, brackets or a
    trailing dot); None if it is not a host at all."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1 :] if end >= 0 else ""
        if end < 0 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        value = value[1:end]
    elif value.count(":") == 1:
        value, _, port = value.partition(":")
        if port and not port.isdigit():
            return None
    value = value.split("%", 1)[0].rstrip(".")  # an IPv6 zone says nothing about the host
    return value or None


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def machine_addresses() -> set[str]:
    """Every address of every interface of this machine."""
    found: set[str] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            raw = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            address = _address(raw.split("%", 1)[0])
            if address is not None:
                found.add(str(address))
    return found


def machine_names() -> set[str]:
    """This machine's host name, with `.local` (mDNS) and its fully qualified name."""
    names: set[str] = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        name = name.lower().rstrip(".")
        if name:
            short = name.split(".", 1)[0]
            names |= {name, short, f"{short}.local"}
    return names


class HostGuard:
    """Decides whether a Host (or Origin host) names this hub."""

    def __init__(
        self,
        server_host: str | None,
        allowed: Iterable[str] = (),
        addresses: Callable[[], set[str]] = machine_addresses,
        names: Callable[[], set[str]] = machine_names,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fixed: set[str] = set()
        self._suffixes: list[str] = []
        bind = (server_host or "").strip().lower()  # None: every address
        for entry in [*allowed, *([] if not bind or bind in WILDCARD_BINDS else [bind])]:
            entry = entry.strip().lower().strip("[]").rstrip(".")
            if entry.startswith("*."):
                self._suffixes.append(entry[1:])
            else:
                address = _address(entry)
                self._fixed.add(str(address) if address is not None else entry)
        self._lookup_addresses = addresses
        self._lookup_names = names
        self._clock = clock
        self._machine: set[str] = set()
        self._looked_up = float("-inf")
        self._logged: set[str] = set()
        self._refresh()

    def _refresh(self) -> None:
        try:
            self._machine = self._lookup_addresses() | self._lookup_names()
        except OSError as exc:  # a machine without network is still served on loopback
            _LOGGER.warning("Cannot list this machine's addresses: %s", exc)
        self._looked_up = self._clock()

    def _known(self, name: str) -> bool:
        address = _address(name)
        if address is not None:
            if address.is_loopback:
                return True
            name = str(address)
        elif name in LOOPBACK_NAMES or name.endswith(".localhost"):
            return True  # browsers resolve these to loopback only (RFC 6761)
        if name in self._fixed or name in self._machine:
            return True
        return address is None and any(name.endswith(s) for s in self._suffixes)

    def allows(self, name: str | None) -> bool:
        """Whether `name` (from `host_name`) is one of the hub's names."""
        if name is None:
            return False
        if self._known(name):
            return True
        if self._clock() - self._looked_up >= REFRESH_SECONDS:
            self._refresh()
            return self._known(name)
        return False

    def log_refused(self, name: str, peer: str | None) -> None:
        """Say once per name that requests for it are refused, and how to allow it."""
        if name in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(name)
        _LOGGER.warning(
            "Refused requests from %s for the host name %r: not a name of this hub "
            "(add it to server.allowed_hosts if a reverse proxy uses it)",
            peer or "?",
            name,
        )


HOST_GUARD_KEY = web.AppKey("host_guard", HostGuard)


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """421 for a request naming a host the hub does not serve, before any route runs.

    A request without a Host header (HTTP/1.0 scripts) passes: browsers always send one.
    """
    header = request.headers.get("Host")
    if header is not None:
        guard = request.app[HOST_GUARD_KEY]
        name = host_name(header)
        if not guard.allows(name):
            guard.log_refused(name or header[:100], request.remote)
            raise web.HTTPMisdirectedRequest(
                text="this hub does not answer to that host name (DNS rebinding?); "
                "its owner can add the name to server.allowed_hosts"
            )
    return await handler(request)
