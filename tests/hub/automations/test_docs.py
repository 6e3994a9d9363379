"""docs/automations.md documents every type, and every example in its reference validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hub.automations.model import CheckEnv
from hub.config.loading import load_config
from hub.core import Hub
from tests.conftest import REPO

DOC = (REPO / "docs" / "automations.md").read_text(encoding="utf-8")
ENV = CheckEnv(
    cameras={
        "porch": frozenset({"steps", "path"}),
        "garage": frozenset(),
        "driveway": frozenset(),
    },
    notifiers=frozenset({"phone"}),
    has_location=True,
)


def sections() -> dict[str, str]:
    found = {}
    for kind in ("Triggers", "Conditions", "Actions"):
        match = re.search(rf"(?ms)^## {kind}\n(.*?)(?=^## |\Z)", DOC)
        assert match, kind
        found[kind.lower().rstrip("s")] = match.group(1)
    return found


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    folder: Path = tmp_path_factory.mktemp("docs")
    (folder / "config.yaml").write_text("{}\n")
    hub = Hub(load_config(folder / "config.yaml"), folder / "data")
    hub._collect_automation_types()
    hub.automations.load_types()
    return hub.automations


def test_every_type_has_a_section(engine):
    documented = {
        (kind, name)
        for kind, text in sections().items()
        for name in re.findall(r"(?m)^### `([a-z_]+)`", text)
    }
    offered = {(kind, name) for kind, name in engine.types}
    assert offered <= documented, offered - documented


def examples() -> list[tuple[str, str, str]]:
    found = []
    for kind, text in sections().items():
        for block in re.split(r"(?m)^### ", text)[1:]:
            name = block.split("`")[1]
            for example in re.findall(r"```yaml\n(.*?)```", block, re.S):
                found.append((kind, name, example))
    return found


@pytest.mark.parametrize(("kind", "name", "example"), examples())
def test_reference_examples_validate(engine, kind, name, example):
    items = yaml.safe_load(example)
    # An object trigger fills the most placeholders ({camera}, {label}...) an example may use.
    automation = {
        "id": "doc",
        "triggers": [{"type": "object"}],
        "actions": [{"type": "stop"}],
        f"{kind}s": items,
    }
    assert engine.validate(automation, ENV) == []


def test_the_syntax_example_validates(engine):
    block = re.search(r"(?ms)^## Syntax\n.*?```yaml\n(.*?)```", DOC)
    assert block
    [automation] = yaml.safe_load(block.group(1))["automations"]
    assert engine.validate(automation, ENV) == []
