"""ONVIF WS-Discovery over asyncio UDP: send Probes, parse ProbeMatches safely."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError

import ifaddr
from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from hub import DiscoveredDevice

_LOGGER = logging.getLogger(__name__)

MULTICAST_GROUP = "239.255.255.250"
PORT = 3702
MAX_MESSAGE_BYTES = 32 * 1024
"""Real ProbeMatches are a few KiB; anything bigger is dropped before parsing."""
MAX_DEVICES = 256
"""Bound on what one scan keeps, whatever floods the socket."""

_SOAP = "http://www.w3.org/2003/05/soap-envelope"
_WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
_PROBE_MATCHES = f"{{{_WSD}}}ProbeMatches"
_SCOPE_PREFIX = "onvif://www.onvif.org/"
_SCOPE_PROPERTIES = ("name", "hardware", "location")

PROBE_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{soap}" xmlns:a="{wsa}" xmlns:d="{wsd}"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl">
<s:Header>
<a:Action s:mustUnderstand="1">{wsd}/Probe</a:Action>
<a:MessageID>{message_id}</a:MessageID>
<a:ReplyTo><a:Address>{wsa}/role/anonymous</a:Address></a:ReplyTo>
<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
</s:Header>
<s:Body><d:Probe><d:Types>{types}</d:Types></d:Probe></s:Body>
</s:Envelope>"""
PROBE_TYPES = ("dn:NetworkVideoTransmitter", "tds:Device")


def probe_message(message_id: str, types: str) -> bytes:
    """A SOAP 1.2 WS-Discovery Probe for `types` (space-separated QNames)."""
    return PROBE_TEMPLATE.format(
        soap=_SOAP, wsa=_WSA, wsd=_WSD, message_id=message_id, types=types
    ).encode()


@dataclass
class _Collector(asyncio.DatagramProtocol):
    """Receives unicast ProbeMatches on one prober socket."""

    message_ids: set[str]
    found: dict[str, DiscoveredDevice] = field(default_factory=dict)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        for device in parse_probe_matches(data, str(addr[0]), self.message_ids):
            if device.id in self.found or len(self.found) < MAX_DEVICES:
                self.found[device.id] = _merge_one(self.found.get(device.id), device)

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("WS-Discovery socket error: %s", exc)


def _merge_one(seen: DiscoveredDevice | None, new: DiscoveredDevice) -> DiscoveredDevice:
    if seen is None:
        return new
    urls = seen.urls + tuple(u for u in new.urls if u not in seen.urls)
    return DiscoveredDevice(
        id=seen.id,
        name=seen.name or new.name,
        host=seen.host,
        port=seen.port,
        source=seen.source,
        urls=urls,
        properties={**new.properties, **seen.properties},
    )


def parse_probe_matches(
    data: bytes, sender: str, message_ids: set[str] | None = None
) -> list[DiscoveredDevice]:
    """Devices in one ProbeMatches datagram; [] for anything oversized, malformed or unrelated.

    With `message_ids`, only answers whose RelatesTo names one of our probes count.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        return []
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        _LOGGER.debug("Ignoring malformed WS-Discovery answer from %s: %s", sender, exc)
        return []
    if root.tag != f"{{{_SOAP}}}Envelope":
        return []
    if message_ids is not None:
        relates_to = _text(root.find(f"{{{_SOAP}}}Header/{{{_WSA}}}RelatesTo"))
        if relates_to not in message_ids:
            return []
    matches = root.find(f"{{{_SOAP}}}Body/{_PROBE_MATCHES}")
    if matches is None:
        return []
    devices = []
    for match in matches.findall(f"{{{_WSD}}}ProbeMatch")[:16]:
        device = _device_from_match(match, sender)
        if device is not None:
            devices.append(device)
    return devices


def parse_announcement(data: bytes, sender: str) -> tuple[str, DiscoveredDevice] | None:
    """A multicast Hello (device up) or Bye (device gone), as ("hello"|"bye", device); else None.

    A Bye carries only the endpoint reference: its device has just `id` and `host`.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        return None
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError):
        return None
    if root.tag != f"{{{_SOAP}}}Envelope":
        return None
    for kind in ("Hello", "Bye"):
        element = root.find(f"{{{_SOAP}}}Body/{{{_WSD}}}{kind}")
        if element is None:
            continue
        device = _device_from_match(element, sender)
        return (kind.lower(), device) if device is not None else None
    return None


def _device_from_match(match: Element, sender: str) -> DiscoveredDevice | None:
    endpoint = _text(match.find(f"{{{_WSA}}}EndpointReference/{{{_WSA}}}Address"))
    if not endpoint or len(endpoint) > 256:
        return None
    urls = tuple(
        url
        for url in (_safe_url(x) for x in _text(match.find(f"{{{_WSD}}}XAddrs")).split()[:8])
        if url
    )
    properties: dict[str, str] = {}
    for scope in _text(match.find(f"{{{_WSD}}}Scopes")).split()[:64]:
        if not scope.startswith(_SCOPE_PREFIX):
            continue
        key, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
        if key in _SCOPE_PROPERTIES and value and key not in properties:
            properties[key] = unquote(value)[:128]
    host, port = sender, None
    if urls:
        first = urlsplit(urls[0])
        host = first.hostname or sender
        port = first.port or (443 if first.scheme == "https" else 80)
    return DiscoveredDevice(
        id=endpoint,
        name=properties.pop("name", "") or host,
        host=host,
        port=port,
        source="ws-discovery",
        urls=urls,
        properties=properties,
    )


def _safe_url(text: str) -> str | None:
    """An http(s) XAddr without credentials, or None."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or len(text) > 512:
        return None
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in parts.hostname:
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _prober_socket(interface: str | None) -> socket.socket:
    """A UDP socket that multicasts on `interface` only (None: the system's default)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        if interface is not None:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
        sock.bind((interface or "0.0.0.0", 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def default_interfaces() -> list[str]:
    """IPv4 addresses of every interface that has one, loopback and link-local left out."""
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip
            if not isinstance(address, str) or ip.is_IPv6:
                continue
            if address.startswith(("127.", "169.254.")) or address in found:
                continue
            found.append(address)
    return found


async def async_probe(interfaces: list[str], timeout: float) -> list[DiscoveredDevice]:
    """Probe on each interface address (empty: every one `default_interfaces` finds) and
    collect answers for `timeout`.

    Probes go out twice (start and a third of the way in), since UDP multicast is lossy.
    """
    loop = asyncio.get_running_loop()
    transports: list[asyncio.DatagramTransport] = []
    collectors: list[_Collector] = []
    message_ids: set[str] = set()
    try:
        targets: list[str | None] = list(interfaces or default_interfaces()) or [None]
        for interface in targets:
            try:
                sock = _prober_socket(interface)
            except OSError as exc:
                _LOGGER.warning("WS-Discovery cannot use interface %s: %s", interface, exc)
                continue
            collector = _Collector(message_ids)
            transport, _ = await loop.create_datagram_endpoint(_factory(collector), sock=sock)
            transports.append(transport)
            collectors.append(collector)
        deadline = loop.time() + timeout
        for attempt in range(2):
            for types in PROBE_TYPES:
                message_id = f"urn:uuid:{uuid.uuid4()}"
                message_ids.add(message_id)
                for transport in transports:
                    transport.sendto(probe_message(message_id, types), (MULTICAST_GROUP, PORT))
            if attempt == 0:
                await asyncio.sleep(min(timeout / 3, max(0.0, deadline - loop.time())))
        await asyncio.sleep(max(0.0, deadline - loop.time()))
    finally:
        for transport in transports:
            transport.close()
    found: dict[str, DiscoveredDevice] = {}
    for collector in collectors:
        for device in collector.found.values():
            found[device.id] = _merge_one(found.get(device.id), device)
    return list(found.values())


def _factory(collector: _Collector) -> Callable[[], _Collector]:
    return lambda: collector
