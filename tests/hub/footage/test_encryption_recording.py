"""Encryption at rest on a real recording: nothing readable on disk, clips, rotation, repair."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from hub.footage.keyring import Keyring
from hub.footage.store import FootageCorrupt, FootageStore
from plugins.pyav_source.repair import boxes_end_in, repair_footage
from tests.conftest import free_port
from tests.encrypted_footage import CHUNK, copy_of, frames_in, record_demo, serving_hub

CAMHUB = str(Path(sys.executable).with_name("camhub"))
# An Annex B start code followed by an IDR slice (5), SPS (7) or PPS (8) NAL header.
START_CODE = re.compile(rb"\x00\x00\x01[\x05\x25\x45\x65\x07\x27\x47\x67\x08\x28\x48\x68]")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("encrypted")
    record_demo(folder, "key")
    return folder


def sps_of(mp4: bytes) -> bytes:
    """The SPS NAL unit from the avcC box of an MP4's video track."""
    with av.open(io.BytesIO(mp4), mode="r") as container:
        extradata = container.streams.video[0].codec_context.extradata
    length = int.from_bytes(extradata[6:8], "big")
    return bytes(extradata[8 : 8 + length])


def plain_and_raw(store: FootageStore, relpath: str) -> tuple[bytes, bytes]:
    with store.open_read(relpath) as f:
        plain = f.read()
    return plain, store.path_of(relpath).read_bytes()


async def test_nothing_on_disk_shows_video_or_pictures(recorded, tmp_path):
    hub = serving_hub(copy_of(recorded, tmp_path), "key")
    await hub.async_start()
    try:
        segments = await hub.recordings.async_segments("yard")
        event = {"id": "walk1", "camera": "yard", "start": segments[1].start + 0.2}
        event["end"] = segments[1].end - 0.2
        clip = await hub.async_event_clip(event)
        assert clip is not None
        videos = [s.path for s in segments] + [clip]
        for relpath in videos:
            plain, raw = plain_and_raw(hub.footage, relpath)
            assert frames_in(plain) > 0, relpath  # the plaintext is real, playable video
            sps = sps_of(plain)
            assert len(sps) > 4 and sps in plain
            for marker in (b"ftyp", b"moof", b"mdat", b"moov", sps):
                assert marker in plain or marker == b"moof"
                assert marker not in raw, (relpath, marker)
            assert not START_CODE.search(raw), relpath
            assert raw.startswith(b"CAMHUBE") and len(raw) > len(plain)
        plain, raw = plain_and_raw(hub.footage, "snapshots/yard/walk1.jpg")
        assert plain.startswith(b"\xff\xd8\xff") and plain.endswith(b"\xff\xd9")
        assert b"\xff\xd8\xff" not in raw and not raw.endswith(b"\xff\xd9")
        assert b"JFIF" not in raw and b"Lavc" not in raw
        # Nothing else under the data dir holds the footage either (no plaintext temp files).
        footage_files = sorted(p for p in hub.footage.root.rglob("*") if p.is_file())
        assert all(p.read_bytes().startswith(b"CAMHUBE") for p in footage_files)
    finally:
        await hub.async_stop()


async def test_rotation_keeps_recorded_footage_playable(recorded, tmp_path):
    folder = copy_of(recorded, tmp_path)
    hub = serving_hub(folder, "key")
    old = hub.footage.keyring.current()
    assert old is not None
    report = hub.footage.rotate_keys()
    assert report["rewrapped"] >= 4 and report["failed"] == 0 and report["keys_removed"] == 1
    fresh = serving_hub(folder, "key")
    await fresh.async_start()
    try:
        current = fresh.footage.keyring.current()
        assert current is not None and current.key_id != old.key_id
        for segment in await fresh.recordings.async_segments("yard"):
            assert fresh.footage.key_id_of(segment.path) == current.key_id
            plain, _ = plain_and_raw(fresh.footage, segment.path)
            assert frames_in(plain) > 0
    finally:
        await fresh.async_stop()


async def test_a_segment_cut_short_by_a_crash_is_recovered_encrypted(recorded, tmp_path):
    folder = copy_of(recorded, tmp_path)
    hub = serving_hub(folder, "key")
    store = hub.footage
    store.chunk_size = CHUNK
    await hub.async_start()
    try:
        segment = (await hub.recordings.async_segments("yard"))[0]
    finally:
        await hub.async_stop()
    plain, _ = plain_and_raw(store, segment.path)
    whole = boxes_end_in(io.BytesIO(plain), len(plain))  # just past the last fragment
    assert b"mdat" in plain[:whole] and frames_in(plain[:whole]) > 0
    # The recorder killed while writing the next fragment: its box is torn, and the
    # open chunk (the last few KB) never reached the disk.
    torn = plain[:whole] + b"\x00\x01\x00\x00moof" + bytes(range(256)) * 40
    name = f"yard/2000-01-01/00/{segment.start + 1000:.3f}.mp4"
    file = store.create(name)
    file.write(torn)
    file.flush()
    assert store.partial_files() == [f"{name}.partial"]

    found = repair_footage(store, indexed={s for s in store.all_files() if s != name})

    assert [s.path for s in found] == [name] and store.partial_files() == []
    recovered, raw = plain_and_raw(store, name)
    assert raw.startswith(b"CAMHUBE") and b"mdat" not in raw
    assert recovered == plain[:whole]
    assert frames_in(recovered) == frames_in(plain)
    assert found[0].end - found[0].start == pytest.approx(segment.end - segment.start, abs=0.25)


KILLED_RECORDING = """
server:
  port: {port}
storage:
  encryption:
    mode: key
cameras:
  yard:
    url: demo://
    record:
      mode: continuous
      segment_seconds: 4
"""


def whole_fragments(store: FootageStore, partial: str) -> int:
    """Plaintext bytes of complete MP4 boxes ending in a fragment, read as repair would."""
    try:
        reader, size = store.open_unfinished(partial)
    except (OSError, FootageCorrupt):
        return 0
    with reader:
        return boxes_end_in(reader, size)


def kill_mid_segment(tmp_path: Path) -> tuple[FootageStore, str]:
    """Run camhub recording encrypted; kill -9 it once a fragment of an unfinished segment is
    on disk. Returns the store and that half-written file."""
    data = tmp_path / "data"
    config = tmp_path / "config.yaml"
    config.write_text(KILLED_RECORDING.format(port=free_port()))
    log = (tmp_path / "camhub.log").open("w")
    process = subprocess.Popen(
        [CAMHUB, "run", "--config", str(config), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    store = FootageStore(data / "footage", Keyring(data / "keys", "key"))
    partial = None
    try:
        deadline = time.monotonic() + 40
        while partial is None:
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "camhub.log"
            ).read_text()
            time.sleep(0.05)
            if (data / "keys").is_dir():
                store.keyring = Keyring(data / "keys", "key")
                partial = next(
                    (p for p in store.partial_files() if whole_fragments(store, p)), None
                )
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    return store, partial


async def test_kill_9_while_recording_encrypted_loses_only_the_open_fragment(tmp_path):
    # Needs the recorder to seal the open chunk at each fragment: a whole 4 s segment of
    # the demo camera fits in one 64 KiB chunk, which would otherwise die in memory.
    store, partial = await asyncio.to_thread(kill_mid_segment, tmp_path)
    assert store.path_of(partial).read_bytes().startswith(b"CAMHUBE")

    hub = serving_hub(tmp_path, "key")
    await hub.async_start()
    try:
        final = partial.removesuffix(".partial")
        recovered = {s.path: s for s in await hub.recordings.async_segments("yard")}[final]
        assert store.partial_files() == []
        plain, raw = plain_and_raw(hub.footage, final)
        assert raw.startswith(b"CAMHUBE") and b"mdat" not in raw
        assert frames_in(plain) == pytest.approx(20, abs=1)  # the one whole 2 s fragment
        assert recovered.duration == pytest.approx(2.0, abs=0.3)
    finally:
        await hub.async_stop()
