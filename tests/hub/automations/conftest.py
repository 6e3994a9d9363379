"""Hubs with automations on a manual clock, and helpers to feed them events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.automations import ManualClock
from hub.config.loading import load_config
from hub.core import Hub
from hub.events import Event

# 2024-06-03 12:00:00 UTC, a Monday.
START = 1717416000.0
BASE = """\
location:
  time_zone: Europe/Paris
  latitude: 48.8566
  longitude: 2.3522
cameras:
  porch:
    url: demo://
    enabled: false
    zones:
      steps:
        points: [[0, 0], [1, 0], [1, 1]]
  garage:
    url: demo://
    enabled: false
notifiers:
  phone:
    type: log
"""


def hub_for(folder: Path, automations: str = "", clock: ManualClock | None = None) -> Hub:
    """A hub (not started) on folder/data with the base config plus `automations` YAML."""
    config = folder / "config.yaml"
    config.write_text(BASE + automations)
    hub = Hub(load_config(config), folder / "data")
    hub.automations.clock = clock or ManualClock(START)
    return hub


@pytest.fixture
async def auto_hub(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start a hub with the given automations YAML; stopped after the test."""
    hubs: list[Hub] = []

    async def make(automations: str = "", clock: ManualClock | None = None, plugins=None) -> Hub:
        hub = hub_for(tmp_path, automations, clock)
        for name, plugin in (plugins or {}).items():
            hub.plugins.register(plugin, name)
        await hub.async_start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.async_stop()


def clock_of(hub: Hub) -> ManualClock:
    """The manual clock a test hub runs on."""
    clock = hub.automations.clock
    assert isinstance(clock, ManualClock)
    return clock


async def publish(hub: Hub, event: Event) -> None:
    """Publish and wait until the engine's listener has handled it."""
    hub.bus.publish(event)
    await hub.bus.async_drain(5)


async def sleepers(hub: Hub, count: int) -> None:
    """Once the hub is idle: at least `count` sleeps wait on its manual clock (runs in delays)."""
    await hub.async_block_till_done()
    found = clock_of(hub).sleepers
    assert found >= count, f"{found} of {count} sleeps on the manual clock"


async def traces(hub: Hub, automation_id: str) -> list[dict[str, Any]]:
    """Traces newest first."""
    return await hub.automations.async_traces(automation_id)


async def wait_traces(
    hub: Hub, automation_id: str, count: int, finished: bool = True
) -> list[dict[str, Any]]:
    """Once the hub is idle: the automation's (finished) traces, newest first, at least `count`."""
    await hub.async_block_till_done()
    found = [
        t for t in await traces(hub, automation_id) if t["finished"] is not None or not finished
    ]
    assert len(found) >= count, f"{len(found)} of {count} traces of {automation_id}: {found}"
    return found


async def notifications(hub: Hub, count: int | None = None) -> list[dict[str, Any]]:
    """Once the hub is idle: outbox rows, oldest first (at least `count` when given)."""
    await hub.async_block_till_done()
    rows = list(reversed(await hub.outbox.async_list(limit=1000)))
    assert count is None or len(rows) >= count, f"{len(rows)} of {count} notifications: {rows}"
    return rows


__all__ = ["START", "clock_of", "hub_for", "notifications", "publish", "sleepers", "traces"]
