"""`/api/site`: the other hubs of the site (their cameras, stills, recent events) for the panel.

Admins only: a viewer's grants name this hub's cameras, never a peer's. Only
what peers announce is served (small stills and thumbnails); their footage stays
with them, and the panel links to each peer's own panel for it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from hub.site import Peer
from web import access
from web.keys import HUB_KEY

routes = web.RouteTableDef()
MAX_EVENTS = 200


def _peer_json(peer: Peer) -> dict[str, Any]:
    data = peer.as_dict()
    base = f"/api/site/{quote(peer.name, safe='')}"
    for camera, found in zip(data["cameras"], peer.cameras.values(), strict=True):
        camera["still_url"] = (
            f"{base}/cameras/{quote(found.id, safe='')}/still.jpg" if found.still else None
        )
        camera["panel_url"] = _link(peer, f"#/live/{quote(found.id, safe='')}")
    return data


def _link(peer: Peer, fragment: str) -> str | None:
    """Where in the peer's own panel something is (None when it gave no panel URL)."""
    if not peer.panel_url or not peer.panel_url.startswith(("http://", "https://")):
        return None
    return peer.panel_url.rstrip("/") + "/" + fragment


@routes.get("/api/site")
@access.admin
async def site(request: web.Request) -> web.Response:
    """This hub's name in the site and every peer heard of, online or not."""
    registry = request.app[HUB_KEY].site
    data = registry.as_dict()
    data["peers"] = [_peer_json(peer) for _, peer in sorted(registry.peers.items())]
    return web.json_response(data)


@routes.get("/api/site/events")
@access.admin
async def site_events(request: web.Request) -> web.Response:
    """Peers' recent events, newest first; `?hub=` keeps one peer's."""
    registry = request.app[HUB_KEY].site
    wanted = request.query.get("hub")
    events = []
    for peer in registry.peers.values():
        if wanted and peer.name != wanted:
            continue
        base = f"/api/site/{quote(peer.name, safe='')}/events"
        for event in peer.event_dicts():
            event_id = quote(str(event["event_id"]), safe="")
            event["thumbnail_url"] = (
                f"{base}/{event_id}/thumbnail.jpg" if event.pop("has_thumbnail") else None
            )
            event["panel_url"] = _link(peer, f"#/events/{event_id}")
            event["hub_online"] = peer.online
            events.append(event)
    events.sort(key=lambda e: -float(e.get("start") or 0))
    return web.json_response({"events": events[:MAX_EVENTS]})


def _peer_or_404(request: web.Request) -> Peer:
    peer = request.app[HUB_KEY].site.peer(request.match_info["hub"])
    if peer is None:
        raise web.HTTPNotFound(text="no such hub in the site")
    return peer


def _jpeg(data: bytes | None) -> web.Response:
    if not data:
        raise web.HTTPNotFound(text="no picture")
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


@routes.get("/api/site/{hub}/cameras/{camera}/still.jpg")
@access.admin
async def peer_still(request: web.Request) -> web.Response:
    """A peer camera's latest still, as the peer last published it."""
    camera = _peer_or_404(request).cameras.get(request.match_info["camera"])
    return _jpeg(camera.still if camera is not None else None)


@routes.get("/api/site/{hub}/events/{event_id}/thumbnail.jpg")
@access.admin
async def peer_thumbnail(request: web.Request) -> web.Response:
    """The thumbnail a peer published with one of its recent events."""
    wanted = request.match_info["event_id"]
    for event in _peer_or_404(request).events:
        if event.get("event_id") == wanted:
            thumbnail = event.get("thumbnail")
            return _jpeg(thumbnail if isinstance(thumbnail, bytes) else None)
    raise web.HTTPNotFound(text="no such event")
