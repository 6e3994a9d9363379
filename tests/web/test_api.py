"""The core API served by the app factory, against a started hub."""

from __future__ import annotations

import re

import pytest

from hub.cameras.discovery import DiscoveredDevice
from hub.hookspecs import hookimpl
from web.keys import HUB_KEY


@pytest.fixture
def client_for(make_api_client):
    async def make(config: str = "{}\n", plugins: dict | None = None):
        return await make_api_client(config=config, plugins=plugins)

    return make


async def test_health_says_ok_with_version(client_for):
    client = await client_for()
    response = await client.get("/api/health")
    assert response.status == 200
    data = await response.json()
    assert data["status"] == "ok" and data["version"]
    assert data["bus"]["dropped"] == 0


async def test_health_tells_each_caller_only_what_they_may_see(make_api_client):
    config = (
        "cameras:\n  front:\n    url: demo://\n    enabled: false\n"
        "  back:\n    url: demo://\n    enabled: false\n"
    )
    admin = await make_api_client(config=config)
    hub = admin.app[HUB_KEY]
    hub.problems.append("cameras.yaml:3: cameras.garage: also in the config file")
    anonymous = await make_api_client(hub=hub, role=None)
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["back"])
    assert await (await anonymous.get("/api/health")).json() == {"status": "ok"}
    seen = await (await viewer.get("/api/health")).json()
    assert list(seen["cameras"]) == ["camera.back"]
    assert set(seen) == {"status", "uptime", "version", "cameras"}
    everything = await (await admin.get("/api/health")).json()
    assert set(everything["cameras"]) == {"camera.front", "camera.back"}
    assert everything["problems"] and "bus" in everything


async def test_cameras_list_states_and_never_passwords(client_for):
    client = await client_for(
        "plugins:\n  disabled: [pyav_source]\n"
        "cameras:\n"
        "  front:\n"
        "    name: Front door\n"
        "    url: rtsp://admin:${CAM_PW:-s3cretpass}@192.0.2.10:554/main\n"
        "  side:\n"
        "    url: demo://\n"
        "    enabled: false\n"
    )
    response = await client.get("/api/cameras")
    text = await response.text()
    assert "s3cretpass" not in text
    cameras = {c["id"]: c for c in (await response.json())["cameras"]}
    assert cameras["front"]["url"] == "rtsp://admin:***@192.0.2.10:554/main"
    assert cameras["front"]["name"] == "Front door"
    assert cameras["front"]["state"] == "error"
    assert cameras["front"]["reason"] == "no source plugin opens rtsp URLs"
    assert cameras["side"]["state"] == "disabled"


async def test_plugins_list_name_version_hooks_state(client_for):
    client = await client_for()
    plugins = {p["name"]: p for p in (await (await client.get("/api/plugins")).json())["plugins"]}
    assert plugins["log_notifier"] == {
        "name": "log_notifier",
        "source": "builtin",
        "version": "1.0.0",
        "state": "active",
        "error": None,
        "failures": 0,
        "hooks": ["notifier_types"],
    }


async def test_discovery_scan_merges_plugin_answers(client_for):
    class Finder:
        @hookimpl
        async def discover_devices(self, hub, timeout):
            return [DiscoveredDevice(id="urn:cam1", name="Cam", host="192.0.2.5", source="test")]

    # Pinned to loopback: the built-in discovery plugin scans too, and must not use the LAN.
    client = await client_for(
        "discovery: {interfaces: ['127.0.0.1']}\n", plugins={"finder": Finder()}
    )
    assert (await (await client.get("/api/discovery")).json()) == {"devices": []}
    devices = (await (await client.get("/api/discovery?scan=0.5")).json())["devices"]
    assert [d["id"] for d in devices] == ["urn:cam1"]
    assert (await client.get("/api/discovery?scan=abc")).status == 400
    assert (await client.get("/api/discovery?scan=99")).status == 400


async def test_metrics_exposes_counters(client_for):
    client = await client_for("cameras:\n  a:\n    url: demo://\n")
    text = await (await client.get("/metrics")).text()
    assert "camhub_bus_published_total" in text
    assert 'camhub_plugin_failures_total{plugin="log_notifier",state="active"} 0' in text
    assert 'camhub_camera_online{camera="a"} 0' in text
    # Adaptive decoding: one gauge per mode, exactly one of them 1; frames decoded per second.
    modes = re.findall(r'camhub_camera_decode_mode\{camera="a",mode="(\w+)"\} (\d)', text)
    assert sorted(m for m, _ in modes) == ["full", "idle", "off"]
    assert sum(int(v) for _, v in modes) == 1
    assert re.search(r'camhub_camera_decoded_fps\{camera="a"\} \d+\.\d\d', text)
    assert 'camhub_camera_decode_wakeups_total{camera="a"} 0' in text


async def test_panel_is_served_offline_with_a_strict_csp(client_for):
    client = await client_for()
    response = await client.get("/")
    assert response.status == 200
    html = await response.text()
    assert "camhub" in html and "/static/app.js" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    script = await client.get("/static/app.js")
    assert script.status == 200 and "javascript" in script.headers["Content-Type"]
    assert (await client.get("/static/../../hub/core.py")).status in (403, 404)
