"""The one door for footage on disk: segments, snapshots and clips are written and read here.

Files are written under a `.partial` name and renamed when complete, so a reader
(or the index) never sees half a file under its final name. Encryption at rest
will wrap `FootageStore` without touching the recorder or the API.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath
from typing import BinaryIO

PARTIAL_SUFFIX = ".partial"


class FootageError(Exception):
    """A footage path or file operation was refused."""


class FootageFile:
    """A file being written; `finish()` makes it visible under its final name."""

    def __init__(self, store: FootageStore, relpath: str):
        self.store = store
        self.relpath = relpath
        self.final = store.path_of(relpath)
        self.partial = self.final.with_name(self.final.name + PARTIAL_SUFFIX)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.file: BinaryIO = open(self.partial, "wb")  # noqa: SIM115 - closed by finish/abort

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Write bytes (file-object protocol, so muxers can write here directly)."""
        return self.file.write(data)

    def flush(self) -> None:
        """Flush Python's buffer to the OS."""
        self.file.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the write position (muxers rewrite headers at the end)."""
        return self.file.seek(offset, whence)

    def tell(self) -> int:
        """The write position."""
        return self.file.tell()

    def finish(self) -> int:
        """Flush to disk and rename to the final name; returns the size in bytes."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.partial, self.final)
        return self.final.stat().st_size

    def abort(self) -> None:
        """Close and delete what was written."""
        self.file.close()
        self.partial.unlink(missing_ok=True)


class FootageStore:
    """Footage files under one root; paths are relative, `/`-separated and never escape it."""

    def __init__(self, root: Path):
        self.root = root

    def path_of(self, relpath: str) -> Path:
        """The absolute path of a relative footage path (rejects `..` and absolute paths)."""
        pure = PurePosixPath(relpath)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise FootageError(f"invalid footage path {relpath!r}")
        return self.root.joinpath(*pure.parts)

    def create(self, relpath: str) -> FootageFile:
        """Start writing a new file."""
        return FootageFile(self, relpath)

    def open_read(self, relpath: str) -> BinaryIO:
        """Open a finished file for reading."""
        return open(self.path_of(relpath), "rb")

    def size(self, relpath: str) -> int:
        """Size in bytes, 0 if missing."""
        try:
            return self.path_of(relpath).stat().st_size
        except FileNotFoundError:
            return 0

    def exists(self, relpath: str) -> bool:
        """True if a finished file exists."""
        return self.path_of(relpath).is_file()

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
