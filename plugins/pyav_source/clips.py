"""Joins recorded segments into one MP4 clip by stream copy (no re-encoding)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av

from hub import FootageStore, RecordingSegment

_LOGGER = logging.getLogger(__name__)


class ClipError(Exception):
    """No clip could be made from the segments given."""


def _same_video(a: Any, b: Any) -> bool:
    ca, cb = a.codec_context, b.codec_context
    return (ca.name, ca.width, ca.height) == (cb.name, cb.width, cb.height)


def export_clip(
    store: FootageStore,
    segments: list[RecordingSegment],
    start: float,
    end: float,
    relpath: str,
) -> int:
    """Write the footage between `start` and `end` (wall clock) to `relpath`; returns bytes.

    The clip begins at the last keyframe at or before `start` so it decodes from
    its first frame, and continues to the first packet past `end`.
    """
    ordered = sorted(segments, key=lambda s: s.start)
    if not ordered:
        raise ClipError("no recording covers that time")
    out_file = store.create(relpath)
    try:
        with av.open(out_file, mode="w", format="mp4") as output:
            written = _copy_segments(store, ordered, start, end, output)
        if not written:
            raise ClipError("the recordings hold no video for that time")
        return out_file.finish()
    except BaseException:
        out_file.abort()
        raise


def _packets(store: FootageStore, segments: list[RecordingSegment]) -> Iterator[tuple[float, Any]]:
    """(wall time, packet) of every video packet, segment after segment, one stream format."""
    template: Any = None
    for segment in segments:
        # Through the store: segments may be encrypted at rest (decrypted as PyAV reads).
        with store.open_read(segment.path) as file, av.open(file, mode="r") as source:
            video = next((s for s in source.streams if s.type == "video"), None)
            if video is None:
                continue
            if template is None:
                template = video
            elif not _same_video(template, video):
                _LOGGER.warning("Clip: %s has another resolution or codec; skipped", segment.path)
                continue
            for packet in source.demux(video):
                if packet.dts is not None and packet.size:
                    yield segment.start + float(packet.dts * packet.time_base), packet


def _copy_segments(
    store: FootageStore, segments: list[RecordingSegment], start: float, end: float, output: Any
) -> int:
    out_video: Any = None
    origin: float | None = None  # wall time that becomes t=0 in the clip
    lead: list[tuple[float, Any]] = []  # from the latest keyframe at or before `start`
    last_dts = -1
    written = 0
    for wall, packet in _packets(store, segments):
        if wall > end:
            break
        if out_video is None:
            # Made while the packet's container is open; later segments share its format.
            out_video = output.add_stream_from_template(packet.stream)
        if origin is None:
            if packet.is_keyframe:
                lead = [(wall, packet)]
            elif lead:
                lead.append((wall, packet))
            if wall < start or not lead:
                continue
            origin = lead[0][0]
            pending, lead = lead, []
        else:
            pending = [(wall, packet)]
        for stamp, item in pending:
            tb: Fraction = item.time_base
            dts = max(round((stamp - origin) / tb), last_dts + 1)
            offset = (item.pts - item.dts) if item.pts is not None else 0
            item.dts, item.pts = dts, dts + offset
            item.stream = out_video
            output.mux(item)
            last_dts = dts
            written += 1
    return written
