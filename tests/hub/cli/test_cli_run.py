"""`camhub run` as a real process: start-up messages, SIGTERM, start-up errors; `user add`."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers import wait_for_line

CAMHUB = str(Path(sys.executable).with_name("camhub"))


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CAMHUB, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.fixture
def config_on_free_port(write_config):
    port = free_port()
    path = write_config(f"server:\n  port: {port}\ncameras:\n  yard:\n    url: demo://\n")
    return path, port


def test_sigterm_stops_cleanly_within_five_seconds(config_on_free_port, tmp_path):
    path, port = config_on_free_port
    process = start(["run", "--config", str(path), "--data", str(tmp_path / "data")])
    lines = wait_for_line(process, "first-run setup code:")  # how to get in
    assert f":{port}  (Ctrl+C to stop)" in "".join(lines)
    assert get_json(f"http://127.0.0.1:{port}/api/health")["status"] == "ok"
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    elapsed = time.monotonic() - sent
    assert process.returncode == 0, output
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert "camhub: stopped" in output
    # The database was closed properly: migrations recorded, no stray WAL left behind.
    db = tmp_path / "data" / "camhub.db"
    names = [r[0] for r in sqlite3.connect(db).execute("select name from _migrations")]
    assert "core:0001_tables" in names
    assert not (tmp_path / "data" / "camhub.db-wal").exists() or (
        (tmp_path / "data" / "camhub.db-wal").stat().st_size == 0
    )


def test_embedded_default_prints_data_dir_and_panel_url(tmp_path):
    # The default port may be taken on a shared machine; the message is what matters.
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    process = start(["run"], env)
    output = "".join(wait_for_line(process, "camhub:", 20))
    assert "embedded default" in output
    more = wait_for_line(process, "8470", 20)
    text = output + "".join(more)
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=10)
    text += rest
    assert f"data dir: {tmp_path / 'xdg' / 'camhub'}" in text
    assert "http://127.0.0.1:8470" in text


def test_port_in_use_is_one_clear_message(config_on_free_port, tmp_path):
    path, port = config_on_free_port
    first = start(["run", "--config", str(path), "--data", str(tmp_path / "a")])
    wait_for_line(first, "panel at")
    try:
        second = subprocess.run(
            [CAMHUB, "run", "--config", str(path), "--data", str(tmp_path / "b")],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=10)
    assert second.returncode == 1
    assert (
        f"camhub: error: cannot listen on 0.0.0.0:{port}: the port is already in use"
        in second.stderr
    )
    assert "--port" in second.stderr
    assert "Traceback" not in second.stderr


def test_invalid_config_is_reported_with_lines_and_exit_1(write_config, tmp_path):
    path = write_config("server:\n  prot: 80\n")
    result = subprocess.run(
        [CAMHUB, "run", "--config", str(path), "--data", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "config.yaml:2: server.prot: unknown key (did you mean 'port'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_config_file_and_unwritable_data_dir(tmp_path, write_config):
    missing = subprocess.run(
        [CAMHUB, "run", "--config", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert missing.returncode == 1 and "config file not found" in missing.stderr
    (tmp_path / "plainfile").write_text("")
    path = write_config(f"server:\n  port: {free_port()}\n")
    blocked = subprocess.run(
        [CAMHUB, "run", "--config", str(path), "--data", str(tmp_path / "plainfile" / "x")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert blocked.returncode == 1
    assert "is not writable" in blocked.stderr and "Traceback" not in blocked.stderr


def test_user_add_reads_password_from_stdin(tmp_path):
    data = tmp_path / "data"
    created = subprocess.run(
        [CAMHUB, "user", "add", "alice", "--role", "admin", "--data", str(data)],
        input="correct horse battery\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert created.returncode == 0, created.stderr
    row = (
        sqlite3.connect(data / "camhub.db")
        .execute("select name, role, password_hash from users")
        .fetchone()
    )
    assert row[:2] == ("alice", "admin")
    assert row[2].startswith("scrypt$") and "correct horse" not in row[2]
    again = subprocess.run(
        [CAMHUB, "user", "add", "alice", "--role", "viewer", "--data", str(data)],
        input="another password\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1 and "user 'alice' already exists" in again.stderr


def test_plugins_json_lists_states(tmp_path, write_config):
    plugins_dir = tmp_path / "local"
    plugins_dir.mkdir()
    (plugins_dir / "bad.py").write_text("raise ImportError('missing dependency foo')\n")
    path = write_config(f"plugins_dir: {plugins_dir}\n")
    result = subprocess.run(
        [CAMHUB, "plugins", "--json", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["log_notifier"]["state"] == "active"
    assert plugins["bad"]["state"] == "error"
    assert "missing dependency foo" in plugins["bad"]["error"]


def test_the_panel_listens_on_every_address_and_prints_them_with_the_setup_code(
    config_on_free_port, tmp_path
):
    path, port = config_on_free_port
    process = start(["run", "--config", str(path), "--data", str(tmp_path / "data")])
    try:
        lines = wait_for_line(process, "first-run setup code:")
        text = "".join(lines)
        # Reached through an address other than 127.0.0.1: the hub is not loopback-only.
        assert get_json(f"http://127.0.0.2:{port}/api/health")["status"] == "ok"
        assert f"http://127.0.0.1:{port}" in text  # every address of the machine is listed
        code = re.search(r"first-run setup code: (\S+)", text)
        assert code is not None and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}", code[1])
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    # The log has the code too (for a hub started as a service, whose output nobody reads).
    assert f"First-run setup code: {code[1]}" in text


def test_host_and_port_options_narrow_where_it_listens(write_config, tmp_path):
    port = free_port()
    path = write_config("cameras: {}\n")
    process = start(
        ["run", "--config", str(path), "--data", str(tmp_path / "d"), "--host", "127.0.0.1",
         "--port", str(port)]
    )  # fmt: skip
    try:
        lines = wait_for_line(process, "panel at")
        assert f"panel at http://127.0.0.1:{port}  (Ctrl+C to stop)" in lines[-1]
        assert get_json(f"http://127.0.0.1:{port}/api/health")["status"] == "ok"
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.2:{port}/api/health", timeout=5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    bad = subprocess.run(
        [CAMHUB, "run", "--port", "70000"], capture_output=True, text=True, timeout=30
    )
    assert bad.returncode == 2 and "a port is a number from 1 to 65535" in bad.stderr


def test_automations_reload_makes_the_running_hub_apply_the_file(write_config, tmp_path):
    port = free_port()
    automation = (
        "notifiers: {diary: {type: log}}\n"
        "automations:\n"
        "  - id: door\n"
        "    triggers: [{type: mode}]\n"
        "    actions: [{type: notify, notifier: diary, message: WORDS}]\n"
    )
    path = write_config(f"server: {{host: 127.0.0.1, port: {port}}}\n" + automation)
    data = tmp_path / "data"
    idle = subprocess.run(
        [CAMHUB, "automations", "reload", "--config", str(path), "--data", str(data)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert idle.returncode == 0 and "No hub runs with the data dir" in idle.stdout
    process = start(["run", "--config", str(path), "--data", str(data)])
    try:
        wait_for_line(process, "first-run setup code:")
        path.write_text(
            path.read_text().replace("WORDS", "new words").replace("diary, m", "diry, m")
        )
        result = subprocess.run(
            [CAMHUB, "automations", "reload", "--config", str(path), "--data", str(data)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Asked the hub (pid" in result.stdout
        # The CLI says at once what the hub will switch off.
        assert "automations[0].actions[0].notifier: unknown notifier 'diry'" in result.stderr
        lines = wait_for_line(process, "Automations from config.yaml: 1 changed")
        assert any("automation door disabled" in line for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert not (data / "camhub.pid").exists()


STUCK_PLUGIN = """
import threading

from hub import hookimpl


@hookimpl
def startup(hub):
    # A worker that never ends, as a thread stuck in native code would be.
    threading.Thread(target=threading.Event().wait, name="stuck-worker").start()
"""


def test_a_stopped_hub_with_a_stuck_thread_still_exits(tmp_path, write_config):
    """Python's exit waits for every thread: one that never ends must not keep a stopped hub
    alive for good. It ends EXIT_GRACE_SECONDS after the stop, with the threads' stacks."""
    plugins_dir = tmp_path / "local"
    plugins_dir.mkdir()
    (plugins_dir / "stuck.py").write_text(STUCK_PLUGIN, encoding="utf-8")
    port = free_port()
    config = write_config(
        f"server:\n  host: 127.0.0.1\n  port: {port}\nplugins_dir: {plugins_dir}\n"
    )
    process = start(["run", "--config", str(config), "--data", str(tmp_path / "data")])
    try:
        wait_for_line(process, "panel at")
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, output
    assert time.monotonic() - stopped_at < 30
    assert "camhub: still running 10 s after stopping" in output and "stuck-worker" in output
    assert 'File "' in output  # the stacks, for the bug report
