"""`startup`: awaited once per start with the hub, after storage and types, before cameras."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import hub.core
from hub.hookspecs import hookimpl

ONE_CAMERA = """\
plugins:
  disabled: [pyav_source]
cameras:
  front:
    url: demo://
notifiers:
  note:
    type: log
"""


class RecordingStartup:
    """An async startup that looks at the hub it was given while the hub starts."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    @hookimpl
    async def startup(self, hub: Any) -> None:
        await asyncio.sleep(0)  # a real await: the hub must await the coroutine
        rows = await hub.storage.async_read(lambda db: db.table("_migrations").count)
        self.calls.append(
            {
                "hub": hub,
                "running": hub.running,
                "migrations": rows,
                "notifiers": sorted(hub.notifiers),
                "camera_state": hub.states.get("camera.front"),
            }
        )


async def test_startup_is_awaited_once_with_the_hub_before_cameras_start(make_hub):
    hub = make_hub(ONE_CAMERA)
    plugin = RecordingStartup()
    hub.plugins.register(plugin, "recorder")

    await hub.async_start()
    try:
        assert len(plugin.calls) == 1
        call = plugin.calls[0]
        assert call["hub"] is hub
        assert call["migrations"] >= 1  # the database was open
        assert call["notifiers"] == ["note"]  # typed sections were built first
        assert call["running"] is False
        assert call["camera_state"] is None  # cameras had not been started
        assert hub.states.get("camera.front") is not None
    finally:
        await hub.async_stop()
    assert len(plugin.calls) == 1


async def test_a_sync_startup_is_called_too(make_hub):
    seen: list[object] = []

    class SyncStartup:
        @hookimpl
        def startup(self, hub: Any) -> None:
            seen.append(hub)

    hub = make_hub()
    hub.plugins.register(SyncStartup(), "sync_startup")
    await hub.async_start()
    await hub.async_stop()
    assert seen == [hub]


async def test_a_failing_startup_is_logged_and_counted_and_the_hub_still_starts(make_hub, caplog):
    later: list[str] = []

    class Broken:
        @hookimpl
        async def startup(self, hub: Any) -> None:
            raise RuntimeError("cannot reach the moon")

    class Fine:
        @hookimpl
        def startup(self, hub: Any) -> None:
            later.append("fine")

    hub = make_hub()
    hub.plugins.register(Fine(), "fine")
    hub.plugins.register(Broken(), "broken")
    with caplog.at_level(logging.ERROR, logger="hub.extensions.manager"):
        await hub.async_start()
    try:
        assert hub.running
        assert later == ["fine"]
        info = hub.plugins.infos["broken"]
        assert info.failures == 1
        assert info.state == "active"  # one failure is not enough to disable it
        assert "cannot reach the moon" in (info.error or "")
        assert any(
            "broken" in r.getMessage() and "startup" in r.getMessage() for r in caplog.records
        )
    finally:
        await hub.async_stop()


async def test_a_startup_that_hangs_is_cut_off_and_counted(make_hub, monkeypatch):
    monkeypatch.setattr(hub.core, "PLUGIN_STARTUP_SECONDS", 0.2)

    class Hangs:
        @hookimpl
        async def startup(self, hub: Any) -> None:
            await asyncio.Event().wait()

    the_hub = make_hub()
    the_hub.plugins.register(Hangs(), "hangs")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await the_hub.async_start()
    try:
        assert loop.time() - began < 2
        assert the_hub.running
        assert the_hub.plugins.infos["hangs"].failures == 1
        assert "TimeoutError" in (the_hub.plugins.infos["hangs"].error or "")
    finally:
        await the_hub.async_stop()


@pytest.mark.parametrize("disabled", [True, False])
async def test_a_plugin_in_plugins_disabled_gets_no_startup(make_hub, tmp_path, disabled):
    folder = tmp_path / "local_plugins"
    folder.mkdir()
    marker = tmp_path / "started.txt"
    (folder / "maybe.py").write_text(
        "from hub.hookspecs import hookimpl\n"
        "\n"
        "@hookimpl\n"
        "def startup(hub):\n"
        f"    open({str(marker)!r}, 'w').close()\n",
        encoding="utf-8",
    )
    the_hub = make_hub()
    the_hub.plugins.load_directory(folder, ("maybe",) if disabled else ())
    await the_hub.async_start()
    await the_hub.async_stop()
    assert marker.exists() is not disabled
    assert the_hub.plugins.infos["maybe"].state == ("disabled" if disabled else "active")
