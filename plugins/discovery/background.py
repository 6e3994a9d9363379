"""Background discovery: WS-Discovery Hello/Bye, periodic re-probes, a running mDNS browse.

Keeps `hub.discovered` current and announces changes as DeviceDiscovered and
DeviceLost events (through hub.device_seen / device_lost).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import TYPE_CHECKING, Any

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from hub import OwnedTasks, device_lost, device_seen
from plugins.discovery.mdns import SERVICE_TYPES, device_from_info
from plugins.discovery.wsdiscovery import (
    MULTICAST_GROUP,
    PORT,
    async_probe,
    default_interfaces,
    parse_announcement,
)

if TYPE_CHECKING:
    from hub import Hub

_LOGGER = logging.getLogger(__name__)
PROBE_SECONDS = 3.0
MISSED_PROBES = 2
"""A WS-Discovery device silent for this many re-probes in a row counts as lost."""


class _Listener(asyncio.DatagramProtocol):
    def __init__(self, service: BackgroundDiscovery):
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        found = parse_announcement(data, str(addr[0]))
        if found is None:
            return
        kind, device = found
        if kind == "hello":
            self.service.seen_wsd(device)
        else:
            self.service.lost(device.id, "ws-discovery")

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("WS-Discovery listener: %s", exc)


def listener_socket(interfaces: list[str]) -> socket.socket:
    """A socket on 239.255.255.250:3702 joined on each interface address, sharing the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((MULTICAST_GROUP, PORT))
        joined = 0
        for address in interfaces:
            membership = struct.pack(
                "4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton(address)
            )
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
                joined += 1
            except OSError as exc:
                _LOGGER.warning("WS-Discovery cannot listen on %s: %s", address, exc)
        if not joined:
            raise OSError("no interface to listen on")
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class BackgroundDiscovery:
    """Owns the listener socket, the mDNS browser and the re-probe task of one hub."""

    def __init__(self, hub: Hub):
        self.hub = hub
        config = hub.config.discovery
        self.interfaces = list(config.interfaces)
        self.rescan_seconds = config.rescan_seconds
        self.transport: asyncio.DatagramTransport | None = None
        self.zeroconf: AsyncZeroconf | None = None
        self.browser: AsyncServiceBrowser | None = None
        self.task: asyncio.Task[None] | None = None
        self.missed: dict[str, int] = {}
        # A device that does not answer its resolve is routine on a LAN: debug, not error.
        self._resolving = OwnedTasks("mDNS resolves", _LOGGER, logging.DEBUG)

    async def async_start(self) -> None:
        """Start listening and browsing; a part that cannot start is logged, the rest runs."""
        loop = asyncio.get_running_loop()
        addresses = self.interfaces or default_interfaces()
        try:
            sock = listener_socket(addresses)
            self.transport, _ = await loop.create_datagram_endpoint(
                lambda: _Listener(self), sock=sock
            )
        except OSError as exc:
            _LOGGER.warning("WS-Discovery Hello/Bye listening is off: %s", exc)
        try:
            self.zeroconf = AsyncZeroconf(
                interfaces=self.interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only
            )
            self.browser = AsyncServiceBrowser(
                self.zeroconf.zeroconf, list(SERVICE_TYPES), handlers=[self._mdns_change]
            )
        except OSError as exc:
            _LOGGER.warning("mDNS browsing is off: %s", exc)
        self.task = self.hub.async_create_background_task(self._reprobe(), "discovery:reprobe")

    async def async_stop(self) -> None:
        """Close everything started."""
        if self.task is not None:
            self.task.cancel()
        self._resolving.cancel()
        if self.transport is not None:
            self.transport.close()
        if self.browser is not None:
            await self.browser.async_cancel()
        if self.zeroconf is not None:
            await self.zeroconf.async_close()

    # ---------------------------------------------------------- WS-Discovery

    def seen_wsd(self, device: Any) -> None:
        """A Hello or a probe answer."""
        self.missed[device.id] = 0
        device_seen(self.hub, device)

    def lost(self, device_id: str, source: str) -> None:
        """A Bye, an mDNS goodbye, or too many missed probes."""
        self.missed.pop(device_id, None)
        device_lost(self.hub, device_id, source)

    async def _reprobe(self) -> None:
        while True:
            try:
                found = await async_probe(self.interfaces, PROBE_SECONDS)
            except OSError as exc:
                _LOGGER.warning("WS-Discovery re-probe failed: %s", exc)
                found = []
            answered = {device.id for device in found}
            for device in found:
                self.seen_wsd(device)
            for device_id in list(self.missed):
                if device_id in answered:
                    continue
                self.missed[device_id] += 1
                if self.missed[device_id] >= MISSED_PROBES:
                    self.lost(device_id, "ws-discovery")
            await asyncio.sleep(self.rescan_seconds)

    # ---------------------------------------------------------- mDNS

    def _mdns_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            instance = name.removesuffix("." + service_type)
            self.lost(f"mdns:{instance}", "mdns")
            return
        self._resolving.spawn(self._resolve(service_type, name), f"mdns-resolve {name}")

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self.zeroconf is not None
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self.zeroconf.zeroconf, 3000):
            return
        device = device_from_info(info)
        if device is not None:
            device_seen(self.hub, device)
