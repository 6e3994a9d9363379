"""One Issue type for every "path + message" problem, and pydantic's errors turned into them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub import Issue, validation_issues
from hub.config.models import AutomationConfig, CameraConfig, HubConfig


def _error(model, data) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value


def test_an_issue_reads_as_file_line_path_and_message():
    assert str(Issue("server.port", "must be an integer", "config.yaml", 3)) == (
        "config.yaml:3: server.port: must be an integer"
    )
    assert str(Issue("", "config file not found", "/etc/camhub.yaml")) == (
        "/etc/camhub.yaml: config file not found"
    )
    assert str(Issue("actions[0].notifier", "unknown notifier")) == (
        "actions[0].notifier: unknown notifier"
    )
    assert str(Issue("", "an automation is a mapping")) == "an automation is a mapping"


def test_the_api_form_has_path_and_message_and_the_file_only_when_known():
    assert Issue("id", "taken").as_dict() == {"path": "id", "message": "taken"}
    assert Issue("url", "bad", "cameras.yaml", 4).as_dict() == {
        "path": "url",
        "message": "bad",
        "filename": "cameras.yaml",
        "line": 4,
    }


def test_within_puts_a_path_under_a_prefix_the_way_users_write_paths():
    assert Issue("at", "m").within("triggers[0]").path == "triggers[0].at"
    assert Issue("[2]", "m").within("actions[1].sequence").path == "actions[1].sequence[2]"
    assert Issue("", "m").within("conditions[3]").path == "conditions[3]"
    assert Issue("at", "m").within("").path == "at"


def test_every_pydantic_error_becomes_an_issue_at_its_key_path():
    exc = _error(CameraConfig, {"url": 5, "zones": {"door": {"points": [[0, 0], [1]]}}})
    issues = validation_issues(exc, CameraConfig)
    assert issues[0].path == "url"
    assert issues[0].message == "must be a string (got 5)"
    assert any(i.path.startswith("zones.door.points[1]") for i in issues)
    assert all(i.filename is None and i.line is None for i in issues)


def test_unknown_keys_suggest_a_close_one_at_any_depth_of_the_model():
    top = validation_issues(_error(AutomationConfig, {"id": "a", "trigers": []}), AutomationConfig)
    assert Issue("trigers", "unknown key (did you mean 'triggers'?)") in top
    nested = validation_issues(
        _error(CameraConfig, {"url": "demo://", "record": {"mdoe": "off"}}), CameraConfig
    )
    assert nested == [Issue("record.mdoe", "unknown key (did you mean 'mode'?)")]


def test_issues_are_placed_in_the_whole_input_and_located_in_the_file():
    exc = _error(CameraConfig, {"url": "demo://", "record": {"mode": "sometimes"}})
    lines = {("cameras",): 1, ("cameras", "front"): 2, ("cameras", "front", "record"): 4}
    [issue] = validation_issues(exc, CameraConfig, ("cameras", "front"), "config.yaml", lines)
    assert issue.path == "cameras.front.record.mode"
    assert (issue.filename, issue.line) == ("config.yaml", 4)  # the deepest key the file has
    assert issue.message.startswith("must be one of")


def test_errors_at_skipped_paths_are_left_out():
    exc = _error(CameraConfig, {"url": 5, "name": 6})
    issues = validation_issues(exc, CameraConfig, ("cameras", "x"), skip={("cameras", "x", "url")})
    assert [i.path for i in issues] == ["cameras.x.name"]


def test_a_bad_camera_id_is_reported_at_the_key_not_at_pydantic_marker():
    exc = _error(HubConfig, {"cameras": {"Front Door": {"url": "demo://"}}})
    [issue] = validation_issues(exc, HubConfig)
    assert issue.path == "cameras.Front Door"
    assert "[key]" not in issue.path and "got 'Front Door'" in issue.message
