"""Plugin loading from three sources, failure isolation and disabling."""

from __future__ import annotations

import asyncio
import sys
import textwrap

import pytest

from hub import hookspecs
from hub.extensions.manager import DISABLE_AUTOLOAD_ENV, MAX_CONSECUTIVE_FAILURES, PluginManager
from hub.hookspecs import hookimpl


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """An installed distribution (dist-info on sys.path) with a `camhub` entry point."""
    site = tmp_path / "site"
    (site / "camhub_ep_demo").mkdir(parents=True)
    (site / "camhub_ep_demo" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from hub.hookspecs import hookimpl

            @hookimpl
            def startup(hub):
                hub.seen_entrypoint = True
            """
        )
    )
    dist = site / "camhub_ep_demo-2.5.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: camhub-ep-demo\nVersion: 2.5.0\n")
    (dist / "entry_points.txt").write_text("[camhub]\nepdemo = camhub_ep_demo\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    sys.modules.pop("camhub_ep_demo", None)


def test_builtins_load_and_show_their_hooks():
    manager = PluginManager()
    manager.load_all()
    info = manager.infos["log_notifier"]
    assert (info.source, info.state, info.version) == ("builtin", "active", "1.0.0")
    assert info.hooks == ["notifier_types"]


def test_entry_point_plugins_load_unless_switched_off(fake_distribution, monkeypatch):
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV, raising=False)
    manager = PluginManager()
    manager.load_all()
    info = manager.infos["epdemo"]
    assert (info.source, info.state, info.version) == ("entrypoint", "active", "2.5.0")
    assert info.hooks == ["startup"]

    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    switched_off = PluginManager()
    switched_off.load_all()
    assert "epdemo" not in switched_off.infos


def test_local_file_plugins_load_from_plugins_dir(tmp_path):
    (tmp_path / "porch_light.py").write_text(
        "from hub.hookspecs import hookimpl\n__version__ = '0.3'\n\n"
        "@hookimpl\ndef shutdown(hub):\n    pass\n"
    )
    (tmp_path / "_private.py").write_text("raise RuntimeError('must not be imported')\n")
    manager = PluginManager()
    manager.load_all(plugins_dir=tmp_path)
    info = manager.infos["porch_light"]
    assert (info.source, info.state, info.version, info.hooks) == (
        "file",
        "active",
        "0.3",
        ["shutdown"],
    )
    assert "_private" not in manager.infos


def test_plugin_that_fails_to_import_is_reported_and_others_load(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_real_module_xyz\n")
    (tmp_path / "fine.py").write_text("from hub.hookspecs import hookimpl\n")
    manager = PluginManager()
    manager.load_all(plugins_dir=tmp_path)
    assert manager.infos["broken"].state == "error"
    assert "not_a_real_module_xyz" in (manager.infos["broken"].error or "")
    assert manager.infos["fine"].state == "active"


def test_misspelt_hook_is_caught_at_start_up(tmp_path):
    (tmp_path / "typo.py").write_text(
        "from hub.hookspecs import hookimpl\n\n@hookimpl\ndef statrup(hub):\n    pass\n"
    )
    manager = PluginManager()
    manager.load_all(plugins_dir=tmp_path)
    info = manager.infos["typo"]
    assert info.state == "error" and "statrup" in (info.error or "")
    assert manager.pm.get_plugin("typo") is None


def test_disabled_plugins_are_listed_but_not_loaded():
    manager = PluginManager()
    manager.load_all(disabled=("log_notifier",))
    assert manager.infos["log_notifier"].state == "disabled"
    names = sorted(spec.name for _, spec in manager.call_collect(hookspecs.notifier_types))
    assert names == ["email", "mqtt", "ntfy", "panel", "webhook"]


class Flaky:
    def __init__(self):
        self.calls = 0

    @hookimpl
    def notifier_types(self):
        self.calls += 1
        raise RuntimeError("flaky plugin")


class Steady:
    @hookimpl
    def notifier_types(self):
        return ["steady-type"]


def test_raising_hook_is_isolated_counted_then_disabled(caplog):
    failed = []
    manager = PluginManager(on_failed=failed.append)
    flaky = Flaky()
    manager.register(flaky, "flaky")
    manager.register(Steady(), "steady")
    for attempt in range(MAX_CONSECUTIVE_FAILURES + 2):
        # The steady plugin's answer arrives every time, whatever the flaky one does.
        assert manager.call_collect(hookspecs.notifier_types) == [("steady", "steady-type")]
        expected_state = "failed" if attempt + 1 >= MAX_CONSECUTIVE_FAILURES else "active"
        assert manager.infos["flaky"].state == expected_state
    assert flaky.calls == MAX_CONSECUTIVE_FAILURES  # once failed, it is no longer called
    assert manager.infos["flaky"].failures == MAX_CONSECUTIVE_FAILURES
    assert [info.name for info in failed] == ["flaky"]
    assert "Plugin flaky failed in hook notifier_types" in caplog.text
    assert manager.infos["flaky"].as_dict()["state"] == "failed"


def test_success_resets_the_consecutive_count():
    manager = PluginManager()

    class Sometimes:
        n = 0

        @hookimpl
        def notifier_types(self):
            self.n += 1
            if self.n % 2:
                raise RuntimeError("odd call")
            return []

    manager.register(Sometimes(), "sometimes")
    for _ in range(10):
        manager.call_collect(hookspecs.notifier_types)
    info = manager.infos["sometimes"]
    assert (info.state, info.failures) == ("active", 5)


async def test_async_hook_failure_and_timeout_are_isolated():
    manager = PluginManager()
    ran = []

    class RaisesLater:
        @hookimpl
        async def startup(self, hub):
            await asyncio.sleep(0)
            raise ValueError("async boom")

    class Hangs:
        @hookimpl
        async def startup(self, hub):
            await asyncio.Event().wait()  # never set: hangs

    class Fine:
        @hookimpl
        async def startup(self, hub):
            ran.append(hub)
            return "ok"

    manager.register(RaisesLater(), "raises")
    manager.register(Hangs(), "hangs")
    manager.register(Fine(), "fine")
    results = await asyncio.wait_for(
        manager.async_call(hookspecs.startup, time_limit=0.2, hub="H"), 5
    )
    assert results == ["ok"] and ran == ["H"]
    assert manager.infos["raises"].failures == 1
    assert "async boom" in (manager.infos["raises"].error or "")
    assert manager.infos["hangs"].failures == 1
    assert "no answer within 0.2 s" in (manager.infos["hangs"].error or "")


def test_two_plugins_with_one_name_keep_the_first(caplog):
    manager = PluginManager()
    manager.register(Steady(), "same")
    manager.register(Flaky(), "same")
    assert manager.call_collect(hookspecs.notifier_types) == [("same", "steady-type")]
    assert "a plugin of that name is loaded" in caplog.text
