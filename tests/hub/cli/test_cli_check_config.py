"""`camhub check-config PATH` as a real process: OK line, every problem, exit codes, no secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CAMHUB = str(Path(sys.executable).with_name("camhub"))
SECRET = "hunter2-correct-horse"


def check_config(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMHUB, "check-config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_a_good_file_prints_ok_and_exits_0(write_config):
    path = write_config(
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "notifiers:\n"
        "  diary:\n"
        "    type: log\n"
        "automations:\n"
        "  - id: hello\n"
        "    triggers: [{type: motion}]\n"
        "    actions: [{type: notify, notifier: diary, message: 'motion on {camera}'}]\n"
    )
    result = check_config(str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: OK (1 camera(s), 1 notifier(s), 1 automation(s))\n"
    assert result.stderr == ""


def test_the_example_config_passes(monkeypatch):
    monkeypatch.delenv("CAM_PASSWORD", raising=False)  # only commented-out lines use it
    result = check_config(str(REPO / "config.example.yaml"))
    assert result.returncode == 0, result.stderr
    assert "config.example.yaml: OK (1 camera(s), 1 notifier(s), 1 automation(s))" in result.stdout


def test_a_bad_file_prints_every_problem_and_exits_1(write_config):
    path = write_config(
        "server:\n"
        "  port: 0\n"
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    record:\n"
        "      mode: always\n"
    )
    result = check_config(str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{path}:2: server.port: must be >= 1 (got 0)",
        f"{path}:7: cameras.front.record.mode: "
        "must be one of 'off', 'events' or 'continuous' (got 'always')",
        f"{path}: 2 problem(s)",
    ]


def test_plugin_section_problems_are_printed_with_their_lines(write_config):
    path = write_config(
        "notifiers:\n  pager:\n    type: sms\n  diary:\n    type: log\n    level: loud\n"
    )
    result = check_config(str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:3: notifiers.pager.type: "
        "unknown notifier type 'sms' (known: email, log, mqtt, ntfy, panel, webhook)",
        f"{path}:6: notifiers.diary.level: "
        "must be one of 'debug', 'info', 'warning' or 'error' (got 'loud')",
        f"{path}: 2 problem(s)",
    ]


def test_a_missing_file_is_a_clear_error(tmp_path):
    path = tmp_path / "nowhere.yaml"
    result = check_config(str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}: config file not found",
        f"{path}: 1 problem(s)",
    ]
    assert "Traceback" not in result.stderr


def test_no_path_is_a_usage_error():
    result = check_config()
    assert result.returncode == 1
    assert "check-config needs a config file" in result.stderr


def test_secrets_never_appear_in_the_output(write_config):
    path = write_config(
        "server:\n"
        "  port: !secret port\n"
        "cameras:\n"
        "  front:\n"
        "    url: !secret front_url\n"
        "    detect_url: ftp://admin:${CAMHUB_TEST_PASSWORD}@cam/sub\n"
        "    detect:\n"
        "      fps: ${CAMHUB_TEST_PASSWORD}\n",
        secrets=f"port: {SECRET}\nfront_url: rtsp://admin:{SECRET}@cam/main\n",
    )
    result = check_config(str(path), env={"CAMHUB_TEST_PASSWORD": "pa55word-from-env"})
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "config.yaml:2: server.port: must be an integer (got '***')" in output
    assert "config.yaml:6: cameras.front.detect_url: unsupported scheme 'ftp://'" in output
    assert "config.yaml:8: cameras.front.detect.fps: must be a number (got '***')" in output
    assert SECRET not in output
    assert "pa55word-from-env" not in output


def test_secrets_in_plugin_options_never_appear_in_the_output(write_config):
    path = write_config(
        "notifiers:\n  diary:\n    type: log\n    level: !secret level\n",
        secrets=f"level: {SECRET}\n",
    )
    result = check_config(str(path))
    assert result.returncode == 1
    assert "config.yaml:4: notifiers.diary.level:" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_every_layer_is_checked_in_one_run_cross_references_included(write_config, tmp_path):
    path = write_config(
        "server:\n"
        "  port: 0\n"  # the loader's own check
        "cameras:\n"
        "  front:\n"
        "    url: demo://\n"
        "    zones:\n"
        "      porch: {points: [[0, 0], [1, 0], [1, 1]]}\n"
        "notifiers:\n"
        "  diary:\n"
        "    type: log\n"
        "  pager:\n"
        "    type: sms\n"  # a plugin's check
        "automations:\n"
        "  - id: door\n"
        "    triggers:\n"
        "      - type: motion\n"
        "        camera: frnt\n"  # what the hub checks at start
        "    actions:\n"
        "      - type: notify\n"
        "        notifier: phone\n"
        "        message: '{label} at the door'\n"
        "  - id: zone\n"
        "    triggers:\n"
        "      - type: object\n"
        "        camera: front\n"
        "        zone: drive\n"
        "    actions:\n"
        "      - type: notify\n"
        "        notifier: diary\n"
        "        message: '{label} in {zone}'\n"
    )
    result = check_config(str(path), "--data", str(tmp_path / "no-data-yet"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{path}:2: server.port: must be >= 1 (got 0)",
        f"{path}:12: notifiers.pager.type: "
        "unknown notifier type 'sms' (known: email, log, mqtt, ntfy, panel, webhook)",
        f"{path}:17: automations[0].triggers[0].camera: unknown camera 'frnt' (known: front)",
        f"{path}:20: automations[0].actions[0].notifier: unknown notifier 'phone' (known: diary)",
        f"{path}:21: automations[0].actions[0].message: unknown placeholder {{label}}: "
        "the motion trigger does not fill it (known: {alias}, {automation}, {camera}, "
        "{event_id}, {motion}, {time}, {trigger}, {trigger_id})",
        f"{path}:26: automations[1].triggers[0].zone: unknown zone of front 'drive' (known: porch)",
        f"{path}: 6 problem(s)",
    ]


def test_cameras_added_in_the_panel_count_as_known(write_config, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cameras.yaml").write_text("cameras:\n  shed:\n    url: demo://\n")
    path = write_config(
        "cameras: {}\n"
        "notifiers: {diary: {type: log}}\n"
        "automations:\n"
        "  - id: shed\n"
        "    triggers: [{type: motion, camera: shed}]\n"
        "    actions: [{type: notify, notifier: diary, message: 'motion on {camera}'}]\n"
    )
    assert check_config(str(path), "--data", str(data)).returncode == 0
    missing = check_config(str(path), "--data", str(tmp_path / "elsewhere"))
    assert "unknown camera 'shed' (known: none configured)" in missing.stderr
