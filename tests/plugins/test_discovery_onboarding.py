"""Onboarding end to end: discover the ONVIF simulator, add it through the API, record its stream.

The simulator's GetStreamUri points at the real RTSP server (which asks for the
same credentials); WS-Discovery runs on loopback only.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from hub.core import Hub
from hub.events import RecordingSaved
from tests.helpers import hub_at, wait_for_state
from tests.servers.fixtures import Auth, Mount
from tests.servers.onvif_sim import OnvifSimulator, SimOptions, SimProfile, WsDiscoveryResponder
from web.keys import HUB_KEY

pytestmark = pytest.mark.timeout(90)
ENDPOINT = "urn:uuid:11111111-2222-4333-8444-555555555555"
PASSWORD = "right-horse-battery"
LOOPBACK = "discovery: {interfaces: ['127.0.0.1']}\n"


@pytest.fixture
async def camera_on_lan(rtsp_server) -> AsyncIterator[tuple[OnvifSimulator, Any]]:
    """An ONVIF camera: SOAP simulator + WS-Discovery responder + real RTSP streams."""
    server = rtsp_server(
        [
            Mount("/main", width=640, height=360, fps=15, gop=15),
            Mount("/sub", width=320, height=180),
        ],
        auth=Auth("admin", PASSWORD),
    )
    profiles = [
        SimProfile("main_tok", "Main", 640, 360, stream_uri=server.url("/main")),
        SimProfile("sub_tok", "Sub", 320, 180, stream_uri=server.url("/sub")),
    ]
    sim = await OnvifSimulator(SimOptions(password=PASSWORD, profiles=profiles)).start()
    try:
        responder = await WsDiscoveryResponder(ENDPOINT, sim.device_url, "Garden Cam").start()
    except OSError as exc:
        await sim.close()
        pytest.skip(f"cannot join WS-Discovery multicast on loopback here: {exc}")
    yield sim, server
    responder.close()
    await sim.close()


def _add_url(device_id: str) -> str:
    return f"/api/discovery/{quote(device_id, safe='')}/add"


async def test_discover_add_and_record_without_restart(
    make_api_client, camera_on_lan, tmp_path, caplog
):
    sim, _ = camera_on_lan
    caplog.set_level(logging.DEBUG)
    client = await make_api_client(config=LOOPBACK)
    hub: Hub = client.app[HUB_KEY]

    devices = (await (await client.get("/api/discovery?scan=1")).json())["devices"]
    [device] = [d for d in devices if d["id"] == ENDPOINT]
    assert device["name"] == "Garden Cam"
    assert device["onvif_url"] == sim.device_url
    assert device["configured"] is False

    wrong = await client.post(_add_url(ENDPOINT), json={"username": "admin", "password": "nope"})
    assert wrong.status == 400
    assert await wrong.text() == "wrong username or password"
    assert hub.cameras == {}

    recorded = hub.bus.subscribe("test", (RecordingSaved,))
    response = await client.post(
        _add_url(ENDPOINT),
        json={
            "username": "admin",
            "password": PASSWORD,
            "camera_id": "garden",
            "record_mode": "continuous",
        },
    )
    text = await response.text()
    assert response.status == 201, text
    assert PASSWORD not in text
    answer = await response.json()
    assert answer["camera"]["id"] == "garden"
    assert answer["camera"]["url"].startswith("rtsp://admin:***@127.0.0.1:")
    assert answer["device"]["manufacturer"] == "SimCam"
    assert answer["device"]["main"]["token"] == "main_tok"

    # Running now, with no restart: online, and segments being recorded from the main stream.
    await wait_for_state(hub, "camera.garden", "online", timeout=30)
    saved = await asyncio.wait_for(recorded.get(), 40)  # a 10 s segment, cut at a keyframe
    assert saved.camera == "garden" and saved.bytes > 0
    [segment] = await hub.recordings.async_segments("garden")
    assert segment.duration > 5

    listed = (await (await client.get("/api/discovery")).json())["devices"]
    [again] = [d for d in listed if d["id"] == ENDPOINT]
    assert (again["configured"], again["camera"]) == (True, "garden")
    second = await client.post(_add_url(ENDPOINT), json={"username": "admin", "password": PASSWORD})
    assert second.status == 409

    cameras_text = await (await client.get("/api/cameras")).text()
    assert PASSWORD not in cameras_text
    assert PASSWORD not in caplog.text


async def test_a_camera_with_a_broken_optional_answer_is_added_and_records(
    make_api_client, camera_on_lan
):
    # A real camera answered GetSnapshotUri with XML no parser could read, and could not be
    # added at all. The snapshot URL is optional: the camera is added without it.
    sim, _ = camera_on_lan
    sim.options.sloppy = {"GetSnapshotUri": "truncated", "GetDeviceInformation": "html_page"}
    client = await make_api_client(config=LOOPBACK)
    hub: Hub = client.app[HUB_KEY]
    await hub.async_discover(1.0)
    recorded = hub.bus.subscribe("test", (RecordingSaved,))
    response = await client.post(
        _add_url(ENDPOINT),
        json={"username": "admin", "password": PASSWORD, "record_mode": "continuous"},
    )
    assert response.status == 201, await response.text()
    answer = await response.json()
    notes = answer["device"]["notes"]
    assert [n.split(":")[0] for n in notes] == ["GetDeviceInformation"] + ["GetSnapshotUri"] * 2
    assert "no snapshot URL for profile Main" in " ".join(notes)
    camera_id = answer["camera"]["id"]
    config = hub.cameras[camera_id].config
    assert config.onvif is not None and config.onvif.snapshot_url is None
    await wait_for_state(hub, f"camera.{camera_id}", "online", timeout=30)
    saved = await asyncio.wait_for(recorded.get(), 40)
    assert saved.camera == camera_id and saved.bytes > 0


async def test_an_added_camera_survives_a_restart_with_its_password_kept_secret(
    make_api_client, camera_on_lan, tmp_path
):
    client = await make_api_client(config=LOOPBACK)
    hub: Hub = client.app[HUB_KEY]
    await hub.async_discover(1.0)
    response = await client.post(
        _add_url(ENDPOINT),
        json={"username": "admin", "password": PASSWORD, "name": "Back garden"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["camera"]["id"] == "back_garden"
    await wait_for_state(hub, "camera.back_garden", "online", timeout=30)
    await client.close()
    await hub.async_stop()

    data = tmp_path / "data"
    cameras_file = (data / "cameras.yaml").read_text()
    assert PASSWORD not in cameras_file
    assert "password: !secret 'back_garden_password'" in cameras_file
    secrets = data / "secrets.yaml"
    assert yaml.safe_load(secrets.read_text()) == {"back_garden_password": PASSWORD}
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600

    restarted = hub_at(tmp_path, LOOPBACK)
    config = restarted.cameras["back_garden"].config
    assert config.name == "Back garden"
    assert config.onvif is not None and config.onvif.password == PASSWORD
    assert config.url.startswith(f"rtsp://admin:{PASSWORD}@127.0.0.1:")
    assert restarted.redactor(config.url).startswith("rtsp://admin:***@")
    await restarted.async_start()
    try:
        await wait_for_state(restarted, "camera.back_garden", "online", timeout=30)
    finally:
        await restarted.async_stop()


async def test_a_broken_cameras_file_is_a_problem_not_a_crash(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cameras.yaml").write_text(
        "cameras:\n  good:\n    url: demo://\n    record: {mode: 'off'}\n"
        "  bad:\n    url: ftp://x\n  front:\n    url: demo://\n"
    )
    hub = hub_at(
        tmp_path, "plugins: {disabled: [pyav_source]}\ncameras:\n  front:\n    url: demo://\n"
    )
    assert set(hub.cameras) == {"front", "good"}
    await hub.async_start()
    try:
        problems = " | ".join(hub.problems)
        assert "cameras.bad: url: unsupported scheme" in problems
        assert "cameras.front: also in the config file, which wins" in problems
    finally:
        await hub.async_stop()


async def test_adding_needs_an_admin_and_a_known_onvif_device(make_api_client):
    admin = await make_api_client(config=LOOPBACK)
    missing = await admin.post(_add_url("urn:nothing"), json={"username": "a", "password": "b"})
    assert missing.status == 404
    bad = await admin.post(
        _add_url("urn:nothing"), json={"username": "a", "password": "b", "record_mode": "x"}
    )
    assert bad.status == 400
    viewer = await make_api_client(hub=admin.app[HUB_KEY], role="viewer")
    refused = await viewer.post(_add_url("urn:nothing"), json={"username": "a", "password": "b"})
    assert refused.status == 403
