"""`event_stored`: called after `hub.async_insert` committed a row, with table and record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.footage.recordings import RecordingSegment
from hub.hookspecs import hookimpl

EVENT = {
    "id": "ev1",
    "camera": "front",
    "kind": "object",
    "label": "person",
    "start": 1700000000.0,
    "zones": ["porch", "path"],
    "data": {"score": 0.91},
}


class Mirror:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], int]] = []

    @hookimpl
    async def event_stored(self, hub: Any, table: str, record: Mapping[str, Any]) -> None:
        # The row is committed by the time the hook runs: a reader sees it.
        rows = await hub.storage.async_read(lambda db: db.table(table).count)
        self.seen.append((table, dict(record), rows))


async def test_event_stored_gets_the_table_and_the_record_after_the_write(make_hub):
    hub = make_hub()
    mirror = Mirror()
    hub.plugins.register(mirror, "mirror")
    await hub.async_start()
    try:
        await hub.async_insert("events", EVENT)
        assert mirror.seen == [("events", EVENT, 1)]  # lists and dicts not turned into JSON

        await hub.async_insert("recordings", {"camera": "front", "start": 1.0, "path": "a.mp4"})
        assert [(table, rows) for table, _, rows in mirror.seen] == [
            ("events", 1),
            ("recordings", 1),
        ]
        stored = await hub.storage.async_read(lambda db: db.table("events").get("ev1"))
        assert stored["zones"] == '["porch", "path"]'
    finally:
        await hub.async_stop()


async def test_a_sync_event_stored_and_a_failing_one_do_not_undo_the_write(make_hub):
    tables: list[str] = []

    class Sync:
        @hookimpl
        def event_stored(self, table: str) -> None:
            tables.append(table)

    class Broken:
        @hookimpl
        def event_stored(self, hub: Any, table: str, record: Mapping[str, Any]) -> None:
            raise ConnectionError("mirror offline")

    hub = make_hub()
    hub.plugins.register(Sync(), "sync")
    hub.plugins.register(Broken(), "broken")
    await hub.async_start()
    try:
        await hub.async_insert("events", EVENT)
        assert tables == ["events"]
        assert hub.plugins.infos["broken"].failures == 1
        count = await hub.storage.async_read(lambda db: db.table("events").count)
        assert count == 1
    finally:
        await hub.async_stop()


async def test_an_indexed_recording_segment_is_reported_as_a_recordings_row(make_hub):
    hub = make_hub()
    mirror = Mirror()
    hub.plugins.register(mirror, "mirror")
    await hub.async_start()
    try:
        segment = RecordingSegment(
            camera="front", start=10.0, end=20.0, path="front/10.mp4", bytes=1234
        )
        hub.recording_finished(segment)
        await hub.async_block_till_done()
        assert mirror.seen == [("recordings", segment.as_dict(), 1)]
    finally:
        await hub.async_stop()
