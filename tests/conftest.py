"""Shared fixtures: a hub on a temp data dir with entry-point plugins switched off."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.config import LoadedConfig, load_config
from hub.core import Hub
from hub.plugins import DISABLE_AUTOLOAD_ENV

# Tests must not pick up whatever plugins happen to be installed on the machine.
os.environ[DISABLE_AUTOLOAD_ENV] = "1"

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def write_config(tmp_path: Path):
    """Write YAML text to tmp_path/config.yaml (and optional secrets.yaml); return the path."""

    def write(text: str, secrets: str | None = None) -> Path:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        if secrets is not None:
            (tmp_path / "secrets.yaml").write_text(secrets, encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_hub(tmp_path: Path, write_config):
    """Build (not start) a Hub from YAML text; plugins can be registered before start."""

    def make(text: str = "{}\n", secrets: str | None = None) -> Hub:
        loaded: LoadedConfig = load_config(write_config(text, secrets))
        return Hub(loaded, tmp_path / "data")

    return make


@pytest.fixture
async def started_hub(make_hub) -> AsyncIterator[Hub]:
    """A started hub on the default (empty) config, stopped after the test."""
    hub = make_hub()
    await hub.async_start()
    yield hub
    await hub.async_stop()


from tests.servers.fixtures import garbage_server, rtsp_server  # noqa: F401, E402
from tests.servers.mosquitto import mqtt_broker  # noqa: F401, E402
