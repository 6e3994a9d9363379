"""The event log: stored events listed with filters (newest first), looked up, kept, deleted."""

from __future__ import annotations

import json

import pytest

from hub.detection.event_log import EventLog, EventQuery
from hub.storage import LONG_EVENT_SECONDS, Storage

DAY = 86400.0


def _row(event_id, camera, start, end, label="person", zones=()):
    return {
        "id": event_id,
        "camera": camera,
        "kind": "object",
        "label": label,
        "start": start,
        "end": end,
        "zones": json.dumps(list(zones)),
    }


@pytest.fixture
async def log(tmp_path):
    storage = Storage(tmp_path / "camhub.db")
    await storage.async_open()
    rows = [
        _row("a", "front", 1000.0, 1010.0, zones=["porch"]),
        _row("b", "back", 2000.0, 2005.0, label="cat"),
        _row("c", "front", 3000.0, None),  # still going on
        # Began long before the window and lasted into it: found through the long-event index.
        _row("d", "back", 500.0, 500.0 + LONG_EVENT_SECONDS + 2000.0),
    ]
    await storage.async_write(lambda db: db.table("events").insert_all(rows))
    yield EventLog(storage)
    await storage.async_close()


async def ids(log, **query):
    return [row["id"] for row in await log.async_list(EventQuery(**query))]


async def test_events_are_listed_newest_first_and_filtered(log):
    assert await ids(log) == ["c", "b", "a", "d"]
    assert await ids(log, cameras=["front"]) == ["c", "a"]
    assert await ids(log, cameras=[]) == []
    assert await ids(log, label="cat") == ["b"]
    assert await ids(log, zone="porch") == ["a"]
    assert await ids(log, limit=2, offset=1) == ["b", "a"]


async def test_a_time_window_finds_every_event_overlapping_it(log):
    # [1900, 2500]: b inside it, d (long) still going, a over before it, c not begun.
    assert await ids(log, start=1900.0, end=2500.0) == ["b", "d"]
    # From 2900 on: c has no end yet and counts as going on.
    assert await ids(log, start=2900.0) == ["c", "d"]
    assert await ids(log, end=900.0) == ["d"]


async def test_one_event_is_looked_up_kept_and_deleted(log):
    event = await log.async_get("a")
    assert event is not None and event["camera"] == "front" and event["keep"] == 0
    await log.async_set_keep("a", True)
    assert (await log.async_get("a"))["keep"] == 1
    await log.async_set_keep("a", False)
    assert (await log.async_get("a"))["keep"] == 0
    await log.async_delete("a")
    assert await log.async_get("a") is None
    assert await log.async_get("nosuch") is None
    assert await ids(log) == ["c", "b", "d"]
