"""`camhub keys init|rotate|status` as a real process, passphrases on stdin."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from hub.footage.keyring import Keyring
from hub.footage.store import FootageStore
from tests.conftest import free_port

CAMHUB = str(Path(sys.executable).with_name("camhub"))


def camhub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMHUB, *args], input=stdin, capture_output=True, text=True, timeout=60, env=os.environ
    )


def config(tmp_path: Path, mode: str) -> str:
    path = tmp_path / f"{mode}.yaml"
    path.write_text(f"storage:\n  encryption:\n    mode: {mode}\n")
    return str(path)


def status(tmp_path: Path, mode: str) -> dict:
    data = tmp_path / "data"
    result = camhub(
        "keys", "status", "--json", "--config", config(tmp_path, mode), "--data", str(data)
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sealed_keys_init_rotate_and_switch_to_key_mode(tmp_path):
    data = tmp_path / "data"
    sealed = ["--config", config(tmp_path, "sealed"), "--data", str(data)]
    created = camhub("keys", "init", *sealed, stdin="first pass\n")
    assert created.returncode == 0, created.stderr
    assert camhub("keys", "init", *sealed, stdin="x\n").returncode == 1  # once only
    before = status(tmp_path, "sealed")
    assert before["locked"] is True and [k["kind"] for k in before["keys"]] == ["sealed"]
    assert "first pass" not in "".join(p.read_text() for p in (data / "keys").iterdir())

    # Footage written by the hub while sealed.
    store = FootageStore(data / "footage", Keyring(data / "keys", "sealed"))
    file = store.create("yard/a.mp4")
    file.write(b"footage" * 1000)
    file.finish()

    wrong = camhub("keys", "rotate", *sealed, stdin="bad pass\nsecond pass\n")
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    rotated = camhub("keys", "rotate", *sealed, stdin="first pass\nsecond pass\n")
    assert rotated.returncode == 0, rotated.stderr
    assert "1 file(s) re-wrapped" in rotated.stdout and "1 old key(s) removed" in rotated.stdout
    after = status(tmp_path, "sealed")
    assert after["current_key"] != before["current_key"] and len(after["keys"]) == 1
    with sqlite3.connect(data / "camhub.db") as db:
        rows = db.execute("SELECT action, target FROM audit_log ORDER BY id").fetchall()
    assert rows == [
        ("keys.create", before["current_key"]),
        ("keys.rotate", after["current_key"]),
    ]

    # Change of mode: rotate to a master key, which then reads the footage without a passphrase.
    to_key = ["--config", config(tmp_path, "key"), "--data", str(data)]
    switched = camhub("keys", "rotate", *to_key, stdin="second pass\n")
    assert switched.returncode == 0, switched.stderr
    assert [k["kind"] for k in status(tmp_path, "key")["keys"]] == ["key"]
    reader = FootageStore(data / "footage", Keyring(data / "keys", "key"))
    assert reader.read_bytes("yard/a.mp4") == b"footage" * 1000


def test_keys_commands_need_encryption_switched_on(tmp_path):
    off = ["--config", config(tmp_path, "off"), "--data", str(tmp_path / "data")]
    result = camhub("keys", "init", *off)
    assert result.returncode == 1 and "mode is off" in result.stderr


def test_a_sealed_hub_without_a_key_refuses_to_start_and_says_what_to_do(tmp_path):
    result = camhub("run", "--config", config(tmp_path, "sealed"), "--data", str(tmp_path / "d"))
    assert result.returncode == 1 and "camhub keys init" in result.stderr


def test_run_unlock_reads_the_passphrase_and_serves(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    path = tmp_path / "run.yaml"
    path.write_text(f"server:\n  port: {port}\nstorage:\n  encryption:\n    mode: sealed\n")
    args = ["--config", str(path), "--data", str(data)]
    assert camhub("keys", "init", *args, stdin="open sesame\n").returncode == 0

    wrong = camhub("run", "--unlock", *args, stdin="guess\n")
    assert wrong.returncode == 1 and "cannot unlock the footage: wrong passphrase" in wrong.stderr

    process = subprocess.Popen(
        [CAMHUB, "run", "--unlock", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write("open sesame\n")
        process.stdin.close()
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "panel at" in line:
                break
        assert any("sealed footage unlocked" in line for line in lines), lines
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
