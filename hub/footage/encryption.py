"""Encrypted footage file format: AES-256-GCM in fixed-size chunks with random access.

Layout: a fixed 160-byte header, then chunks of `nonce (12) | ciphertext | tag (16)`,
each holding `chunk_size` bytes of plaintext (the last one fewer). The header holds
the format version, the chunk size, a random file id, and the per-file key wrapped
by an owner key (see `hub.footage.keyring`), named by its key id.

Each chunk is authenticated with associated data = the immutable header prefix
(magic, version, chunk size, file id) + the chunk index + a "final" flag set only
on the last chunk. So chunks cannot be moved within or between files, and cutting
a file short (even at a chunk boundary) fails authentication. The wrapped key is
outside the associated data: key rotation rewrites it without touching a chunk.

Nonces are random per chunk write, not derived from the index: MP4 muxers go back
and patch box sizes, so a chunk can be written twice, and a derived nonce would then
be reused with different plaintext (fatal for GCM).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CAMHUBE"
VERSION = 1
CHUNK_SIZE = 64 * 1024
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
FILE_ID_SIZE = 16
KEY_ID_SIZE = 8
HEADER_SIZE = 160
_PREFIX = struct.Struct(">7sBI16s")  # magic, version, chunk size, file id: bound to every chunk
_KEY_PART = struct.Struct(">8sB")  # key id, wrapped key length; then the wrapped key
MAX_WRAPPED = HEADER_SIZE - _PREFIX.size - _KEY_PART.size


class FootageCryptoError(Exception):
    """An encrypted footage file could not be read or written."""


class DecryptionError(FootageCryptoError):
    """A chunk or header failed authentication: tampered, truncated or the wrong key."""


@dataclass(frozen=True)
class FileHeader:
    """The header of one encrypted file."""

    file_id: bytes
    key_id: bytes
    wrapped_key: bytes
    chunk_size: int = CHUNK_SIZE

    @property
    def prefix(self) -> bytes:
        """The immutable part, bound to every chunk as associated data."""
        return _PREFIX.pack(MAGIC, VERSION, self.chunk_size, self.file_id)

    def pack(self) -> bytes:
        """The header as written, padded to HEADER_SIZE."""
        if len(self.wrapped_key) > MAX_WRAPPED:
            raise FootageCryptoError("wrapped key too long for the header")
        body = self.prefix + _KEY_PART.pack(self.key_id, len(self.wrapped_key)) + self.wrapped_key
        return body.ljust(HEADER_SIZE, b"\0")

    @classmethod
    def unpack(cls, data: bytes) -> FileHeader:
        """Parse a header; raises FootageCryptoError if it is not one this version reads."""
        if len(data) < HEADER_SIZE or not data.startswith(MAGIC):
            raise FootageCryptoError("not an encrypted footage file")
        _, version, chunk_size, file_id = _PREFIX.unpack_from(data)
        if version != VERSION:
            raise FootageCryptoError(f"encrypted footage format version {version} is not known")
        if not 1024 <= chunk_size <= 16 * 1024**2:
            raise FootageCryptoError("encrypted footage header is damaged (chunk size)")
        key_id, length = _KEY_PART.unpack_from(data, _PREFIX.size)
        start = _PREFIX.size + _KEY_PART.size
        if length > MAX_WRAPPED:
            raise FootageCryptoError("encrypted footage header is damaged (key length)")
        return cls(file_id, key_id, bytes(data[start : start + length]), chunk_size)


def is_encrypted(head: bytes) -> bool:
    """Whether the first bytes of a file are an encrypted footage header."""
    return head.startswith(MAGIC)


def new_file_id() -> bytes:
    """A random file id (also makes every file's associated data unique)."""
    return os.urandom(FILE_ID_SIZE)


class _Chunks:
    """Chunk addressing and sealing for one file."""

    def __init__(self, raw: BinaryIO, header: FileHeader, file_key: bytes, name: str):
        self.raw = raw
        self.header = header
        self.size = header.chunk_size
        self.stride = NONCE_SIZE + header.chunk_size + TAG_SIZE
        self.aead = AESGCM(file_key)
        self.prefix = header.prefix
        self.name = name

    def offset(self, index: int) -> int:
        return HEADER_SIZE + index * self.stride

    def _aad(self, index: int, final: bool) -> bytes:
        return self.prefix + struct.pack(">QB", index, 1 if final else 0)

    def read(self, index: int, final: bool, stored_len: int | None = None) -> bytes:
        """Decrypt chunk `index`; raises DecryptionError if it does not authenticate."""
        self.raw.seek(self.offset(index))
        blob = self.raw.read(stored_len if stored_len is not None else self.stride)
        if len(blob) < NONCE_SIZE + TAG_SIZE:
            raise DecryptionError(f"{self.name}: chunk {index} is cut short")
        try:
            return self.aead.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], self._aad(index, final))
        except InvalidTag:
            raise DecryptionError(
                f"{self.name}: chunk {index} failed authentication (tampered, cut short, "
                "or encrypted with another key)"
            ) from None

    def write(self, index: int, plain: bytes | bytearray, final: bool) -> None:
        nonce = os.urandom(NONCE_SIZE)
        sealed = self.aead.encrypt(nonce, bytes(plain), self._aad(index, final))
        self.raw.seek(self.offset(index))
        self.raw.write(nonce + sealed)


def chunk_count(disk_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """How many chunks (whole or torn) a file of `disk_size` bytes holds."""
    body = max(0, disk_size - HEADER_SIZE)
    stride = NONCE_SIZE + chunk_size + TAG_SIZE
    return -(-body // stride)


class EncryptingWriter:
    """A seekable write-only file object that encrypts as it goes (PyAV can mux into it).

    The chunk being written stays in memory until `flush()` or moving to another
    chunk seals it to disk; going back to a sealed chunk (a muxer patching a box
    size) decrypts it and seals it again under a fresh nonce. `close_final()` seals
    the last chunk with the final flag; until then a crash leaves only non-final
    chunks, which `scan_unfinished` recovers.
    """

    def __init__(self, raw: BinaryIO, header: FileHeader, file_key: bytes, name: str):
        self._chunks = _Chunks(raw, header, file_key, name)
        raw.seek(0)
        raw.write(header.pack())
        self._size = 0  # plaintext bytes
        self._pos = 0
        self._stored = 0  # chunks sealed to disk at least once
        self._index = 0
        self._buf = bytearray()
        self._dirty = False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return True

    def _select(self, index: int) -> None:
        if index == self._index:
            return
        self._seal_current()
        self._index = index
        if index < self._stored:
            self._buf = bytearray(self._chunks.read(index, final=False))
        else:
            self._buf = bytearray()
        self._dirty = False

    def _seal_current(self, final: bool = False) -> None:
        if self._dirty or final:
            self._chunks.write(self._index, self._buf, final)
            self._stored = max(self._stored, self._index + 1)
            self._dirty = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write plaintext at the current position."""
        view = memoryview(data).cast("B")
        size = self._chunks.size
        done = 0
        while done < len(view):
            index, offset = divmod(self._pos, size)
            self._select(index)
            take = min(size - offset, len(view) - done)
            self._buf[offset : offset + take] = view[done : done + take]
            self._dirty = True
            done += take
            self._pos += take
            self._size = max(self._size, self._pos)
        return done

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move within what was written (not past the end: no holes in encrypted files)."""
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        target = base + offset
        if not 0 <= target <= self._size:
            raise OSError(f"cannot seek to {target} in an encrypted file of {self._size} bytes")
        self._pos = target
        return target

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Seal the open chunk to disk as it is (non-final), so a crash loses nothing
        written so far; more writes into it seal it again under a fresh nonce."""
        self._seal_current()

    def close_final(self) -> int:
        """Seal the last chunk as final; returns the plaintext size."""
        last = max(0, -(-self._size // self._chunks.size) - 1)
        self._select(last)
        self._seal_current(final=True)
        self._chunks.raw.truncate(self._chunks.offset(last + 1) - self._padding(last))
        return self._size

    def _padding(self, last: int) -> int:
        """Bytes the last chunk is shorter than a full one."""
        return self._chunks.size - (self._size - last * self._chunks.size)


class DecryptingReader(io.RawIOBase):
    """A seekable read-only file object over an encrypted file: a read decrypts only the
    chunks it covers. Raises DecryptionError rather than return unauthenticated bytes."""

    def __init__(
        self,
        raw: BinaryIO,
        header: FileHeader,
        file_key: bytes,
        name: str,
        limit: tuple[int, int] | None = None,
    ):
        """`limit` = (chunks, plaintext size) for a half-written file found by `scan_unfinished`."""
        super().__init__()
        self._chunks = _Chunks(raw, header, file_key, name)
        self._final = limit is None
        if limit is None:
            raw.seek(0, io.SEEK_END)
            disk = raw.tell()
            self._count = max(1, chunk_count(disk, header.chunk_size))
            tail = disk - self._chunks.offset(self._count - 1) - NONCE_SIZE - TAG_SIZE
            if tail < 0:
                raise DecryptionError(f"{name}: the last chunk is cut short")
            self.size = (self._count - 1) * header.chunk_size + tail
        else:
            self._count, self.size = limit
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def _chunk(self, index: int) -> bytes:
        if self._cached is not None and self._cached[0] == index:
            return self._cached[1]
        final = self._final and index == self._count - 1
        plain = self._chunks.read(index, final)
        self._cached = (index, plain)
        return plain

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Fill `buffer` from the current position; short only at the end of the file."""
        out = memoryview(buffer).cast("B")
        done = 0
        while done < len(out) and self._pos < self.size:
            index, offset = divmod(self._pos, self._chunks.size)
            plain = self._chunk(index)
            take = min(len(out) - done, len(plain) - offset, self.size - self._pos)
            if take <= 0:
                break
            out[done : done + take] = plain[offset : offset + take]
            self._pos += take
            done += take
        return done

    def read_range(self, start: int, stop: int) -> bytes:
        """Plaintext bytes [start, stop), decrypting only the chunks that cover them."""
        self.seek(start)
        parts, want = [], max(0, min(stop, self.size) - start)
        while want > 0:
            piece = self.read(want)
            if not piece:
                break
            parts.append(piece)
            want -= len(piece)
        return b"".join(parts)

    def close(self) -> None:
        self._chunks.raw.close()
        super().close()


def scan_unfinished(
    raw: BinaryIO, header: FileHeader, file_key: bytes, name: str
) -> tuple[int, int]:
    """(chunks, plaintext size) of the longest prefix of whole chunks that authenticate.

    For a file a crash left half-written: its chunks are all non-final, the last
    one may be torn. A file closed normally (final last chunk) is read whole.
    """
    chunks = _Chunks(raw, header, file_key, name)
    raw.seek(0, io.SEEK_END)
    total = chunk_count(raw.tell(), header.chunk_size)
    size = 0
    for index in range(total):
        try:
            size += len(chunks.read(index, final=False))
        except DecryptionError:
            try:
                size += len(chunks.read(index, final=True))
                return index + 1, size
            except DecryptionError:
                return index, size
    return total, size


def rewrite_final(
    raw: BinaryIO, header: FileHeader, file_key: bytes, name: str, chunks: int, size: int
) -> None:
    """Cut a half-written file to `size` plaintext bytes and seal its last chunk as final."""
    io_chunks = _Chunks(raw, header, file_key, name)
    if size > chunks * header.chunk_size:
        raise FootageCryptoError(f"{name}: cannot extend a file while repairing it")
    last = max(0, -(-size // header.chunk_size) - 1)
    keep = size - last * header.chunk_size
    plain = io_chunks.read(last, final=False)[:keep] if last < chunks else b""
    io_chunks.write(last, plain, final=True)
    raw.truncate(io_chunks.offset(last) + NONCE_SIZE + len(plain) + TAG_SIZE)


WrapFn = Callable[[bytes, bytes], tuple[bytes, bytes]]
"""(file key, file id) -> (key id, wrapped key): how an owner key wraps a new file key."""
