"""The discovery plugin finds cameras by mDNS and WS-Discovery, on loopback only.

Every hub here is pinned to `discovery.interfaces: [127.0.0.1]`, and the fake
devices join multicast groups on 127.0.0.1 only: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from plugins.discovery.wsdiscovery import MULTICAST_GROUP, PORT

LOOPBACK_ONLY = "discovery: {interfaces: ['127.0.0.1']}\n"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
ENDPOINT = "urn:uuid:5f5a69c2-e0ae-504f-829b-00e4b2a1c0de"

pytestmark = pytest.mark.timeout(20)


def _hub(make_hub: Any) -> Any:
    hub = make_hub(LOOPBACK_ONLY)
    assert "discovery" in hub.plugins.infos  # built in
    return hub


# ---------------------------------------------------------------- mDNS


def _service(service_type: str, instance: str, port: int, txt: dict[str, str]) -> ServiceInfo:
    return ServiceInfo(
        service_type,
        f"{instance}.{service_type}",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=port,
        properties=txt,
        server=f"{instance.replace(' ', '-').lower()}.local.",
    )


@pytest.fixture
async def fake_mdns_lan() -> AsyncIterator[None]:
    """A camera (_rtsp._tcp) and a printer (_http._tcp) announced on loopback."""
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"])
    services = [
        _service("_rtsp._tcp.local.", "Porch Camera", 8554, {"model": "P1", "fw": "1.2"}),
        _service("_http._tcp.local.", "Office Printer", 631, {"ty": "HP LaserJet", "rp": "ipp"}),
    ]
    for info in services:
        await (await aiozc.async_register_service(info))
    try:
        yield
    finally:
        await aiozc.async_unregister_all_services()
        await aiozc.async_close()


async def test_mdns_finds_the_camera_and_ignores_the_printer(make_hub, fake_mdns_lan):
    devices = await _hub(make_hub).async_discover(1.5)

    mdns = [d for d in devices if d.source == "mdns"]
    assert [d.id for d in mdns] == ["mdns:Porch Camera"]
    camera = mdns[0]
    assert camera.name == "Porch Camera"
    assert (camera.host, camera.port) == ("127.0.0.1", 8554)
    assert camera.urls == ("rtsp://127.0.0.1:8554/",)
    assert camera.properties["model"] == "P1"
    assert camera.properties["fw"] == "1.2"
    assert camera.properties["service"] == "_rtsp._tcp"


# ---------------------------------------------------------------- WS-Discovery


def probe_matches(
    relates_to: str, endpoint: str = ENDPOINT, xaddrs: str | None = None, padding: str = ""
) -> bytes:
    """A ProbeMatches shaped like the ones real ONVIF cameras send."""
    xaddrs = xaddrs or "http://127.0.0.1:8080/onvif/device_service"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="{WSA}" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<SOAP-ENV:Header>
<wsa:MessageID>urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsa:MessageID>
<wsa:RelatesTo>{relates_to}</wsa:RelatesTo>
<wsa:To SOAP-ENV:mustUnderstand="true">{WSA}/role/anonymous</wsa:To>
<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
</SOAP-ENV:Header>
<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>
<wsa:EndpointReference><wsa:Address>{endpoint}</wsa:Address></wsa:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/Front%20Door
 onvif://www.onvif.org/hardware/DS-2CD2043G2 onvif://www.onvif.org/location/city/garden
 onvif://www.onvif.org/Profile/Streaming</d:Scopes>
<d:XAddrs>{xaddrs}</d:XAddrs>
<d:MetadataVersion>1</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches>{padding}</SOAP-ENV:Body></SOAP-ENV:Envelope>""".encode()


Answerer = Callable[[str], list[bytes]]


class FakeOnvifDevice(asyncio.DatagramProtocol):
    """Listens on 239.255.255.250:3702 (joined on 127.0.0.1) and answers Probes unicast."""

    def __init__(self, answer: Answerer) -> None:
        self.answer = answer
        self.probes: list[str] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        root = fromstring(data)
        message_id = root.findtext(f".//{{{WSA}}}MessageID")
        types = root.findtext(".//{http://schemas.xmlsoap.org/ws/2005/04/discovery}Types")
        assert message_id and types
        self.probes.append(types)
        assert self.transport is not None
        for reply in self.answer(message_id):
            self.transport.sendto(reply, addr)  # unicast back to the prober


@pytest.fixture
async def onvif_device() -> AsyncIterator[Callable[[Answerer], Any]]:
    """Start fake ONVIF devices with a given way of answering; closed after the test."""
    transports: list[asyncio.BaseTransport] = []

    async def start(answer: Answerer) -> FakeOnvifDevice:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((MULTICAST_GROUP, PORT))
            membership = struct.pack(
                "4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton("127.0.0.1")
            )
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
        except OSError as exc:
            sock.close()
            pytest.skip(f"cannot listen for WS-Discovery on loopback here: {exc}")
        sock.setblocking(False)
        device = FakeOnvifDevice(answer)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: device, sock=sock
        )
        transports.append(transport)
        return device

    yield start
    for transport in transports:
        transport.close()


async def test_ws_discovery_finds_an_onvif_camera(make_hub, onvif_device):
    device = await onvif_device(lambda message_id: [probe_matches(message_id)])

    devices = await _hub(make_hub).async_discover(0.6)

    assert "dn:NetworkVideoTransmitter" in device.probes
    assert "tds:Device" in device.probes
    [camera] = [d for d in devices if d.source == "ws-discovery"]
    assert camera.id == ENDPOINT
    assert camera.name == "Front Door"
    assert (camera.host, camera.port) == ("127.0.0.1", 8080)
    assert camera.urls == ("http://127.0.0.1:8080/onvif/device_service",)
    assert camera.properties == {"hardware": "DS-2CD2043G2", "location": "city/garden"}


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<lolz>&lol3;</lolz>"""


async def test_malformed_answers_are_ignored_and_a_good_one_still_counts(make_hub, onvif_device):
    def answer(message_id: str) -> list[bytes]:
        return [
            b"\x00\xffnot xml at all",
            BILLION_LAUGHS,
            probe_matches(message_id).replace(b"<SOAP-ENV:Body>", b"<SOAP-ENV:Body>&ext;"),
            probe_matches(message_id, endpoint="urn:uuid:big", padding="<x/>" * 10_000),
            probe_matches("urn:uuid:not-our-probe", endpoint="urn:uuid:stranger"),
            probe_matches(message_id, xaddrs="http://admin:secret@127.0.0.1:8080/onvif"),
        ]

    await onvif_device(answer)
    hub = _hub(make_hub)

    devices = await hub.async_discover(0.6)

    assert [d.id for d in devices if d.source == "ws-discovery"] == [ENDPOINT]
    assert devices[0].urls == ("http://127.0.0.1:8080/onvif",)  # credentials dropped
    assert hub.plugins.infos["discovery"].failures == 0


async def test_answers_from_one_endpoint_are_merged(make_hub, onvif_device):
    # Two network interfaces of one camera answer the same probe.
    await onvif_device(lambda m: [probe_matches(m)])
    await onvif_device(
        lambda m: [probe_matches(m, xaddrs="http://127.0.0.1:8081/onvif/device_service")]
    )

    devices = await _hub(make_hub).async_discover(0.6)

    [camera] = [d for d in devices if d.source == "ws-discovery"]
    assert camera.id == ENDPOINT
    assert set(camera.urls) == {
        "http://127.0.0.1:8080/onvif/device_service",
        "http://127.0.0.1:8081/onvif/device_service",
    }
