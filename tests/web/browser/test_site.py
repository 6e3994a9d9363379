"""Two `camhub run` hubs on one mosquitto, in a real chromium: the panel of one shows the
other's camera (its latest still) on Live and its events (with thumbnails) on Events, links
to the other's panel for footage, and shows it offline once it stops."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.plugins.test_mqtt_site import site_notifier
from tests.web.browser.conftest import (
    DEMO_URL,
    create_admin,
    log_in,
    shot,
    start_hub,
    stop_hub,
)


def site_config(port: int, name: str) -> str:
    return site_notifier(port, name, still_interval=2)


def test_the_panel_shows_the_other_hub_of_the_site(tmp_path, mqtt_broker, make_page):
    broker = mqtt_broker()
    barn = start_hub(
        tmp_path / "barn",
        site_config(broker.port, "barn")
        + f"""cameras:
  yard:
    name: Yard
    url: "{DEMO_URL}"
    detect:
      fps: 5
    motion:
      end_after: 1
    objects:
      enabled: false  # what this test is about is stills and events, not the detector's CPU
    record:
      mode: "off"
""",
    )
    house = start_hub(tmp_path / "house", site_config(broker.port, "house") + "cameras: {}\n")
    try:
        create_admin(house)
        page = make_page(house.url)
        log_in(page)

        peer = page.locator('[data-testid="peer"][data-hub="barn"]')
        expect(peer).to_have_attribute("data-state", "online", timeout=20000)
        tile = peer.locator('[data-testid="peer-tile"][data-camera="yard"]')
        expect(tile).to_have_attribute("href", "http://barn.lan:8470/#/live/yard")
        # The still arrives every 2 s; the tile is redrawn with it.
        expect(tile.locator("img")).to_have_count(1, timeout=20000)
        assert tile.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        expect(peer.get_by_test_id("peer-panel")).to_have_attribute("href", "http://barn.lan:8470")
        # Pushed over the live socket: a newer still redraws the tile by itself.
        first = tile.locator("img").get_attribute("src")
        still_at = (
            "async () => (await (await fetch('/api/site')).json()).peers[0].cameras[0].still_at"
        )
        seen = page.evaluate(still_at)
        deadline = time.monotonic() + 40
        while page.evaluate(still_at) == seen:
            assert time.monotonic() < deadline, "no newer still of barn's camera reached the hub"
            time.sleep(0.5)
        expect(tile.locator("img")).not_to_have_attribute("src", first, timeout=10000)
        shot(page, "site-live")

        page.goto("/#/events")
        row = page.locator('[data-testid="peer-event"][data-hub="barn"]').first
        expect(row).to_be_visible(timeout=45000)  # the demo figure's first walk starts at 3 s
        expect(row).to_contain_text("barn / yard")
        expect(row.locator("img")).to_have_count(1)
        assert row.locator("a").get_attribute("href").startswith("http://barn.lan:8470/#/events/")
        shot(page, "site-events")

        stop_hub(barn)
        page.goto("/#/live")
        expect(peer).to_have_attribute("data-state", "offline", timeout=20000)
        expect(peer.get_by_test_id("peer-state")).to_have_text("offline")
        expect(peer.locator('[data-testid="peer-tile"]')).to_have_count(1)  # still listed
        shot(page, "site-offline")
    finally:
        stop_hub(house)
        stop_hub(barn)
