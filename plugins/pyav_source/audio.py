"""Audio that MP4 cannot hold by stream copy (G.711 from most cheap cameras) re-encoded to AAC.

G.711 is 8 kHz mono: decoding and AAC-encoding it costs a fraction of a percent
of a core, and keeps the sound in recordings that browsers can play.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any

_LOGGER = logging.getLogger(__name__)


class AacTranscoder:
    """Decodes one input audio stream and writes it as AAC into one segment's container."""

    def __init__(self, container: Any, source: Any):
        codec = source.codec_context
        self.rate = int(codec.sample_rate or 8000)
        self.container = container
        self.output = container.add_stream("aac", rate=self.rate)
        self.output.codec_context.layout = codec.layout.name if codec.layout else "mono"
        self.time_base = Fraction(1, self.rate)
        self.next_pts: int | None = None

    def write(self, packet: Any, origin: float) -> bool:
        """Decode, re-encode and mux one packet; False if it precedes the segment's start."""
        start = float(packet.dts * packet.time_base) - origin
        if self.next_pts is None:
            if start < 0:
                return False  # sound from before the segment's first keyframe
            self.next_pts = round(start * self.rate)
        for frame in packet.decode():
            # Number samples continuously: the encoder's own frame size (1024) differs.
            frame.pts, frame.time_base = self.next_pts, self.time_base
            self.next_pts += frame.samples
            for encoded in self.output.encode(frame):
                self.container.mux(encoded)
        return True

    def flush(self) -> None:
        """Write what the encoder still holds (before the container closes)."""
        for encoded in self.output.encode(None):
            self.container.mux(encoded)
