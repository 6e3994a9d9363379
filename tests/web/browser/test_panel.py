"""The panel in a real chromium against a real camhub: sign-in, live video, events, automations."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.web.browser.conftest import ADMIN, log_in, setup_code, shot

PHONE = {"width": 390, "height": 844}


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll a browser-side condition (each poll is a round trip to chromium)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what} not met in {timeout} s")


def test_first_run_setup_login_logout_and_csrf(bare_hub, make_page):
    page = make_page(bare_hub.url)
    page.goto("/")
    form = page.get_by_test_id("setup-form")
    form.wait_for()
    shot(page, "setup")
    page.get_by_label("Setup code").fill(setup_code(bare_hub))
    page.get_by_label("User name").fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_label("Password again").fill("something else")
    page.get_by_role("button", name="Create administrator").click()
    expect(page.locator('.field[data-path="password2"] .field-error')).to_contain_text("differ")
    page.get_by_label("Password again").fill(ADMIN[1])
    page.get_by_role("button", name="Create administrator").click()
    page.get_by_test_id("account-name").wait_for()
    expect(page.get_by_test_id("account-name")).to_have_text("admin (admin)")
    page.get_by_test_id("live-grid").wait_for()
    # Setup is one-time: the API says so and the form is gone for good.
    assert bare_hub.api("GET", "/api/auth/setup") == (
        200,
        {"needed": False, "code_required": False},
    )

    # A write without the CSRF token is refused even with the session cookie; with it, it works.
    statuses = page.evaluate(
        """async () => {
            const body = JSON.stringify({mode: "away"});
            const headers = {"Content-Type": "application/json"};
            const bare = await fetch("/api/mode", {method: "PUT", body, headers});
            const me = await (await fetch("/api/auth/me")).json();
            const good = await fetch("/api/mode", {
                method: "PUT", body, headers: {...headers, "X-CSRF-Token": me.csrf_token}});
            return [bare.status, good.status];
        }"""
    )
    assert statuses == [403, 200]

    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-form").wait_for()
    assert page.evaluate("fetch('/api/cameras').then(r => r.status)") == 401
    page.get_by_label("User name").fill(ADMIN[0])
    page.get_by_label("Password", exact=True).fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("form-status")).to_contain_text("wrong user name or password")
    shot(page, "login-error")
    page.get_by_label("Password", exact=True).fill(ADMIN[1])
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("live-grid").wait_for()


FRAME_SUM = """(video) => {
    const canvas = document.createElement("canvas");
    canvas.width = 160; canvas.height = 90;
    const g = canvas.getContext("2d");
    g.drawImage(video, 0, 0, 160, 90);
    const data = g.getImageData(0, 0, 160, 90).data;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) sum = (sum * 31 + data[i]) % 1000000007;
    return sum;
}"""


def test_live_tile_plays_stream_copied_video_through_mse(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    tile = page.locator('[data-testid="live-tile"][data-camera="yard"]')
    tile.wait_for()
    wait_for(lambda: tile.get_attribute("data-mode") == "mse", what="MSE playback")
    video = tile.locator("video")
    first = video.evaluate("v => v.currentTime")
    wait_for(lambda: video.evaluate("v => v.currentTime") > first + 1.0, what="time advancing")
    # The figure walks every 14 s: within that the picture changes.
    hashes = {video.evaluate(FRAME_SUM)}
    wait_for(lambda: hashes.add(video.evaluate(FRAME_SUM)) or len(hashes) > 2, 20, "moving video")
    assert video.evaluate("v => v.videoWidth") == 640
    shot(page, "live")
    # The whole first load (page, styles, scripts, API answers; not pictures or video).
    loaded = page.evaluate(
        """() => [...performance.getEntriesByType("navigation"),
                  ...performance.getEntriesByType("resource")]
            .filter(e => e.initiatorType !== "img" && e.initiatorType !== "video")
            .reduce((sum, e) => sum + e.encodedBodySize, 0)"""
    )
    assert 10_000 < loaded < 150 * 1024, loaded

    tile.click()
    stage = page.get_by_test_id("camera-stage")
    wait_for(lambda: stage.get_attribute("data-mode") == "mse", what="MSE in the camera view")
    page.get_by_test_id("recent-events").wait_for()
    shot(page, "live-camera")


def test_live_tile_falls_back_to_snapshots_without_mse(demo_hub, make_page):
    page = make_page(demo_hub.url)
    page.add_init_script("delete window.MediaSource; delete window.ManagedMediaSource;")
    log_in(page)
    tile = page.locator('[data-testid="live-tile"][data-camera="yard"]')
    wait_for(lambda: tile.get_attribute("data-mode") == "snapshot", what="snapshot fallback")
    image = tile.locator("img")
    wait_for(lambda: image.evaluate("i => i.complete && i.naturalWidth") == 640, what="a picture")
    first = image.get_attribute("src")
    wait_for(lambda: image.get_attribute("src") != first, what="a refreshed picture")
    assert tile.locator("video").is_hidden()
    assert "snapshots" in tile.get_by_test_id("tile-mode").inner_text()


def test_an_event_appears_in_the_timeline_and_its_clip_plays(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/events")
    item = page.get_by_test_id("event-item").first
    item.wait_for(timeout=40000)  # arrives over /api/ws when the figure walks
    assert page.get_by_test_id("timeline-mark").count() >= 1
    # The clip is made once the event has ended (and its post-roll is recorded).
    finished = wait_for(
        lambda: page.evaluate(
            """async () => {
                const {events} = await (await fetch("/api/events?limit=5")).json();
                const done = events.find(e => e.end);
                if (!done) return null;
                const clip = await fetch(`/api/events/${done.id}/clip.mp4`);
                return clip.ok ? done.id : null;
            }"""
        ),
        40,
        "a finished event with a clip",
    )
    page.goto(f"/#/events/{finished}")
    clip = page.get_by_test_id("clip")
    clip.wait_for()
    loaded = "v => v.readyState >= 1 && v.duration > 1"
    wait_for(lambda: clip.evaluate(loaded), what="clip metadata")
    duration = clip.evaluate("v => v.duration")
    clip.evaluate("v => { v.muted = true; return v.play(); }")
    wait_for(lambda: clip.evaluate("v => v.currentTime > 0.3"), what="clip playing")
    # Seeking asks for a byte range; the hub answers 206 and the player lands there.
    target = round(duration / 2, 1)
    clip.evaluate(f"v => {{ v.currentTime = {target}; }}")
    wait_for(lambda: clip.evaluate(f"v => !v.seeking && v.currentTime >= {target}"), what="seek")
    assert page.get_by_test_id("download").get_attribute("href").endswith("clip.mp4?download=1")
    shot(page, "events")

    fetch_event = f"fetch('/api/events/{finished}').then(r => r.ok ? r.json() : r.status)"
    page.get_by_test_id("keep").click()
    expect(page.get_by_test_id("keep")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate(fetch_event)["keep"] is True
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("delete-event").click()
    expect(page.get_by_test_id("event-detail")).to_be_hidden()
    assert page.evaluate(fetch_event) == 404
    assert page.locator(f'[data-event="{finished}"]').count() == 0


def test_automation_built_in_the_visual_editor_fires_and_shows_its_trace(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    page.goto("/#/automations/new")
    page.get_by_label("Name", exact=True).fill("Someone in the yard")
    page.get_by_test_id("automation-editor").get_by_text("More options").first.click()
    expect(page.get_by_label("Id", exact=True)).to_have_value("someone_in_the_yard")
    page.get_by_label("Id", exact=True).fill("walk_alert")
    trigger = page.get_by_test_id("trigger-block").first
    trigger.get_by_test_id("trigger-type").select_option("motion")
    trigger.get_by_label("Camera (optional)").select_option("yard")
    # A nested condition: "any of these" holding "mode is home" (the hub is at home).
    page.get_by_test_id("add-condition").first.click()
    page.get_by_test_id("condition-choices").first.get_by_role(
        "button", name="Any of these"
    ).click()
    group = page.get_by_test_id("condition-block").first
    group.get_by_test_id("add-condition").click()
    group.get_by_test_id("condition-search").fill("house mode")
    group.get_by_test_id("condition-choices").get_by_role(
        "button", name="Only in a house mode"
    ).click()
    group.get_by_test_id("condition-block").get_by_label("Mode", exact=True).select_option("home")
    action = page.get_by_test_id("action-block").first
    action.get_by_test_id("action-type").select_option("notify")
    action.get_by_label("Notifier").select_option("phone")
    action.get_by_label("Message").fill("{label} on {camera}")  # motion fills no {label}
    page.get_by_test_id("save-automation").click()
    error = action.locator('.field[data-path="actions.0.message"] .field-error')
    expect(error).to_contain_text(
        "unknown placeholder {label}: the motion trigger does not fill it"
    )
    assert action.get_by_label("Message").get_attribute("aria-invalid") is not None
    # Only the wrong field is marked.
    assert page.locator(".field.has-error").count() == 1
    shot(page, "automation-validation")
    action.get_by_label("Message").fill("Someone on {camera}")
    page.get_by_test_id("save-automation").click()
    page.wait_for_url("**/#/automations/walk_alert")
    page.get_by_test_id("tab-yaml").click()
    yaml = page.get_by_test_id("automation-yaml")
    expect(yaml).to_have_value(
        re.compile(
            r"type: motion[\s\S]*type: or\n\s+conditions:\n\s+- type: mode\n\s+mode:\s+- home"
        )
    )
    expect(yaml).to_have_value(re.compile(r"notifier: phone"))
    # Edited as text, checked by the hub, errors by line.
    text = yaml.input_value()
    yaml.fill(text.replace("notifier: phone", "notifier: phon"))
    page.get_by_test_id("save-automation").click()
    line = text.splitlines().index("  notifier: phone") + 1
    expect(page.get_by_test_id("yaml-errors")).to_contain_text(
        f"line {line}: actions.0.notifier: unknown notifier 'phon'"
    )
    yaml.fill(text.replace("alias: Someone in the yard", "alias: Someone in the garden"))
    page.get_by_test_id("save-automation").click()
    expect(page.get_by_test_id("yaml-errors")).to_be_empty()
    page.get_by_test_id("tab-visual").click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Someone in the garden")
    shot(page, "automation-editor")

    page.goto("/#/automations/walk_alert/traces")
    trace = page.get_by_test_id("trace").first
    trace.wait_for(timeout=40000)  # the figure's next walk
    wait_for(lambda: "finished" in trace.get_by_test_id("trace-state").inner_text(), 20, "done")
    assert "notify" in trace.get_by_test_id("trace-step").first.inner_text()
    expect(trace.get_by_test_id("trace-condition").first).to_contain_text("passed")
    shot(page, "automation-trace")
    page.goto("/#/automations")
    row = page.locator('[data-automation="walk_alert"]')
    expect(row.get_by_test_id("last-triggered")).not_to_contain_text("never")
    state = "fetch('/api/automations/walk_alert').then(r => r.json()).then(a => a.state)"
    row.get_by_test_id("automation-enabled").uncheck()
    wait_for(lambda: page.evaluate(state) == "off", 10, "disabled")
    row.get_by_label("Snooze Someone in the garden").select_option(label="Snooze 1 hour")
    row.get_by_test_id("automation-enabled").check()
    wait_for(lambda: page.evaluate(state) == "snoozed", 10, "snoozed")


def test_phone_layout_and_every_page(demo_hub, make_page):
    page = make_page(demo_hub.url, **PHONE, is_mobile=True, has_touch=True)
    log_in(page)
    for name in ("live", "events", "automations", "cameras", "system"):
        page.goto(f"/#/{name}")
        page.locator("#view h1").wait_for()
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} scrolls sideways ({width}px)"
        shot(page, f"phone-{name}")
    page.goto("/#/live")
    tile = page.get_by_test_id("live-tile").first
    box = tile.bounding_box()
    assert box is not None and box["width"] > PHONE["width"] * 0.8  # one column
    page.goto("/#/system")
    page.get_by_test_id("house-mode").select_option("night")
    page.get_by_text("House mode is now night.").wait_for()


def test_desktop_pages_and_a_viewer_sees_less(demo_hub, make_page):
    page = make_page(demo_hub.url)
    log_in(page)
    for name in ("cameras", "system"):
        page.goto(f"/#/{name}")
        page.locator("#view h1").wait_for()
        page.wait_for_load_state("networkidle")
        shot(page, name)
    page.goto("/#/cameras")
    row = page.locator('[data-testid="camera-row"][data-camera="yard"]')
    expect(row.get_by_test_id("camera-state")).to_have_text("online")
    page.get_by_role("button", name="Zones of Yard").click()
    page.get_by_test_id("zone-editor").wait_for()
    page.get_by_label("Name", exact=True).fill("path")
    page.get_by_role("button", name="Start drawing").click()
    editor = page.get_by_test_id("zone-editor").locator("svg")
    for x, y in ((0.2, 0.6), (0.6, 0.6), (0.5, 0.95)):
        box = editor.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])
    expect(page.get_by_test_id("zone-yaml")).to_contain_text("path:")
    assert page.get_by_test_id("zone-editor").locator("polygon").count() == 1
    shot(page, "zones")

    assert demo_hub.api("GET", "/api/cameras")[0] == 401  # the API itself needs a session
    page.goto("/#/system")
    decoding = page.get_by_test_id("decode-yard")
    expect(decoding).to_contain_text("adaptive")  # the default
    expect(decoding.locator(".badge")).to_have_attribute("data-state", re.compile("^(idle|full)$"))
    page.get_by_test_id("user-list").wait_for()
    page.get_by_label("User name").fill("kid")
    page.get_by_label("Password", exact=True).fill("viewer password 1")
    page.get_by_label("Cameras a viewer may see").fill("yard")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_test_id("user-list")).to_contain_text("kid")
    viewer = make_page(demo_hub.url)
    log_in(viewer, "kid", "viewer password 1")
    assert viewer.get_by_role("link", name="Automations").is_hidden()
    viewer.locator('[data-testid="live-tile"][data-camera="yard"]').wait_for()
    viewer.goto("/#/system")
    viewer.get_by_test_id("house-mode").wait_for()
    assert viewer.get_by_test_id("house-mode").is_disabled()
    assert viewer.get_by_test_id("users").count() == 0


def test_live_updates_socket_reconnects_after_it_drops(demo_hub, make_page):
    page = make_page(demo_hub.url)
    sockets = []

    def relay(socket):
        sockets.append(socket)
        socket.connect_to_server()

    page.route_web_socket(re.compile(r"/api/ws$"), relay)
    log_in(page)
    status = page.get_by_test_id("health-status")
    # Route handlers run only while Playwright has the floor: wait through it, not time.sleep.
    wait_for(lambda: page.wait_for_timeout(50) or len(sockets) == 1, 10, "the live socket")
    expect(status).to_have_attribute("data-state", "ok")
    sockets[0].close()  # as if the hub restarted or the Wi-Fi dropped
    wait_for(lambda: page.wait_for_timeout(50) or len(sockets) == 2, 10, "a reconnect")
    expect(status).to_have_attribute("data-state", "ok")
    expect(status).to_contain_text("Live")
