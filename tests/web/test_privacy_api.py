"""Encrypted footage over HTTP (Range, tamper, sealed 423, unlock), erase and owner export."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import tarfile
from pathlib import Path

import pytest

from hub.footage.encryption import HEADER_SIZE, NONCE_SIZE, TAG_SIZE
from plugins.pyav_source.repair import boxes_end_in
from tests.encrypted_footage import (
    CHUNK,
    PASSPHRASE,
    copy_of,
    frames_in,
    record_demo,
    recording_config,
    serving_hub,
)
from tests.helpers import hub_at

STRIDE = NONCE_SIZE + CHUNK + TAG_SIZE


@pytest.fixture(scope="module")
def recorded_key(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("key")
    record_demo(folder, "key")
    return folder


@pytest.fixture(scope="module")
def recorded_sealed(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("sealed")
    record_demo(folder, "sealed")
    return folder


async def started(folder: Path, mode: str):
    hub = serving_hub(folder, mode)
    await hub.async_start()
    return hub


def ranges_for(size: int) -> list[tuple[str, int, int]]:
    """Range headers across chunk boundaries, with the [start, stop) each one means."""
    return [
        ("bytes=0-99", 0, 100),
        (f"bytes={CHUNK - 10}-{CHUNK + 9}", CHUNK - 10, CHUNK + 10),
        (f"bytes={CHUNK}-{2 * CHUNK - 1}", CHUNK, 2 * CHUNK),
        (f"bytes={size - 700}-", size - 700, size),
        ("bytes=-50", size - 50, size),
        (f"bytes=5-{size + 1000}", 5, size),
    ]


async def test_range_requests_over_encrypted_footage_give_the_plaintext_bytes(
    recorded_key, tmp_path, make_api_client
):
    hub = await started(copy_of(recorded_key, tmp_path), "key")
    try:
        client = await make_api_client(hub=hub)
        segment = (await hub.recordings.async_segments("yard"))[1]
        plain = hub.footage.read_bytes(segment.path)
        assert len(plain) > 2 * CHUNK and hub.footage.is_encrypted(segment.path)
        url = f"/api/recordings/{segment.id}/video.mp4"

        whole = await client.get(url)
        assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
        assert await whole.read() == plain and frames_in(plain) > 0
        for header, start, stop in ranges_for(len(plain)):
            answer = await client.get(url, headers={"Range": header})
            assert answer.status == 206, header
            assert answer.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{len(plain)}"
            assert await answer.read() == plain[start:stop], header
        past = await client.get(url, headers={"Range": f"bytes={len(plain)}-"})
        assert past.status == 416 and past.headers["Content-Range"] == f"bytes */{len(plain)}"

        clip = await client.get("/api/events/walk1/clip.mp4")
        clip_bytes = await clip.read()
        assert clip.status == 200 and frames_in(clip_bytes) > 0
        tail = await client.get("/api/events/walk1/clip.mp4", headers={"Range": "bytes=1000-"})
        assert tail.status == 206 and await tail.read() == clip_bytes[1000:]
        assert hub.footage.is_encrypted("clips/yard/walk1.mp4")

        snapshot = await client.get("/api/events/walk1/snapshot.jpg")
        body = await snapshot.read()
        assert snapshot.status == 200 and snapshot.content_type == "image/jpeg"
        assert body == hub.footage.read_bytes("snapshots/yard/walk1.jpg")
        assert body.startswith(b"\xff\xd8\xff")
    finally:
        await hub.async_stop()


async def test_a_tampered_chunk_is_reported_not_served(
    recorded_key, tmp_path, make_api_client, caplog
):
    hub = await started(copy_of(recorded_key, tmp_path), "key")
    try:
        client = await make_api_client(hub=hub)
        segment = (await hub.recordings.async_segments("yard"))[1]
        plain = hub.footage.read_bytes(segment.path)
        path = hub.footage.path_of(segment.path)
        raw = bytearray(path.read_bytes())
        raw[HEADER_SIZE + STRIDE + 500] ^= 0x80  # one bit in chunk 1
        path.write_bytes(raw)
        url = f"/api/recordings/{segment.id}/video.mp4"

        before = await client.get(url, headers={"Range": f"bytes=0-{CHUNK - 1}"})
        assert before.status == 206 and await before.read() == plain[:CHUNK]
        with caplog.at_level(logging.ERROR):
            whole = await client.get(url)
            body = await whole.text()
            ranged = await client.get(url, headers={"Range": f"bytes={CHUNK + 400}-{CHUNK + 600}"})
        assert whole.status == 500 and "integrity check" in body
        assert ranged.status == 500
        assert any("chunk 1 failed authentication" in r.getMessage() for r in caplog.records)
    finally:
        await hub.async_stop()


async def test_sealed_footage_is_locked_after_a_restart_until_an_admin_unlocks(
    recorded_sealed, tmp_path, make_api_client
):
    hub = await started(copy_of(recorded_sealed, tmp_path), "sealed")
    try:
        client = await make_api_client(hub=hub)
        segment = (await hub.recordings.async_segments("yard"))[1]
        url = f"/api/recordings/{segment.id}/video.mp4"
        status = await (await client.get("/api/storage/encryption")).json()
        assert status["mode"] == "sealed" and status["locked"] is True
        for locked_url in (
            url,
            "/api/events/walk1/clip.mp4",
            "/api/events/walk1/snapshot.jpg",
            "/api/footage/export?start=0&end=9999999999",
        ):
            answer = await client.get(locked_url)
            assert answer.status == 423, locked_url
            assert "unlock" in await answer.text()

        wrong = await client.post("/api/storage/unlock", json={"passphrase": "guess"})
        assert wrong.status == 403
        right = await client.post("/api/storage/unlock", json={"passphrase": PASSPHRASE})
        assert right.status == 200 and (await right.json())["locked"] is False

        plain = hub.footage.read_bytes(segment.path)
        answer = await client.get(url, headers={"Range": f"bytes={CHUNK - 5}-{CHUNK + 4}"})
        assert answer.status == 206 and await answer.read() == plain[CHUNK - 5 : CHUNK + 5]
        assert frames_in(await (await client.get(url)).read()) > 0

        assert (await client.post("/api/storage/lock")).status == 200
        assert (await client.get(url)).status == 423
        actions = [row["action"] for row in await hub.audit.async_query(action="storage.")]
        assert actions == ["storage.lock", "storage.unlock", "storage.unlock.failed"]
    finally:
        await hub.async_stop()


async def test_erase_removes_files_and_rows_but_not_a_legal_hold(
    recorded_key, tmp_path, make_api_client
):
    hub = await started(copy_of(recorded_key, tmp_path), "key")
    try:
        client = await make_api_client(hub=hub)
        segments = await hub.recordings.async_segments("yard")
        first, last = segments[0], segments[-1]
        hold = (segments[1].start + 0.5, segments[1].start + 1.0)
        await hub.async_insert(
            "events",
            {"id": "held", "camera": "yard", "kind": "motion", "keep": 1,
             "start": hold[0], "end": hold[1]},
        )  # fmt: skip
        # The hold keeps the footage its clip would show (pre/post roll of 1 s).
        protected = [s for s in segments if s.end > hold[0] - 1 and s.start < hold[1] + 1]
        erased = [s for s in segments if s not in protected]
        assert protected and erased
        before = await hub.storage.async_read(
            lambda db: db.execute("SELECT COUNT(*) FROM events WHERE keep = 0").fetchone()[0]
        )
        answer = await client.post(
            "/api/footage/erase", json={"start": first.start, "end": last.end}
        )
        assert answer.status == 200
        result = await answer.json()
        kept = await hub.recordings.async_segments("yard")
        assert [s.id for s in kept] == [s.id for s in protected]
        assert result["segments"] == len(erased) and result["held_events"] == 1
        assert result["events"] == before >= 1  # walk1 and any motion events
        for segment in erased:
            assert not hub.footage.exists(segment.path)
        for segment in protected:
            assert hub.footage.exists(segment.path)
        assert not hub.footage.exists("snapshots/yard/walk1.jpg")
        ids = await hub.storage.async_read(
            lambda db: [r["id"] for r in db.query("SELECT id FROM events")]
        )
        assert ids == ["held"]
        (entry,) = await hub.audit.async_query(action="footage.erase")
        assert entry["user"] == client.username
        details = entry["details"]
        details = json.loads(details) if isinstance(details, str) else details
        assert details["segments"] == len(erased)

        bad = await client.post("/api/footage/erase", json={"start": 10, "end": 5})
        assert bad.status == 400
        viewer = await make_api_client(hub=hub, role="viewer", cameras=["yard"])
        refused = await viewer.post("/api/footage/erase", json={"start": 0, "end": 1})
        assert refused.status == 403
    finally:
        await hub.async_stop()


async def test_export_holds_events_json_clips_snapshots_and_segments_decrypted(
    recorded_key, tmp_path, make_api_client
):
    hub = await started(copy_of(recorded_key, tmp_path), "key")
    try:
        client = await make_api_client(hub=hub)
        segments = await hub.recordings.async_segments("yard")
        start, end = segments[0].start, segments[-1].end
        picture = hub.footage.create("snapshots/automations/yard/ring.jpg")  # as automations do
        picture.write(b"\xff\xd8\xff an automation's picture")
        picture.finish()
        os.utime(hub.footage.path_of("snapshots/automations/yard/ring.jpg"), (start + 1,) * 2)
        answer = await client.get(f"/api/footage/export?start={start}&end={end}")
        assert answer.status == 200 and answer.content_type == "application/x-tar"
        archive = tarfile.open(fileobj=io.BytesIO(await answer.read()))  # noqa: SIM115
        names = archive.getnames()
        events = json.loads(archive.extractfile("events.json").read())  # type: ignore[union-attr]
        stored = await hub.storage.async_read(
            lambda db: [r["id"] for r in db.query("SELECT id FROM events ORDER BY start")]
        )
        assert [e["id"] for e in events] == stored and "walk1" in stored
        walk = next(e for e in events if e["id"] == "walk1")
        assert walk["clip"] == "events/yard/walk1.mp4" and walk["label"] == "person"
        clip = archive.extractfile("events/yard/walk1.mp4").read()  # type: ignore[union-attr]
        assert frames_in(clip) > 0 and clip == hub.footage.read_bytes("clips/yard/walk1.mp4")
        snapshot = archive.extractfile("events/yard/walk1.jpg").read()  # type: ignore[union-attr]
        assert snapshot.startswith(b"\xff\xd8\xff")
        for segment in segments:
            member = archive.extractfile(f"recordings/{segment.path}")
            assert member is not None and member.read() == hub.footage.read_bytes(segment.path)
        assert "recordings.json" in names
        ring = archive.extractfile("automations/yard/ring.jpg")
        assert ring is not None and ring.read() == b"\xff\xd8\xff an automation's picture"
        (entry,) = await hub.audit.async_query(action="footage.export")
        assert entry["user"] == client.username

        viewer = await make_api_client(hub=hub, role="viewer", cameras=["yard"])
        assert (await viewer.get(f"/api/footage/export?start={start}&end={end}")).status == 403
        assert (await client.get("/api/footage/export?start=5")).status == 400
    finally:
        await hub.async_stop()


async def test_a_sealed_segment_cut_short_by_a_crash_is_repaired_after_unlock(
    recorded_sealed, tmp_path, make_api_client
):
    folder = copy_of(recorded_sealed, tmp_path)
    writer = serving_hub(folder, "sealed").footage
    writer.chunk_size = CHUNK
    writer.keyring.unlock(PASSPHRASE)
    first = sorted(p for p in writer.all_files() if p.startswith("yard/"))[0]
    plain = writer.read_bytes(first)
    whole = boxes_end_in(io.BytesIO(plain), len(plain))
    name = f"yard/2000-01-01/00/{float(Path(first).stem) + 1000:.3f}.mp4"
    file = writer.create(name)  # killed mid-write: a torn next fragment, never finished
    file.write(plain[:whole] + b"\x00\x01\x00\x00moof" + bytes(range(256)) * 40)
    file.flush()

    hub = await started(folder, "sealed")
    try:
        assert hub.footage.locked
        assert hub.footage.exists(f"{name}.partial")  # kept while it cannot be read
        assert name not in await hub.recordings.async_indexed_paths()
        client = await make_api_client(hub=hub)
        unlock = await client.post("/api/storage/unlock", json={"passphrase": PASSPHRASE})
        assert unlock.status == 200

        await hub.async_block_till_done()  # the unlock's repair ran in a bus listener
        assert name in await hub.recordings.async_indexed_paths()
        assert not hub.footage.exists(f"{name}.partial")
        assert hub.footage.read_bytes(name) == plain[:whole]
    finally:
        await hub.async_stop()


async def test_export_of_a_face_blur_camera_leaves_out_its_raw_footage(
    recorded_key, tmp_path, make_api_client
):
    folder = copy_of(recorded_key, tmp_path)
    config = recording_config("key", enabled=False).replace(
        "    enabled: false\n", "    enabled: false\n    face_blur: true\n"
    )
    hub = hub_at(folder, config)
    await hub.async_start()
    try:
        client = await make_api_client(hub=hub)
        segments = await hub.recordings.async_segments("yard")
        answer = await client.get(
            f"/api/footage/export?start={segments[0].start}&end={segments[-1].end}"
        )
        assert answer.status == 200
        archive = tarfile.open(fileobj=io.BytesIO(await answer.read()))  # noqa: SIM115
        names = archive.getnames()
        assert not [n for n in names if n.startswith("recordings/") or n.endswith(".jpg")]
        index = json.loads(archive.extractfile("recordings.json").read())  # type: ignore[union-attr]
        assert index["withheld_cameras"] == ["yard"] and index["recordings"] == []
        events = json.loads(archive.extractfile("events.json").read())  # type: ignore[union-attr]
        assert events and all("face_blur" in e["withheld"] for e in events)
        # Its unblurred recordings are for admins only, even to a viewer granted the camera.
        video = f"/api/recordings/{segments[0].id}/video.mp4"
        assert (await client.get(video)).status == 200
        viewer = await make_api_client(hub=hub, role="viewer", cameras=["yard"])
        refused = await viewer.get(video)
        assert refused.status == 403 and "face-blur" in await refused.text()
    finally:
        await hub.async_stop()


async def test_rotation_in_the_running_hub_keeps_serving_and_the_cli_waits_for_it(
    recorded_sealed, tmp_path, make_api_client
):
    folder = copy_of(recorded_sealed, tmp_path)
    hub = await started(folder, "sealed")
    try:
        client = await make_api_client(hub=hub)
        segment = (await hub.recordings.async_segments("yard"))[1]
        url = f"/api/recordings/{segment.id}/video.mp4"
        new = {"new_passphrase": "a brand new passphrase"}
        assert (await client.post("/api/storage/rotate", json=new)).status == 423
        await client.post("/api/storage/unlock", json={"passphrase": PASSPHRASE})
        before = await (await client.get(url)).read()
        old_key = hub.footage.key_id_of(segment.path)

        # While the hub runs, the command line must not rotate behind its back.
        cli = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("camhub")),
            *("keys", "rotate", "--config", str(folder / "config.yaml"), "--data"),
            str(folder / "data"),
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await cli.communicate(f"{PASSPHRASE}\nother passphrase\n".encode())
        assert cli.returncode == 1 and b"a hub is running" in err

        answer = await client.post("/api/storage/rotate", json=new)
        assert answer.status == 200
        report = await answer.json()
        assert report["failed"] == 0 and report["keys_removed"] == 1
        assert hub.footage.key_id_of(segment.path).hex() == report["current_key"] != old_key.hex()
        assert await (await client.get(url)).read() == before  # still served, same bytes
        (entry,) = await hub.audit.async_query(action="keys.rotate")
        assert entry["user"] == client.username
    finally:
        await hub.async_stop()

    restarted = await started(folder, "sealed")  # the new passphrase opens everything
    try:
        restarted.footage.keyring.unlock("a brand new passphrase")
        assert restarted.footage.read_bytes(segment.path) == before
    finally:
        await restarted.async_stop()
