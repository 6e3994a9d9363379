"""Decoding a connection's video for detection: every frame, keyframes only, or nothing.

With `detect.decode: adaptive` a camera nobody needs every frame of is *idle*: the
decoder skips every frame but the keyframes (`skip_frame = NONKEY`: the packets still go
in, so the decoder keeps its place in the stream, and with frame threads a keyframe comes
out a few packets later rather than a GOP later), and motion detection looks at those. The
packets of the last two GOPs are held meanwhile: the packet objects themselves, which
the muxer does not consume (it takes its own reference), with their original timestamps.

When something asks for every frame (motion on a keyframe, an event, a snapshot, a
plugin: see `hub.DecodeControl`) the decoder *wakes*: it starts again cleanly at the
previous keyframe and decodes the held packets. Frames older than the newest one detection
already had are handed over as a replay (`FrameFeed.replay_threadsafe`, queued ahead of
live frames), so detection sees what happened between the keyframe before and the one
that showed the motion; the rest are live frames. From then on every frame is decoded,
until nobody has asked for `detect.idle_after` seconds; then it is idle again from the
next keyframe. Recording never depends on any of this: it copies every packet.
"""

from __future__ import annotations

import collections
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import av

from hub import DecodeMode, Frame
from plugins.pyav_source.frames import FrameSampler, WallClock

if TYPE_CHECKING:
    from plugins.pyav_source.source import PyAVSource

_LOGGER = logging.getLogger(__name__)

MAX_GOP_PACKETS = 3000
"""A GOP longer than this (200 s at 15 fps) is not held: waking then starts at the next
keyframe instead of replaying (a stream without keyframes would hold memory forever)."""


@dataclass(slots=True)
class HeldPacket:
    """A packet kept for decoding later, with the timestamps it arrived with (the recorder
    rewrites them on the packet object when it muxes it)."""

    packet: Any
    pts: int | None
    dts: int | None
    wall: float


class HeldGops:
    """The packets of the current GOP and (`keep` 2) the one before, from their keyframes."""

    def __init__(self) -> None:
        self.gops: collections.deque[list[HeldPacket]] = collections.deque()
        self.keep = 2

    def add(self, packet: Any, wall: float) -> None:
        """Hold one video packet (in decode order)."""
        if packet.is_keyframe:
            self.gops.append([])
            while len(self.gops) > self.keep:
                self.gops.popleft()
        elif not self.gops:
            return  # nothing decodable before the first keyframe
        gop = self.gops[-1]
        if len(gop) >= MAX_GOP_PACKETS:
            self.gops.clear()
            return
        gop.append(HeldPacket(packet, packet.pts, packet.dts, wall))

    def since(self, gops: int) -> list[HeldPacket]:
        """The packets of the last `gops` GOPs (1: the current one), oldest first."""
        return [item for gop in list(self.gops)[-gops:] for item in gop]

    def clear(self) -> None:
        """Forget everything held."""
        self.gops.clear()


class DetectionDecoder:
    """The decoding side of one connection: picks the mode per packet and decodes."""

    def __init__(self, source: PyAVSource, video: Any, clock: WallClock):
        self.source = source
        self.video = video
        self.codec = video.codec_context
        self.clock = clock
        self.control = source.runtime.decode
        detect = source.config.detect
        self.sampler = FrameSampler(source.camera_id, detect.fps, detect.height)
        self.replay_sampler = FrameSampler(source.camera_id, detect.fps, detect.height)
        self.mode: DecodeMode = "off"
        self.held = HeldGops()
        self.newest = -math.inf
        """Wall time of the newest frame handed to detection."""
        self.size = (self.codec.width, self.codec.height)
        self.tick: float | None = None
        self.control.supported = True

    # ------------------------------------------------------------ per packet

    def handle(self, packet: Any, wall: float) -> None:
        """One video packet, before it is recorded (in demux order)."""
        source = self.source
        detecting = source.runtime.frames.wanted
        snapshot = bool(source._snapshot_waiters)
        if snapshot or (detecting and self.control.full_wanted()):
            wanted: DecodeMode = "full"
        else:
            wanted = "idle" if detecting else "off"
        if wanted != self.mode:
            self._switch(wanted, packet)
        if self.mode != "full":
            # Held while idle (to replay on waking) and while off (a snapshot then decodes
            # the current GOP at once instead of waiting for the next keyframe).
            self.held.keep = 2 if self.mode == "idle" else 1
            self.held.add(packet, wall)
        if self.mode != "off":
            self._decode(packet, wall)

    def _switch(self, wanted: DecodeMode, packet: Any) -> None:
        current = self.mode
        if wanted == "off":
            self._set_mode("off")
            return
        if wanted == "idle":
            if not packet.is_keyframe:
                return  # finish the GOP (or wait for one): idle starts at a keyframe
            if current == "off":
                self.codec.flush_buffers()  # what it held belongs to an older part
            # From full, frames still inside a threaded decoder come out normally.
            self.codec.skip_frame = "NONKEY"
            self._set_mode("idle")
            return
        # Full: catch up from the held keyframes (waking up), or start at a keyframe.
        gops = 2 if current == "idle" and self.source.runtime.frames.wanted else 1
        held = self.held.since(gops)
        self.held.clear()
        if not held and not packet.is_keyframe:
            if current == "idle":
                self._set_mode("idle")  # nothing held to start from: keep the keyframes
            return
        # Start cleanly at a keyframe: what the decoder holds lacks the skipped frames.
        self.codec.flush_buffers()
        self.codec.skip_frame = "DEFAULT"
        self._set_mode("full")
        if held:
            self._catch_up(held)

    def _set_mode(self, mode: DecodeMode) -> None:
        if mode != self.mode:
            self.mode = mode
            self.control.set_mode(mode)

    # ------------------------------------------------------------ decoding

    def _catch_up(self, held: list[HeldPacket]) -> None:
        """Decode held packets from a keyframe: older frames replayed, newer ones live."""
        replay: list[Frame] = []
        self.replay_sampler.restart()
        replay_newest = self.newest
        latest: tuple[Any, float] | None = None
        for item in held:
            packet = item.packet
            packet.pts, packet.dts = item.pts, item.dts
            for frame, wall in self._frames(packet, item.wall):
                latest = (frame, wall)
                if wall < replay_newest:  # (the newest itself was delivered already)
                    if self.source.runtime.frames.wanted and self.replay_sampler.due(wall):
                        replay.append(self.replay_sampler.make(frame, wall, replayed=True))
                    continue
                if replay:
                    self._send_replay(replay)
                    replay = []
                self._deliver(frame, wall)
        if replay:
            self._send_replay(replay)
        if latest is not None:
            self.source.offer_snapshot(*latest)

    def _send_replay(self, frames: list[Frame]) -> None:
        self.control.replayed += len(frames)
        self.source.runtime.frames.replay_threadsafe(frames)

    def _decode(self, packet: Any, wall: float) -> None:
        for frame, frame_wall in self._frames(packet, wall):
            self._deliver(frame, frame_wall)
            self.source.offer_snapshot(frame, frame_wall)

    def _frames(self, packet: Any, wall: float) -> list[tuple[Any, float]]:
        """Decoded frames of one packet with their wall times; bad packets are skipped."""
        try:
            frames = self.codec.decode(packet)
        except av.error.FFmpegError as exc:
            self.source._bad_packet(f"undecodable packet: {exc}")
            return []
        if not frames:
            return []
        out = []
        for frame in frames:
            # A threaded decoder hands frames out a few packets late: date each by its own pts.
            pts = frame.pts
            if pts is not None:
                if self.tick is None:  # frames keep the packets' time base
                    self.tick = float(frame.time_base)
                out.append((frame, self.clock.at(pts * self.tick, wall)))
            else:
                out.append((frame, wall))
        self.source.stats.frames_decoded += len(out)
        self.control.frames.add(len(out))
        self._check_size(frames[-1])
        return out

    def _deliver(self, frame: Any, wall: float) -> None:
        """A frame in time order: to detection, at `detect.fps`."""
        if wall <= self.newest:
            return
        frames = self.source.runtime.frames
        if frames.wanted and self.sampler.due(wall):
            self.newest = wall
            self.source.stats.detect_frames += 1
            self.source.keep_latest(frame, wall)
            frames.put_threadsafe(self.sampler.make(frame, wall))

    def _check_size(self, frame: Any) -> None:
        size = (frame.width, frame.height)
        if size == self.size:
            return
        # The recorder cuts its segment on the new SPS; here it only matters for the log.
        _LOGGER.warning(
            "Camera %s: resolution changed %sx%s -> %sx%s",
            self.source.camera_id,
            *self.size,
            *size,
        )
        self.size = size
        self.source.stats.resolution = size

    def close(self) -> None:
        """The connection ended: nothing is decoded until the next one."""
        self.held.clear()
        self._set_mode("off")
