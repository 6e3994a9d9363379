"""docs/configuration.md is generated from the config models and kept in step with them."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest

from hub.config.issues import path_to_str
from hub.config.yaml_source import parse_yaml
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "config_reference.py"
REFERENCE = REPO / "docs" / "configuration.md"
EXAMPLE = REPO / "config.example.yaml"

# In config.example.yaml a switched-off setting is "#" at column 0 right before a key
# (after an even indent); explanations are "# text". See the file's header.
COMMENTED_SETTING = re.compile(r"^#(?=(?:  )*(?:[a-z_]+:(?: |$)|- ))", re.MULTILINE)


def uncomment_example(text: str) -> str:
    """config.example.yaml with every switched-off setting switched on."""
    return COMMENTED_SETTING.sub("", text)


@pytest.fixture(scope="module")
def reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("config_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["config_reference"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_docs_configuration_md_is_up_to_date(reference):
    expected = reference.render_reference()
    assert REFERENCE.read_text(encoding="utf-8") == expected, (
        "docs/configuration.md is stale: run `.venv/bin/python scripts/config_reference.py`"
    )


def test_check_mode_reports_a_stale_file(reference, tmp_path, monkeypatch, capsys):
    stale = tmp_path / "configuration.md"
    stale.write_text("# old\n", encoding="utf-8")
    monkeypatch.setattr(reference, "OUTPUT", stale)
    monkeypatch.setattr(reference, "REPO", tmp_path)
    assert reference.main(["--check"]) == 1
    assert "configuration.md is stale" in capsys.readouterr().out
    assert reference.main([]) == 0
    assert reference.main(["--check"]) == 0


def test_every_key_has_a_description(reference):
    rows = [row for section in reference.all_sections() for row in section.rows]
    assert len(rows) > 40
    undocumented = [row.path for row in rows if not row.description]
    assert undocumented == []


def test_every_nested_section_has_a_docstring(reference):
    assert [s.path for s in reference.all_sections() if not s.doc] == []


def test_reference_lists_types_defaults_constraints_and_choices(reference):
    rows = {row.path: row for section in reference.all_sections() for row in section.rows}
    port = rows["server.port"]
    assert (port.type, port.default, port.allowed) == ("integer", "`8470`", ">= 1, <= 65535")
    fps = rows["cameras.<id>.detect.fps"]
    assert (fps.type, fps.default, fps.allowed) == ("number", "`5.0`", "> 0, <= 30")
    mode = rows["cameras.<id>.record.mode"]
    assert mode.allowed == "`off`, `events`, `continuous`"
    assert rows["cameras.<id>.url"].default == "*required*"
    assert rows["cameras.<id>.detect_url"].type == "string or null"
    assert rows["cameras.<id>.masks"].type == "list of lists of [number, number]"
    assert rows["automations[].triggers"].allowed == "at least 1 item(s)"
    assert rows["notifiers.<id>.type"].default == "*required*"
    # Options of built-in plugin types are documented too.
    assert rows["notifiers.<id>.level"].allowed == "`debug`, `info`, `warning`, `error`"


def test_camera_id_rule_is_documented(reference):
    text = reference.render_reference()
    assert "Each id: at most 64 character(s), matches `^[a-z0-9_]+$`." in text


def test_links_point_at_headings_that_exist(reference):
    text = reference.render_reference()
    anchors = {
        reference._anchor(heading.strip("`"))
        for heading in re.findall(r"^## (.+)$", text, re.MULTILINE)
    }
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links
    assert sorted(set(links) - anchors) == []


def test_example_config_shows_every_documented_key(reference, monkeypatch):
    monkeypatch.setenv("CAM_PASSWORD", "example-password")
    source = parse_yaml(uncomment_example(EXAMPLE.read_text(encoding="utf-8")), EXAMPLE.name)
    assert source.issues == []
    shown = {path_to_str(path) for path in source.lines}
    missing = []
    for section in reference.all_sections():
        for row in section.rows:
            pattern = re.escape(row.path)
            pattern = pattern.replace(re.escape("<id>"), r"[^.\[]+")
            pattern = pattern.replace(re.escape("<name>"), r"[^.\[]+")
            pattern = pattern.replace(re.escape("[]"), r"\[\d+\]")
            if not any(re.fullmatch(pattern, key) for key in shown):
                missing.append(row.path)
    assert missing == [], "config.example.yaml should show (at least commented) every key"
