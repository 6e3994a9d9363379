"""Start-up repair: finish segments a crash left half-written, index strays, drop dead rows."""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import av

from hub import PARTIAL_SUFFIX, UNREADABLE_ERRORS, FootageLocked, FootageStore, RecordingSegment

_LOGGER = logging.getLogger(__name__)
CLIPS_DIR = "clips"


@dataclass(frozen=True)
class Probe:
    """What a segment file holds."""

    duration: float
    video_frames: int


def complete_boxes_end(path: Path) -> int:
    """Byte offset just past the last complete media fragment (`mdat`) of a plain MP4 file."""
    with path.open("rb") as file:
        return boxes_end_in(file, path.stat().st_size)


def boxes_end_in(file: BinaryIO, size: int) -> int:
    """Offset just past the last complete media fragment (`mdat`) of MP4 data in `file`.

    A crash leaves a fragmented MP4 with a torn last box; cutting there leaves
    only whole boxes, which every player accepts.
    """
    offset = last_good = 0
    while offset + 8 <= size:
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            break
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) == 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        elif box_size == 0:
            box_size = size - offset
        if box_size < 8 or offset + box_size > size:
            break
        offset += box_size
        if box_type in (b"mdat", b"mfra"):
            last_good = offset
    return last_good


def probe(store: FootageStore, relpath: str) -> Probe | None:
    """Duration and video frame count by demuxing (no decoding); None if unreadable.

    Raises FootageLocked (sealed, not unlocked) and FootageCorrupt (cannot be
    decrypted): such files are kept, never deleted as unreadable.
    """
    try:
        with store.open_read(relpath) as file, av.open(file, mode="r") as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                return None
            first = last = None
            frames = 0
            for packet in container.demux(video):
                if packet.dts is None:
                    continue
                stamp = float(packet.dts * packet.time_base)
                first = stamp if first is None else first
                last = stamp + float((packet.duration or 0) * packet.time_base)
                frames += 1
    except (av.error.FFmpegError, OSError):
        return None
    if not frames or first is None or last is None:
        return None
    return Probe(max(0.0, last - first), frames)


def _segment_for(store: FootageStore, relpath: str, found: Probe) -> RecordingSegment | None:
    camera = relpath.split("/", 1)[0]
    try:
        start = float(Path(relpath).stem)
    except ValueError:
        return None
    return RecordingSegment(
        camera=camera,
        start=start,
        end=start + found.duration,
        path=relpath,
        bytes=store.size(relpath),
    )


def _recover_partial(store: FootageStore, partial: str) -> RecordingSegment | None:
    """Cut a half-written segment to its last whole fragment and give it its final name."""
    final = partial.removesuffix(PARTIAL_SUFFIX)
    reader, size = store.open_unfinished(partial)
    with reader:
        cut = boxes_end_in(reader, size)
    if cut:
        store.cut_unfinished(partial, cut)
    found = probe(store, partial) if cut else None
    segment = _segment_for(store, final, found) if found else None
    if segment is None:
        _LOGGER.warning("Removing unreadable half-written segment %s", partial)
        store.delete(partial)
        return None
    os.replace(store.path_of(partial), store.path_of(final))
    # Sized under its final name: before the rename no file had that name (size 0).
    segment = replace(segment, bytes=store.size(final))
    _LOGGER.info(
        "Recovered half-written segment %s (%.1f s)", final, found.duration if found else 0
    )
    return segment


def _stray(store: FootageStore, relpath: str) -> RecordingSegment | None:
    found = probe(store, relpath)
    segment = _segment_for(store, relpath, found) if found else None
    if segment is None:
        _LOGGER.warning("Removing unreadable segment %s", relpath)
        store.delete(relpath)
        return None
    _LOGGER.info("Indexing segment %s found on disk", relpath)
    return segment


def unindexed_files(store: FootageStore, indexed: set[str]) -> set[str]:
    """Segment files (finished or half-written) that no index row names."""
    return {
        relpath
        for relpath in store.all_files()
        if relpath.endswith((".mp4", f".mp4{PARTIAL_SUFFIX}"))
        and not relpath.startswith(f"{CLIPS_DIR}/")
        and relpath not in indexed
    }


def repair_footage(
    store: FootageStore, indexed: set[str], only: set[str] | None = None
) -> list[RecordingSegment]:
    """Fix the footage folder after a crash; returns segments that need indexing.

    Encrypted files that cannot be read now (sealed and locked, or a key missing)
    are left as they are, never deleted: they are repaired once readable, with
    `only` = the files left then (so files the cameras are writing meanwhile are
    not touched).
    """
    to_index: list[RecordingSegment] = []
    for partial in store.partial_files():
        if only is not None and partial not in only:
            continue
        if partial.startswith(f"{CLIPS_DIR}/"):
            store.delete(partial)  # a clip export cut short: it is made again on request
            continue
        try:
            segment = _recover_partial(store, partial)
        except FootageLocked:
            _LOGGER.info("Half-written segment %s waits for the footage to be unlocked", partial)
            continue
        except UNREADABLE_ERRORS as exc:
            _LOGGER.error("Half-written segment %s cannot be decrypted; kept: %s", partial, exc)
            continue
        if segment is not None:
            to_index.append(segment)
    recovered = {segment.path for segment in to_index}
    if store.root.is_dir():
        for path in sorted(store.root.rglob("*.mp4")):
            relpath = store.relpath_of(path)
            if relpath in indexed or relpath in recovered or relpath.startswith(f"{CLIPS_DIR}/"):
                continue
            if only is not None and relpath not in only:
                continue
            try:
                segment = _stray(store, relpath)
            except FootageLocked:
                continue
            except UNREADABLE_ERRORS as exc:
                _LOGGER.error("Segment %s cannot be decrypted; kept: %s", relpath, exc)
                continue
            if segment is not None:
                to_index.append(segment)
    return to_index
