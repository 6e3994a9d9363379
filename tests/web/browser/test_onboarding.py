"""Adding a camera the way a homeowner does: scan in the panel, pick the device, type its password.

The camera is the ONVIF simulator (SOAP + WS-Discovery on loopback, run on its own event loop
in a thread, since Playwright's sync API owns this one) whose stream is the real RTSP server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.servers.fixtures import Auth, Mount
from tests.servers.onvif_sim import OnvifSimulator, SimOptions, SimProfile, WsDiscoveryResponder
from tests.web.browser.conftest import create_admin, log_in, shot, start_hub, stop_hub

ENDPOINT = "urn:uuid:66666666-2222-4333-8444-555555555555"
PASSWORD = "garden-camera-pass"


class LoopThread:
    """An asyncio loop in a daemon thread, for servers the test needs beside the browser."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def onvif_camera(rtsp_server) -> Iterator[OnvifSimulator]:
    server = rtsp_server(
        [
            Mount("/main", width=640, height=360, fps=15, gop=15),
            Mount("/sub", width=320, height=180),
        ],
        auth=Auth("admin", PASSWORD),
    )
    loop = LoopThread()
    profiles = [
        SimProfile("main_tok", "Main", 640, 360, stream_uri=server.url("/main")),
        SimProfile("sub_tok", "Sub", 320, 180, stream_uri=server.url("/sub")),
    ]
    sim = loop.run(OnvifSimulator(SimOptions(password=PASSWORD, profiles=profiles)).start())
    try:
        responder = loop.run(WsDiscoveryResponder(ENDPOINT, sim.device_url, "Shed Cam").start())
    except OSError as exc:
        loop.run(sim.close())
        loop.close()
        pytest.skip(f"cannot join WS-Discovery multicast on loopback here: {exc}")
    yield sim
    loop.loop.call_soon_threadsafe(responder.close)
    loop.run(sim.close())
    loop.close()


def test_scan_pick_the_device_type_its_password_and_it_goes_live(
    onvif_camera, make_page, tmp_path: Path
):
    hub = start_hub(tmp_path / "hub", "discovery:\n  interfaces: ['127.0.0.1']\ncameras: {}\n")
    try:
        create_admin(hub)
        page = make_page(hub.url)
        log_in(page)
        page.goto("/#/cameras")
        page.get_by_role("button", name="Scan the network").click()
        device = page.get_by_test_id("discovered-device").filter(has_text="Shed Cam")
        device.wait_for(timeout=20000)
        device.get_by_role("button", name="Add…").click()
        form = device.get_by_test_id("add-camera-form")
        form.get_by_label("Camera id").fill("shed")
        form.get_by_label("Camera user name").fill("admin")
        form.get_by_label("Camera password").fill("not the password")
        form.get_by_role("button", name="Add camera").click()
        expect(form.locator(".form-status")).to_contain_text("wrong username or password")
        shot(page, "add-camera-error")
        form.get_by_label("Camera password").fill(PASSWORD)
        form.get_by_role("button", name="Add camera").click()
        row = page.locator('[data-testid="camera-row"][data-camera="shed"]')
        row.wait_for(timeout=20000)
        expect(row.get_by_test_id("camera-state")).to_have_text("online", timeout=30000)
        # The smaller H.264 profile became its detection stream: shown, and changeable.
        detect = row.get_by_test_id("camera-detect-url")
        expect(detect).to_contain_text("/sub")
        expect(detect).to_contain_text("admin:***@")
        row.get_by_role("button", name="Edit shed").click()
        editor = page.get_by_test_id("edit-camera-form")
        expect(editor.get_by_label("Detection stream URL")).to_have_value(
            onvif_camera.options.profiles[1].stream_uri
        )
        shot(page, "edit-camera")
        editor.get_by_label("Detection stream URL").fill("")
        editor.get_by_role("button", name="Save").click()
        expect(row.get_by_test_id("camera-detect-url")).to_have_count(0)
        expect(row.get_by_test_id("camera-state")).to_have_text("online", timeout=30000)
        page.goto("/#/live")
        tile = page.locator('[data-testid="live-tile"][data-camera="shed"]')
        expect(tile).to_have_attribute("data-mode", "mse", timeout=20000)
        shot(page, "added-camera-live")
    finally:
        stop_hub(hub)
