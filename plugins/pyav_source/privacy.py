"""Privacy masks burnt into a camera's stream: decode, fill the polygons, re-encode H.264.

A camera with `privacy_masks` is read through `masked_stream`, which wraps its
input container in another one: every video packet is decoded, the mask
polygons are filled with black, and the frame is re-encoded with x264 (keyframes
where the camera put them, same size and timestamps). The result is muxed into
NUT (which holds any audio codec a camera sends, copied untouched) in memory and
demuxed again, so the source, recorder, clips, live view, snapshots and
detection all see an ordinary stream in which the masked pixels no longer exist.

The pipe is pulled, not pushed: the outer demuxer asks for bytes, and only then
is the next camera packet read and transformed, in the same thread. Nothing is
queued beyond one packet's worth of bytes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import av
import numpy as np

from hub import CameraError, polygon_mask
from plugins.pyav_source.frames import reformat

_LOGGER = logging.getLogger(__name__)

Polygon = Sequence[tuple[float, float]]

# Black in limited-range YUV: masked areas compress to nothing and read as "nothing here".
MASK_Y, MASK_UV = 16, 128
# ultrafast + zerolatency: no lookahead or B-frames, a packet out per frame in. Scene cuts
# are off so keyframes come only where the camera put them (or at the keyint cap).
X264_OPTIONS = {
    "preset": "ultrafast",
    "tune": "zerolatency",
    "crf": "23",
    "x264-params": "scenecut=0",
}
# A camera that never sends a keyframe still gets one this often (frames).
MAX_KEYFRAME_INTERVAL = 250
DEFAULT_FPS = Fraction(25)
PROBE_OPTIONS = {"fpsprobesize": "0"}
# Every packet out at once: no 32 KiB write buffer, and no waiting to interleave audio with
# video (a camera whose sound stops would hold the picture back for FFmpeg's default 10 s).
MUX_OPTIONS = {"flush_packets": "1", "max_interleave_delta": "1"}


class PrivacyMaskError(CameraError):
    """The masked stream cannot be produced; the camera is reconnected."""


class FrameMasker:
    """Fills the polygons in yuv420p frames of one size (indexes worked out once)."""

    def __init__(self, polygons: Sequence[Polygon], width: int, height: int):
        self.width, self.height = width, height
        luma = polygon_mask(polygons, width, height)
        # A chroma sample is masked when any of its four luma pixels is: no colour bleeds out.
        padded = np.pad(luma, ((0, height % 2), (0, width % 2)))
        chroma = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).any(axis=(1, 3))
        self.luma_index = np.flatnonzero(luma)
        self.chroma_index = np.flatnonzero(chroma)
        self.chroma_shape = chroma.shape

    def apply(self, frame: Any) -> Any:
        """A masked yuv420p copy of a decoded frame (the decoder's own stays a clean reference)."""
        picture = reformat(frame, format="yuv420p").to_ndarray()  # shared: see reformat
        h = self.height
        ch, cw = self.chroma_shape
        luma = picture[:h].reshape(-1)
        chroma = picture[h:].reshape(2, ch * cw)
        luma[self.luma_index] = MASK_Y
        chroma[:, self.chroma_index] = MASK_UV
        masked = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        masked.pts = frame.pts
        if frame.time_base is not None:
            masked.time_base = frame.time_base
        return masked


class _ByteQueue:
    """The muxer writes here, the demuxer reads from here."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


class MaskingPipe:
    """Pulls packets from the camera, masks and re-encodes the video, and muxes it as NUT."""

    def __init__(self, camera_id: str, raw: Any, polygons: Sequence[Polygon]):
        self.camera_id = camera_id
        self.raw = raw
        video = next((s for s in raw.streams if s.type == "video"), None)
        if video is None:
            raise PrivacyMaskError("the stream has no video")
        self.video: Any = video
        self.audio = next((s for s in raw.streams if s.type == "audio"), None)
        self.polygons = polygons
        self.error: BaseException | None = None
        self.frames_masked = 0
        self.packets_dropped = 0
        self._queue = _ByteQueue()
        self._packets = raw.demux(*[s for s in (self.video, self.audio) if s is not None])
        self._muxer = av.open(self._queue, "w", format="nut", container_options=MUX_OPTIONS)
        self._encoder = self._add_encoder(self.video)
        self._outputs = {self.video.index: self._encoder}
        if self.audio is not None:
            try:
                self._outputs[self.audio.index] = self._muxer.add_stream_from_template(self.audio)
            except ValueError as exc:  # NUT holds every codec FFmpeg knows; said just in case
                _LOGGER.warning("Camera %s: audio not kept with privacy masks: %s", camera_id, exc)
                self.audio = None
        self._masker: FrameMasker | None = None
        self._last_dts: dict[int, int] = {}
        self._last_pts = -1
        self._pts_shift = 0
        self._eof = False

    def _add_encoder(self, video: Any) -> Any:
        codec = video.codec_context
        if not codec.width or not codec.height:
            raise PrivacyMaskError("the camera did not say its picture size")
        rate = video.average_rate or video.guessed_rate or DEFAULT_FPS
        options = {**X264_OPTIONS, "g": str(MAX_KEYFRAME_INTERVAL)}
        encoder = self._muxer.add_stream("libx264", rate=rate, options=options)
        encoder.width, encoder.height = codec.width, codec.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = video.time_base
        encoder.codec_context.time_base = video.time_base
        self._frame_step = max(1, round(1 / (float(video.time_base) * float(rate))))
        return encoder

    # ------------------------------------------------------------ the reader side

    def read(self, size: int = -1) -> bytes:
        """Bytes of the masked stream; b'' at the end (a camera error is kept in `error`)."""
        while not self._queue.data and not self._eof:
            try:
                if not self._pump_one():
                    self._finish()
            except Exception as exc:  # kept, raised by MaskedContainer.demux, never lost
                self.error = exc
                self._eof = True
        data = self._queue.data
        count = len(data) if size < 0 else min(size, len(data))
        chunk = bytes(data[:count])
        del data[:count]
        return chunk

    def _pump_one(self) -> bool:
        packet = next(self._packets, None)
        if packet is None:
            return False
        if packet.size == 0:
            return True
        if packet.stream is self.video:
            # Decoded even without a dts (the first packets of a stream with B-frames): the
            # picture gets its own clock in `_encode`.
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                self._dropped(f"undecodable packet: {exc}")
                return True
            for frame in frames:
                self._encode(frame)
        else:
            self._copy(packet)
        return True

    def _encode(self, frame: Any) -> None:
        if self._masker is None:
            self._masker = FrameMasker(self.polygons, frame.width, frame.height)
        elif (frame.width, frame.height) != (self._masker.width, self._masker.height):
            # A new size needs a new encoder and a new stream: reconnect from scratch.
            raise PrivacyMaskError(
                f"resolution changed to {frame.width}x{frame.height}; reconnecting"
            )
        masked = self._masker.apply(frame)
        if frame.key_frame:
            masked.pict_type = av.video.frame.PictureType.I
        pts = (frame.pts if frame.pts is not None else self._last_pts + 1) + self._pts_shift
        if pts <= self._last_pts:
            # The camera's clock went back: keep the masked stream's clock going forward.
            self._pts_shift += self._last_pts + self._frame_step - pts
            pts = self._last_pts + self._frame_step
        self._last_pts = pts
        masked.pts = pts
        self.frames_masked += 1
        for packet in self._encoder.encode(masked):
            self._muxer.mux(packet)

    def _copy(self, packet: Any) -> None:
        output = self._outputs.get(packet.stream.index)
        if output is None or packet.dts is None:
            return
        last = self._last_dts.get(output.index)
        if last is not None and packet.dts <= last:
            self._dropped("audio packet out of order")
            return
        self._last_dts[output.index] = packet.dts
        packet.stream = output
        self._muxer.mux(packet)

    def _dropped(self, reason: str) -> None:
        self.packets_dropped += 1
        if self.packets_dropped <= 10 or self.packets_dropped % 1000 == 0:
            _LOGGER.warning(
                "Camera %s: privacy masks: %s (skipped; %d so far)",
                self.camera_id,
                reason,
                self.packets_dropped,
            )

    def _finish(self) -> None:
        self._eof = True
        with contextlib.suppress(av.error.FFmpegError):
            for frame in self.video.decode(None):  # the frames the decoder still holds
                self._encode(frame)
            for packet in self._encoder.encode(None):
                self._muxer.mux(packet)
        self.close()  # writes what the muxer still holds, so the last frames are read too

    def close(self) -> None:
        """Close the muxer (the camera's own container is closed by its opener)."""
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            self._muxer.close()


class MaskedContainer:
    """The masked stream as an input container: `streams` and `demux` like PyAV's own."""

    def __init__(self, pipe: MaskingPipe):
        self.pipe = pipe
        try:
            # The frame rate is in the NUT header already: probing for it would hold ~28
            # frames back at start. (Cutting the probe short by time instead loses packets.)
            self.container = av.open(pipe, mode="r", format="nut", options=PROBE_OPTIONS)
        except av.error.FFmpegError:
            if pipe.error is not None:
                raise pipe.error from None
            raise
        self.streams = self.container.streams
        self._restore_audio_layout()

    def _restore_audio_layout(self) -> None:
        """NUT keeps a channel count, not a layout ('1 channels'), which the AAC encoder of the
        recorder refuses: give the stream the camera's layout back (or mono/stereo)."""
        audio: Any = next((s for s in self.streams if s.type == "audio"), None)
        if audio is None or self.pipe.audio is None:
            return
        layout = self.pipe.audio.codec_context.layout
        name = layout.name if layout is not None else ""
        if not name or name.endswith("channels"):
            name = {1: "mono", 2: "stereo"}.get(audio.codec_context.channels, "")
        if name:
            audio.codec_context.layout = name

    def demux(self, *streams: Any) -> Iterator[Any]:
        """The masked packets; the camera's own error (stall, refused) is raised at the end."""
        yield from self.container.demux(*streams)
        if self.pipe.error is not None:
            raise self.pipe.error

    def close(self) -> None:
        """Close both ends of the pipe."""
        try:
            self.container.close()
        finally:
            self.pipe.close()


@contextlib.contextmanager
def masked_stream(raw: Any, camera_id: str, polygons: Sequence[Polygon]) -> Iterator[Any]:
    """`raw` itself when there is nothing to mask, else a container of the masked stream."""
    if not polygons:
        yield raw
        return
    pipe = MaskingPipe(camera_id, raw, polygons)
    try:
        masked = MaskedContainer(pipe)
    except BaseException:
        pipe.close()
        raise
    try:
        yield masked
    finally:
        masked.close()
