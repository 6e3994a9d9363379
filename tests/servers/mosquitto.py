"""A real MQTT broker for the tests: Debian's mosquitto in the foreground on 127.0.0.1.

Fixture (registered for the whole suite in ``tests/conftest.py``):

``mqtt_broker``
    a factory: ``start(users=None, persistence=False) -> Mosquitto``; every broker it
    started is killed at teardown. ``users`` ({name: password}) switches anonymous
    access off and writes a password file with ``mosquitto_passwd``. The test is
    skipped when /usr/sbin/mosquitto is missing (``scripts/test.sh`` installs it).

Example::

    async def test_publish(mqtt_broker):
        broker = mqtt_broker()
        async with aiomqtt.Client("127.0.0.1", broker.port) as client: ...
        broker.kill()
        broker.restart()                   # same port, retained messages gone
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
HOST = "127.0.0.1"
START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One mosquitto process; `restart()` brings it back on the same port."""

    def __init__(self, folder: Path, users: dict[str, str] | None, persistence: bool):
        self.folder = folder
        self.port = _free_port()
        self.users = users
        self.log_path = folder / "mosquitto.log"
        self.conf_path = folder / "mosquitto.conf"
        lines = [f"listener {self.port} {HOST}", f"persistence {str(persistence).lower()}"]
        if persistence:
            lines.append(f"persistence_location {folder}/")
        if users:
            passwd = folder / "passwd"
            for number, (user, password) in enumerate(users.items()):
                create = ["-c"] if number == 0 else []
                subprocess.run(
                    [MOSQUITTO_PASSWD, "-b", *create, str(passwd), user, password],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        if os.geteuid() == 0:
            # As root mosquitto would switch to user `mosquitto`, who cannot read tmp_path.
            lines.append("user root")
        lines += ["log_dest stderr", "log_type error", "log_type warning", "log_type notice"]
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Run the broker and wait until it accepts connections."""
        assert self._process is None, "already running"
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"mosquitto exited at start: {self.log()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        """Stop cleanly (SIGTERM) and wait."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
            self._process = None

    def kill(self) -> None:
        """Kill at once (SIGKILL): clients see the connection drop without a goodbye."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
            self._process = None

    def restart(self) -> None:
        """Start again on the same port (after `stop` or `kill`)."""
        self.kill()
        self.start()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log(self) -> str:
        """What the broker wrote so far (for assertion messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@pytest.fixture
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Factory: `start(users=None, persistence=False) -> Mosquitto`; all killed at teardown."""
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip(f"{MOSQUITTO} not found: apt-get install mosquitto (scripts/test.sh does)")
    started: list[Mosquitto] = []

    def start(users: dict[str, str] | None = None, persistence: bool = False) -> Mosquitto:
        broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"), users, persistence)
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.kill()
