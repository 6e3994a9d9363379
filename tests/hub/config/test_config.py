"""Loading the config file: every mistake named by file, line and key, and secrets kept secret."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.cameras.added import strip_credentials, with_credentials
from hub.config.loading import ConfigError, LoadedConfig, load_config
from hub.config.models import HubConfig, is_camera_id
from hub.core import check_plugin_sections, load_plugins
from hub.security.redact import REDACTED, RedactingFilter, Redactor, redact_url
from tests.conftest import REPO
from tests.hub.config.test_config_reference import uncomment_example

EXAMPLE = REPO / "config.example.yaml"
SECRET = "hunter2-correct-horse"


def errors(path: Path) -> list[str]:
    """The error lines load_config reports for `path` (fails if it loads)."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = [str(issue) for issue in caught.value.issues]
    assert str(caught.value) == "\n".join(lines)
    return lines


def plugin_errors(loaded: LoadedConfig) -> list[str]:
    """Errors only the plugins can find (notifier/detector types and their options)."""
    return [str(issue) for issue in check_plugin_sections(loaded, load_plugins(loaded))]


# ---------------------------------------------------------------- message format


def test_error_names_file_line_key_path_rule_and_value(write_config):
    text = """\
# My cameras
server:
  port: 8470

cameras:
  garden:
    url: demo://

  front:
    name: Front door
    url: demo://
    detect:
      enabled: true
      fps: -3
"""
    assert text.splitlines()[13] == "      fps: -3"  # line 14
    assert errors(write_config(text)) == [
        "config.yaml:14: cameras.front.detect.fps: must be > 0 (got -3)"
    ]


def test_upper_bounds_are_reported_with_the_bound(write_config):
    path = write_config(
        "server:\n  port: 99999\ncameras:\n  a:\n    url: demo://\n    detect:\n      fps: 30.5\n"
    )
    assert errors(path) == [
        "config.yaml:2: server.port: must be <= 65535 (got 99999)",
        "config.yaml:7: cameras.a.detect.fps: must be <= 30 (got 30.5)",
    ]


# ---------------------------------------------------------------- keys


def test_unknown_keys_are_errors_with_a_did_you_mean(write_config):
    path = write_config(
        "camras: {}\n"
        "storage:\n"
        "  paht: /srv\n"
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    recrod:\n"
        "      mode: events\n"
        "    colour: blue\n"
    )
    assert errors(path) == [
        "config.yaml:1: camras: unknown key (did you mean 'cameras'?)",
        "config.yaml:3: storage.paht: unknown key (did you mean 'path'?)",
        "config.yaml:7: cameras.front.recrod: unknown key (did you mean 'record'?)",
        "config.yaml:9: cameras.front.colour: unknown key",
    ]


def test_unknown_key_in_an_automation_is_reported(write_config):
    path = write_config(
        "automations:\n  - id: a\n    triggers: [{type: motion}]\n    actoins: [{type: notify}]\n"
    )
    assert errors(path) == [
        "config.yaml:2: automations[0].actions: required key is missing",
        "config.yaml:4: automations[0].actoins: unknown key (did you mean 'actions'?)",
    ]


def test_duplicate_keys_are_errors(write_config):
    path = write_config("server:\n  port: 8470\n  host: 0.0.0.0\n  port: 8471\n")
    assert errors(path) == ["config.yaml:4: server.port: duplicate key"]


def test_required_camera_url_missing(write_config):
    path = write_config("cameras:\n  front:\n    name: Front door\n")
    assert errors(path) == ["config.yaml:2: cameras.front.url: required key is missing"]


def test_a_camera_without_settings_is_an_error(write_config):
    path = write_config("cameras:\n  front:\n")
    assert errors(path) == ["config.yaml:2: cameras.front: must be a mapping (got null)"]


@pytest.mark.parametrize("camera_id", ["Front", "front-door", "front door", "x" * 65])
def test_invalid_camera_ids(write_config, camera_id):
    path = write_config(f"cameras:\n  '{camera_id}':\n    url: demo://\n")
    assert errors(path) == [
        f"config.yaml:2: cameras.{camera_id}: "
        f"ids use lowercase letters, digits and _ (at most 64) (got '{camera_id}')"
    ]


# ---------------------------------------------------------------- values


def test_wrong_types(write_config):
    path = write_config(
        "server:\n"
        "  port: eighty\n"
        "  host: [a, b]\n"
        "discovery:\n"
        "  enabled: maybe\n"
        "  interfaces: eth0\n"
        "logging: loud\n"
    )
    assert errors(path) == [
        "config.yaml:2: server.port: must be an integer (got 'eighty')",
        "config.yaml:3: server.host: must be a string (got a list)",
        "config.yaml:5: discovery.enabled: must be true or false (got 'maybe')",
        "config.yaml:6: discovery.interfaces: must be a list (got 'eth0')",
        "config.yaml:7: logging: must be a mapping (got 'loud')",
    ]


def test_literal_choices_list_the_allowed_values(write_config):
    path = write_config(
        "logging:\n"
        "  level: verbose\n"
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    record:\n"
        "      mode: always\n"
    )
    assert errors(path) == [
        "config.yaml:2: logging.level: "
        "must be one of 'debug', 'info', 'warning' or 'error' (got 'verbose')",
        "config.yaml:7: cameras.front.record.mode: "
        "must be one of 'off', 'events' or 'continuous' (got 'always')",
    ]


def test_a_bare_off_is_off_wherever_a_choice_has_off(write_config):
    # YAML 1.1 reads `off` (and `no`) unquoted as false: `record: {mode: off}` must work.
    path = write_config(
        "storage:\n"
        "  encryption: {mode: off}\n"
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    record: {mode: off}\n"
        "  back:\n"
        "    url: demo://\n"
        "    record:\n"
        "      mode: no\n"
    )
    config = load_config(path).config
    assert config.storage.encryption.mode == "off"
    assert [c.record.mode for c in config.cameras.values()] == ["off", "off"]


def test_a_bare_on_or_off_where_it_means_nothing_says_to_quote_the_word(write_config):
    path = write_config(
        "cameras:\n  front:\n    url: demo://\n    record: {mode: on}\n    motion: {source: off}\n"
    )
    assert errors(path) == [
        "config.yaml:4: cameras.front.record.mode: must be one of 'off', 'events' or "
        "'continuous' (got true); YAML reads a bare on, yes or true as true: write the word "
        "in quotes",
        "config.yaml:5: cameras.front.motion.source: must be one of 'hub' or 'camera' "
        "(got false); YAML reads a bare off, no or false as false: write the word in quotes",
    ]


def test_unsupported_stream_scheme(write_config):
    path = write_config("cameras:\n  front:\n    url: ftp://cam/stream\n")
    assert errors(path) == [
        "config.yaml:3: cameras.front.url: unsupported scheme 'ftp://' "
        "(use one of rtsp://, rtsps://, http://, https://, file://, demo://)"
    ]


def test_accepted_stream_sources(write_config):
    urls = ["rtsp://cam/1", "RTSPS://cam/1", "http://cam/a.mjpg", "https://cam/s", "demo://"]
    urls += ["/var/video/garden.mp4", "file:///var/video/garden.mp4"]
    cameras = "".join(f"  c{i}:\n    url: '{url}'\n" for i, url in enumerate(urls))
    config = load_config(write_config("cameras:\n" + cameras)).config
    assert [camera.url for camera in config.cameras.values()] == urls


def test_invalid_polygons_in_zones_and_masks_name_the_polygon(write_config):
    path = write_config(
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    zones:\n"
        "      path:\n"
        "        points: [[0, 0], [1, 1]]\n"
        "      lawn:\n"
        "        points: [[0, 0], [1.5, 0], [1, 1]]\n"
        "      porch:\n"
        "        points: [[0, 0], [1, 0], [1, 1, 1]]\n"
        "    masks:\n"
        "      - [[0, 0], [1, 0], [1, 0.1]]\n"
        "      - [[0, 0], [1, 0]]\n"
        "      - [[0, 0], [1, 0], [1, -0.1]]\n"
    )
    assert errors(path) == [
        "config.yaml:6: cameras.front.zones.path.points: a polygon needs at least 3 points (got 2)",
        "config.yaml:8: cameras.front.zones.lawn.points: "
        "points are normalised to 0..1 (got [1.5, 0.0])",
        "config.yaml:10: cameras.front.zones.porch.points[2]: a point is [x, y] (got 3 value(s))",
        "config.yaml:13: cameras.front.masks[1]: a polygon needs at least 3 points (got 2)",
        "config.yaml:14: cameras.front.masks[2]: points are normalised to 0..1 (got [1.0, -0.1])",
    ]


def test_valid_zones_and_masks_load(write_config):
    path = write_config(
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    zones:\n"
        "      door:\n"
        "        points: [[0.2, 0.5], [0.8, 0.5], [0.8, 1]]\n"
        "        labels: [person]\n"
        "    masks:\n"
        "      - [[0, 0], [1, 0], [1, 0.1]]\n"
    )
    camera = load_config(path).config.cameras["front"]
    assert camera.zones["door"].points == [(0.2, 0.5), (0.8, 0.5), (0.8, 1.0)]
    assert camera.zones["door"].labels == ["person"]
    assert camera.masks == [[(0.0, 0.0), (1.0, 0.0), (1.0, 0.1)]]


def test_unknown_time_zone(write_config):
    path = write_config("location:\n  time_zone: Europe/Atlantis\n  latitude: 95\n")
    assert errors(path) == [
        "config.yaml:2: location.time_zone: unknown time zone 'Europe/Atlantis'",
        "config.yaml:3: location.latitude: must be <= 90 (got 95)",
    ]


def test_known_time_zone(write_config):
    config = load_config(write_config("location:\n  time_zone: America/New_York\n")).config
    assert config.location.time_zone == "America/New_York"


def test_duplicate_automation_ids(write_config):
    automation = "  - id: {id}\n    triggers: [{{type: motion}}]\n    actions: [{{type: notify}}]\n"
    path = write_config(
        "automations:\n"
        + automation.format(id="lights")
        + automation.format(id="alarm")
        + automation.format(id="lights")
    )
    assert errors(path) == ["config.yaml:8: automations[2].id: duplicate automation id 'lights'"]


def test_duplicate_automation_ids_are_reported_beside_other_errors(write_config):
    automation = "  - id: same\n    triggers: [{type: motion}]\n    actions: [{type: notify}]\n"
    path = write_config("server:\n  port: 0\nautomations:\n" + automation + automation)
    assert errors(path) == [
        "config.yaml:2: server.port: must be >= 1 (got 0)",
        "config.yaml:7: automations[1].id: duplicate automation id 'same'",
    ]


def test_automation_needs_triggers_and_actions(write_config):
    path = write_config("automations:\n  - id: a\n    triggers: []\n    actions: []\n    max: 0\n")
    assert errors(path) == [
        "config.yaml:3: automations[0].triggers: needs at least 1 item(s)",
        "config.yaml:4: automations[0].actions: needs at least 1 item(s)",
        "config.yaml:5: automations[0].max: must be >= 1 (got 0)",
    ]


# ---------------------------------------------------------------- the file itself


def test_invalid_yaml_is_reported_with_its_line(write_config):
    path = write_config("server:\n  port: 8470\ncameras:\n  front: {url: demo://\n  back:\n")
    (line,) = errors(path)
    assert line.startswith("config.yaml:5: invalid YAML: ")


def test_tab_indentation_is_invalid_yaml_with_its_line(write_config):
    path = write_config("server:\n\tport: 8470\n")
    (line,) = errors(path)
    assert line.startswith("config.yaml:2: invalid YAML: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing configured yet\n", "---\n", "~\n"])
def test_an_empty_file_means_all_defaults(write_config, text):
    loaded = load_config(write_config(text))
    assert loaded.config == HubConfig()
    assert loaded.config.server.port == 8470
    assert loaded.config.server.host is None  # every address of the machine
    assert loaded.config.cameras == {}


@pytest.mark.parametrize("text", ["- server\n- cameras\n", "just words\n", "42\n"])
def test_a_file_that_is_not_a_mapping_is_an_error(write_config, text):
    assert errors(write_config(text)) == ["config.yaml:1: the config must be a mapping of keys"]


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    assert errors(path) == [f"{path}: config file not found"]


def test_a_directory_cannot_be_read(tmp_path):
    path = tmp_path / "config.yaml"
    path.mkdir()
    assert errors(path) == [f"{path}: cannot read: Is a directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file(write_config):
    path = write_config("server:\n  port: 8470\n")
    path.chmod(0)
    try:
        assert errors(path) == [f"{path}: cannot read: Permission denied"]
    finally:
        path.chmod(0o644)


def test_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes(b"server:\n  host: caf\xe9\n")
    (line,) = errors(path)
    assert line.startswith(f"{path}: cannot read: ")
    assert "utf-8" in line


# ---------------------------------------------------------------- secrets and variables


def test_secret_is_read_from_secrets_yaml_beside_the_config(write_config):
    path = write_config(
        "cameras:\n  front:\n    url: !secret front_url\n",
        secrets=f"front_url: rtsp://admin:{SECRET}@192.168.1.20/stream1\n",
    )
    loaded = load_config(path)
    assert loaded.config.cameras["front"].url == f"rtsp://admin:{SECRET}@192.168.1.20/stream1"
    assert f"rtsp://admin:{SECRET}@192.168.1.20/stream1" in loaded.secret_values


def test_secret_name_missing_from_secrets_yaml(write_config):
    path = write_config(
        "cameras:\n  front:\n    url: !secret front_url\n", secrets="back_url: rtsp://cam/1\n"
    )
    # One error, not also "must be a string (got null)" for the stand-in value.
    assert errors(path) == [
        "config.yaml:3: cameras.front.url: !secret front_url: not defined in secrets.yaml"
    ]


def test_secret_without_secrets_yaml(write_config):
    path = write_config("cameras:\n  front:\n    url: !secret front_url\n")
    assert errors(path) == [
        "config.yaml:3: cameras.front.url: !secret front_url: no secrets.yaml beside the config"
    ]


def test_secrets_yaml_that_is_not_a_mapping(write_config):
    path = write_config("server:\n  port: 8470\n", secrets="- a\n- b\n")
    assert errors(path) == ["config.yaml: secrets.yaml: must be a mapping of name: value"]


def test_environment_variable_is_expanded(write_config, monkeypatch):
    monkeypatch.setenv("CAMHUB_TEST_CAM_PASSWORD", SECRET)
    path = write_config(
        "cameras:\n  front:\n    url: rtsp://admin:${CAMHUB_TEST_CAM_PASSWORD}@cam/1\n"
    )
    loaded = load_config(path)
    assert loaded.config.cameras["front"].url == f"rtsp://admin:{SECRET}@cam/1"
    assert SECRET in loaded.secret_values


def test_environment_variable_default_is_used_when_unset(write_config, monkeypatch):
    monkeypatch.delenv("CAMHUB_TEST_PORT", raising=False)
    monkeypatch.setenv("CAMHUB_TEST_HOST", "0.0.0.0")
    path = write_config(
        "server:\n  host: ${CAMHUB_TEST_HOST:-127.0.0.1}\n  port: ${CAMHUB_TEST_PORT:-8471}\n"
    )
    server = load_config(path).config.server
    assert (server.host, server.port) == ("0.0.0.0", 8471)


def test_unset_environment_variable_names_the_variable_and_line(write_config, monkeypatch):
    monkeypatch.delenv("CAMHUB_TEST_UNSET", raising=False)
    path = write_config("server:\n  host: 0.0.0.0\n  port: ${CAMHUB_TEST_UNSET}\n")
    assert errors(path) == [
        "config.yaml:3: server.port: environment variable CAMHUB_TEST_UNSET is not set"
    ]


# ---------------------------------------------------------------- all at once


def test_every_error_is_reported_at_once_in_line_order(write_config, monkeypatch):
    monkeypatch.delenv("CAMHUB_TEST_UNSET", raising=False)
    path = write_config(
        "server:\n"
        "  port: -1\n"
        "  hots: 0.0.0.0\n"
        "location:\n"
        "  time_zone: Nowhere/Land\n"
        "cameras:\n"
        "  Front:\n"
        "    url: demo://\n"
        "  back:\n"
        "    url: rtsp://admin:${CAMHUB_TEST_UNSET}@cam/1\n"
        "    record:\n"
        "      mode: sometimes\n"
        "    masks:\n"
        "      - [[0, 0]]\n"
        "automations:\n"
        "  - id: a\n"
        "    triggers: [{type: motion}]\n"
        "    actions: [{type: notify}]\n"
        "  - id: a\n"
        "    triggers: [{type: motion}]\n"
        "    actions: [{type: notify}]\n"
    )
    found = errors(path)
    assert [line.split(": ")[0] for line in found] == [
        "config.yaml:2",
        "config.yaml:3",
        "config.yaml:5",
        "config.yaml:7",
        "config.yaml:10",
        "config.yaml:12",
        "config.yaml:14",
        "config.yaml:19",
    ]
    unset = "config.yaml:10: cameras.back.url: environment variable CAMHUB_TEST_UNSET is not set"
    assert unset in found


# ---------------------------------------------------------------- secrets never leak


def test_secret_in_an_invalid_field_is_redacted_from_the_error(write_config):
    path = write_config(
        "server:\n  port: !secret port\ncameras:\n  front:\n    url: demo://\n"
        "    record:\n      mode: !secret mode\n",
        secrets=f"port: {SECRET}\nmode: also-{SECRET}\n",
    )
    found = errors(path)
    assert found == [
        "config.yaml:2: server.port: must be an integer (got '***')",
        "config.yaml:7: cameras.front.record.mode: "
        "must be one of 'off', 'events' or 'continuous' (got '***')",
    ]
    assert SECRET not in "\n".join(found)


def test_environment_value_in_an_invalid_field_is_redacted(write_config, monkeypatch):
    monkeypatch.setenv("CAMHUB_TEST_SECRET", SECRET)
    path = write_config("server:\n  port: ${CAMHUB_TEST_SECRET}\n")
    assert errors(path) == ["config.yaml:2: server.port: must be an integer (got '***')"]


def test_secret_in_bad_plugin_options_is_redacted(write_config):
    path = write_config(
        "notifiers:\n  diary:\n    type: log\n    level: !secret level\n",
        secrets=f"level: {SECRET}\n",
    )
    assert plugin_errors(load_config(path)) == [
        "config.yaml:4: notifiers.diary.level: "
        "must be one of 'debug', 'info', 'warning' or 'error' (got '***')"
    ]


def test_redactor_hides_url_passwords_and_registered_secrets():
    redact = Redactor([SECRET, ""])  # an empty value must not match everywhere
    text = (
        f"cannot open rtsp://admin:pa55word@192.168.1.20:554/s1 "
        f"(token {SECRET}, again {SECRET}) via https://user:x@host/path"
    )
    assert redact(text) == (
        "cannot open rtsp://admin:***@192.168.1.20:554/s1 "
        "(token ***, again ***) via https://user:***@host/path"
    )
    assert redact("nothing to hide: rtsp://cam.local/stream") == (
        "nothing to hide: rtsp://cam.local/stream"
    )


def test_redactor_hides_the_longer_of_overlapping_secrets_and_learns_new_ones():
    redact = Redactor(["abcd", "abcdefgh"])
    assert redact("x abcdefgh y abcd z") == "x *** y *** z"
    assert redact("fresh-token") == "fresh-token"
    redact.add(["fresh-token"])
    assert redact("fresh-token") == REDACTED


def test_redact_url_keeps_the_user_and_host():
    assert redact_url("rtsps://viewer:s3cr3t@cam:322/live") == "rtsps://viewer:***@cam:322/live"
    assert redact_url("rtsp://cam:554/live") == "rtsp://cam:554/live"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("rtsp://:pw-only@cam/live", "rtsp://:***@cam/live"),
        ("rtsp://admin:p@ss/word@cam:554/live", "rtsp://admin:***@cam:554/live"),
        ("rtsp://admin:a:b@c/d#e?f@10.0.0.5/x", "rtsp://admin:***@10.0.0.5/x"),
        ("rtsp://admin:p%40ss@[fe80::1%25eth0]:554/", "rtsp://admin:***@[fe80::1%25eth0]:554/"),
        ("http://cam/snap.cgi?notify=me@example.org", "http://cam/snap.cgi?notify=me@example.org"),
        ("rtsp://admin@cam/live", "rtsp://admin@cam/live"),
        (
            "cannot open rtsp://admin:p@ss/word@cam/live: 401, retry rtsp://u:x@y/z@h",
            "cannot open rtsp://admin:***@cam/live: 401, retry rtsp://u:***@h",
        ),
    ],
)
def test_no_part_of_a_url_password_is_ever_shown(url, shown):
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    ("url", "stripped", "user", "password"),
    [
        ("rtsp://:pw-only@cam/live", "rtsp://cam/live", "", "pw-only"),
        ("rtsp://admin:p@ss/w:rd@cam:554/live", "rtsp://cam:554/live", "admin", "p@ss/w:rd"),
        ("rtsp://admin:p%40ss%2Fw%3Ard@cam/live", "rtsp://cam/live", "admin", "p@ss/w:rd"),
        ("rtsp://ad%20min@cam/live", "rtsp://cam/live", "ad min", None),
        ("http://cam/snap?to=me@example.org", "http://cam/snap?to=me@example.org", None, None),
    ],
)
def test_credentials_are_taken_out_of_a_url_by_the_last_at_before_the_host(
    url, stripped, user, password
):
    assert strip_credentials(url) == (stripped, user, password)
    if user is not None:
        # Put back encoded, they come out the same.
        again = with_credentials(stripped, user, password)
        assert again is not None and strip_credentials(again) == (stripped, user, password)


def test_redacting_filter_cleans_messages_arguments_and_exceptions():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(Redactor([SECRET])))
    logger = logging.getLogger("camhub.test_config.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        logger.info("connecting with %s", SECRET)
        logger.warning("opening rtsp://admin:pa55word@cam/1")
        try:
            raise ConnectionError(f"401 for rtsp://admin:pa55word@cam/1 using {SECRET}")
        except ConnectionError:
            logger.exception("camera %s failed", "front")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "INFO connecting with ***" in output
    assert "WARNING opening rtsp://admin:***@cam/1" in output
    assert "ERROR camera front failed" in output
    assert "ConnectionError: 401 for rtsp://admin:***@cam/1 using ***" in output
    assert "Traceback" in output
    assert SECRET not in output
    assert "pa55word" not in output


def test_redacting_filter_works_with_caplog(caplog):
    redacting = RedactingFilter(Redactor([SECRET]))
    caplog.handler.addFilter(redacting)
    try:
        logging.getLogger("camhub.test_config").error("token=%s", SECRET)
    finally:
        caplog.handler.removeFilter(redacting)
    assert caplog.messages == ["token=***"]


# ---------------------------------------------------------------- plugin-provided sections


def test_unknown_notifier_type_and_bad_options_are_reported_with_their_line(write_config):
    path = write_config(
        "notifiers:\n"
        "  pager:\n"
        "    type: sms\n"
        "  diary:\n"
        "    type: log\n"
        "    level: loud\n"
        "  notes:\n"
        "    type: log\n"
        "    levle: info\n"
        "  fine:\n"
        "    type: log\n"
        "    level: warning\n"
    )
    assert plugin_errors(load_config(path)) == [
        "config.yaml:3: notifiers.pager.type: "
        "unknown notifier type 'sms' (known: email, log, mqtt, ntfy, panel, webhook)",
        "config.yaml:6: notifiers.diary.level: "
        "must be one of 'debug', 'info', 'warning' or 'error' (got 'loud')",
        "config.yaml:9: notifiers.notes.levle: unknown key (did you mean 'level'?)",
    ]


def test_notifier_without_type_is_caught_while_loading(write_config):
    path = write_config("notifiers:\n  diary:\n    level: info\n")
    assert errors(path) == ["config.yaml:2: notifiers.diary.type: required key is missing"]


def test_unknown_detector_type_names_the_known_ones(write_config):
    path = write_config("detectors:\n  coral:\n    type: edgetpu\n")
    assert plugin_errors(load_config(path)) == [
        "config.yaml:3: detectors.coral.type: unknown detector type 'edgetpu' "
        "(known: deepstack, kserve, onnx)"
    ]


# ---------------------------------------------------------------- the example


def test_example_config_validates_including_plugin_sections():
    loaded = load_config(EXAMPLE)
    assert plugin_errors(loaded) == []
    config = loaded.config
    assert config.cameras["front_door"].url == "demo://"
    assert config.notifiers["hub_log"].type == "log"
    assert [automation.id for automation in config.automations] == ["person_at_door_at_night"]


def test_example_config_commented_settings_are_valid_when_switched_on(tmp_path, monkeypatch):
    monkeypatch.setenv("CAM_PASSWORD", SECRET)
    path = tmp_path / "config.yaml"
    path.write_text(uncomment_example(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    loaded = load_config(path)
    config = loaded.config
    assert sorted(config.cameras) == ["driveway", "front_door"]
    assert config.cameras["driveway"].url == f"rtsp://admin:{SECRET}@192.168.1.20:554/stream1"
    assert SECRET in loaded.secret_values
    assert config.location.time_zone == "Europe/Paris"
    assert config.storage.path is not None
    assert config.plugins_dir is not None
    assert sorted(config.detectors) == ["ai_server", "cpu", "gpu"]


@pytest.mark.parametrize(
    "camera_id", ["front", "back_2", "x" * 64, "Front", "front-door", "", "x" * 65, "a\n"]
)
def test_cameras_added_at_run_time_follow_the_config_files_id_rule(camera_id):
    # One rule: what the config file accepts as a camera id is what the API accepts.
    try:
        HubConfig.model_validate({"cameras": {camera_id: {"url": "demo://"}}})
        in_config = True
    except ValidationError:
        in_config = False
    assert is_camera_id(camera_id) is in_config
