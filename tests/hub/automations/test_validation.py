"""Invalid automations: each problem named by its field path; reported and off, never fatal."""

from __future__ import annotations

import pytest

from hub.events import MotionStarted
from tests.hub.automations.conftest import notifications, publish

GOOD_AND_BAD = """\
automations:
  - id: bad
    triggers:
      - type: motion
        camera: porch
    actions:
      - type: notify
        notifier: phone
        message: hi
      - type: delay
        seconds: 5
      - type: notify
        notifier: phon
        message: hi
  - id: good
    triggers:
      - type: motion
        camera: porch
    actions:
      - type: notify
        notifier: phone
        message: "motion on {camera}"
"""


async def test_a_bad_automation_is_reported_and_off_while_the_rest_runs(auto_hub):
    hub = await auto_hub(GOOD_AND_BAD)
    assert hub.running
    message = "automation bad disabled: actions[2].notifier: unknown notifier 'phon' (known: phone)"
    assert message in hub.problems
    view = hub.automations.automations["bad"].as_dict()
    assert view["state"] == "invalid"
    assert view["errors"] == [
        {"path": "actions[2].notifier", "message": "unknown notifier 'phon' (known: phone)"}
    ]
    await publish(hub, MotionStarted(camera="porch", event_id="m"))
    [row] = await notifications(hub, 1)
    assert row["automation_id"] == "good" and row["body"] == "motion on porch"


LABEL = {"type": "label", "label": "person"}
ATTIC = {"type": "record", "camera": "attic", "seconds": 5}
NOTIFY = {"type": "notify", "notifier": "phone", "message": "x"}


@pytest.mark.parametrize(
    ("automation", "path", "message"),
    [
        ({"triggers": []}, "triggers", "needs at least 1 item(s)"),
        ({"actions": "go"}, "actions", "must be a list (got 'go')"),
        ({"aliass": "x"}, "aliass", "unknown key (did you mean 'alias'?)"),
        ({"triggers": [{"camera": "porch"}]}, "triggers[0].type", "required key is missing"),
        (
            {"triggers": [{"type": "motion", "camra": "porch"}]},
            "triggers[0].camra",
            "unknown key (did you mean 'camera'?)",
        ),
        (
            {"triggers": [{"type": "time", "at": "25:00"}]},
            "triggers[0].at",
            "must be a time of day like 22:00 or 06:30:15 (got '25:00')",
        ),
        (
            {"triggers": [{"type": "time"}]},
            "triggers[0]",
            "give either `at` or `cron`",
        ),
        (
            {"triggers": [{"type": "object", "camera": "porch", "zone": "stairs"}]},
            "triggers[0].zone",
            "unknown zone of porch 'stairs' (known: steps)",
        ),
        (
            {"triggers": [{"type": "webhook", "webhook_id": "short"}]},
            "triggers[0].webhook_id",
            "must match ^[A-Za-z0-9_-]{16,128}$ (got 'short')",
        ),
        (
            {"conditions": [{"type": "or", "conditions": [{"type": "mode", "mode": "Away!"}]}]},
            "conditions[0].conditions[0].mode",
            "a mode is 1-32 lowercase letters, digits or _ (got 'Away!')",
        ),
        (
            {
                "actions": [
                    {
                        "type": "if",
                        "conditions": [{"type": "label", "label": "person"}],
                        "then": [{"type": "delay"}],
                    }
                ]
            },
            "actions[0].then[0].seconds",
            "required key is missing",
        ),
        (
            {
                "actions": [
                    {
                        "type": "choose",
                        "choices": [
                            {
                                "conditions": [{"type": "zone", "zone": "a"}],
                                "actions": [{"type": "record", "camera": "attic", "seconds": 5}],
                            }
                        ],
                    }
                ]
            },
            "actions[0].choices[0].actions[0].camera",
            "unknown camera 'attic' (known: garage, porch)",
        ),
        (
            {"actions": [{"type": "wait_for_trigger", "triggers": [{"type": "sunn"}]}]},
            "actions[0].triggers[0].type",
            "unknown trigger type 'sunn' (known: camera_state, mode, motion, mqtt, object, "
            "onvif_event, sun, time, webhook)",
        ),
        (
            {
                "actions": [
                    {
                        "type": "notify",
                        "notifier": "phone",
                        "message": "x",
                        "continue_on_error": "yes",
                    }
                ]
            },
            "actions[0].continue_on_error",
            "must be true or false",
        ),
    ],
)
async def test_field_paths(auto_hub, automation, path, message):
    hub = await auto_hub()
    data = {
        "id": "x",
        "triggers": [{"type": "motion"}],
        "actions": [{"type": "stop"}],
        **automation,
    }
    issues = hub.automations.validate(data)
    assert (path, message) in [(i.path, i.message) for i in issues], issues


async def test_sun_needs_a_location(tmp_path):
    from hub.config.loading import load_config
    from hub.core import Hub

    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    hub = Hub(load_config(config), tmp_path / "data")
    await hub.async_start()
    try:
        data = {"id": "x", "triggers": [{"type": "sun", "event": "sunset"}],
                "actions": [{"type": "stop"}]}  # fmt: skip
        [issue] = hub.automations.validate(data)
        assert str(issue) == (
            "triggers[0].event: set location.latitude and location.longitude for sun triggers"
        )
    finally:
        await hub.async_stop()


async def test_fixing_a_bad_automation_in_the_file_clears_its_problem(auto_hub):
    hub = await auto_hub(GOOD_AND_BAD)
    path = hub.loaded.path
    path.write_text(path.read_text().replace("notifier: phon\n", "notifier: phone\n"))
    report = await hub.automations.async_reload_file()
    assert report.changed == ["bad"]
    assert hub.automations.automations["bad"].as_dict()["state"] == "on"
    assert not [p for p in hub.problems if p.startswith("automation bad")]


def _notify(message: str, *triggers: dict, **extra) -> dict:
    return {
        "id": "p",
        "triggers": list(triggers),
        "actions": [{"type": "notify", "notifier": "phone", "message": message}],
        **extra,
    }


async def test_templates_may_use_only_the_placeholders_their_triggers_fill(auto_hub):
    hub = await auto_hub("")
    engine = hub.automations
    motion, person = {"type": "motion"}, {"type": "object", "label": "person"}
    assert engine.validate(_notify("{label} in {zone} on {camera} at {time:%H:%M}", person)) == []
    [issue] = engine.validate(_notify("{label} on {camera}", motion))
    assert issue.path == "actions[0].message"
    assert issue.message.startswith(
        "unknown placeholder {label}: the motion trigger does not fill it (known: {alias}, "
        "{automation}, {camera}, {event_id}, {motion}, {time}, {trigger}, {trigger_id})"
    )
    # Either trigger may start the run: a placeholder must be filled by both.
    [issue] = engine.validate(_notify("{label}", motion, person))
    assert "the motion trigger does not fill it" in issue.message
    assert engine.validate(_notify("{camera} {event_id}", motion, person)) == []
    # The automation's own variables are placeholders too; `{{` is a literal brace.
    assert engine.validate(_notify("{who} {{label}}", motion, variables={"who": "x"})) == []
    [issue] = engine.validate(_notify("hi", motion) | {"actions": [
        {"type": "notify", "notifier": "phone", "message": "ok", "title": "{nope}"}]})  # fmt: skip
    assert issue.path == "actions[0].title" and "nothing fills it" not in issue.message


async def test_the_types_api_describes_every_type_in_plain_words(auto_hub):
    hub = await auto_hub("")
    types = hub.automations.types_info()
    for info in types:
        assert info["title"] and info["icon"] and info["description"], info["name"]
    titles = {(t["kind"], t["name"]): t["title"] for t in types}
    assert titles[("trigger", "motion")] == "Motion detected"
    assert titles[("action", "notify")] == "Send a notification"
    builtin_triggers = [t for t in types if t["kind"] == "trigger" and t["plugin"] == "builtin"]
    assert all(isinstance(t["placeholders"], dict) for t in builtin_triggers)
    # The most used come first, so a new automation starts with them.
    assert [t["name"] for t in types if t["kind"] == "trigger"][:2] == ["motion", "object"]
    assert next(t["name"] for t in types if t["kind"] == "action") == "notify"
    notify = next(t for t in types if t["name"] == "notify")
    assert notify["schema"]["properties"]["message"]["format"] == "template"
