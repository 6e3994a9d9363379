"""Encrypted footage files: random access, tamper and truncation detection, keys, rotation."""

from __future__ import annotations

import os
import random
import stat
from pathlib import Path

import pytest

from hub.footage.encryption import HEADER_SIZE, NONCE_SIZE, TAG_SIZE, DecryptionError
from hub.footage.keyring import Keyring, KeyringError, WrongPassphrase
from hub.footage.store import FootageCorrupt, FootageLocked, FootageStore

CHUNK = 4096
STRIDE = NONCE_SIZE + CHUNK + TAG_SIZE


def store_at(tmp_path: Path, mode: str = "key") -> FootageStore:
    keyring = Keyring(tmp_path / "keys", mode)  # type: ignore[arg-type]
    store = FootageStore(tmp_path / "footage", keyring)
    store.chunk_size = CHUNK
    return store


def write(store: FootageStore, relpath: str, data: bytes, pieces: int = 7) -> None:
    file = store.create(relpath)
    rng = random.Random(len(data))
    cuts = sorted(rng.randrange(len(data) + 1) for _ in range(pieces))
    for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
        file.write(data[a:b])
    file.finish()


def read_all(store: FootageStore, relpath: str) -> bytes:
    with store.open_read(relpath) as f:
        return f.read()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 77])
def test_any_byte_range_reads_back_what_was_written(tmp_path, size):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    data = os.urandom(size)
    write(store, "cam/a.mp4", data)
    raw = store.path_of("cam/a.mp4").read_bytes()
    assert raw.startswith(b"CAMHUBE") and (size < 16 or data[:16] not in raw)
    with store.open_read("cam/a.mp4") as reader:
        assert reader.read() == data
        rng = random.Random(size)
        for _ in range(50):
            a = rng.randrange(size + 1)
            b = rng.randrange(a, size + 1)
            assert reader.read_range(a, b) == data[a:b]  # type: ignore[attr-defined]


def test_a_muxer_going_back_to_patch_a_header_reads_back_patched(tmp_path):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    data = bytearray(os.urandom(3 * CHUNK + 100))
    file = store.create("cam/clip.mp4")
    file.write(data)
    file.seek(8)
    file.write(b"PATCHED!")  # like an mdat size written at the end
    assert file.seek(0, 2) == len(data)
    file.write(b"tail")
    file.finish()
    data[8:16] = b"PATCHED!"
    assert read_all(store, "cam/clip.mp4") == bytes(data) + b"tail"


def test_a_tampered_chunk_is_an_error_and_the_others_still_read(tmp_path):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    data = os.urandom(4 * CHUNK)
    write(store, "cam/a.mp4", data)
    path = store.path_of("cam/a.mp4")
    raw = bytearray(path.read_bytes())
    raw[HEADER_SIZE + 2 * STRIDE + 100] ^= 0x01  # one bit of chunk 2
    path.write_bytes(raw)
    with store.open_read("cam/a.mp4") as reader:
        assert reader.read_range(0, 2 * CHUNK) == data[: 2 * CHUNK]  # type: ignore[attr-defined]
        assert reader.read_range(3 * CHUNK, 4 * CHUNK) == data[3 * CHUNK :]  # type: ignore[attr-defined]
        with pytest.raises(DecryptionError, match="chunk 2 failed authentication"):
            reader.read_range(2 * CHUNK, 2 * CHUNK + 10)  # type: ignore[attr-defined]


def test_cut_reordered_or_swapped_files_do_not_authenticate(tmp_path):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    write(store, "cam/a.mp4", os.urandom(3 * CHUNK))
    write(store, "cam/b.mp4", os.urandom(3 * CHUNK))
    path_a, path_b = store.path_of("cam/a.mp4"), store.path_of("cam/b.mp4")
    original = path_a.read_bytes()

    # Cut at a chunk boundary: the new last chunk was not sealed as final.
    path_a.write_bytes(original[: HEADER_SIZE + 2 * STRIDE])
    with pytest.raises(DecryptionError, match="chunk 1"):
        read_all(store, "cam/a.mp4")

    # Two chunks swapped: each is bound to its index.
    chunks = [original[HEADER_SIZE + i * STRIDE : HEADER_SIZE + (i + 1) * STRIDE] for i in range(2)]
    path_a.write_bytes(
        original[:HEADER_SIZE] + chunks[1] + chunks[0] + original[HEADER_SIZE + 2 * STRIDE :]
    )
    with pytest.raises(DecryptionError, match="chunk 0"):
        read_all(store, "cam/a.mp4")

    # A's header on B's chunks: the wrapped key is bound to A's file id, B's chunks to B's.
    path_a.write_bytes(original[:HEADER_SIZE] + path_b.read_bytes()[HEADER_SIZE:])
    with pytest.raises(DecryptionError):
        read_all(store, "cam/a.mp4")


def test_master_key_file_is_private_and_footage_needs_it(tmp_path):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    write(store, "cam/a.mp4", b"x" * 1000)
    (key_file,) = (tmp_path / "keys").glob("*.json")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_file.unlink()  # the footage folder copied without the keys
    with pytest.raises(FootageCorrupt, match="is missing"):
        store_at(tmp_path).open_read("cam/a.mp4")


def test_sealed_footage_is_written_locked_and_read_only_after_unlock(tmp_path):
    store = store_at(tmp_path, "sealed")
    with pytest.raises(KeyringError, match="camhub keys init"):
        store.keyring.ensure_ready()
    with pytest.raises(KeyringError, match="8"):
        store.keyring.create_key("short")
    store.keyring.create_key("correct horse")
    data = os.urandom(2 * CHUNK + 5)
    write(store, "cam/a.mp4", data)

    restarted = store_at(tmp_path, "sealed")  # a new process: nothing in memory
    restarted.keyring.ensure_ready()
    assert restarted.locked
    write(restarted, "cam/b.mp4", data)  # recording goes on while locked
    with pytest.raises(FootageLocked):
        restarted.open_read("cam/a.mp4")
    with pytest.raises(WrongPassphrase):
        restarted.keyring.unlock("wrong")
    assert restarted.keyring.unlock("correct horse") == 1
    assert not restarted.locked
    assert read_all(restarted, "cam/a.mp4") == data == read_all(restarted, "cam/b.mp4")
    # The private key never reached the disk in the clear.
    key = restarted.keyring.current()
    assert key is not None and key.secret is not None
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert key.secret not in path.read_bytes(), path
    restarted.keyring.lock()
    with pytest.raises(FootageLocked):
        restarted.open_read("cam/a.mp4")


@pytest.mark.parametrize("mode", ["key", "sealed"])
def test_rotation_rewraps_keys_and_leaves_the_footage_bytes_alone(tmp_path, mode):
    store = store_at(tmp_path, mode)
    passphrase = "old pass" if mode == "sealed" else None
    store.keyring.create_key(passphrase)
    data = os.urandom(3 * CHUNK)
    write(store, "cam/a.mp4", data)
    write(store, "cam/b.mp4.partial", data[:100])
    before = store.path_of("cam/a.mp4").read_bytes()
    old = store.keyring.current()
    assert old is not None
    if mode == "sealed":
        store.keyring.unlock("old pass")

    report = store.rotate_keys("new pass" if mode == "sealed" else None)

    assert report == {"rewrapped": 2, "failed": 0, "plaintext": 0, "keys_removed": 1}
    after = store.path_of("cam/a.mp4").read_bytes()
    assert after[HEADER_SIZE:] == before[HEADER_SIZE:]  # not re-encrypted
    assert after[:HEADER_SIZE] != before[:HEADER_SIZE]
    assert not (tmp_path / "keys" / f"{old.key_id.hex()}.json").exists()
    fresh = store_at(tmp_path, mode)
    if mode == "sealed":
        with pytest.raises(WrongPassphrase):
            fresh.keyring.unlock("old pass")
        fresh.keyring.unlock("new pass")
    assert read_all(fresh, "cam/a.mp4") == data


def test_a_half_written_file_is_recovered_up_to_its_last_whole_chunk(tmp_path):
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    data = os.urandom(5 * CHUNK + 300)
    file = store.create("cam/a.mp4")
    file.write(data)
    file.flush()  # killed here: the open chunk (the last 300 bytes) never reached the disk
    partial = "cam/a.mp4.partial"
    raw = store.path_of(partial).read_bytes()
    store.path_of(partial).write_bytes(raw[: HEADER_SIZE + 4 * STRIDE + 999])  # torn chunk 4

    reader, size = store.open_unfinished(partial)
    with reader:
        assert size == 4 * CHUNK and reader.read() == data[: 4 * CHUNK]
    store.cut_unfinished(partial, 3 * CHUNK + 10)
    assert read_all(store, partial) == data[: 3 * CHUNK + 10]


def test_plain_files_from_before_encryption_still_read(tmp_path):
    plain = FootageStore(tmp_path / "footage")
    write(plain, "cam/old.mp4", b"plain footage")
    store = store_at(tmp_path)
    store.keyring.ensure_ready()
    assert not store.is_encrypted("cam/old.mp4")
    assert read_all(store, "cam/old.mp4") == b"plain footage"
