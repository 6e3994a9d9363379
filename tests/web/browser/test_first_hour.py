"""A homeowner's first hour in a real chromium: setting up from another device with the code
the hub printed and seeing the demo camera's person event, a recipe built with pickers only,
and the phone layout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.web.browser.conftest import (
    ADMIN,
    DEMO_URL,
    RunningHub,
    create_admin,
    log_in,
    setup_code,
    shot,
    start_hub,
    stop_hub,
)

PHONE = {"width": 390, "height": 844}
# Loopback, but not 127.0.0.1: the hub must answer on every address of the machine.
OTHER_ADDRESS = "127.0.0.2"

HOUSE = f"""
cameras:
  door:
    name: Front door
    url: "{DEMO_URL}"
    detect: {{fps: 5}}
    motion: {{end_after: 1}}
    record: {{mode: events, pre_seconds: 1, post_seconds: 1, segment_seconds: 2}}
    zones:
      steps: {{points: [[0, 0], [1, 0], [1, 1]]}}
    objects: {{labels: [person, car]}}
  garden:
    url: "demo://?period=600&first=500"
    enabled: false
notifiers:
  phone:
    type: panel
  diary:
    type: log
"""


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    hub = start_hub(tmp_path_factory.mktemp("house"), HOUSE)
    create_admin(hub)
    yield hub
    stop_hub(hub)


def test_first_run_setup_from_another_address_then_the_demo_shows_a_person(
    make_page, tmp_path: Path
):
    # No config file: the embedded default, as `camhub run` starts the first time.
    hub = start_hub(tmp_path / "hub", None, host=None)
    try:
        url = hub.url.replace("127.0.0.1", OTHER_ADDRESS)
        page = make_page(url)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto("/")
        form = page.get_by_test_id("setup-form")
        form.wait_for()
        # Signed out: the status says the hub runs, not "Checking…" forever, and nothing failed.
        expect(page.get_by_test_id("health-status")).to_contain_text("Hub running")
        assert errors == [], errors
        expect(form).to_contain_text("terminal")  # where to find the code
        shot(page, "setup-code")
        form.get_by_label("Setup code").fill("AAAA-BBBB-CCCC")
        form.get_by_label("User name").fill(ADMIN[0])
        form.get_by_label("Password", exact=True).fill(ADMIN[1])
        form.get_by_label("Password again").fill(ADMIN[1])
        form.get_by_role("button", name="Create administrator").click()
        expect(form.locator('.field[data-path="code"] .field-error')).to_contain_text(
            "wrong setup code"
        )
        assert hub.api("GET", "/api/auth/setup")[1]["needed"] is True
        # Typed as a person would from the terminal: lower case is fine.
        form.get_by_label("Setup code").fill(setup_code(hub).lower())
        form.get_by_role("button", name="Create administrator").click()
        expect(page.get_by_test_id("account-name")).to_have_text("admin (admin)")
        assert hub.api("GET", "/api/auth/setup")[1]["needed"] is False

        # The demo camera's walker is what a new owner sees first: a person event, found by
        # the bundled model (its first walk starts 5 s in, the next 30 s later).
        page.goto("/#/events")
        person = page.get_by_test_id("event-label").filter(has_text="person").first
        person.wait_for(timeout=120_000)
        row = page.locator(".event-row").filter(has=person)
        assert row.get_by_test_id("event-score").inner_text().endswith("%")
        shot(page, "first-run-person")
    finally:
        stop_hub(hub)


def test_the_door_at_night_recipe_built_with_pickers_only(house, make_page):
    page = make_page(house.url)
    log_in(page)
    page.goto("/#/automations")
    page.get_by_test_id("recipes").get_by_role(
        "link", name="Tell me when a person is at the door at night"
    ).click()
    editor = page.get_by_test_id("automation-editor")
    editor.wait_for()
    trigger = page.get_by_test_id("trigger-block").first
    expect(trigger.get_by_test_id("trigger-type")).to_have_value("object")
    # Pickers, not ids: the cameras by name, then that camera's zones and labels.
    trigger.get_by_label("Camera (optional)").select_option(label="Front door (door)")
    trigger.get_by_label("Zone (optional)").select_option("steps")
    trigger.get_by_label("Label (optional)").select_option("person")
    condition = page.get_by_test_id("condition-block").first
    expect(condition.get_by_label("After (optional)")).to_have_value("22:00")
    action = page.get_by_test_id("action-block").first
    action.get_by_label("Notifier").select_option("phone")
    # The message offers the placeholders this trigger fills; {label} is one of them.
    message = action.get_by_label("Message")
    message.fill("")
    message.focus()
    chips = action.get_by_test_id("placeholders")
    expect(chips).to_contain_text("{label}")
    expect(chips).to_contain_text("{zone}")
    chips.get_by_role("button", name="Insert {label}").click()
    message.press("End")
    message.type(" at the door")
    shot(page, "recipe-door-at-night")
    page.get_by_test_id("save-automation").click()
    page.wait_for_url("**/#/automations/person_at_the_door_at_night")
    # The confirmation survives the navigation, and it is not styled as an error.
    notice = page.get_by_test_id("hub-notice")
    expect(notice).to_contain_text("Saved")
    assert notice.get_attribute("data-kind") == "ok"
    # Focus moved to the new page's heading (for screen readers), without a ring drawn.
    focused = page.evaluate(
        "() => [document.activeElement.tagName,"
        " getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["H1", "none"]
    config = json.loads(
        page.evaluate("fetch('/api/automations/person_at_the_door_at_night').then(r => r.text())")
    )["config"]
    assert config["triggers"] == [
        {"type": "object", "camera": "door", "zone": "steps", "label": "person"}
    ]
    assert config["conditions"] == [{"type": "time", "after": "22:00", "before": "07:00"}]
    [notify] = config["actions"]
    assert notify["notifier"] == "phone" and notify["message"] == "{label} at the door"
    assert notify["snapshot"] is True and "continue_on_error" not in notify


def test_a_new_automation_starts_on_the_first_camera_and_notifier(house, make_page):
    page = make_page(house.url)
    log_in(page)
    page.goto("/#/automations")
    page.get_by_test_id("new-automation").click()
    trigger = page.get_by_test_id("trigger-block").first
    expect(trigger.get_by_test_id("trigger-type")).to_have_value("motion")
    expect(trigger.get_by_label("Camera (optional)")).to_have_value("door")
    action = page.get_by_test_id("action-block").first
    expect(action.get_by_test_id("action-type")).to_have_value("notify")
    expect(action.get_by_label("Notifier")).to_have_value("phone")
    # Plain words in the type list; "stop on error" is not ticked for the person.
    assert "Motion detected" in trigger.get_by_test_id("trigger-type").inner_text()
    action.get_by_text("More options").click()
    expect(action.get_by_label("Stop the automation if this step fails")).not_to_be_checked()
    # Adding a condition: a searchable list of plain names.
    page.get_by_test_id("add-condition").first.click()
    page.get_by_test_id("condition-search").fill("mode")
    choices = page.get_by_test_id("condition-choices")
    expect(choices.locator("button")).to_have_count(1)
    choices.get_by_role("button", name="Only in a house mode").click()
    block = page.get_by_test_id("condition-block").first
    block.get_by_label("Mode").select_option(["home", "night"])
    # {label} is not something motion fills: the editor does not offer it.
    page.get_by_test_id("action-block").first.get_by_label("Message").focus()
    chips = page.get_by_test_id("action-block").first.get_by_test_id("placeholders")
    expect(chips).to_contain_text("{camera}")
    expect(chips).not_to_contain_text("{label}")
    shot(page, "new-automation")
    page.get_by_test_id("save-automation").click()
    page.wait_for_url("**/#/automations/motion_on_front_door")


def test_file_automations_are_read_only_in_the_panel(make_page, tmp_path: Path):
    hub = start_hub(
        tmp_path / "hub",
        "cameras: {}\nnotifiers: {diary: {type: log}}\nautomations:\n"
        "  - id: evening\n    alias: Evening\n    triggers: [{type: sun, event: sunset}]\n"
        "    actions: [{type: notify, notifier: diary, message: 'Good evening'}]\n"
        "location: {latitude: 48.8, longitude: 2.3}\n",
    )
    try:
        create_admin(hub)
        page = make_page(hub.url)
        log_in(page)
        page.goto("/#/automations")
        row = page.locator('[data-automation="evening"]')
        expect(row.get_by_test_id("defined-in")).to_have_text("in config.yaml")
        row.get_by_role("link", name="Evening").click()
        expect(page.get_by_test_id("file-notice")).to_contain_text("Defined in config.yaml")
        assert page.get_by_test_id("save-automation").count() == 0
        expect(page.get_by_test_id("trigger-type")).to_be_disabled()
        config = hub.data.parent / "config.yaml"
        config.write_text(config.read_text().replace("Good evening", "Good night"))
        page.get_by_test_id("reload-file").click()
        expect(page.get_by_test_id("hub-notice")).to_contain_text("1 changed")
        expect(page.get_by_test_id("action-block").first.get_by_label("Message")).to_have_value(
            "Good night"
        )
    finally:
        stop_hub(hub)


def test_phone_events_navigation_and_cameras(house, make_page):
    page = make_page(house.url, **PHONE, is_mobile=True, has_touch=True)
    log_in(page)
    # Every page of the nav is on screen: none hides past the edge.
    for link in page.locator(".site-nav a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    page.get_by_role("link", name="System").tap()
    page.wait_for_url("**/#/system")
    # The camera table stacks: each value is on screen with its column's name.
    page.goto("/#/cameras")
    row = page.locator('[data-testid="camera-row"][data-camera="door"]')
    row.wait_for()
    for cell in row.locator("td").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-cameras")
    page.goto("/#/events")
    item = page.get_by_test_id("event-item").last
    item.wait_for(timeout=40000)
    item.scroll_into_view_if_needed()
    item.tap()
    clip = page.get_by_test_id("clip")
    clip.wait_for()
    expect(clip).to_be_in_viewport(ratio=1)  # all of it, not a sliver at the bottom
    shot(page, "phone-event")
