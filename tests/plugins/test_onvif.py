"""The ONVIF client against the camera simulator: login, clock, streams, and real-world quirks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hub import hookspecs
from hub.cameras.discovery import DeviceProbe
from plugins.onvif.client import MEDIA_NS, OnvifClient
from plugins.onvif.media import async_probe
from plugins.onvif.soap import Credentials
from tests.servers.onvif_sim import OnvifSimulator, SimOptions, SimProfile

pytestmark = pytest.mark.timeout(30)
GOOD = Credentials("admin", "s3cret-pass")

Probe = Callable[..., Awaitable[tuple[DeviceProbe, OnvifClient, OnvifSimulator]]]


@pytest.fixture
async def probe() -> AsyncIterator[Probe]:
    """Start a simulator with options and probe it; everything closed after the test."""
    sims: list[OnvifSimulator] = []
    sessions: list[aiohttp.ClientSession] = []

    async def run(
        credentials: Credentials | None = GOOD, timeout: float = 5.0, **options: Any
    ) -> tuple[DeviceProbe, OnvifClient, OnvifSimulator]:
        sim = await OnvifSimulator(SimOptions(**options)).start()
        sims.append(sim)
        session = aiohttp.ClientSession()
        sessions.append(session)
        client = OnvifClient(session, sim.device_url, credentials, timeout=timeout)
        return await async_probe(client), client, sim

    yield run
    for session in sessions:
        await session.close()
    for sim in sims:
        await sim.close()


async def test_a_camera_is_described_with_its_main_and_sub_streams(probe):
    result, client, sim = await probe()

    assert result.error is None
    assert (result.manufacturer, result.model, result.serial) == ("SimCam", "SC-1080", "SIM0001")
    assert result.media2 is True
    assert result.main is not None and result.sub is not None
    assert (result.main.token, result.main.width, result.main.height) == ("main_tok", 1920, 1080)
    assert result.main.stream_uri == "rtsp://127.0.0.1:554/main"
    assert result.main.codec == "H264"
    assert result.sub.token == "sub_tok" and result.sub.stream_uri == "rtsp://127.0.0.1:554/sub"
    assert result.main.snapshot_uri == f"http://127.0.0.1:{sim.port}/snapshot/main_tok.jpg"
    # The clock is read first, unauthenticated; everything after carries a valid digest.
    assert sim.calls[0] == "GetSystemDateAndTime"
    assert client.auth == "digest" and set(sim.auth_modes) == {"digest"}
    assert sim.auth_failures == 0


async def test_main_and_sub_are_picked_by_resolution_not_by_order(probe):
    profiles = [
        SimProfile("p1", "Mid", 1280, 720, stream_uri="rtsp://127.0.0.1:554/mid"),
        SimProfile("p2", "Tiny", 320, 180, stream_uri="rtsp://127.0.0.1:554/tiny"),
        SimProfile("p3", "Big", 2560, 1440, codec="H265", stream_uri="rtsp://127.0.0.1:554/big"),
        SimProfile("p4", "Sub", 640, 360, stream_uri="rtsp://127.0.0.1:554/sub"),
    ]
    result, _, _ = await probe(profiles=profiles)
    assert result.main is not None and result.sub is not None
    assert (result.main.token, result.main.codec) == ("p3", "H265")
    # Detection frames are 360 lines high: the smallest profile that tall, not the tiny one.
    assert result.sub.token == "p4"


async def test_service_addresses_of_0_0_0_0_are_reached_where_the_device_answered(probe):
    # A camera with a default config (or behind NAT) names services at an address we
    # cannot reach; its device service is where we found it.
    result, client, sim = await probe(host="127.0.0.2", xaddr_host="0.0.0.0", get_services=False)
    assert result.error is None
    assert client.services[MEDIA_NS] == f"http://127.0.0.2:{sim.port}/onvif/media_service"
    assert "GetProfiles" in sim.calls


async def test_a_wrong_password_is_reported_in_plain_words(probe):
    result, _, sim = await probe(credentials=Credentials("admin", "nope"))
    assert result.error == "wrong username or password" and result.login_refused
    assert result.main is None
    assert sim.auth_failures >= 1
    assert "nope" not in repr(result)


async def test_a_camera_clock_two_hours_ahead_is_corrected(probe):
    result, client, sim = await probe(clock_offset=7200)
    assert result.error is None
    assert client.clock_offset == pytest.approx(7200, abs=2)
    assert result.clock_offset == pytest.approx(7200, abs=2)
    assert sim.auth_modes and set(sim.auth_modes) == {"digest"}


async def test_without_the_clock_correction_the_same_camera_refuses_us(probe, monkeypatch):
    # Proves the previous test can fail: the simulator really checks Created.
    async def no_sync(self: OnvifClient) -> None:
        return None

    monkeypatch.setattr(OnvifClient, "async_sync_clock", no_sync)
    _, client, sim = await probe(clock_offset=7200)
    assert "digest" not in sim.auth_modes and sim.auth_failures >= 1
    assert client.auth == "text"  # only the plain-text fallback got in


async def test_a_device_that_only_takes_plain_text_passwords(probe):
    result, client, sim = await probe(auth="text")
    assert result.error is None
    assert client.auth == "text"
    assert sim.auth_modes[-1] == "text"


async def test_a_device_that_wants_http_digest(probe):
    result, client, sim = await probe(auth="http")
    assert result.error is None and result.main is not None
    assert client.auth == "http"
    assert sim.auth_modes[-1] == "http"


async def test_soap_1_1_odd_prefixes_no_media2_no_get_services(probe):
    result, _, sim = await probe(soap11=True, odd_prefixes=True, media2=False, get_services=False)
    assert result.error is None
    assert result.media2 is False
    assert result.main is not None and result.main.stream_uri == "rtsp://127.0.0.1:554/main"
    assert "GetCapabilities" in sim.calls  # the fallback for devices without GetServices
    assert "GetProfiles" in sim.calls


async def test_soap_1_1_faults_are_understood(probe):
    result, _, _ = await probe(credentials=Credentials("admin", "bad"), soap11=True)
    assert result.error == "wrong username or password" and result.login_refused


async def test_a_slow_device_is_reported_as_not_answering(probe):
    result, _, _ = await probe(delay=2.0, timeout=0.5)
    assert result.error == "127.0.0.1 did not answer within 0.5 s" and not result.login_refused


async def test_a_device_answering_garbage_is_reported_not_crashed(probe):
    result, _, _ = await probe(garbage=True)
    assert result.error is not None
    assert "not valid XML" in result.error or "not a SOAP" in result.error


async def test_the_probe_hook_of_the_builtin_plugin(make_hub):
    sim = await OnvifSimulator().start()
    try:
        hub = make_hub("plugins: {disabled: [discovery]}\n")
        result = await hub.plugins.async_call_first(
            hookspecs.probe_device,
            hub=hub,
            url=sim.device_url,
            username="admin",
            password="s3cret-pass",
        )
        assert isinstance(result, DeviceProbe) and result.error is None
        not_http = await hub.plugins.async_call_first(
            hookspecs.probe_device, hub=hub, url="rtsp://127.0.0.1/x", username="", password=""
        )
        assert not_http is None
    finally:
        await sim.close()
