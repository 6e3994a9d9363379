"""Live view by stream copy: the camera's H.264 re-wrapped as fragmented MP4 for each viewer.

The demux thread hands every video packet to `LiveStream.feed`. While nobody watches that is a
flag test; while someone does, a copy of the packet goes through an MP4 muxer writing one
fragment per frame (moof + mdat) into memory. Nothing is decoded or encoded. Segments cross to
the event loop, where each viewer has a bounded queue; a viewer that falls behind skips to the
next keyframe instead of holding memory.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import struct
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import av

from hub import LiveSegment
from plugins.pyav_source.recorder import annexb_parameter_sets

_LOGGER = logging.getLogger(__name__)

# One fragment per frame keeps latency at one frame interval; empty_moov puts the codec
# parameters up front, so the init segment exists before the first picture.
LIVE_MP4_OPTIONS = {"movflags": "frag_keyframe+frag_every_frame+empty_moov+default_base_moof"}
VIEWER_MAX_FRAGMENTS = 150
VIEWER_MAX_BYTES = 8 * 1024 * 1024
GOP_CACHE_BYTES = 4 * 1024 * 1024


def avc_codec_string(init: bytes) -> str:
    """`avc1.PPCCLL` from the avcC box of an init segment (profile, constraints, level)."""
    at = init.find(b"avcC")
    if at < 0 or len(init) < at + 8:
        return ""
    profile, constraints, level = init[at + 5], init[at + 6], init[at + 7]
    return f"avc1.{profile:02X}{constraints:02X}{level:02X}"


def hevc_codec_string(init: bytes) -> str:
    """`hvc1.P.C.Tl.K` (ISO/IEC 14496-15 annex E) from the hvcC box of an init segment."""
    at = init.find(b"hvcC")
    if at < 0 or len(init) < at + 17:
        return ""
    tag = "hev1" if b"hev1" in init[:at] else "hvc1"
    box = init[at + 4 : at + 17]
    space, tier, profile = box[1] >> 6, (box[1] >> 5) & 1, box[1] & 0x1F
    compatibility = int.from_bytes(box[2:6], "big")
    reversed_flags = int(f"{compatibility:032b}"[::-1], 2)
    constraints = box[6:12].rstrip(b"\0")
    level = box[12]
    parts = [
        tag,
        f"{'' if space == 0 else 'ABC'[space - 1]}{profile}",
        f"{reversed_flags:X}",
        f"{'H' if tier else 'L'}{level}",
        *(f"{byte:X}" for byte in constraints),
    ]
    return ".".join(parts)


def codec_string(init: bytes) -> str:
    """The RFC 6381 codec string of an init segment; empty for codecs browsers do not play."""
    return avc_codec_string(init) or hevc_codec_string(init)


def split_boxes(data: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Top-level ISO BMFF boxes as (type, bytes), and any incomplete tail."""
    boxes: list[tuple[bytes, bytes]] = []
    at = 0
    while len(data) - at >= 8:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1:
            if len(data) - at < 16:
                break
            (size,) = struct.unpack_from(">Q", data, at + 8)
            header = 16
        if size < header or len(data) - at < size:
            break
        boxes.append((kind, data[at : at + size]))
        at += size
    return boxes, data[at:]


class FragmentMuxer:
    """Packets of one video stream in, init segment and per-frame fragments out (stream copy)."""

    def __init__(self, template: Any, parameter_sets: bytes | None = None):
        self._buffer = io.BytesIO()
        self._container = av.open(
            self._buffer,
            mode="w",
            format="mp4",
            options=LIVE_MP4_OPTIONS,
            container_options={"flush_packets": "1"},
        )
        self._stream = self._container.add_stream_from_template(template)
        if template.codec_context.name == "hevc":
            # hvc1 (parameter sets in the init segment) is the HEVC sample entry Safari plays.
            self._stream.codec_tag = "hvc1"
        if parameter_sets is not None:
            # The stream changed its SPS/PPS mid-way: the init segment must carry the new ones.
            self._stream.codec_context.extradata = parameter_sets
        self._origin: int | None = None
        self._last_dts = -1
        self._tail = b""
        self._init_parts: list[bytes] = []
        self._pending_keys: collections.deque[bool] = collections.deque()
        self._moof: bytes | None = None
        self.codec = ""

    def mux(self, packet: Any) -> list[LiveSegment]:
        """Mux a copy of `packet` (the recorder keeps using the original); return finished parts."""
        if packet.dts is None:
            return []
        if self._origin is None:
            self._origin = packet.dts
        dts = packet.dts - self._origin
        if dts <= self._last_dts:
            return []  # a repeated or backwards timestamp would make the muxer fail
        self._last_dts = dts
        copy = av.Packet(bytes(packet))
        copy.dts = dts
        copy.pts = packet.pts - self._origin if packet.pts is not None else dts
        copy.time_base = packet.time_base
        copy.duration = packet.duration
        copy.is_keyframe = bool(packet.is_keyframe)
        copy.stream = self._stream
        self._pending_keys.append(bool(packet.is_keyframe))
        self._container.mux(copy)
        return self._collect()

    def _collect(self) -> list[LiveSegment]:
        data = self._tail + self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        boxes, self._tail = split_boxes(data)
        out: list[LiveSegment] = []
        for kind, box in boxes:
            if kind in (b"ftyp", b"moov"):
                self._init_parts.append(box)
                if kind == b"moov":
                    init = b"".join(self._init_parts)
                    self._init_parts = []
                    self.codec = codec_string(init)
                    out.append(LiveSegment(init, init=True, codec=self.codec))
            elif kind == b"moof":
                self._moof = box
            elif kind == b"mdat" and self._moof is not None:
                key = self._pending_keys.popleft() if self._pending_keys else False
                out.append(LiveSegment(self._moof + box, init=False, keyframe=key))
                self._moof = None
        return out

    def close(self) -> None:
        """Drop the muxer; what it still holds is for nobody."""
        with contextlib.suppress(Exception):
            self._container.close()


class _Viewer:
    """A LiveSubscription: one viewer's bounded queue, skipping to a keyframe when full."""

    def __init__(self, stream: LiveStream):
        self._stream = stream
        self._queue: collections.deque[LiveSegment] = collections.deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._synced = False
        self._resend_init = False
        self.closed = False
        self.dropped = 0

    def push(self, segment: LiveSegment) -> None:
        if segment.init:
            self._put(segment)
            self._synced = False
            self._resend_init = False
            return
        if not self._synced:
            if not segment.keyframe:
                self.dropped += 1
                return
            self._synced = True
            if self._resend_init and self._stream.init is not None:
                self._put(self._stream.init)
                self._resend_init = False
        if len(self._queue) >= VIEWER_MAX_FRAGMENTS or self._bytes > VIEWER_MAX_BYTES:
            # Too far behind: what is queued is stale. Start again at the next keyframe.
            self.dropped += len(self._queue) + 1
            self._queue.clear()
            self._bytes = 0
            self._synced = False
            self._resend_init = True
            return
        self._put(segment)

    def _put(self, segment: LiveSegment) -> None:
        self._queue.append(segment)
        self._bytes += len(segment.data)
        self._wake.set()

    def end(self) -> None:
        self.closed = True
        self._wake.set()

    async def __aiter__(self) -> AsyncIterator[LiveSegment]:
        while True:
            while self._queue:
                segment = self._queue.popleft()
                self._bytes -= len(segment.data)
                yield segment
            if self.closed:
                return
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._stream.unsubscribe(self)


class LiveStream:
    """One camera's live fMP4: muxed in the demux thread while watched, fanned out on the loop."""

    def __init__(self, camera_id: str):
        self.camera_id = camera_id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._viewers: set[_Viewer] = set()
        self._wanted = threading.Event()
        self._template: Any = None
        self._h264 = False
        self._parameter_sets: bytes | None = None
        self._muxer: FragmentMuxer | None = None
        self._broken_template: Any = None
        self.init: LiveSegment | None = None
        self._gop: list[LiveSegment] = []
        self._gop_bytes = 0

    # ------------------------------------------------------------ loop side

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the loop the viewers live on."""
        self._loop = loop

    def subscribe(self) -> _Viewer:
        """A new viewer; it starts at the newest keyframe already seen, if any."""
        viewer = _Viewer(self)
        if self._template is not None and self._template is self._broken_template:
            viewer.end()  # this stream cannot be re-wrapped; the viewer learns at once
            return viewer
        if self.init is not None and self._gop:
            viewer.push(self.init)
            for segment in self._gop:
                viewer.push(segment)
        self._viewers.add(viewer)
        self._wanted.set()
        return viewer

    def unsubscribe(self, viewer: _Viewer) -> None:
        """Forget a viewer; the muxer stops with the last one."""
        self._viewers.discard(viewer)
        if not self._viewers:
            self._wanted.clear()

    @property
    def viewers(self) -> int:
        """How many feeds are open."""
        return len(self._viewers)

    def _publish(self, segments: list[LiveSegment]) -> None:
        for segment in segments:
            if segment.init:
                self.init = segment
                self._gop, self._gop_bytes = [], 0
            elif segment.keyframe:
                self._gop, self._gop_bytes = [segment], len(segment.data)
            elif self._gop:
                self._gop.append(segment)
                self._gop_bytes += len(segment.data)
                if self._gop_bytes > GOP_CACHE_BYTES:
                    self._gop, self._gop_bytes = [], 0
            for viewer in list(self._viewers):
                viewer.push(segment)

    def _restart(self) -> None:
        """The stream changed: cached video no longer fits, and viewers get a new init."""
        self.init = None
        self._gop, self._gop_bytes = [], 0

    def _end_all(self) -> None:
        self._restart()
        for viewer in list(self._viewers):
            viewer.end()
        self._viewers.clear()
        self._wanted.clear()

    # ------------------------------------------------------------ demux-thread side

    def set_stream(self, video: Any) -> None:
        """A (re)opened connection: the next keyframe starts a new init segment."""
        self._close_muxer()
        self._template = video
        self._h264 = video.codec_context.name == "h264"
        self._parameter_sets = None
        self._call_soon(self._restart)

    def feed(self, packet: Any) -> None:
        """One video packet in demux order; costs a flag test while nobody watches."""
        if not self._wanted.is_set():
            if self._muxer is not None:
                self._close_muxer()
            return
        if self._template is None or self._template is self._broken_template:
            return
        if packet.is_keyframe and self._h264 and self._parameters_changed(packet):
            self._close_muxer()  # a new resolution or profile: a new init segment
        if self._muxer is None:
            if not packet.is_keyframe:
                return
            self._muxer = FragmentMuxer(self._template, self._parameter_sets)
        try:
            segments = self._muxer.mux(packet)
        except (av.error.FFmpegError, ValueError) as exc:
            _LOGGER.warning("Camera %s: live view stopped: %s", self.camera_id, exc)
            self._broken_template = self._template
            self._close_muxer()
            self._call_soon(self._end_all)
            return
        if segments:
            self._call_soon(self._publish, segments)

    def _parameters_changed(self, packet: Any) -> bool:
        found = annexb_parameter_sets(bytes(packet))
        if found is None:
            return False
        changed = self._parameter_sets is not None and found != self._parameter_sets
        self._parameter_sets = found
        return changed

    def stop(self) -> None:
        """The connection ended: close the muxer (viewers keep waiting for a reconnect)."""
        self._close_muxer()

    def _close_muxer(self) -> None:
        if self._muxer is not None:
            self._muxer.close()
            self._muxer = None

    def _call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                self._loop.call_soon_threadsafe(callback, *args)
