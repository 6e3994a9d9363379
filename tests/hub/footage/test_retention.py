"""Retention on a started hub: by age, by size, kept events, the free-space floor, folders."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.core import Hub
from hub.events import RecordingSaved
from hub.footage.recordings import RecordingSegment
from hub.footage.retention import DAY, DISK_ENTITY, GB
from tests.helpers import next_events, wait_for_state, wait_until

# A pass that never ends (a delete that removes nothing, say) must fail, not hang.
pytestmark = pytest.mark.timeout(30)

NOW = 1_700_000_000.0
SIZE = 1000
"""Bytes of every test segment file."""
TWO_SEGMENTS_GB = 2147 / GB
"""Room for two test segments (2000 bytes) but not three; YAML writes it as 2e-06."""


def cameras(*ids: str, pre: float = 5, post: float = 5, **record: float) -> str:
    """YAML for disabled cameras (nothing records) with the given rolls and limits."""
    limits = "".join(f"      {key}: {value}\n" for key, value in record.items())
    return "".join(
        f"  {camera_id}:\n    url: demo://\n    enabled: false\n    record:\n"
        f"      pre_seconds: {pre}\n      post_seconds: {post}\n{limits}"
        for camera_id in ids
    )


def config(cameras_yaml: str, **storage: float) -> str:
    """Full config; the free-space floor is off unless a test sets it."""
    storage = {"min_free_gb": 0, **storage}
    lines = "".join(f"  {key}: {value}\n" for key, value in storage.items())
    return f"storage:\n{lines}cameras:\n{cameras_yaml}"


@pytest.fixture
async def start_hub(make_hub) -> AsyncIterator[Callable[[str], object]]:
    """Start a hub from YAML once its own first retention pass is over; stop it after."""
    hubs: list[Hub] = []

    async def start(text: str) -> Hub:
        hub = make_hub(text)
        await hub.async_start()
        hubs.append(hub)
        # The background pass runs at start, then sleeps for 30 s: out of the test's way.
        await wait_until(lambda: hub.retention.last_report is not None, 5, "the start-up pass")
        return hub

    yield start
    for hub in hubs:
        await hub.async_stop()


async def add_segment(
    hub: Hub, camera: str, start: float, seconds: float = 10.0, size: int = SIZE
) -> RecordingSegment:
    """A real file of `size` bytes in the recorder's folder layout, indexed."""
    folder = time.strftime("%Y-%m-%d/%H", time.localtime(start))
    relpath = f"{camera}/{folder}/{start:.3f}.mp4"
    file = hub.footage.create(relpath)
    file.write(b"\x00" * size)
    written = file.finish()
    segment = RecordingSegment(camera, start, start + seconds, relpath, written)
    return dataclasses.replace(segment, id=await hub.recordings.async_add(segment))


async def add_event(hub: Hub, event_id: str, camera: str, start: float, end: float, keep: int):
    await hub.async_insert(
        "events",
        {
            "id": event_id,
            "camera": camera,
            "kind": "object",
            "label": "person",
            "start": start,
            "end": end,
            "keep": keep,
        },
    )


async def remaining(hub: Hub) -> set[str]:
    """Paths still indexed; each must still have its file."""
    paths = await hub.recordings.async_indexed_paths()
    for path in paths:
        assert hub.footage.exists(path), f"{path} indexed but its file is gone"
    return paths


def assert_gone(hub: Hub, *segments: RecordingSegment) -> None:
    for segment in segments:
        assert not hub.footage.path_of(segment.path).exists(), segment.path


def files_on_disk(hub: Hub) -> set[str]:
    return {hub.footage.relpath_of(p) for p in hub.footage.root.rglob("*") if p.is_file()}


def simulate_disk(hub: Hub, monkeypatch, capacity: int) -> dict[str, int]:
    """Free space = capacity minus the footage on disk; `disk["capacity"]` can change later."""
    disk = {"capacity": capacity}

    def free_bytes() -> int:
        used = sum(p.stat().st_size for p in hub.footage.root.rglob("*") if p.is_file())
        return max(0, disk["capacity"] - used)

    monkeypatch.setattr(hub.footage, "free_bytes", free_bytes)
    return disk


# ------------------------------------------------------------------ by age


async def test_camera_max_days_deletes_older_segments_of_that_camera_only(start_hub):
    hub = await start_hub(config(cameras("yard", max_days=2) + cameras("porch")))
    old = [await add_segment(hub, "yard", NOW - d * DAY) for d in (5, 3, 2.5)]
    # Started before the cut-off but ends after it: it still holds footage young enough.
    straddling = await add_segment(hub, "yard", NOW - 2 * DAY - 5)
    young = [await add_segment(hub, "yard", NOW - d * DAY) for d in (1, 0.01)]
    porch_old = await add_segment(hub, "porch", NOW - 30 * DAY)

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 3}
    assert report.freed_bytes == 3 * SIZE
    assert not report.paused and not hub.retention.paused
    assert_gone(hub, *old)
    assert await remaining(hub) == {s.path for s in [straddling, *young, porch_old]}


async def test_global_max_days_applies_to_every_camera(start_hub):
    hub = await start_hub(config(cameras("yard", "porch"), max_days=1))
    old = [
        await add_segment(hub, "yard", NOW - 4 * DAY),
        await add_segment(hub, "porch", NOW - 2 * DAY),
    ]
    young = [
        await add_segment(hub, "yard", NOW - 0.5 * DAY),
        await add_segment(hub, "porch", NOW - 60),
    ]

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 2}
    assert_gone(hub, *old)
    assert await remaining(hub) == {s.path for s in young}


async def test_the_strictest_age_limit_wins(start_hub):
    # yard: its own 1 day beats the global 3; porch: the global 3 beats its own 10.
    hub = await start_hub(
        config(cameras("yard", max_days=1) + cameras("porch", max_days=10), max_days=3)
    )
    ages = (0.5, 2, 4, 12)
    yard = {age: await add_segment(hub, "yard", NOW - age * DAY) for age in ages}
    porch = {age: await add_segment(hub, "porch", NOW - age * DAY + 1) for age in ages}

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 5}
    assert_gone(hub, yard[2], yard[4], yard[12], porch[4], porch[12])
    assert await remaining(hub) == {yard[0.5].path, porch[0.5].path, porch[2].path}


# ------------------------------------------------------------------ by size


async def test_camera_max_gb_deletes_its_oldest_first_until_under_the_limit(start_hub):
    hub = await start_hub(config(cameras("yard", max_gb=TWO_SEGMENTS_GB) + cameras("porch")))
    yard = [await add_segment(hub, "yard", NOW - 500 + 60 * i) for i in range(5)]
    # Older than all of yard's footage, but porch has no size limit.
    porch = [await add_segment(hub, "porch", NOW - 5000 + 60 * i) for i in range(3)]

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"size": 3}
    assert_gone(hub, *yard[:3])
    assert await remaining(hub) == {s.path for s in [*yard[3:], *porch]}
    assert await hub.recordings.async_total_bytes("yard") == 2 * SIZE <= TWO_SEGMENTS_GB * GB


async def test_global_max_gb_deletes_the_oldest_over_all_cameras(start_hub):
    hub = await start_hub(config(cameras("yard", "porch"), max_gb=2 * TWO_SEGMENTS_GB))
    segments = [
        await add_segment(hub, camera, NOW - 1000 + 60 * i)
        for i, camera in enumerate(["porch", "yard", "yard", "porch", "yard", "porch"])
    ]

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"size": 2}
    assert_gone(hub, *segments[:2])
    assert await remaining(hub) == {s.path for s in segments[2:]}
    assert await hub.recordings.async_total_bytes() == 4 * SIZE


async def test_within_limits_nothing_is_deleted(start_hub):
    hub = await start_hub(
        config(cameras("yard", max_days=7, max_gb=1), max_days=30, max_gb=10, min_free_gb=0.001)
    )
    segments = [await add_segment(hub, "yard", NOW - d * DAY) for d in (6, 3, 0)]

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {} and report.freed_bytes == 0 and not report.paused
    assert await remaining(hub) == {s.path for s in segments}
    assert hub.states.get(DISK_ENTITY).state == "ok"


# ------------------------------------------------------------------ kept events


async def test_kept_events_protect_overlapping_segments_padded_by_pre_and_post(start_hub):
    hub = await start_hub(config(cameras("yard", "porch", pre=5, post=5, max_days=1)))
    t0 = NOW - 3 * DAY
    a, b, c, d = [await add_segment(hub, "yard", t0 + 100 * i) for i in range(4)]
    # Inside a, but not kept: no protection.
    await add_event(hub, "in-a", "yard", t0 + 3, t0 + 6, keep=0)
    # Starts 3 s after b ends: within pre_seconds (5), so b holds its pre-roll.
    await add_event(hub, "after-b", "yard", t0 + 113, t0 + 120, keep=1)
    # Starts 7 s after c ends: beyond pre_seconds, c is not needed.
    await add_event(hub, "after-c", "yard", t0 + 217, t0 + 230, keep=1)
    # Ends 4 s before d starts: within post_seconds, d holds its post-roll.
    await add_event(hub, "before-d", "yard", t0 + 290, t0 + 296, keep=1)
    # A kept event on another camera protects nothing of this one.
    await add_event(hub, "porch", "porch", t0, t0 + 400, keep=1)

    report = await hub.retention.async_enforce(now=NOW)

    # The old event that was not kept goes too; kept ones stay, whatever their age.
    assert report.deleted == {"age": 2, "events": 1}
    assert_gone(hub, a, c)
    assert await remaining(hub) == {b.path, d.path}
    ids = await hub.storage.async_read(
        lambda db: {r["id"] for r in db.query("select id from events")}
    )
    assert ids == {"after-b", "after-c", "before-d", "porch"}


async def test_old_events_go_with_their_snapshot_and_clip_new_ones_stay(start_hub):
    hub = await start_hub(config(cameras("yard", max_days=2)))
    for event_id, age in (("old", 3), ("new", 1)):
        start = NOW - age * DAY
        await add_event(hub, event_id, "yard", start, start + 10, keep=0)
        for relpath in (f"snapshots/yard/{event_id}.jpg", f"clips/yard/{event_id}.mp4"):
            file = hub.footage.create(relpath)
            file.write(b"x")
            file.finish()
        await hub.storage.async_write(
            lambda db, e=event_id: db.execute(
                "update events set snapshot_path = ? where id = ?", [f"snapshots/yard/{e}.jpg", e]
            )
        )

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"events": 1}
    assert not hub.footage.exists("snapshots/yard/old.jpg")
    assert not hub.footage.exists("clips/yard/old.mp4")
    assert hub.footage.exists("snapshots/yard/new.jpg") and hub.footage.exists("clips/yard/new.mp4")
    ids = await hub.storage.async_read(
        lambda db: [r["id"] for r in db.query("select id from events")]
    )
    assert ids == ["new"]


async def test_padding_is_the_cameras_own_pre_roll_before_and_post_roll_after(start_hub):
    hub = await start_hub(
        config(cameras("yard", pre=2, post=8, max_days=1) + cameras("porch", pre=30, post=30))
    )
    t0 = NOW - 3 * DAY
    a, b = [await add_segment(hub, "yard", t0 + 100 * i) for i in range(2)]
    # Starts 5 s after a ends: beyond yard's 2 s pre-roll, so a is not part of its clip.
    await add_event(hub, "after-a", "yard", t0 + 15, t0 + 20, keep=1)
    # Ends 5 s before b starts: within yard's 8 s post-roll, so b is.
    await add_event(hub, "before-b", "yard", t0 + 90, t0 + 95, keep=1)

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 1}
    assert_gone(hub, a)
    assert await remaining(hub) == {b.path}


async def test_a_kept_oldest_segment_survives_the_size_limit(start_hub):
    hub = await start_hub(config(cameras("yard", max_gb=TWO_SEGMENTS_GB)))
    segments = [await add_segment(hub, "yard", NOW - 500 + 60 * i) for i in range(4)]
    await add_event(hub, "kept", "yard", NOW - 495, NOW - 493, keep=1)

    report = await hub.retention.async_enforce(now=NOW)

    # The kept one stays; the next oldest go instead until yard is under its limit.
    assert report.deleted == {"size": 2}
    assert_gone(hub, *segments[1:3])
    assert await remaining(hub) == {segments[0].path, segments[3].path}


# ------------------------------------------------------------------ free space


async def test_low_free_space_deletes_oldest_until_the_floor_is_met(start_hub, monkeypatch):
    hub = await start_hub(config(cameras("yard", "porch"), min_free_gb=4294 / GB))
    segments = [
        await add_segment(hub, camera, NOW - 1000 + 60 * i)
        for i, camera in enumerate(["yard", "porch", "yard", "porch", "yard"])
    ]
    simulate_disk(hub, monkeypatch, capacity=7000)  # 2000 bytes free, 4294 wanted

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"free_space": 3}
    assert_gone(hub, *segments[:3])
    assert await remaining(hub) == {s.path for s in segments[3:]}
    assert hub.footage.free_bytes() >= 4294
    assert not hub.retention.paused and hub.states.get(DISK_ENTITY).state == "ok"


async def test_floor_out_of_reach_pauses_recording_until_space_returns(start_hub, monkeypatch):
    hub = await start_hub(config(cameras("yard"), min_free_gb=4294 / GB))
    kept = await add_segment(hub, "yard", NOW - 1000)
    await add_event(hub, "kept", "yard", NOW - 995, NOW - 994, keep=1)
    others = [await add_segment(hub, "yard", NOW - 500 + 60 * i) for i in range(3)]
    disk = simulate_disk(hub, monkeypatch, capacity=4000)  # never enough, even when empty

    report = await hub.retention.async_enforce(now=NOW)

    # Everything that may go went; the kept footage stays; recording stops.
    assert report.deleted == {"free_space": 3} and report.paused
    assert_gone(hub, *others)
    assert await remaining(hub) == {kept.path}
    assert hub.retention.paused
    disk_state = hub.states.get(DISK_ENTITY)
    assert disk_state.state == "full"
    assert disk_state.attributes["free_bytes"] == 4000 - SIZE

    # Another pass with nothing more to delete stays paused and deletes nothing.
    again = await hub.retention.async_enforce(now=NOW)
    assert again.deleted == {} and again.paused

    disk["capacity"] = 10**9  # the owner freed some space
    resumed = await hub.retention.async_enforce(now=NOW)
    assert resumed.deleted == {} and not resumed.paused
    assert not hub.retention.paused
    assert hub.states.get(DISK_ENTITY).state == "ok"
    assert await remaining(hub) == {kept.path}


# ------------------------------------------------------------------ folders and the report


async def test_emptied_folders_are_removed_and_the_report_counts_each_reason(
    start_hub, monkeypatch
):
    hub = await start_hub(
        config(
            cameras("yard", max_days=1) + cameras("porch", max_gb=TWO_SEGMENTS_GB),
            min_free_gb=2500 / GB,
        )
    )
    # yard: two days old (age), in their own hour folder, and recent ones.
    yard_old = [await add_segment(hub, "yard", NOW - 2 * DAY + 60 * i) for i in range(2)]
    yard_recent = [await add_segment(hub, "yard", NOW - 3600 + 60 * i) for i in range(3)]
    # porch: five segments, three over its size limit; porch's oldest hour folder empties.
    porch = [await add_segment(hub, "porch", NOW - 7000 + 1200 * i) for i in range(5)]
    old_folder = hub.footage.path_of(yard_old[0].path).parent
    porch_first_folder = hub.footage.path_of(porch[0].path).parent
    # After age and size 5 segments are left: 1000 bytes free, 2500 wanted.
    simulate_disk(hub, monkeypatch, capacity=6000)

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 2, "size": 3, "free_space": 2}
    assert report.freed_bytes == 7 * SIZE
    left = {yard_recent[2].path, porch[3].path, porch[4].path}
    assert await remaining(hub) == left
    assert files_on_disk(hub) == left
    # Day and hour folders left empty are gone; folders still holding footage stay.
    assert not old_folder.exists() and not old_folder.parent.exists()
    if porch_first_folder != hub.footage.path_of(porch[4].path).parent:
        assert not porch_first_folder.exists()
    empty = [p for p in hub.footage.root.rglob("*") if p.is_dir() and not any(p.iterdir())]
    assert empty == []
    assert hub.retention.last_report is report


async def test_deleting_everything_leaves_the_footage_root(start_hub):
    hub = await start_hub(config(cameras("yard"), max_days=1))
    segment = await add_segment(hub, "yard", NOW - 5 * DAY)

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"age": 1}
    assert_gone(hub, segment)
    assert not (hub.footage.root / "yard").exists()
    assert hub.footage.root.is_dir()


# ------------------------------------------------------------------ the recorder obeys


# An empty garden: the walker's person events would write snapshots into the footage
# folder while the test watches it for recording files.
DEMO = """
storage:
  min_free_gb: 0.5
cameras:
  yard:
    url: demo://?first=3600
    record:
      mode: continuous
      segment_seconds: 1
"""


def footage_files(hub: Hub) -> list[Path]:
    root = hub.footage.root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


async def packets_later(hub: Hub, count: int) -> None:
    """Wait until the demo camera (10 fps, a keyframe every 2 s) sent `count` more packets."""
    source = hub.cameras["yard"].source
    assert source is not None
    start = source.stats.packets
    await wait_until(lambda: source.stats.packets >= start + count, 15, f"{count} packets")


async def test_demo_camera_records_nothing_while_paused_and_resumes(make_hub, monkeypatch):
    hub = make_hub(DEMO)
    free = {"bytes": 0}
    monkeypatch.setattr(hub.footage, "free_bytes", lambda: free["bytes"])
    await hub.async_start()
    saved = hub.bus.subscribe("saved", (RecordingSaved,))
    try:
        await wait_for_state(hub, "camera.yard", "online")
        # The start-up pass found the disk full with nothing to delete.
        assert hub.retention.paused and hub.states.get(DISK_ENTITY).state == "full"
        # 3 s of stream (a keyframe every 2 s): unpaused it would have a file by now.
        await packets_later(hub, 30)
        assert footage_files(hub) == []
        assert await hub.recordings.async_segments() == []

        free["bytes"] = 10 * GB
        report = await hub.retention.async_enforce()
        assert not report.paused and hub.states.get(DISK_ENTITY).state == "ok"

        await next_events(saved, 1)  # a segment after space returned
        assert await hub.recordings.async_segments("yard")

        # Full again: all footage is deleted, the open segment is closed, nothing new starts.
        free["bytes"] = 0
        report = await hub.retention.async_enforce()
        assert report.paused and report.deleted.get("free_space", 0) >= 1
        await packets_later(hub, 2)  # the demux thread notices at its next packet
        settled = footage_files(hub)
        assert not [p for p in settled if p.name.endswith(".partial")]
        await packets_later(hub, 25)  # past the next keyframe
        assert footage_files(hub) == settled
    finally:
        await hub.async_stop()


def save_picture(hub: Hub, relpath: str, written: float) -> None:
    """A picture as an automation saves it, written at `written` (file time)."""
    file = hub.footage.create(relpath)
    file.write(b"\xff\xd8\xff picture")
    file.finish()
    os.utime(hub.footage.path_of(relpath), (written, written))


async def test_automation_pictures_age_out_with_their_camera(start_hub):
    hub = await start_hub(config(cameras("yard", max_days=2) + cameras("porch")))
    save_picture(hub, "snapshots/automations/yard/old.jpg", NOW - 3 * DAY)
    save_picture(hub, "snapshots/automations/yard/new.jpg", NOW - 1 * DAY)
    save_picture(hub, "snapshots/automations/porch/old.jpg", NOW - 30 * DAY)

    report = await hub.retention.async_enforce(now=NOW)

    assert report.deleted == {"snapshots": 1}
    assert files_on_disk(hub) == {
        "snapshots/automations/yard/new.jpg",
        "snapshots/automations/porch/old.jpg",
    }


async def test_erase_takes_automation_pictures_of_the_range(start_hub):
    hub = await start_hub(config(cameras("yard", "porch")))
    segment = await add_segment(hub, "yard", NOW - 100)
    save_picture(hub, "snapshots/automations/yard/inside.jpg", NOW - 50)
    save_picture(hub, "snapshots/automations/porch/inside.jpg", NOW - 50)
    save_picture(hub, "snapshots/automations/yard/after.jpg", NOW + 500)

    result = await hub.retention.async_erase(NOW - 200, NOW, cameras=["yard"])

    assert result["segments"] == 1 and result["snapshots"] == 1
    assert_gone(hub, segment)
    assert files_on_disk(hub) == {
        "snapshots/automations/porch/inside.jpg",
        "snapshots/automations/yard/after.jpg",
    }
