"""`camera_source`: the first plugin to answer owns the camera; its source runs until stop."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from hub.hookspecs import hookimpl
from tests.helpers import wait_until

# The built-in pyav_source opens every scheme; switched off, only test plugins answer.
NO_PYAV = "plugins:\n  disabled: [pyav_source]\n"
CAMERAS = (
    NO_PYAV
    + """
cameras:
  front:
    url: demo://
  back:
    url: rtsp://user:hunter22@192.168.1.30/stream
  attic:
    url: demo://
    enabled: false
"""
)


class DemoSource:
    """Goes online, then waits for frames that never come until it is cancelled."""

    def __init__(self, hub: Any, camera_id: str):
        self.hub = hub
        self.camera_id = camera_id
        self.runs = 0
        self.cancelled = False

    async def async_run(self) -> None:
        self.runs += 1
        self.hub.cameras.mark_online(self.camera_id)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class DemoPlugin:
    """Answers for demo:// URLs only."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.sources: dict[str, DemoSource] = {}

    @hookimpl
    def camera_source(self, hub: Any, camera_id: str, config: Any) -> DemoSource | None:
        self.asked.append((camera_id, config.url))
        if not config.url.startswith("demo://"):
            return None
        self.sources[camera_id] = DemoSource(hub, camera_id)
        return self.sources[camera_id]


async def test_a_source_runs_until_the_hub_stops_and_unclaimed_cameras_are_errors(make_hub):
    hub = make_hub(CAMERAS)
    plugin = DemoPlugin()
    hub.plugins.register(plugin, "demo_source")
    await hub.async_start()
    try:
        await wait_until(lambda: _state(hub, "front") == "online")
        # Asked once per enabled camera, with its id and its config.
        assert sorted(plugin.asked) == [
            ("back", "rtsp://user:hunter22@192.168.1.30/stream"),
            ("front", "demo://"),
        ]
        source = plugin.sources["front"]
        assert source.runs == 1
        assert not source.cancelled

        back = hub.states.get("camera.back")
        assert back is not None and back.state == "error"
        assert back.attributes["reason"] == "no source plugin opens rtsp URLs"
        assert _state(hub, "attic") == "disabled"
        assert "attic" not in plugin.sources
    finally:
        await hub.async_stop()
    assert source.cancelled


async def test_with_no_source_plugin_every_camera_is_an_error(make_hub):
    hub = make_hub(NO_PYAV + "cameras:\n  garden:\n    url: /srv/videos/garden.mp4\n")
    await hub.async_start()
    try:
        state = hub.states.get("camera.garden")
        assert state is not None and state.state == "error"
        assert state.attributes["reason"] == "no source plugin opens file URLs"
        listed = [c.as_dict(hub) for c in hub.cameras.values()]
        assert listed[0]["state"] == "error"
        assert listed[0]["reason"] == "no source plugin opens file URLs"
    finally:
        await hub.async_stop()


async def test_first_result_wins_and_only_that_source_runs(make_hub):
    first, second = DemoPlugin(), DemoPlugin()
    hub = make_hub(NO_PYAV + "cameras:\n  front:\n    url: demo://\n")
    hub.plugins.register(second, "second")
    hub.plugins.register(first, "first")  # pluggy asks the last registered plugin first
    await hub.async_start()
    try:
        await wait_until(lambda: _state(hub, "front") == "online")
        assert list(first.sources) == ["front"]
        assert second.asked == []  # firstresult: nobody else is asked
        assert first.sources["front"].runs == 1
    finally:
        await hub.async_stop()


async def test_a_source_that_ends_makes_the_camera_offline_with_the_reason(make_hub, monkeypatch):
    monkeypatch.setattr("hub.cameras.manager.backoff_delay", lambda attempt: 0.01)

    class Flaky:
        runs = 0

        async def async_run(self) -> None:
            Flaky.runs += 1
            raise ConnectionError("camera rebooting")

    class FlakyPlugin:
        @hookimpl
        def camera_source(self, hub: Any, camera_id: str, config: Any) -> Flaky:
            return Flaky()

    hub = make_hub(NO_PYAV + "cameras:\n  front:\n    url: demo://\n")
    hub.plugins.register(FlakyPlugin(), "flaky")
    await hub.async_start()
    try:
        await wait_until(lambda: Flaky.runs >= 3)  # retried after each failure
        state = hub.states.get("camera.front")
        assert state is not None and state.state == "offline"
        assert state.attributes["reason"] == "ConnectionError: camera rebooting"
    finally:
        await hub.async_stop()


async def test_an_async_camera_source_is_awaited(make_hub):
    class AsyncPlugin:
        @hookimpl
        async def camera_source(self, hub: Any, camera_id: str, config: Any) -> None:
            return None

    hub = make_hub(NO_PYAV + "cameras:\n  front:\n    url: demo://\n")
    hub.plugins.register(AsyncPlugin(), "async_source")
    await hub.async_start()
    try:
        await hub.async_block_till_done()
        assert _state(hub, "front") == "error"
    finally:
        await hub.async_stop()
        taken = hub.cameras["front"].source
        if inspect.isawaitable(taken):
            await taken  # consume the stray coroutine so no "never awaited" warning leaks


def _state(hub: Any, camera_id: str) -> str | None:
    state = hub.states.get(f"camera.{camera_id}")
    return state.state if state else None
