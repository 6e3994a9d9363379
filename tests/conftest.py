"""Shared fixtures: a hub on a temp data dir with entry-point plugins switched off."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.config.loading import LoadedConfig, load_config
from hub.core import Hub
from hub.extensions.manager import DISABLE_AUTOLOAD_ENV
from tests.web_clients import AuthedClient, anonymous_client, signed_in_client

# Tests must not pick up whatever plugins happen to be installed on the machine.
os.environ[DISABLE_AUTOLOAD_ENV] = "1"

REPO = Path(__file__).resolve().parent.parent

# Modules whose tests multicast on loopback (WS-Discovery on 239.255.255.250:3702, mDNS):
# two of them at once would hear each other's devices.
MULTICAST_MODULES = frozenset(
    {
        "tests/hub/hooks/test_hook_discover_devices.py",
        "tests/plugins/test_discovery.py",
        "tests/plugins/test_discovery_background.py",
        "tests/plugins/test_discovery_cli.py",
        "tests/plugins/test_discovery_onboarding.py",
        "tests/web/browser/test_onboarding.py",
        "tests/web/test_api.py",
    }
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (scripts/test.sh runs `-n 2`): a module runs on one worker, so its
    module-scoped fixtures (a recording, a browser) are made once, and the modules that
    multicast on loopback share one worker, so they never run side by side."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "multicast" if module in MULTICAST_MODULES else module

    return ModuleScheduling(config, log)


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


@pytest.fixture
async def make_api_client(make_hub):
    """Signed-in API clients, closed after the test (hubs it started are stopped too).

    `await make_api_client()` starts a hub on the default config and signs in an admin;
    `config=` / `plugins={name: plugin}` shape that hub; `hub=` reuses a started hub;
    `role="viewer", cameras=[...]` signs in a viewer with those grants;
    `role=None` gives a client that is not signed in.
    """
    clients: list[AuthedClient] = []
    hubs: list[Hub] = []

    async def make(
        config: str = "{}\n",
        plugins: dict[str, object] | None = None,
        hub: Hub | None = None,
        role: str | None = "admin",
        cameras: tuple[str, ...] | list[str] = (),
        username: str | None = None,
    ) -> AuthedClient:
        if hub is None:
            hub = make_hub(config)
            for name, plugin in (plugins or {}).items():
                hub.plugins.register(plugin, name)
            await hub.async_start()
            hubs.append(hub)
        if role is None:
            client = await anonymous_client(hub)
        else:
            client = await signed_in_client(hub, role, cameras, username)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    for hub in hubs:
        await hub.async_stop()


@pytest.fixture
async def api_client(make_api_client) -> AuthedClient:
    """An admin signed in to a started hub on the default config (hub: `client.app[HUB_KEY]`);
    its POST/PUT/PATCH/DELETE carry X-CSRF-Token."""
    return await make_api_client()


from tests.servers.fixtures import garbage_server, rtsp_server  # noqa: F401, E402
from tests.servers.mlserver import v2_server  # noqa: F401, E402
from tests.servers.mosquitto import mqtt_broker  # noqa: F401, E402
