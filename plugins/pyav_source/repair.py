"""Start-up repair: finish segments a crash left half-written, index strays, drop dead rows."""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import av

from hub.footage import PARTIAL_SUFFIX, FootageStore
from hub.recordings import RecordingSegment

_LOGGER = logging.getLogger(__name__)
CLIPS_DIR = "clips"


@dataclass(frozen=True)
class Probe:
    """What a segment file holds."""

    duration: float
    video_frames: int


def complete_boxes_end(path: Path) -> int:
    """Byte offset just past the last complete media fragment (`mdat`) of an MP4 file.

    A crash leaves a fragmented MP4 with a torn last box; cutting there leaves
    only whole boxes, which every player accepts.
    """
    size = path.stat().st_size
    offset = last_good = 0
    with path.open("rb") as f:
        while offset + 8 <= size:
            f.seek(offset)
            header = f.read(16)
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


def probe(path: Path) -> Probe | None:
    """Duration and video frame count by demuxing (no decoding); None if unreadable."""
    try:
        with av.open(str(path)) as container:
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


def repair_footage(store: FootageStore, indexed: set[str]) -> list[RecordingSegment]:
    """Fix the footage folder after a crash; returns segments that need indexing."""
    to_index: list[RecordingSegment] = []
    for partial in store.partial_files():
        if partial.startswith(f"{CLIPS_DIR}/"):
            store.delete(partial)  # a clip export cut short: it is made again on request
            continue
        final = partial.removesuffix(PARTIAL_SUFFIX)
        path = store.path_of(partial)
        cut = complete_boxes_end(path)
        if cut:
            os.truncate(path, cut)
        found = probe(path) if cut else None
        segment = _segment_for(store, final, found) if found else None
        if segment is None:
            _LOGGER.warning("Removing unreadable half-written segment %s", partial)
            store.delete(partial)
            continue
        os.replace(path, store.path_of(final))
        # Sized under its final name: before the rename no file had that name (size 0).
        segment = replace(segment, bytes=store.size(final))
        _LOGGER.info(
            "Recovered half-written segment %s (%.1f s)", final, found.duration if found else 0
        )
        to_index.append(segment)
    recovered = {segment.path for segment in to_index}
    if store.root.is_dir():
        for path in sorted(store.root.rglob("*.mp4")):
            relpath = store.relpath_of(path)
            if relpath in indexed or relpath in recovered or relpath.startswith(f"{CLIPS_DIR}/"):
                continue
            found = probe(path)
            segment = _segment_for(store, relpath, found) if found else None
            if segment is None:
                _LOGGER.warning("Removing unreadable segment %s", relpath)
                store.delete(relpath)
                continue
            _LOGGER.info("Indexing segment %s found on disk", relpath)
            to_index.append(segment)
    return to_index
