"""Background discovery on loopback: WS-Discovery Hello/Bye and probes, mDNS arrivals and goodbyes.

The hub is pinned to 127.0.0.1 and the simulated devices join the multicast
groups there only: nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from hub.cameras.discovery import DiscoveredDevice, device_seen
from hub.events import DeviceDiscovered, DeviceLost
from tests.servers.onvif_sim import WsDiscoveryResponder

pytestmark = pytest.mark.timeout(40)
BACKGROUND = (
    "plugins: {disabled: [onvif]}\n"
    "discovery: {enabled: true, interfaces: ['127.0.0.1'], rescan_seconds: 30}\n"
)
ENDPOINT = "urn:uuid:0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"


@pytest.fixture
async def responder() -> AsyncIterator[WsDiscoveryResponder]:
    try:
        device = await WsDiscoveryResponder(
            ENDPOINT, "http://127.0.0.1:8999/onvif/device_service", name="Garden Cam"
        ).start()
    except OSError as exc:
        pytest.skip(f"cannot join WS-Discovery multicast on loopback here: {exc}")
    yield device
    device.close()


async def _next(queue: Any, kind: type, device_id: str) -> Any:
    while True:
        event = await asyncio.wait_for(queue.get(), 10)
        if isinstance(event, kind) and event.device_id == device_id:
            return event


async def test_hello_and_bye_are_heard(make_hub, responder):
    hub = make_hub(BACKGROUND)
    await hub.async_start()
    try:
        events = hub.bus.subscribe("test", (DeviceDiscovered, DeviceLost))
        # The start-up probe already finds the responder; a Hello after that changes nothing.
        found = await _next(events, DeviceDiscovered, ENDPOINT)
        assert (found.name, found.host, found.source) == ("Garden Cam", "127.0.0.1", "ws-discovery")
        assert responder.probes >= 1
        device = hub.discovered[ENDPOINT]
        assert device.urls == ("http://127.0.0.1:8999/onvif/device_service",)

        responder.bye()
        lost = await _next(events, DeviceLost, ENDPOINT)
        assert lost.source == "ws-discovery"
        assert ENDPOINT not in hub.discovered

        responder.hello()
        again = await _next(events, DeviceDiscovered, ENDPOINT)
        assert again.name == "Garden Cam"
        assert ENDPOINT in hub.discovered
    finally:
        await hub.async_stop()


async def test_background_mode_is_off_unless_enabled(make_hub, responder):
    hub = make_hub("discovery: {interfaces: ['127.0.0.1']}\n")
    await hub.async_start()
    try:
        responder.hello()
        await asyncio.sleep(0.5)  # nothing should arrive; there is no event to wait for
        assert hub.discovered == {}
        assert responder.probes == 0
    finally:
        await hub.async_stop()


async def test_mdns_cameras_come_and_go(make_hub):
    hub = make_hub(BACKGROUND)
    await hub.async_start()
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"])
    info = ServiceInfo(
        "_rtsp._tcp.local.",
        "Shed Camera._rtsp._tcp.local.",
        addresses=[socket.inet_aton("127.0.0.1")],
        port=8554,
        properties={"model": "S2"},
        server="shed-camera.local.",
    )
    try:
        events = hub.bus.subscribe("test", (DeviceDiscovered, DeviceLost))
        await (await aiozc.async_register_service(info))
        found = await _next(events, DeviceDiscovered, "mdns:Shed Camera")
        assert (found.host, found.source) == ("127.0.0.1", "mdns")
        assert hub.discovered["mdns:Shed Camera"].urls == ("rtsp://127.0.0.1:8554/",)

        await (await aiozc.async_unregister_service(info))
        await _next(events, DeviceLost, "mdns:Shed Camera")
        assert "mdns:Shed Camera" not in hub.discovered
    finally:
        await aiozc.async_close()
        await hub.async_stop()


async def test_a_flood_of_announcements_is_bounded(make_hub, monkeypatch):
    monkeypatch.setattr("hub.cameras.discovery.MAX_KNOWN_DEVICES", 5)
    hub = make_hub("plugins: {disabled: [discovery, onvif]}\n")
    await hub.async_start()
    try:
        for number in range(20):
            device_seen(hub, DiscoveredDevice(id=f"urn:fake:{number}", name="x", host="127.0.0.9"))
        assert len(hub.discovered) == 5
        # A device already known still gets updated.
        device_seen(hub, DiscoveredDevice(id="urn:fake:0", name="x", host="127.0.0.9", urls=("u",)))
        assert hub.discovered["urn:fake:0"].urls == ("u",)
    finally:
        await hub.async_stop()
