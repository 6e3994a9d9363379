"""`camhub discover` as a user runs it, against the ONVIF simulator on loopback."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.servers.onvif_sim import OnvifSimulator, WsDiscoveryResponder

pytestmark = pytest.mark.timeout(60)
ENDPOINT = "urn:uuid:99999999-2222-4333-8444-555555555555"
PASSWORD = "s3cret-pass"


@pytest.fixture
async def onvif_camera() -> AsyncIterator[OnvifSimulator]:
    sim = await OnvifSimulator().start()
    try:
        responder = await WsDiscoveryResponder(ENDPOINT, sim.device_url, "Drive Cam").start()
    except OSError as exc:
        await sim.close()
        pytest.skip(f"cannot join WS-Discovery multicast on loopback here: {exc}")
    yield sim
    responder.close()
    await sim.close()


async def camhub(tmp_path: Path, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """Run the real CLI; the config pins nothing, so every scan passes --interface 127.0.0.1."""
    config = tmp_path / "config.yaml"
    config.write_text("plugins: {disabled: [pyav_source]}\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "discover",
        "--config",
        str(config),
        "--data",
        str(tmp_path / "data"),
        "--interface",
        "127.0.0.1",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_json_lists_the_device_and_with_credentials_its_streams(tmp_path, onvif_camera):
    code, out, err = await camhub(
        tmp_path, "--timeout", "1", "--json", "--user", "admin", "--password", PASSWORD
    )
    assert code == 0, err
    [device] = [d for d in json.loads(out) if d["id"] == ENDPOINT]
    assert device["name"] == "Drive Cam"
    assert device["source"] == "ws-discovery"
    assert device["onvif_url"] == onvif_camera.device_url
    assert device["properties"]["hardware"] == "SC-1080"
    assert device["model"] == "SC-1080" and device["configured"] is False
    probe = device["probe"]
    assert (probe["manufacturer"], probe["model"], probe["error"]) == ("SimCam", "SC-1080", None)
    assert probe["main"]["stream_uri"] == "rtsp://127.0.0.1:554/main"
    assert probe["sub"]["stream_uri"] == "rtsp://127.0.0.1:554/sub"
    assert PASSWORD not in out + err


async def test_text_output_and_the_password_from_stdin(tmp_path, onvif_camera):
    code, out, err = await camhub(
        tmp_path, "--timeout", "1", "--user", "admin", stdin=f"{PASSWORD}\n".encode()
    )
    assert code == 0, err
    assert "Drive Cam  127.0.0.1" in out
    assert "SimCam SC-1080  via ws-discovery" in out
    assert f"ONVIF: {onvif_camera.device_url}" in out
    assert "profile MainStream (main): 1920x1080 H264" in out
    assert "stream:   rtsp://127.0.0.1:554/main" in out
    assert "profile SubStream (sub): 640x360 H264" in out


async def test_a_wrong_password_is_shown_per_device(tmp_path, onvif_camera):
    code, out, _ = await camhub(tmp_path, "--timeout", "1", "--user", "admin", "--password", "x")
    assert code == 0
    assert "probe failed: wrong username or password" in out


async def test_without_credentials_devices_are_listed_only(tmp_path, onvif_camera):
    code, out, _ = await camhub(tmp_path, "--timeout", "1")
    assert code == 0
    assert "Drive Cam" in out and "profile" not in out
