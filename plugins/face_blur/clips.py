"""Event clips with faces blurred: the recorded segments decoded, faces pixelated, re-encoded."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av
import numpy as np

from hub import FootageStore, RecordingSegment
from plugins.face_blur.blur import blur_faces
from plugins.face_blur.centerface import Box, CenterFace

_LOGGER = logging.getLogger(__name__)

# Faces in a clip are found on a picture this size: 4x cheaper than 1280 and still sees a face
# a few dozen pixels tall in a 1080p frame.
CLIP_DETECT_SIDE = 960
CLIP_TIME_BASE = Fraction(1, 1000)
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}


class FaceClipError(Exception):
    """No clip could be made from the segments given."""


def _frames(store: FootageStore, segments: list[RecordingSegment]) -> Iterator[tuple[float, Any]]:
    """(wall time, decoded frame) of every frame, segment after segment, one picture size."""
    size: tuple[int, int] | None = None
    for segment in segments:
        with store.open_read(segment.path) as raw, contextlib.closing(av.open(raw)) as opened:
            source: Any = opened
            video = next((s for s in source.streams if s.type == "video"), None)
            if video is None:
                continue
            for frame in source.decode(video):
                if frame.pts is None:
                    continue
                if size is None:
                    size = (frame.width, frame.height)
                elif (frame.width, frame.height) != size:
                    _LOGGER.warning("Clip: %s has another picture size; skipped", segment.path)
                    break
                yield segment.start + float(frame.pts * frame.time_base), frame


def export_blurred_clip(
    store: FootageStore,
    detector: CenterFace,
    segments: list[RecordingSegment],
    start: float,
    end: float,
    relpath: str,
) -> int:
    """Write `start`..`end` of the segments to `relpath` with faces blurred; returns bytes."""
    ordered = sorted(segments, key=lambda s: s.start)
    out_file = store.create(relpath)
    try:
        with av.open(out_file, mode="w", format="mp4") as output:
            written = _encode(store, detector, ordered, start, end, output)
        if not written:
            raise FaceClipError("the recordings hold no video for that time")
        return out_file.finish()
    except BaseException:
        out_file.abort()
        raise


def _encode(
    store: FootageStore,
    detector: CenterFace,
    segments: list[RecordingSegment],
    start: float,
    end: float,
    output: Any,
) -> int:
    stream: Any = None
    origin = start
    last_pts = -1
    previous: list[Box] = []
    written = 0
    for wall, frame in _frames(store, segments):
        if wall < start:
            continue
        if wall > end:
            break
        if stream is None:
            stream = output.add_stream("libx264", rate=25, options=X264_OPTIONS)
            stream.width, stream.height = frame.width, frame.height
            stream.pix_fmt = "yuv420p"
            stream.time_base = CLIP_TIME_BASE
            origin = wall
        picture = frame.to_ndarray(format="rgb24")
        boxes = detector.detect(picture, max_side=CLIP_DETECT_SIDE)
        # Last frame's faces are blurred too: a face the detector misses for one frame
        # (motion blur, a turned head) does not flash up.
        blurred = blur_faces(picture, boxes + previous)
        previous = boxes
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(blurred), format="rgb24")
        out = out.reformat(format="yuv420p")
        pts = max(last_pts + 1, round((wall - origin) / CLIP_TIME_BASE))
        out.pts, out.time_base, last_pts = pts, CLIP_TIME_BASE, pts
        for packet in stream.encode(out):
            output.mux(packet)
        written += 1
    if stream is not None:
        for packet in stream.encode(None):
            output.mux(packet)
    return written
