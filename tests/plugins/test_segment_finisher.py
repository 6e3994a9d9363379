"""A slow disk never delays a camera's frames: segments are synced on the finisher thread."""

from __future__ import annotations

import asyncio
import os
import threading

from hub.events import RecordingSaved
from tests.helpers import hub_at, wait_until

CONFIG = """
cameras:
  yard:
    url: demo://
    detect:
      decode: always
    motion:
      enabled: false
    record:
      mode: continuous
      segment_seconds: 1
"""


async def test_frames_and_packets_flow_while_a_segment_sync_hangs(tmp_path, monkeypatch):
    release = threading.Event()
    syncing = threading.Event()
    real_fsync = os.fsync

    def stuck_fsync(fd: int) -> None:
        # An SD card that takes its time: only the finisher's segment syncs hang.
        if threading.current_thread().name == "segment-finisher":
            syncing.set()
            release.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", stuck_fsync)
    hub = hub_at(tmp_path, CONFIG)
    saved = hub.bus.subscribe("t", (RecordingSaved,))
    runtime = hub.cameras["yard"]
    slot = runtime.frames.attach()
    await hub.async_start()
    try:
        await wait_until(syncing.is_set, 20, "a segment being synced")
        # The first segment's fsync hangs; the camera goes on: frames, packets, segments.
        source = runtime.source
        packets, closed = source.stats.packets, source.recorder._finishing
        for _ in range(15):
            await asyncio.wait_for(slot.get(), 5)
        assert source.stats.packets > packets + 15
        await wait_until(lambda: source.recorder._finishing > closed, 10, "the next cut")
        assert saved.stats.queued == 0  # nothing indexed while the disk hangs
        release.set()
        # Once the disk answers, every closed segment is indexed, in order.
        await wait_until(lambda: saved.stats.queued >= 2, 10, "segments indexed")
    finally:
        release.set()
        await hub.async_stop()
    events = []
    while saved.stats.queued:
        events.append(await saved.get())
    starts = [e.start for e in events]
    assert starts == sorted(starts)
