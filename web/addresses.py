"""Where the panel can be reached: the addresses to listen on and the URLs to print for people."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from hub.network import machine_addresses

ALL_IPV4, ALL_IPV6 = "0.0.0.0", "::"


def listen_hosts(host: str | None) -> list[str]:
    """The addresses to bind: every IPv4 and IPv6 address for None (the default), else `host`."""
    return [ALL_IPV4, ALL_IPV6] if host in (None, "") else [str(host)]


def url_for(address: str, port: int, tls: bool = False) -> str:
    """`http://address:port`, IPv6 addresses in brackets."""
    shown = f"[{address}]" if ":" in address else address
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def mdns_name() -> str | None:
    """`<hostname>.local`, the name machines that announce themselves over mDNS answer to."""
    name = socket.gethostname().split(".")[0].strip()
    return f"{name}.local" if name and name != "localhost" else None


def panel_urls(
    bound: Iterable[str], port: int, tls: bool = False, addresses: list[str] | None = None
) -> list[str]:
    """The URLs to print for the addresses actually bound: for a wildcard, the mDNS name
    and every matching address of the machine; for one address, that address."""
    bound = list(bound)
    wildcard_v4, wildcard_v6 = ALL_IPV4 in bound, ALL_IPV6 in bound
    urls: list[str] = []
    if wildcard_v4 or wildcard_v6:
        for address in machine_addresses() if addresses is None else addresses:
            version = ipaddress.ip_address(address).version
            if (version == 4 and wildcard_v4) or (version == 6 and wildcard_v6):
                urls.append(url_for(address, port, tls))
        name = mdns_name()
        lan = [u for u in urls if "//127." not in u and "//[::1]" not in u]
        if name is not None and lan:
            # After the first LAN address: the name works only where the machine announces
            # it (avahi, as on Raspberry Pi OS), an address always does.
            urls.insert(1, url_for(name, port, tls))
    urls.extend(url_for(b, port, tls) for b in bound if b not in (ALL_IPV4, ALL_IPV6))
    return urls
