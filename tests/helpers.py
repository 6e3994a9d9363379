"""Small helpers the test modules share: polling, hubs on a temp folder, the segment index."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.config import load_config
from hub.core import Hub
from hub.recordings import RecordingSegment


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition"
) -> None:
    """Poll until `predicate()` is true, or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not met in {timeout} s")
        await asyncio.sleep(0.02)


async def wait_for_state(hub: Hub, entity_id: str, state: str, timeout: float = 20.0) -> dict:
    """Wait for an entity to reach `state`; returns its attributes."""

    def reached() -> bool:
        current = hub.states.get(entity_id)
        return current is not None and current.state == state

    await wait_until(reached, timeout, f"{entity_id} == {state} (now {hub.states.get(entity_id)})")
    current = hub.states.get(entity_id)
    assert current is not None
    return dict(current.attributes)


def hub_at(folder: Path, text: str) -> Hub:
    """A hub (not started) with `text` as folder/config.yaml and its data in folder/data."""
    config = folder / "config.yaml"
    config.write_text(text)
    return Hub(load_config(config), folder / "data")


async def indexed_segments(folder: Path) -> list[RecordingSegment]:
    """The segments indexed under folder/data, read by a fresh hub (start-up repair included)."""
    hub = hub_at(folder, "{}\n")
    await hub.async_start()
    try:
        return await hub.recordings.async_segments()
    finally:
        await hub.async_stop()


def footage_path(folder: Path, segment: RecordingSegment) -> Path:
    """Where a segment's file is under folder/data."""
    return folder / "data" / "footage" / segment.path
