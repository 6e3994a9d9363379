"""The automations of config.example.yaml, commented ones switched on too, pass the checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.automations.model import CheckEnv
from hub.config.loading import load_config
from hub.core import Hub
from tests.conftest import REPO
from tests.hub.config.test_config_reference import uncomment_example

EXAMPLE = REPO / "config.example.yaml"


@pytest.mark.parametrize("switched_on", [False, True])
def test_example_automations_are_valid(tmp_path: Path, monkeypatch, switched_on):
    monkeypatch.setenv("CAM_PASSWORD", "x")
    path = tmp_path / "config.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(uncomment_example(text) if switched_on else text, encoding="utf-8")
    loaded = load_config(path)
    hub = Hub(loaded, tmp_path / "data")
    hub._collect_automation_types()
    hub.automations.load_types()
    config = loaded.config
    env = CheckEnv(
        cameras={cid: frozenset(camera.zones) for cid, camera in config.cameras.items()},
        notifiers=frozenset(config.notifiers),
        has_location=config.location.latitude is not None,
    )
    ids = []
    for automation in config.automations:
        data = automation.model_dump(by_alias=True, exclude_unset=True)
        assert hub.automations.validate(data, env) == [], automation.id
        ids.append(automation.id)
    assert ids == (["person_at_door_at_night", "doorbell"] if switched_on else ids[:1])
