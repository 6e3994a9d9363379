"""`event_published`: bus events reach plugins in order; a plugin that keeps failing stops."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from hub.events import Event, PluginFailed
from hub.extensions.manager import MAX_CONSECUTIVE_FAILURES
from hub.hookspecs import hookimpl
from tests.web_clients import signed_in_client


@dataclass(frozen=True, kw_only=True)
class Doorbell(Event):
    event_type: ClassVar[str] = "doorbell"
    ring: int


class Listener:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.hubs: set[int] = set()

    @hookimpl
    async def event_published(self, hub: Any, event: Event) -> None:
        await asyncio.sleep(0)
        self.hubs.add(id(hub))
        self.events.append(event)


def _rings(listener: Listener) -> list[int]:
    return [e.ring for e in listener.events if isinstance(e, Doorbell)]


async def test_plugins_receive_bus_events_in_the_order_published(make_hub):
    hub = make_hub()
    listener = Listener()
    hub.plugins.register(listener, "listener")
    await hub.async_start()
    try:
        for ring in range(5):
            hub.bus.publish(Doorbell(ring=ring))
        await hub.async_block_till_done()
        assert _rings(listener) == [0, 1, 2, 3, 4]
        assert "hub_started" in [e.event_type for e in listener.events]
        assert listener.hubs == {id(hub)}
    finally:
        await hub.async_stop()

    hub.bus.publish(Doorbell(ring=99))  # after stop nobody listens
    await hub.async_block_till_done()
    assert 99 not in _rings(listener)


async def test_one_failing_plugin_does_not_keep_events_from_the_others(make_hub):
    class Grumpy:
        @hookimpl
        def event_published(self, hub: Any, event: Event) -> None:
            if isinstance(event, Doorbell) and event.ring == 1:
                raise ValueError("I hate ring 1")

    hub = make_hub()
    listener = Listener()
    hub.plugins.register(listener, "listener")
    hub.plugins.register(Grumpy(), "grumpy")
    await hub.async_start()
    try:
        for ring in range(3):
            hub.bus.publish(Doorbell(ring=ring))
        await hub.async_block_till_done()
        assert _rings(listener) == [0, 1, 2]
        info = hub.plugins.infos["grumpy"]
        assert (info.failures, info.consecutive_failures, info.state) == (1, 0, "active")
    finally:
        await hub.async_stop()


async def test_a_plugin_that_keeps_failing_is_disabled_and_the_api_shows_it(make_hub):
    class Crashy:
        calls = 0

        @hookimpl
        async def event_published(self, hub: Any, event: Event) -> None:
            Crashy.calls += 1
            raise RuntimeError(f"crash {Crashy.calls}")

    hub = make_hub()
    listener = Listener()
    hub.plugins.register(listener, "listener")
    hub.plugins.register(Crashy(), "crashy")
    await hub.async_start()
    try:
        for ring in range(6):
            hub.bus.publish(Doorbell(ring=ring))
        await hub.async_block_till_done()
        assert any(isinstance(e, PluginFailed) for e in listener.events)
        assert _rings(listener) == list(range(6))

        assert MAX_CONSECUTIVE_FAILURES == 3  # the number docs/plugins.md promises
        assert Crashy.calls == 3  # never called again once disabled
        info = hub.plugins.infos["crashy"]
        assert info.state == "failed"
        assert info.failures == 3
        assert info.error == "event_published: RuntimeError: crash 3"
        failed = next(e for e in listener.events if isinstance(e, PluginFailed))
        assert failed.plugin == "crashy"
        assert "crash 3" in failed.reason
        assert any("plugin crashy disabled" in p for p in hub.problems)
        assert hub.health()["plugins_failed"] == ["crashy"]

        async with await signed_in_client(hub) as client:
            response = await client.get("/api/plugins")
            assert response.status == 200
            plugins = {p["name"]: p for p in (await response.json())["plugins"]}
        assert plugins["crashy"]["state"] == "failed"
        assert plugins["crashy"]["failures"] == 3
        assert plugins["crashy"]["hooks"] == ["event_published"]
        assert plugins["listener"]["state"] == "active"
        json.dumps(plugins)  # plain JSON all the way down
    finally:
        await hub.async_stop()


async def test_plugins_see_hub_stopping(make_hub):
    hub = make_hub()
    listener = Listener()
    hub.plugins.register(listener, "listener")
    await hub.async_start()
    await hub.async_block_till_done()
    assert any(e.event_type == "hub_started" for e in listener.events)
    await hub.async_stop()
    assert "hub_stopping" in [e.event_type for e in listener.events]
