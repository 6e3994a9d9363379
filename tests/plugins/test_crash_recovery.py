"""Crash recovery: `kill -9` of a recording `camhub run`, torn fragments, dead index rows."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from hub.config.loading import load_config
from hub.core import DB_FILENAME, FOOTAGE_DIRNAME, Hub
from hub.footage.recordings import RecordingSegment
from hub.footage.store import PARTIAL_SUFFIX, FootageStore
from plugins.pyav_source.recorder import MP4_OPTIONS
from plugins.pyav_source.repair import complete_boxes_end, repair_footage
from tests.conftest import free_port

CAMHUB = str(Path(sys.executable).with_name("camhub"))
pytestmark = pytest.mark.timeout(60)

# The demo camera sends a keyframe every 2 s and the recorder writes a fragment per
# keyframe, so a 4 s segment is two fragments: killed after the first, half a segment
# is on disk in whole boxes. (With 2 s segments the only fragment is written at close.)
RECORDING = """
server:
  port: {port}
cameras:
  yard:
    url: demo://
    record:
      mode: continuous
      segment_seconds: 4
"""
# Restarts read the same data dir with the camera off, so nothing new is written.
RESTART = """
storage:
  min_free_gb: 0
cameras:
  yard:
    url: demo://
    enabled: false
"""


def decode_all(path: Path) -> list[av.VideoFrame]:
    """Every video frame; PyAV raises on a decoding error."""
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def packet_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


def files_with_stats(footage: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(footage).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in footage.rglob("*")
        if p.is_file()
    }


def restart(tmp_path: Path, name: str) -> list[RecordingSegment]:
    """Start and stop a hub in-process on the data dir; return the index it left."""
    config = tmp_path / f"{name}.yaml"
    config.write_text(RESTART)

    async def run() -> list[RecordingSegment]:
        hub = Hub(load_config(config), tmp_path / "data")
        await hub.async_start()
        try:
            return await hub.recordings.async_segments()
        finally:
            await hub.async_stop()

    return asyncio.run(run())


def indexed_rows(db: Path) -> int:
    """Rows in `recordings`, read by another process while the hub writes."""
    if not db.exists():
        return 0
    try:
        connection = sqlite3.connect(db, timeout=1)
        try:
            return int(connection.execute("SELECT count(*) FROM recordings").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.OperationalError:  # the tables are not made yet
        return 0


@dataclass
class Crash:
    """What `kill -9` left, and the index after each of two restarts."""

    footage: Path
    partial: str
    """The `.partial` that held whole fragments when the process died."""
    partial_size: int
    partial_cut: int
    first: list[RecordingSegment]
    files_first: dict[str, tuple[int, int]]
    second: list[RecordingSegment]
    files_second: dict[str, tuple[int, int]]


@pytest.fixture(scope="module")
def crash(tmp_path_factory) -> Crash:
    tmp_path = tmp_path_factory.mktemp("crash")
    data = tmp_path / "data"
    footage, db = data / FOOTAGE_DIRNAME, data / DB_FILENAME
    config = tmp_path / "config.yaml"
    config.write_text(RECORDING.format(port=free_port()))
    log = (tmp_path / "camhub.log").open("w")
    process = subprocess.Popen(
        [CAMHUB, "run", "--config", str(config), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    partial = None
    try:
        deadline = time.monotonic() + 30
        while partial is None:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no segment being written:\n{(tmp_path / 'camhub.log').read_text()}")
            time.sleep(0.05)
            if not indexed_rows(db):
                continue
            partial = next(
                (p for p in footage.rglob(f"*{PARTIAL_SUFFIX}") if complete_boxes_end(p)), None
            )
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert partial.exists(), "the segment was finished before the kill landed"
    partial_size, partial_cut = partial.stat().st_size, complete_boxes_end(partial)
    first = restart(tmp_path, "first")
    files_first = files_with_stats(footage)
    second = restart(tmp_path, "second")
    return Crash(
        footage=footage,
        partial=partial.relative_to(footage).as_posix(),
        partial_size=partial_size,
        partial_cut=partial_cut,
        first=first,
        files_first=files_first,
        second=second,
        files_second=files_with_stats(footage),
    )


def test_kill_9_leaves_no_partial_files(crash):
    assert not [name for name in crash.files_first if name.endswith(PARTIAL_SUFFIX)]


def test_half_written_segment_is_recovered_and_continues_the_timeline(crash):
    final = crash.partial.removesuffix(PARTIAL_SUFFIX)
    by_path = {s.path: s for s in crash.first}
    recovered = by_path[final]
    # Cut to its whole boxes: one 2 s fragment (the kill came right after it was written).
    assert recovered.bytes == crash.partial_cut == crash.files_first[final][0]
    assert crash.partial_cut <= crash.partial_size
    assert recovered.duration == pytest.approx(2.0, abs=0.3)
    # It continues the segment before it without a gap, as the recorder would have.
    before = [s for s in crash.first if s.camera == "yard" and s.start < recovered.start]
    assert before, "the kill came after a finished segment"
    assert recovered.start == pytest.approx(before[-1].end, abs=0.01)


def test_recovered_segment_plays_every_frame(crash):
    recovered = crash.partial.removesuffix(PARTIAL_SUFFIX)
    path = crash.footage / recovered
    frames = decode_all(path)
    assert frames[0].key_frame and (frames[0].width, frames[0].height) == (640, 360)
    assert len(frames) == packet_count(path) == pytest.approx(20, abs=1)


def test_index_and_footage_agree_after_the_crash(crash):
    indexed = {s.path for s in crash.first}
    # Segments only: event clips and snapshots are files of their own, not in the index.
    on_disk = {n for n in crash.files_first if not n.startswith(("clips/", "snapshots/"))}
    assert indexed == on_disk
    assert all(name.endswith(".mp4") for name in on_disk)
    for segment in crash.first:
        assert segment.bytes == crash.files_first[segment.path][0] > 0
        assert 0 < segment.duration <= 4.5, segment
    assert len(crash.first) >= 2


def test_a_second_restart_changes_nothing(crash):
    assert crash.second == crash.first
    assert crash.files_second == crash.files_first


# ------------------------------------------------------------------ torn fragments

FPS = 10


def fragmented_mp4(path: Path, seconds: int) -> Path:
    """H.264 in fragmented MP4 as the recorder writes it: a 1 s fragment per keyframe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options=MP4_OPTIONS) as out:
        stream = out.add_stream(
            "libx264",
            rate=FPS,
            options={"preset": "ultrafast", "x264-params": f"keyint={FPS}:scenecut=0"},
        )
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(seconds * FPS):
            image = np.full((96, 160, 3), (i * 8) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def top_level_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level box of a well-formed MP4."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((kind, offset, size))
        offset += size
    return boxes


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> bytes:
    """A finished 3 s segment: ftyp, moov, then three moof+mdat fragments."""
    path = fragmented_mp4(tmp_path_factory.mktemp("sample") / "sample.mp4", 3)
    data = path.read_bytes()
    kinds = [kind for kind, _, _ in top_level_boxes(data)]
    assert kinds[:2] == [b"ftyp", b"moov"]
    assert kinds[2:8] == [b"moof", b"mdat"] * 3
    return data


def last_fragment(data: bytes) -> tuple[int, int]:
    """Offsets of the last moof and of its mdat."""
    boxes = top_level_boxes(data)
    moof = [offset for kind, offset, _ in boxes if kind == b"moof"][-1]
    mdat = [offset for kind, offset, _ in boxes if kind == b"mdat"][-1]
    return moof, mdat


def cut_cases(data: bytes) -> dict[str, tuple[bytes, int, int]]:
    """Torn files: name -> (bytes, where repair must cut, frames left after the cut)."""
    moof, mdat = last_fragment(data)
    fragment = data[moof:]
    header_end = top_level_boxes(data)[2][1]
    return {
        "whole": (data, len(data), 30),
        "4 bytes of the last moof header": (data[: moof + 4], moof, 20),
        "inside the last moof": (data[: moof + 20], moof, 20),
        "moof without its mdat": (data[:mdat], moof, 20),
        "only the mdat header": (data[: mdat + 8], moof, 20),
        "half the last mdat": (data[: (mdat + len(data)) // 2], moof, 20),
        "half a fragment appended": (data + fragment[: len(fragment) // 2], len(data), 30),
        "header only": (data[:header_end], 0, 0),
        "garbage": (b"\xde\xad\xbe\xef" * 4096, 0, 0),
    }


CASES = [
    "whole",
    "4 bytes of the last moof header",
    "inside the last moof",
    "moof without its mdat",
    "only the mdat header",
    "half the last mdat",
    "half a fragment appended",
    "header only",
    "garbage",
]


@pytest.mark.parametrize("case", CASES)
def test_complete_boxes_end_cuts_a_torn_file_to_whole_fragments(sample, tmp_path, case):
    content, cut, frames = cut_cases(sample)[case]
    path = tmp_path / "torn.mp4"
    path.write_bytes(content)
    assert complete_boxes_end(path) == cut
    if cut:
        os.truncate(path, cut)
        assert len(decode_all(path)) == frames


async def test_startup_repairs_torn_partials_drops_garbage_and_dead_rows(sample, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(RESTART)
    data = tmp_path / "data"
    footage = data / FOOTAGE_DIRNAME
    base = 1_700_000_000.0

    def place(relpath: str, content: bytes) -> Path:
        path = footage / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path

    async def index_after_start() -> list[RecordingSegment]:
        hub = Hub(load_config(config), data)
        await hub.async_start()
        try:
            return await hub.recordings.async_segments()
        finally:
            await hub.async_stop()

    # A first run indexes two finished segments; then one file is deleted by hand.
    alive = f"yard/2023-11-14/20/{base:.3f}.mp4"
    dead = f"yard/2023-11-14/20/{base + 3:.3f}.mp4"
    hub = Hub(load_config(config), data)
    await hub.async_start()
    for relpath in (alive, dead):
        size = place(relpath, sample).stat().st_size
        await hub.recordings.async_add(RecordingSegment("yard", base, base + 3, relpath, size))
    await hub.async_stop()
    (footage / dead).unlink()

    torn_cases = cut_cases(sample)
    torn = f"yard/2023-11-14/21/{base + 60:.3f}.mp4"
    place(torn + PARTIAL_SUFFIX, torn_cases["half the last mdat"][0])
    garbage = place(f"yard/2023-11-14/22/{base + 120:.3f}.mp4.partial", b"\xde\xad" * 5000)
    header_only = place(
        f"porch/2023-11-14/22/{base + 180:.3f}.mp4.partial", torn_cases["header only"][0]
    )
    stray = f"porch/2023-11-14/23/{base + 240:.3f}.mp4"
    place(stray, sample)
    clip = place("clips/yard/0123abcd.mp4", sample)

    segments = await index_after_start()

    by_path = {s.path: s for s in segments}
    assert set(by_path) == {alive, torn, stray}
    assert by_path[torn].start == base + 60
    assert by_path[torn].duration == pytest.approx(2.0, abs=0.05)
    assert by_path[torn].bytes == (footage / torn).stat().st_size == last_fragment(sample)[0]
    assert len(decode_all(footage / torn)) == 20
    assert by_path[stray].camera == "porch"
    assert by_path[stray].duration == pytest.approx(3.0, abs=0.05)
    # Nothing half-written is left; files that held no whole fragment are gone with their
    # emptied folders; exported clips are not segments and are left alone.
    assert list(footage.rglob(f"*{PARTIAL_SUFFIX}")) == []
    assert not garbage.parent.exists() and not header_only.parent.exists()
    assert clip.read_bytes() == sample

    again = await index_after_start()
    assert again == segments


def test_repair_reports_each_segment_once_with_its_final_size(sample, tmp_path):
    store = FootageStore(tmp_path / "footage")
    torn = "yard/2023-11-14/21/1700000060.000.mp4"
    stray = "yard/2023-11-14/21/1700000100.000.mp4"
    store.path_of(torn).parent.mkdir(parents=True)
    store.path_of(torn + PARTIAL_SUFFIX).write_bytes(cut_cases(sample)["half the last mdat"][0])
    store.path_of(stray).write_bytes(sample)

    found = repair_footage(store, indexed=set())

    assert [s.path for s in found] == [torn, stray]
    assert [s.bytes for s in found] == [last_fragment(sample)[0], len(sample)]
    assert [s.bytes for s in found] == [store.size(torn), store.size(stray)]
    assert repair_footage(store, indexed={torn, stray}) == []


def test_half_written_clip_is_discarded_not_indexed(sample, tmp_path):
    store = FootageStore(tmp_path / "footage")
    # An event id that parses as a number must not pass for a recording of camera "clips".
    clip = "clips/yard/1700000000.mp4"
    store.path_of(clip).parent.mkdir(parents=True)
    store.path_of(clip + PARTIAL_SUFFIX).write_bytes(cut_cases(sample)["half the last mdat"][0])

    assert repair_footage(store, indexed=set()) == []
    assert store.partial_files() == []
    assert not store.exists(clip)
