"""A light IoU tracker: one id per object across frames, so one walk past is one event.

Each frame's detections are matched greedily to live tracks (best pairs first,
same label only) by IoU, or, for an object that moved further than its own
width between two detector calls (a walker seen twice a second), by the
distance between centres relative to the box size; unmatched detections open tentative tracks that
become real after `min_hits` frames (a single false detection makes no event);
a track not seen for `end_after` seconds ends. A track whose box has barely
moved for `stationary_seconds` is marked stationary (a parked car): it stays
tracked, but it neither re-triggers nor keeps recordings held.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

Box = tuple[float, float, float, float]

_ids = itertools.count(1)


def affinity(a: Box, b: Box, min_iou: float, reach: float) -> float:
    """How well box `b` continues box `a`: IoU when they overlap enough, else a smaller
    score that falls with the distance of their centres (0 beyond `reach` box sizes)."""
    overlap = iou(a, b)
    if overlap >= min_iou:
        return overlap
    size = max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1], 1.0)
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    distance = (dx * dx + dy * dy) ** 0.5 / size
    return 0.0 if distance >= reach else min_iou * (1 - distance / reach) * 0.99


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    """One object followed across frames."""

    id: int
    label: str
    box: Box
    score: float
    first_seen: float
    last_seen: float
    top_score: float
    hits: int = 1
    confirmed: bool = False
    stationary: bool = False
    anchor: Box = (0.0, 0.0, 0.0, 0.0)
    """Where the object was when it last moved; compared to decide it is stationary."""
    anchor_time: float = 0.0
    zones: set[str] = field(default_factory=set)


@dataclass
class TrackerUpdate:
    """What one frame changed."""

    confirmed: list[Track] = field(default_factory=list)
    """Tracks that just became real (start an event)."""
    improved: list[Track] = field(default_factory=list)
    """Confirmed tracks whose top score rose this frame (a better snapshot)."""
    ended: list[Track] = field(default_factory=list)
    seen: list[Track] = field(default_factory=list)
    """Every confirmed track matched this frame."""


class Tracker:
    """IoU tracker for one camera."""

    def __init__(
        self,
        min_iou: float = 0.3,
        reach: float = 1.5,
        min_hits: int = 2,
        end_after: float = 10.0,
        stationary_seconds: float = 30.0,
        still_iou: float = 0.9,
    ):
        self.min_iou = min_iou
        self.reach = reach
        self.min_hits = min_hits
        self.end_after = end_after
        self.stationary_seconds = stationary_seconds
        self.still_iou = still_iou
        self.tracks: list[Track] = []

    def update(self, detections: list[tuple[str, float, Box]], now: float) -> TrackerUpdate:
        """Match a frame's (label, score, box) detections; returns what changed."""
        result = TrackerUpdate()
        pairs = sorted(
            (
                (affinity(track.box, box, self.min_iou, self.reach), t, d)
                for t, track in enumerate(self.tracks)
                for d, (label, _, box) in enumerate(detections)
                if track.label == label
            ),
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_detections: set[int] = set()
        for score, t, d in pairs:
            if score <= 0:
                break
            if t in used_tracks or d in used_detections:
                continue
            used_tracks.add(t)
            used_detections.add(d)
            self._matched(self.tracks[t], detections[d], now, result)
        for d, (label, score, box) in enumerate(detections):
            if d not in used_detections:
                track = Track(next(_ids), label, box, score, now, now, score, anchor=box)
                track.anchor_time = now
                if self.min_hits <= 1:
                    track.confirmed = True
                    result.confirmed.append(track)
                    result.seen.append(track)
                self.tracks.append(track)
        for track in list(self.tracks):
            if now - track.last_seen >= self.end_after:
                self.tracks.remove(track)
                if track.confirmed:
                    result.ended.append(track)
        return result

    def _matched(
        self, track: Track, detection: tuple[str, float, Box], now: float, result: TrackerUpdate
    ) -> None:
        _, score, box = detection
        track.box, track.score = box, score
        # Frames replayed on waking from keyframes-only decoding may be older than the last.
        track.first_seen = min(track.first_seen, now)
        track.last_seen = max(track.last_seen, now)
        track.hits += 1
        if iou(track.anchor, box) < self.still_iou:
            track.anchor, track.anchor_time, track.stationary = box, now, False
        elif now - track.anchor_time >= self.stationary_seconds:
            track.stationary = True
        if not track.confirmed and track.hits >= self.min_hits:
            track.confirmed = True
            track.top_score = max(track.top_score, score)
            result.confirmed.append(track)
        elif track.confirmed and score > track.top_score:
            track.top_score = score
            result.improved.append(track)
        else:
            track.top_score = max(track.top_score, score)
        if track.confirmed:
            result.seen.append(track)

    def end_all(self) -> list[Track]:
        """End every confirmed track (the camera stops)."""
        ended = [t for t in self.tracks if t.confirmed]
        self.tracks.clear()
        return ended
