"""Property tests: whatever a user types into a config file or an automation, the answer is
a clear error with a place, never a crash."""

from __future__ import annotations

import string
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.automations.model import CheckEnv
from hub.config.issues import Issue
from hub.config.loading import ConfigError, LoadedConfig, load_config, validate_source
from hub.config.yaml_source import parse_yaml

# Real key names mixed with junk, so the fuzzer reaches deep into the models.
KEYS = st.sampled_from(
    [
        "server", "host", "port", "storage", "path", "max_days", "cameras", "porch", "url",
        "detect_url", "record", "mode", "zones", "points", "masks", "privacy_masks", "motion",
        "objects", "notifiers", "type", "automations", "id", "triggers", "conditions", "actions",
        "camera", "label", "seconds", "message", "notifier", "discovery", "interfaces", "onvif",
        "encryption", "tls", "location", "latitude", "bogus", "0", "",
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["demo://", "rtsp://u:p@127.0.0.1/x", "off", "events", "22:00", "motion"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=30,
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _load(path: Any, text: str) -> LoadedConfig | ConfigError:
    path.write_text(text, encoding="utf-8")
    try:
        return load_config(path)
    except ConfigError as error:
        return error


def _well_formed(error: ConfigError) -> None:
    assert error.issues, "a ConfigError must say what is wrong"
    for issue in error.issues:
        assert isinstance(issue.path, str) and issue.message.strip()
        assert issue.line is None or issue.line >= 1


@FUZZ
@given(document=DOCUMENTS)
def test_any_yaml_document_loads_or_names_its_problems(tmp_path, document):
    result = _load(tmp_path / "config.yaml", yaml.safe_dump(document, allow_unicode=True))
    if isinstance(result, ConfigError):
        _well_formed(result)


@FUZZ
@given(text=st.text(alphabet=string.printable + "äé€\u00a0", max_size=300))
def test_any_text_loads_or_names_its_problems(tmp_path, text):
    result = _load(tmp_path / "config.yaml", text)
    if isinstance(result, ConfigError):
        _well_formed(result)


@FUZZ
@given(value=SCALARS)
def test_a_wrong_value_deep_in_a_camera_is_named_with_its_line(tmp_path, value):
    text = (
        "cameras:\n  porch:\n    url: demo://\n    record:\n      mode: "
        + yaml.safe_dump(value, default_flow_style=True).replace("\n...\n", "").strip()
    )
    source = parse_yaml(text + "\n", "config.yaml", tmp_path / "secrets.yaml")
    try:
        validate_source(source)
    except ConfigError as error:
        _well_formed(error)
        assert [issue.line for issue in error.issues] == [5]
        assert error.issues[0].path == "cameras.porch.record.mode"


ENV = CheckEnv(
    cameras={"porch": frozenset({"steps"})}, notifiers=frozenset({"phone"}), has_location=True
)
STEPS = st.dictionaries(KEYS, SCALARS, max_size=5).map(
    lambda step: step if "type" in step else {**step, "type": "motion"}
)
AUTOMATIONS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=10), SCALARS),
        "mode": st.sampled_from(["single", "restart", "queued", "parallel", "odd", 3]),
        "max": SCALARS,
        "triggers": st.one_of(st.lists(STEPS, max_size=3), SCALARS),
        "conditions": st.one_of(st.lists(STEPS, max_size=3), SCALARS),
        "actions": st.one_of(st.lists(DOCUMENTS, max_size=3), st.lists(STEPS, max_size=3)),
        "variables": DOCUMENTS,
    },
)


@FUZZ
@given(automation=st.one_of(AUTOMATIONS, DOCUMENTS))
def test_any_automation_is_accepted_or_refused_field_by_field(make_hub, automation):
    hub = make_hub("cameras:\n  porch:\n    url: demo://\n    enabled: false\n")
    issues = hub.automations.validate(automation, ENV)
    for issue in issues:
        assert isinstance(issue, Issue) and issue.message.strip()
        assert isinstance(issue.path, str)
    if not isinstance(automation, dict) or "actions" not in automation:
        assert issues, "an automation without actions cannot be valid"


def test_a_control_character_is_an_error_on_its_line(tmp_path):
    # Found by the fuzzer above: PyYAML's reader raised before the parser's error handling.
    result = _load(tmp_path / "config.yaml", "server:\n  port: 8470\n  host: \x0c\n")
    assert isinstance(result, ConfigError)
    assert [(i.line, i.message) for i in result.issues] == [
        (3, "invalid YAML: character 0x000c is not allowed")
    ]
