"""The one door for footage on disk: segments, snapshots and clips are written and read here.

Files are written under a `.partial` name and renamed when complete, so a reader
(or the index) never sees half a file under its final name. With
`storage.encryption` on, files are written encrypted (see `hub.footage.encryption`) and
read back through a decrypting file object; callers see plaintext either way.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from hub.footage.encryption import (
    CHUNK_SIZE,
    HEADER_SIZE,
    KEY_SIZE,
    DecryptingReader,
    EncryptingWriter,
    FileHeader,
    FootageCryptoError,
    is_encrypted,
    new_file_id,
    rewrite_final,
    scan_unfinished,
)
from hub.footage.keyring import KEYS_DIRNAME, Keyring, KeyringError
from hub.footage.keyring import FootageLocked as _KeyringLocked

PARTIAL_SUFFIX = ".partial"
LOCK_ENTITY = "storage.encryption"
"""State entity: `off`, `on` (readable), `locked` or `unlocked` (sealed footage)."""
_LOGGER = logging.getLogger(__name__)


class FootageError(Exception):
    """A footage path or file operation was refused."""


class FootageLocked(FootageError):
    """The file is sealed and the hub is locked: an admin must unlock it first."""


class FootageCorrupt(FootageError):
    """An encrypted file cannot be decrypted: tampered, damaged, or its key is missing."""


UNREADABLE_ERRORS = (FootageCorrupt, FootageCryptoError)
"""What a read of encrypted footage raises when it must not be served (DecryptionError
comes mid-read, from the file object)."""


class FootageFile:
    """A file being written; `finish()` makes it visible under its final name."""

    def __init__(self, store: FootageStore, relpath: str):
        self.store = store
        self.relpath = relpath
        self.final = store.path_of(relpath)
        self.partial = self.final.with_name(self.final.name + PARTIAL_SUFFIX)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        # Readable by the hub's user only, whatever the umask: footage films a family.
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        self._raw: BinaryIO = open(fd, "w+b")  # noqa: SIM115 - closed by finish/abort
        self._writer: EncryptingWriter | None = None
        try:
            self._writer = store.new_writer(self._raw, relpath)
        except BaseException:
            self.abort()
            raise

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write bytes (file-object protocol, so muxers can write here directly)."""
        if self._writer is not None:
            return self._writer.write(data)
        return self._raw.write(data)

    def flush(self) -> None:
        """Flush what was written to the OS (sealing the open chunk when encrypting)."""
        if self._writer is not None:
            self._writer.flush()
        self._raw.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the write position (muxers rewrite headers at the end)."""
        if self._writer is not None:
            return self._writer.seek(offset, whence)
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        """The write position."""
        return self._writer.tell() if self._writer is not None else self._raw.tell()

    def finish(self) -> int:
        """Flush to disk and rename to the final name; returns the size in bytes on disk."""
        if self._writer is not None:
            self._writer.close_final()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.partial, self.final)
        return self.final.stat().st_size

    def abort(self) -> None:
        """Close and delete what was written."""
        self._raw.close()
        self.partial.unlink(missing_ok=True)


class FootageStore:
    """Footage files under one root; paths are relative, `/`-separated and never escape it."""

    def __init__(self, root: Path, keyring: Keyring | None = None):
        self.root = root
        self.keyring = keyring if keyring is not None else Keyring(root.parent / KEYS_DIRNAME)
        # Creating a file (wrap + header) and switching keys exclude each other, so a
        # rotation's scan sees every file wrapped with the old key.
        self._key_switch = threading.Lock()
        self.chunk_size = CHUNK_SIZE
        """Plaintext bytes per encrypted chunk of new files (readers take it from the header)."""

    @property
    def encrypting(self) -> bool:
        """Whether new files are written encrypted."""
        return self.keyring.mode != "off"

    @property
    def locked(self) -> bool:
        """True while sealed footage cannot be read (until an admin unlocks)."""
        return self.keyring.locked

    def lock_state(self) -> str:
        """The `storage.encryption` state: `off`, `on`, `locked` or `unlocked`."""
        if any(k.kind == "sealed" for k in self.keyring.owner_keys()):
            return "locked" if self.keyring.locked else "unlocked"
        return "on" if self.encrypting else "off"

    def path_of(self, relpath: str) -> Path:
        """The absolute path of a relative footage path (rejects `..` and absolute paths)."""
        pure = PurePosixPath(relpath)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise FootageError(f"invalid footage path {relpath!r}")
        path = self.root.joinpath(*pure.parts)
        # A symlink planted in the footage folder must not make the API serve the database,
        # a key file or /etc: whatever a path resolves to has to stay under the root.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise FootageError(f"footage path {relpath!r} leads out of the footage folder")
        return path

    def open_served(self, relpath: str) -> int:
        """A file descriptor of a footage file fit to serve, or FootageError.

        Besides staying inside the folder (`path_of`), the file itself must be a regular
        file (not a symlink: opened with O_NOFOLLOW), have one link (a hard link planted in
        the folder would pass every path check while being the database or a key), and
        belong to the hub's user. The checks are made on the open file, so it cannot be
        swapped between check and use.
        """
        path = self.path_of(relpath)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise FootageError(f"footage file {relpath!r} cannot be opened: {exc}") from None
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        elif info.st_nlink != 1:
            problem = f"has {info.st_nlink} links (a hard link from elsewhere?)"
        elif info.st_uid != os.geteuid():
            problem = f"belongs to user {info.st_uid}, not to the hub's"
        if problem is not None:
            os.close(fd)
            _LOGGER.warning("Footage file %s is not served: it %s", relpath, problem)
            raise FootageError(f"footage file {relpath!r} {problem}")
        return fd

    def create(self, relpath: str) -> FootageFile:
        """Start writing a new file."""
        return FootageFile(self, relpath)

    def new_writer(self, raw: BinaryIO, relpath: str) -> EncryptingWriter | None:
        """The encrypting writer for a new file, or None when encryption is off."""
        if not self.encrypting:
            return None
        file_key, file_id = os.urandom(KEY_SIZE), new_file_id()
        with self._key_switch:
            try:
                key_id, wrapped = self.keyring.wrap(file_key, file_id)
            except KeyringError as exc:
                raise FootageError(f"cannot encrypt {relpath}: {exc}") from None
            header = FileHeader(file_id, key_id, wrapped, self.chunk_size)
            writer = EncryptingWriter(raw, header, file_key, relpath)
            raw.flush()  # the header is on disk before a rotation can scan for it
        return writer

    def _open_encrypted(self, relpath: str, raw: BinaryIO) -> tuple[FileHeader, bytes]:
        """The header and file key of an open encrypted file (raises FootageLocked/Corrupt)."""
        try:
            header = FileHeader.unpack(raw.read(HEADER_SIZE))
            return header, self.keyring.unwrap(header.key_id, header.wrapped_key, header.file_id)
        except _KeyringLocked as exc:
            raise FootageLocked(str(exc)) from None
        except (KeyringError, FootageCryptoError) as exc:
            raise FootageCorrupt(f"{relpath}: {exc}") from None

    def open_read(self, relpath: str, served: bool = False) -> BinaryIO:
        """Open a finished file for reading (decrypting when encrypted; seekable either way).

        Raises FootageLocked while sealed, FootageCorrupt if it cannot be decrypted;
        reads raise DecryptionError on a tampered chunk, never return its bytes. `served`:
        the file is for a person (the API), so it must pass `open_served`'s checks.
        """
        source = self.open_served(relpath) if served else self.path_of(relpath)
        raw = open(source, "rb")  # noqa: SIM115 - handed to the caller
        try:
            if not is_encrypted(raw.read(len(b"CAMHUBE"))):
                raw.seek(0)
                return raw
            raw.seek(0)
            header, key = self._open_encrypted(relpath, raw)
            return cast(BinaryIO, DecryptingReader(raw, header, key, relpath))
        except BaseException:
            raw.close()
            raise

    def open_unfinished(self, relpath: str) -> tuple[BinaryIO, int]:
        """(reader, plaintext size) over what a crash left of a half-written file."""
        path = self.path_of(relpath)
        raw = open(path, "rb")  # noqa: SIM115 - handed to the caller
        try:
            if not is_encrypted(raw.read(len(b"CAMHUBE"))):
                raw.seek(0)
                return raw, path.stat().st_size
            raw.seek(0)
            header, key = self._open_encrypted(relpath, raw)
            limit = scan_unfinished(raw, header, key, relpath)
            reader = DecryptingReader(raw, header, key, relpath, limit=limit)
            return cast(BinaryIO, reader), limit[1]
        except BaseException:
            raw.close()
            raise

    def cut_unfinished(self, relpath: str, size: int) -> None:
        """Cut a half-written file to `size` plaintext bytes, leaving a whole, valid file."""
        path = self.path_of(relpath)
        with open(path, "r+b") as raw:
            if not is_encrypted(raw.read(len(b"CAMHUBE"))):
                raw.truncate(size)
                return
            raw.seek(0)
            header, key = self._open_encrypted(relpath, raw)
            chunks, _ = scan_unfinished(raw, header, key, relpath)
            rewrite_final(raw, header, key, relpath, chunks, size)
            raw.flush()
            os.fsync(raw.fileno())

    def read_bytes(self, relpath: str) -> bytes:
        """A whole (small) file, decrypted: snapshots."""
        with self.open_read(relpath) as f:
            return f.read()

    def is_encrypted(self, relpath: str) -> bool:
        """Whether a file on disk is encrypted."""
        with open(self.path_of(relpath), "rb") as f:
            return is_encrypted(f.read(len(b"CAMHUBE")))

    def key_id_of(self, relpath: str) -> bytes | None:
        """The owner key an encrypted file's key is wrapped with (None if plaintext)."""
        with open(self.path_of(relpath), "rb") as f:
            head = f.read(HEADER_SIZE)
        return FileHeader.unpack(head).key_id if is_encrypted(head) else None

    def rewrap(self, relpath: str) -> bool:
        """Re-wrap a file's key with the current owner key (the footage is not re-encrypted).

        Returns True if the header changed."""
        current = self.keyring.current()
        with open(self.path_of(relpath), "r+b") as raw:
            head = raw.read(HEADER_SIZE)
            if current is None or not is_encrypted(head):
                return False
            raw.seek(0)
            header, key = self._open_encrypted(relpath, raw)
            if header.key_id == current.key_id:
                return False
            key_id, wrapped = self.keyring.wrap(key, header.file_id)
            new = FileHeader(header.file_id, key_id, wrapped, header.chunk_size)
            raw.seek(0)
            raw.write(new.pack())
            raw.flush()
            os.fsync(raw.fileno())
        return True

    def rotate_keys(self, passphrase: str | None = None) -> dict[str, int]:
        """A new owner key; every encrypted file re-wrapped to it; old keys no file uses deleted.

        Sealed footage must be unlocked first (its file keys are unwrapped to re-wrap them).
        """
        old = [key.key_id for key in self.keyring.owner_keys()]
        with self._key_switch:
            self.keyring.create_key(passphrase)
        report = {"rewrapped": 0, "failed": 0, "plaintext": 0, "keys_removed": 0}
        in_use: set[bytes] = set()
        for relpath in self.all_files():
            try:
                if self.rewrap(relpath):
                    report["rewrapped"] += 1
                key_id = self.key_id_of(relpath)
            except (FootageError, FootageCryptoError, OSError) as exc:
                _LOGGER.error("Key rotation: %s keeps its old key: %s", relpath, exc)
                report["failed"] += 1
                continue
            if key_id is None:
                report["plaintext"] += 1
            else:
                in_use.add(key_id)
        for key_id in old:
            if key_id not in in_use:
                self.keyring.forget(key_id)
                report["keys_removed"] += 1
        return report

    def files_written(
        self, folder: str, start: float | None, end: float
    ) -> list[tuple[str, float]]:
        """(relative path, time written) of finished files under `folder` written in
        [start, end]: footage no index row describes (automation snapshots)."""
        base = self.path_of(folder)
        found = []
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if not path.is_file() or path.name.endswith(PARTIAL_SUFFIX):
                    continue
                written = path.stat().st_mtime
                if (start is None or written >= start) and written <= end:
                    found.append((self.relpath_of(path), written))
        return found

    def all_files(self) -> Iterator[str]:
        """Every footage file (finished or half-written), as relative paths."""
        if self.root.is_dir():
            for path in sorted(self.root.rglob("*")):
                if path.is_file():
                    yield path.relative_to(self.root).as_posix()

    def size(self, relpath: str) -> int:
        """Size in bytes, 0 if missing."""
        try:
            return self.path_of(relpath).stat().st_size
        except FileNotFoundError:
            return 0

    def exists(self, relpath: str) -> bool:
        """True if a finished file exists (False for a path that leaves the footage folder)."""
        try:
            return self.path_of(relpath).is_file()
        except FootageError:
            return False

    def delete(self, relpath: str) -> None:
        """Remove a file (missing is fine) and its folder if now empty."""
        path = self.path_of(relpath)
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != self.root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def partial_files(self) -> list[str]:
        """Relative paths of files left half-written (by a crash), for repair at start-up."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob(f"*{PARTIAL_SUFFIX}")
            if p.is_file()
        )

    def relpath_of(self, path: Path) -> str:
        """The relative footage path of an absolute path under the root."""
        return path.relative_to(self.root).as_posix()

    def free_bytes(self) -> int:
        """Free space on the disk holding the footage."""
        self.root.mkdir(parents=True, exist_ok=True)
        return shutil.disk_usage(self.root).free
