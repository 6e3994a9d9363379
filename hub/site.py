"""The site: other hubs sharing this hub's MQTT broker, as a plugin last heard them.

A plugin that links hubs (the `mqtt` notifier with `site` set) fills the
registry from what peers announce: who they are (name, panel URL, version),
whether they are online, their cameras with states and latest still, and their
recent events with thumbnails. The panel reads it through `hub.site`; footage
never crosses hubs, so a peer's panel URL is where its video is. Every change
publishes `PeerChanged` on the bus; a peer's event as it happens is a
`PeerEvent`, which automations may trigger on (`hub:` in the trigger).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from hub.bus import EventBus
from hub.events import PeerChanged, PeerEvent

MAX_PEER_EVENTS = 50
"""Recent events kept per peer (what its announcement lists)."""
MAX_PEERS = 64
"""A misconfigured broker cannot make the registry grow without end."""


@dataclass
class PeerCamera:
    """One camera of a peer, as it announced it."""

    id: str
    name: str
    state: str = "unknown"
    armed: bool = True
    still: bytes | None = None
    still_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the picture."""
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "armed": self.armed,
            "still_at": self.still_at,
        }


@dataclass
class Peer:
    """Another hub of the site."""

    name: str
    online: bool = False
    panel_url: str | None = None
    version: str | None = None
    cameras: dict[str, PeerCamera] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_PEER_EVENTS))
    """Recent events, newest first; each may carry `thumbnail` (JPEG bytes)."""
    last_seen: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without pictures (they are served by their own URLs)."""
        return {
            "name": self.name,
            "online": self.online,
            "state": "online" if self.online else "offline",
            "panel_url": self.panel_url,
            "version": self.version,
            "last_seen": self.last_seen,
            "cameras": [camera.as_dict() for camera in self.cameras.values()],
        }

    def event_dicts(self) -> list[dict[str, Any]]:
        """Recent events JSON-ready: `thumbnail` becomes whether there is one."""
        return [
            {**{k: v for k, v in event.items() if k != "thumbnail"}, "hub": self.name}
            | {"has_thumbnail": bool(event.get("thumbnail"))}
            for event in self.events
        ]


class SiteRegistry:
    """The peers of this hub; empty (and `enabled` False) until a plugin links a site."""

    def __init__(self, bus: EventBus):
        self._bus = bus
        self.enabled = False
        self.name: str | None = None
        """This hub's own name in the site."""
        self.site: str | None = None
        self.peers: dict[str, Peer] = {}

    def join(self, site: str, name: str) -> None:
        """A plugin linked this hub to `site` under `name`."""
        self.enabled, self.site, self.name = True, site, name

    def peer(self, name: str) -> Peer | None:
        """The peer called `name`, if it ever announced itself."""
        return self.peers.get(name)

    def _peer(self, name: str) -> Peer | None:
        found = self.peers.get(name)
        if found is None and len(self.peers) < MAX_PEERS:
            found = self.peers[name] = Peer(name)
        return found

    def announce(
        self,
        name: str,
        panel_url: str | None,
        version: str | None,
        cameras: list[dict[str, Any]],
    ) -> None:
        """A peer's announcement: who it is and its cameras (stills are kept)."""
        peer = self._peer(name)
        if peer is None:
            return
        peer.panel_url, peer.version, peer.last_seen = panel_url, version, time.time()
        old = peer.cameras
        peer.cameras = {}
        for item in cameras:
            camera = old.get(item["id"]) or PeerCamera(item["id"], item["name"])
            camera.name = item["name"]
            camera.state = item.get("state", "unknown")
            camera.armed = bool(item.get("armed", True))
            peer.cameras[camera.id] = camera
        self._changed(name)

    def set_online(self, name: str, online: bool) -> None:
        """A peer said it is online, or its last will said it went away."""
        peer = self._peer(name)
        if peer is None or peer.online == online:
            return
        peer.online = online
        if online:
            peer.last_seen = time.time()
        self._changed(name)

    def set_events(self, name: str, events: list[dict[str, Any]]) -> None:
        """A peer's list of recent events (newest first)."""
        peer = self._peer(name)
        if peer is None:
            return
        peer.events.clear()
        peer.events.extend(events[:MAX_PEER_EVENTS])
        self._changed(name)

    def set_still(self, name: str, camera_id: str, jpeg: bytes) -> None:
        """A peer camera's latest picture."""
        peer = self._peer(name)
        camera = peer.cameras.get(camera_id) if peer is not None else None
        if camera is None:
            if peer is None:
                return
            camera = peer.cameras[camera_id] = PeerCamera(camera_id, camera_id)
        camera.still, camera.still_at = jpeg, time.time()
        self._changed(name)

    def event(self, name: str, data: dict[str, Any]) -> None:
        """A peer's event as it happens: on the bus for automations and the panel."""
        if name not in self.peers and len(self.peers) >= MAX_PEERS:
            return
        end = data.get("end")
        self._bus.publish(
            PeerEvent(
                hub=name,
                camera=str(data.get("camera", "")),
                kind=str(data.get("kind", "object")),
                phase=str(data.get("type", "start")),
                event_id=str(data.get("event_id", "")),
                label=str(data.get("label", "")),
                top_score=float(data.get("top_score") or 0.0),
                zones=tuple(str(z) for z in data.get("zones") or ()),
                start=float(data.get("start") or time.time()),
                end=float(end) if end is not None else None,
            )
        )

    def forget(self, name: str) -> None:
        """A peer whose announcement was cleared (it left the site for good)."""
        if self.peers.pop(name, None) is not None:
            self._changed(name)

    def as_dict(self) -> dict[str, Any]:
        """The site for the panel: this hub's name and every peer."""
        return {
            "enabled": self.enabled,
            "site": self.site,
            "name": self.name,
            "peers": [peer.as_dict() for _, peer in sorted(self.peers.items())],
        }

    def _changed(self, name: str) -> None:
        self._bus.publish(PeerChanged(hub=name))
