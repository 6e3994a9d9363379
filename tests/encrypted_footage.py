"""A real encrypted recording of the demo camera (segments, a snapshot, an event) for tests."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import av

from hub.core import Hub
from hub.events import RecordingSaved
from tests.helpers import hub_at, next_events

CHUNK = 4096  # small chunks: a 2 s demo segment spans several, so ranges cross boundaries
PASSPHRASE = "correct horse battery staple"


def recording_config(mode: str, enabled: bool = True) -> str:
    """The demo camera recording continuously in 2 s segments, footage encrypted in `mode`."""
    return f"""
storage:
  encryption:
    mode: {mode}
cameras:
  yard:
    url: demo://
    enabled: {"true" if enabled else "false"}
    record:
      mode: continuous
      segment_seconds: 2
      pre_seconds: 1
      post_seconds: 1
"""


def record_demo(folder: Path, mode: str) -> None:
    """Record ~3 segments, save a snapshot, and add an event `walk1` over the second segment."""

    async def run() -> None:
        hub = hub_at(folder, recording_config(mode))
        hub.footage.chunk_size = CHUNK
        if mode == "sealed":
            hub.footage.keyring.create_key(PASSPHRASE)
        saved = hub.bus.subscribe("saved", (RecordingSaved,))
        await hub.async_start()
        try:
            await next_events(saved, 3)
            jpeg = await hub.cameras.async_snapshot("yard")
            assert jpeg is not None
            file = hub.footage.create("snapshots/yard/walk1.jpg")
            file.write(jpeg)
            file.finish()
            segments = await hub.recordings.async_segments("yard")
            await hub.async_insert(
                "events",
                {
                    "id": "walk1",
                    "camera": "yard",
                    "kind": "object",
                    "label": "person",
                    "start": segments[1].start + 0.2,
                    "end": segments[1].end - 0.2,
                    "snapshot_path": "snapshots/yard/walk1.jpg",
                },
            )
        finally:
            await hub.async_stop()

    asyncio.run(run())


def copy_of(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of a recording folder (tests may tamper, erase or rotate)."""
    target = tmp_path / "copy"
    shutil.copytree(recorded, target)
    return target


def serving_hub(folder: Path, mode: str) -> Hub:
    """A hub over the recorded data that records nothing more (camera disabled)."""
    return hub_at(folder, recording_config(mode, enabled=False))


def frames_in(data: bytes) -> int:
    """How many video frames an MP4 decodes to (0 if it is not one)."""
    with av.open(io.BytesIO(data), mode="r") as container:
        return sum(1 for _ in container.decode(video=0))
