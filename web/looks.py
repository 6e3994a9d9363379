"""Which footage requests start a look: one audit row per person per look, not per request."""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

from hub.core import Hub
from web import access
from web.keys import HUB_KEY

VIDEO_LOOK_SECONDS = 600.0
"""A person's requests for one video within this long of each other are one look (a player
seeks with Range requests; a download manager fetches in pieces)."""
SNAPSHOT_LOOK_SECONDS = 60.0
"""The panel's fallback for browsers without MSE asks for a picture every second."""
MAX_TRACKED = 10_000


class LookTracker:
    """Remembers when each (person, action, target) was last requested, newest last."""

    def __init__(
        self,
        window: float,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.window = window
        self.max_tracked = max_tracked
        self.clock = clock
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def starts(self, key: tuple[str, str, str], fresh: bool = False) -> bool:
        """Whether this request starts a look: `fresh` ones always do, others only when the
        same person has not asked for the same thing within the window."""
        now = self.clock()
        last = self._seen.pop(key, None)
        self._seen[key] = now
        while len(self._seen) > self.max_tracked:
            # Forgetting the oldest costs at most an extra audit row, never a missing one.
            self._seen.popitem(last=False)
        return fresh or last is None or now - last > self.window


# Per hub (tests run several apps for one hub); forgotten with it.
_trackers: weakref.WeakKeyDictionary[Hub, dict[str, LookTracker]] = weakref.WeakKeyDictionary()


def _tracker(request: web.Request, kind: str, window: float) -> LookTracker:
    trackers = _trackers.setdefault(request.app[HUB_KEY], {})
    if kind not in trackers:
        trackers[kind] = LookTracker(window)
    return trackers[kind]


def _person(request: web.Request) -> str:
    who = access.principal(request)
    return who.name if who else ""


def range_starts_playback(request: web.Request) -> bool:
    """A request without Range, or for the file from its first byte: a player opening it."""
    ranges = request.headers.get("Range", "").replace(" ", "")
    return ranges in ("", "bytes=0-") or not ranges.startswith("bytes=")


def video_look_starts(request: web.Request, action: str, target: str) -> bool:
    """Whether to audit this request for a video (a recording segment or an event clip).

    A request that opens the file is always a look; a Range request is one too unless the
    same person fetched the same video for the same purpose within `VIDEO_LOOK_SECONDS`
    (so a download in pieces, or one starting past byte 0, is audited once).
    """
    tracker = _tracker(request, "video", VIDEO_LOOK_SECONDS)
    return tracker.starts((_person(request), action, target), range_starts_playback(request))


def snapshot_look_starts(request: web.Request, camera: str) -> bool:
    """Whether to audit a camera snapshot: once per person watching, not per refresh."""
    tracker = _tracker(request, "snapshot", SNAPSHOT_LOOK_SECONDS)
    return tracker.starts((_person(request), "snapshot.view", camera))


def thumbnails_look_starts(request: web.Request, camera: str) -> bool:
    """Whether to audit event thumbnails: once per person scanning a camera's events, not per
    picture (a page of events shows dozens)."""
    tracker = _tracker(request, "thumbnails", SNAPSHOT_LOOK_SECONDS)
    return tracker.starts((_person(request), "event.thumbnails.view", camera))
