"""`discover_devices`: every plugin's answers are merged and deduplicated by the hub."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hub.cameras.discovery import DiscoveredDevice
from hub.events import DeviceDiscovered
from hub.hookspecs import hookimpl

# The built-in discovery plugin is switched off (these tests are about the hook itself) and
# pinned to loopback anyway: a test must never multicast on the machine's real network.
QUIET = "plugins: {disabled: [discovery]}\ndiscovery: {interfaces: ['127.0.0.1']}\n"


class Mdns:
    """Sync answer: two cameras."""

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    @hookimpl
    def discover_devices(self, hub: Any, timeout: float) -> list[DiscoveredDevice]:
        self.timeouts.append(timeout)
        return [
            DiscoveredDevice(
                id="cam-1",
                name="Porch",
                host="192.168.1.20",
                source="mdns",
                urls=("rtsp://192.168.1.20/main",),
                properties={"model": "P1"},
            ),
            DiscoveredDevice(id="cam-2", name="Garage", host="192.168.1.21", source="mdns"),
        ]


class WsDiscovery:
    """Async answer: one of the same cameras, seen another way, and one more."""

    @hookimpl
    async def discover_devices(self, hub: Any, timeout: float) -> list[DiscoveredDevice]:
        await asyncio.sleep(0.01)
        return [
            DiscoveredDevice(
                id="cam-1",
                name="",
                host="192.168.1.20",
                port=80,
                source="ws-discovery",
                urls=("rtsp://192.168.1.20/main", "http://192.168.1.20/onvif/device_service"),
                properties={"model": "ignored", "hardware": "h2"},
            ),
            DiscoveredDevice(id="cam-3", name="Hall", host="192.168.1.22", source="ws-discovery"),
        ]


class Broken:
    @hookimpl
    def discover_devices(self, hub: Any, timeout: float) -> list[DiscoveredDevice]:
        raise OSError("no multicast here")


async def test_answers_of_every_plugin_are_merged_by_device_id(make_hub):
    hub = make_hub(QUIET)
    mdns = Mdns()
    hub.plugins.register(mdns, "mdns")
    hub.plugins.register(WsDiscovery(), "wsd")
    hub.plugins.register(Broken(), "broken")
    await hub.async_start()
    try:
        await _scan_twice(hub, mdns)
    finally:
        await hub.async_stop()


async def _scan_twice(started_hub: Any, mdns: Mdns) -> None:
    events = started_hub.bus.subscribe("test", (DeviceDiscovered,))

    devices = await started_hub.async_discover(0.5)

    assert mdns.timeouts == [0.5]
    assert sorted(d.id for d in devices) == ["cam-1", "cam-2", "cam-3"]
    merged = next(d for d in devices if d.id == "cam-1")
    assert merged.name == "Porch"
    assert merged.port == 80
    assert set(merged.source.split(",")) == {"mdns", "ws-discovery"}
    assert merged.urls.count("rtsp://192.168.1.20/main") == 1
    assert "http://192.168.1.20/onvif/device_service" in merged.urls
    assert merged.properties["hardware"] == "h2"
    assert merged.properties["model"] in ("P1", "ignored")
    assert set(started_hub.discovered) == {"cam-1", "cam-2", "cam-3"}
    assert started_hub.plugins.infos["broken"].failures == 1

    announced = []
    while len(announced) < 3:
        announced.append(await asyncio.wait_for(events.get(), 1))
    assert sorted(e.device_id for e in announced) == ["cam-1", "cam-2", "cam-3"]

    # A second scan finds the same devices: nothing new is announced.
    await started_hub.async_discover(0.5)
    await started_hub.async_block_till_done()
    assert events.stats.queued == 0


async def test_no_discovery_plugin_means_no_devices(make_hub):
    hub = make_hub(QUIET)
    await hub.async_start()
    try:
        assert await hub.async_discover(0.1) == []
    finally:
        await hub.async_stop()


async def test_a_hub_that_was_not_started_can_scan_as_camhub_discover_does(make_hub):
    hub = make_hub(QUIET)
    hub.plugins.register(Mdns(), "mdns")
    devices = await hub.async_discover(0.1)
    assert [d.id for d in devices] == ["cam-1", "cam-2"]  # sorted by host, then name
    assert hub.bus.published == 0  # no events from a hub that is not running


async def test_only_three_failures_in_a_row_disable_a_discovery_plugin(make_hub):
    outcomes = iter(["fail", "fail", "ok", "fail", "fail", "fail", "ok", "ok"])
    calls: list[str] = []

    class Flaky:
        @hookimpl
        def discover_devices(self, hub: Any, timeout: float) -> list[DiscoveredDevice]:
            outcome = next(outcomes)
            calls.append(outcome)
            if outcome == "fail":
                raise TimeoutError("multicast socket busy")
            return [DiscoveredDevice(id="cam-9", name="Shed", host="192.168.1.29")]

    hub = make_hub(QUIET)
    hub.plugins.register(Flaky(), "flaky")
    info = hub.plugins.infos["flaky"]
    states = []
    for _ in range(7):
        await hub.async_discover(0.1)
        states.append(info.state)

    # The success after two failures starts the count again; the next three end it.
    assert calls == ["fail", "fail", "ok", "fail", "fail", "fail"]
    assert states == ["active"] * 5 + ["failed"] * 2
    assert info.failures == 5
    assert any("plugin flaky disabled" in p for p in hub.problems)
    assert await hub.async_discover(0.1) == []


async def test_plugins_scan_at_the_same_time(make_hub):
    class Slow:
        @hookimpl
        async def discover_devices(self, hub: Any, timeout: float) -> list[DiscoveredDevice]:
            await asyncio.sleep(timeout)
            return []

    hub = make_hub(QUIET)
    hub.plugins.register(Slow(), "slow_a")
    hub.plugins.register(Slow(), "slow_b")
    began = time.monotonic()
    await hub.async_discover(0.3)
    assert time.monotonic() - began < 0.5
