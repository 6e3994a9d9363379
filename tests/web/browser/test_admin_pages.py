"""Admin pages of the panel: add a camera by URL, save zones, the audit log, storage privacy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from playwright.sync_api import expect

from hub.extensions.manager import DISABLE_AUTOLOAD_ENV
from tests.web.browser.conftest import create_admin, log_in, shot, start_hub, stop_hub

PASSPHRASE = "long sealed passphrase"


def test_add_a_camera_by_url_and_see_its_tile_then_remove_it(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/cameras")
    form = page.get_by_test_id("add-url-form")
    form.get_by_label("Camera id").fill("Porch Cam")
    form.get_by_label("Stream URL", exact=True).fill("demo://")
    form.get_by_role("button", name="Add camera").click()
    expect(form.locator('.field[data-path="id"] .field-error')).to_contain_text(
        "lowercase letters, digits and _"
    )
    form.get_by_label("Camera id").fill("porch")
    form.get_by_role("button", name="Add camera").click()
    row = page.locator('[data-testid="camera-row"][data-camera="porch"]')
    expect(row).to_be_visible()
    # Detection switched off here stays off (kept in the database, as from Home Assistant).
    switch = row.get_by_test_id("camera-detection")
    expect(switch).to_be_checked()
    switch.uncheck()
    expect(row.get_by_test_id("camera-detection")).not_to_be_checked()
    expect(row).to_contain_text("off")
    page.goto("/#/live")
    expect(page.locator('[data-testid="live-tile"][data-camera="porch"]')).to_be_visible()
    shot(page, "camera-added-by-url")
    page.goto("/#/cameras")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove porch").click()
    expect(row).to_have_count(0)
    assert "porch" not in (demo_hub.data / "cameras.yaml").read_text()


def test_the_live_grid_follows_cameras_added_and_removed_elsewhere(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/live")
    expect(page.get_by_test_id("live-grid")).to_be_visible()
    tile = page.locator('[data-testid="live-tile"][data-camera="shed"]')
    expect(tile).to_have_count(0)
    # Another admin (same session here) adds a camera through the API, not this page.
    call = (
        "async ([m, u, b]) => "
        '{ const api = await import("/static/js/api.js"); await api[m](u, b ?? undefined); }'
    )
    page.evaluate(call, ["post", "/api/cameras", {"id": "shed", "url": "demo://"}])
    expect(tile).to_be_visible()
    page.evaluate(call, ["del", "/api/cameras/shed", None])
    expect(tile).to_have_count(0)


def test_draw_and_save_a_zone_then_reload_and_find_it(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/cameras/yard/zones")
    editor = page.get_by_test_id("zone-editor")
    page.get_by_label("Name").fill("doorstep")
    page.get_by_role("button", name="Start drawing").click()
    svg = editor.locator("svg")
    box = svg.bounding_box()
    deadline = time.monotonic() + 15  # the SVG takes the picture's size once it has loaded
    while (box is None or box["width"] < 100) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        box = svg.bounding_box()
    assert box is not None and box["width"] >= 100
    for x, y in ((0.1, 0.6), (0.4, 0.6), (0.4, 0.9)):
        svg.click(position={"x": box["width"] * x, "y": box["height"] * y})
    # A second zone of two corners: the hub refuses it and the list says which one.
    page.get_by_label("Name").fill("line")
    page.get_by_role("button", name="Start drawing").click()
    svg.click(position={"x": box["width"] * 0.7, "y": box["height"] * 0.2})
    svg.click(position={"x": box["width"] * 0.8, "y": box["height"] * 0.2})
    page.get_by_role("button", name="Save", exact=True).click()
    bad = page.get_by_test_id("zone-item").filter(has_text="line")
    expect(bad.locator(".field-error")).not_to_be_empty()
    bad.get_by_role("button", name="Remove line").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("hub-notice")).to_contain_text("Saved")
    page.reload()
    expect(page.get_by_test_id("zone-item").filter(has_text="doorstep")).to_contain_text(
        "3 corners"
    )
    stored = yaml.safe_load((demo_hub.data / "cameras.yaml").read_text())
    assert list(stored["overrides"]["yard"]["zones"]) == ["doorstep"]
    shot(page, "zone-saved")


def test_audit_page_lists_the_login_filters_and_checks_the_chain(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/system")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_test_id("audit-chain")).to_contain_text("intact")
    rows = page.get_by_test_id("audit-row")
    expect(rows.filter(has_text="login.ok").first).to_be_visible()
    page.get_by_label("Action starts with").fill("mode.")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("audit-summary")).to_have_text("No entries match.")
    page.get_by_label("Action starts with").fill("login.")
    page.get_by_role("button", name="Filter").click()
    expect(rows.first).to_contain_text("login.ok")
    assert all("login." in text for text in rows.all_inner_texts())
    href = page.get_by_test_id("audit-csv").get_attribute("href")
    assert href is not None and "format=csv" in href and "action=login." in href
    download = page.request.get(demo_hub.url + href)  # the page's session cookie
    assert download.ok and download.text().splitlines()[0].startswith("id,time,user,action")
    shot(page, "audit-page")


def test_storage_privacy_unlocks_a_sealed_hub_and_erase_asks_first(make_page, tmp_path: Path):
    folder = tmp_path / "sealed"
    folder.mkdir()
    config = "storage:\n  encryption:\n    mode: sealed\ncameras: {}\n"
    (folder / "config.yaml").write_text(config)
    data = str(folder / "data")
    camhub = Path(sys.executable).with_name("camhub")
    command = [str(camhub)] if camhub.exists() else [sys.executable, "-m", "hub.cli"]
    subprocess.run(
        [*command, "keys", "init", "--config", str(folder / "config.yaml"), "--data", data],
        input=PASSPHRASE + "\n",
        text=True,
        check=True,
        env={**os.environ, DISABLE_AUTOLOAD_ENV: "1"},
        timeout=60,
    )
    hub = start_hub(folder, config)
    try:
        create_admin(hub)
        page = make_page(hub.url)
        log_in(page)
        page.goto("/#/system/privacy")
        expect(page.get_by_test_id("encryption-mode")).to_have_text("sealed")
        expect(page.get_by_test_id("encryption-state")).to_have_text("locked")
        page.get_by_label("Passphrase").fill("not it")
        page.get_by_role("button", name="Unlock").click()
        expect(page.get_by_test_id("unlock-form")).to_contain_text("Wrong passphrase")
        page.get_by_label("Passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        expect(page.get_by_test_id("encryption-state")).to_have_text("unlocked")

        erase = page.get_by_test_id("erase")
        erase.get_by_label("From").fill("2026-01-01T00:00:00")
        erase.get_by_label("Until").fill("2026-01-02T00:00:00")
        erase.get_by_role("button", name="Erase…").click()
        expect(page.get_by_test_id("erase-confirm")).to_contain_text("cannot be undone")
        page.get_by_role("button", name="Erase for good").click()
        expect(page.get_by_test_id("erase-status")).to_contain_text("Erased")

        export = page.get_by_test_id("export")
        export.get_by_label("From").fill("2026-01-01T00:00:00")
        export.get_by_label("Until").fill("2026-01-02T00:00:00")
        link = page.get_by_test_id("export-link")
        expect(link).to_be_visible()
        href = link.get_attribute("href")
        assert href is not None and href.startswith("/api/footage/export?start=")
        archive = page.request.get(hub.url + href)
        assert archive.ok and archive.headers["content-type"] == "application/x-tar"

        page.get_by_role("button", name="Lock now").click()
        expect(page.get_by_test_id("encryption-state")).to_have_text("locked")
        shot(page, "storage-privacy")
    finally:
        stop_hub(hub)
