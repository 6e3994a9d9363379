"""One rule for where an automation lives: the config file owns those it defines (loaded at
every start and reload), the database those made in the panel; no edit is ignored."""

from __future__ import annotations

import logging

import pytest

from hub.automations.engine import FileOwnedError
from hub.config.loading import ConfigError
from tests.hub.automations.conftest import BASE, hub_for

DOOR = """\
automations:
  - id: door
    triggers: [{type: motion, camera: porch}]
    actions: [{type: notify, notifier: phone, message: "MESSAGE"}]
"""
PANEL_MADE = {
    "id": "panel_made",
    "triggers": [{"type": "mode", "to": "away"}],
    "actions": [{"type": "notify", "notifier": "phone", "message": "away"}],
}


async def started(tmp_path, text: str):
    hub = hub_for(tmp_path, text)
    await hub.async_start()
    return hub


def message_of(hub, automation_id: str) -> str:
    return hub.automations.automations[automation_id].config["actions"][0]["message"]


async def test_an_edit_of_the_file_is_applied_at_the_next_start(tmp_path):
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "first"))
    assert await hub.automations.async_save(PANEL_MADE, create=True) == []
    await hub.async_stop()
    # The issue's case: the file was edited after the first start, with a mistake at first.
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "second").replace("phone", "phon"))
    try:
        view = hub.automations.automations["door"].as_dict()
        assert view["state"] == "invalid" and view["source"] == "file"
        assert view["defined_in"] == "config.yaml"
        assert view["errors"][0]["path"] == "actions[0].notifier"
        assert hub.automations.automations["panel_made"].as_dict()["source"] == "panel"
    finally:
        await hub.async_stop()
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "third"))
    try:
        assert message_of(hub, "door") == "third"
        assert hub.automations.automations["door"].as_dict()["state"] == "on"
        assert not [p for p in hub.problems if "door" in p]  # the old error went with it
        assert "panel_made" in hub.automations.automations  # the panel's stay
    finally:
        await hub.async_stop()


async def test_reload_applies_additions_changes_and_removals_and_keeps_the_panels(tmp_path):
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "one"))
    try:
        assert await hub.automations.async_save(PANEL_MADE, create=True) == []
        path = hub.loaded.path
        path.write_text(
            BASE
            + DOOR.replace("MESSAGE", "two")
            + "  - id: gate\n    triggers: [{type: mode}]\n    actions: [{type: stop}]\n"
        )
        report = await hub.automations.async_reload_file()
        assert (report.added, report.changed, report.removed) == (["gate"], ["door"], [])
        assert message_of(hub, "door") == "two" and "gate" in hub.automations.automations
        path.write_text(BASE + "automations: []\n")
        report = await hub.automations.async_reload_file()
        assert sorted(report.removed) == ["door", "gate"]
        assert list(hub.automations.automations) == ["panel_made"]
    finally:
        await hub.async_stop()


async def test_file_automations_are_read_only_here_but_their_switch_is_remembered(tmp_path):
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "hi"))
    try:
        config = dict(hub.automations.automations["door"].config)
        [issue] = await hub.automations.async_save(config, create=False)
        assert issue.message.startswith("defined in config.yaml: edit it there, then reload")
        with pytest.raises(FileOwnedError):
            await hub.automations.async_delete("door")
        await hub.automations.async_set_enabled("door", False)
    finally:
        await hub.async_stop()
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "hi"))
    try:  # unchanged in the file: still off, as switched
        assert hub.automations.automations["door"].enabled is False
    finally:
        await hub.async_stop()
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "changed"))
    try:  # changed in the file: the file says (enabled: true by default)
        assert hub.automations.automations["door"].enabled is True
    finally:
        await hub.async_stop()


async def test_the_file_takes_over_a_panel_automation_of_the_same_id_and_says_so(tmp_path, caplog):
    hub = await started(tmp_path, "")
    try:
        moved = {**PANEL_MADE, "id": "door"}
        assert await hub.automations.async_save(moved, create=True) == []
        # `camhub automations export`, pasted into config.yaml, then reloaded:
        path = hub.loaded.path
        path.write_text(path.read_text() + DOOR.replace("MESSAGE", "from the file"))
        with caplog.at_level(logging.WARNING):
            report = await hub.automations.async_reload_file()
        assert report.taken_over == ["door"]
        assert message_of(hub, "door") == "from the file"
        assert "Automation door is now defined in config.yaml" in caplog.text
    finally:
        await hub.async_stop()


async def test_a_file_that_does_not_load_changes_nothing(tmp_path):
    hub = await started(tmp_path, DOOR.replace("MESSAGE", "kept"))
    try:
        path = hub.loaded.path
        path.write_text(path.read_text().replace("triggers:", "triggerz:"))
        with pytest.raises(ConfigError) as caught:
            await hub.automations.async_reload_file()
        assert "automations[0].triggers: required key is missing" in str(caught.value.issues[0])
        assert message_of(hub, "door") == "kept"
    finally:
        await hub.async_stop()
