"""This machine's own network addresses (for the URLs people type and the interfaces to scan)."""

from __future__ import annotations

import ipaddress

import ifaddr


def machine_addresses() -> list[str]:
    """Every address of this machine a browser can use: IPv4 (LAN first, loopback and
    link-local last) and global or unique-local IPv6 (link-local IPv6 needs a zone id that
    browsers do not take)."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for adapter in ifaddr.get_adapters():
        for entry in adapter.ips:
            raw = entry.ip[0] if isinstance(entry.ip, tuple) else entry.ip
            try:
                found.append(ipaddress.ip_address(raw))
            except ValueError:
                continue
    usable = [a for a in found if not (a.version == 6 and (a.is_link_local or a.is_loopback))]
    usable.sort(key=lambda a: (a.is_loopback, a.is_link_local, a.version, int(a)))
    return list(dict.fromkeys(str(a) for a in usable))


def ipv4_addresses() -> list[str]:
    """The IPv4 addresses of this machine, loopback included."""
    return [a for a in machine_addresses() if ipaddress.ip_address(a).version == 4]
