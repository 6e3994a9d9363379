"""Footage routes: recordings, camera snapshots, events, and event clips with Range support."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from hub.detection.event_log import EventQuery
from hub.detection.objects import stored_event
from hub.detection.snapshots import event_files, thumbnail_path
from web import access
from web.body import read_json_object
from web.footage_stream import footage_response, require_unlocked
from web.keys import HUB_KEY
from web.looks import snapshot_look_starts, thumbnails_look_starts, video_look_starts
from web.query import id_param, int_param, time_param

routes = web.RouteTableDef()
MAX_PAGE = 500


def _camera_param(request: web.Request, name: str = "camera") -> str | None:
    camera = request.query.get(name) or request.match_info.get(name)
    if camera is not None and camera not in request.app[HUB_KEY].cameras:
        raise web.HTTPNotFound(text=f"no camera '{camera}'")
    return camera


def _visible(request: web.Request, camera: str | None) -> list[str] | None:
    """Cameras a listing covers: the one asked for (if allowed), else all (None) for admins
    and the granted ones for viewers."""
    if camera is not None:
        access.require_camera(request, camera)
        return [camera]
    who = access.principal(request)
    if who is not None and who.role == "admin":
        return None
    return sorted(c for c in request.app[HUB_KEY].cameras if access.can_view(request, c))


async def _video_response(
    request: web.Request, relpath: str, filename: str, disposition: str = "inline"
) -> web.StreamResponse:
    """Serve a footage file with Range support (206), decrypted if encrypted at rest."""
    headers = {
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Cache-Control": "private, max-age=3600",
    }
    return await footage_response(request, relpath, "video/mp4", headers)


@routes.get("/api/recordings")
@access.viewer
async def recordings(request: web.Request) -> web.Response:
    """Recorded ranges (`?segments=1` for the segments themselves), filtered by camera and time."""
    hub = request.app[HUB_KEY]
    cameras = _visible(request, _camera_param(request))
    start, end = time_param(request, "start"), time_param(request, "end")
    if request.query.get("segments") in ("1", "true"):
        limit = int_param(request, "limit", 100, 0, MAX_PAGE)
        segments = []
        for camera in cameras if cameras is not None else [None]:
            segments += await hub.recordings.async_segments(camera, start, end, limit)
        segments = sorted(segments, key=lambda s: s.start)[:limit]
        return web.json_response({"segments": [s.as_dict() for s in segments]})
    ranges = []
    for camera in cameras if cameras is not None else [None]:
        ranges += await hub.recordings.async_ranges(camera, start, end)
    return web.json_response({"ranges": ranges})


@routes.get("/api/recordings/{segment_id:\\d+}/video.mp4")
@access.viewer
async def recording_video(request: web.Request) -> web.StreamResponse:
    """One segment's MP4."""
    hub = request.app[HUB_KEY]
    segment_id = id_param(request, "segment_id", "no such recording")
    segment = await hub.recordings.async_get(segment_id)
    if segment is None:
        raise web.HTTPNotFound(text="no such recording")
    access.require_camera(request, segment.camera, "no such recording")
    runtime = hub.cameras.get(segment.camera)
    if runtime is not None and not access.sees_faces(request, runtime.config.face_blur):
        raise web.HTTPForbidden(
            text="recordings of a face-blur camera are for admins; its event clips are blurred"
        )
    target = f"{segment.camera}/{segment.id}"
    if video_look_starts(request, "recording.view", target):
        await access.audit(request, "recording.view", target, start=segment.start)
    return await _video_response(
        request, segment.path, f"{segment.camera}-{int(segment.start)}.mp4"
    )


@routes.get("/api/cameras/{camera}/snapshot.jpg")
@access.viewer
async def camera_snapshot(request: web.Request) -> web.Response:
    """A JPEG of the camera's picture now."""
    hub = request.app[HUB_KEY]
    camera = _camera_param(request)
    assert camera is not None
    access.require_camera(request, camera)
    if snapshot_look_starts(request, camera):
        await access.audit(request, "snapshot.view", camera)
    jpeg = await hub.cameras.async_snapshot(camera)
    if jpeg is None:
        raise web.HTTPServiceUnavailable(text="the camera has no picture right now")
    return web.Response(body=jpeg, content_type="image/jpeg", headers={"Cache-Control": "no-store"})


def _event_json(row: dict[str, Any]) -> dict[str, Any]:
    data = stored_event(row)
    data.pop("snapshot_path", None)  # a path on the hub's disk is nobody's business
    return data


@routes.get("/api/events")
@access.viewer
async def events(request: web.Request) -> web.Response:
    """Events, newest first; filters: camera, label, zone, start, end; paging: limit, offset.

    Motion events that turned into object events are left out (the object event says
    when its story began, `story_start`), unless `stories=0` or `label=motion`.
    """
    hub = request.app[HUB_KEY]
    query = EventQuery(
        cameras=_visible(request, _camera_param(request)),
        label=request.query.get("label") or None,
        zone=request.query.get("zone") or None,
        start=time_param(request, "start"),
        end=time_param(request, "end"),
        limit=int_param(request, "limit", 50, 0, MAX_PAGE),
        offset=int_param(request, "offset", 0, 0, 10**9),
        stories=request.query.get("stories") not in ("0", "false"),
    )
    rows = await hub.event_log.async_list(query)
    return web.json_response({"events": [_event_json(r) for r in rows]})


async def _event(request: web.Request) -> dict[str, Any]:
    """The event in the path, if the caller may see its camera (404 otherwise, as if none)."""
    hub = request.app[HUB_KEY]
    event_id = request.match_info["event_id"]
    event = await hub.event_log.async_get(event_id)
    if event is None:
        raise web.HTTPNotFound(text="no such event")
    access.require_camera(request, str(event["camera"]), "no such event")
    return event


@routes.get("/api/events/{event_id}/snapshot.jpg")
@access.viewer
async def event_snapshot(request: web.Request) -> web.StreamResponse:
    """The event's best snapshot."""
    event = await _event(request)
    relpath = event.get("snapshot_path")
    store = request.app[HUB_KEY].footage
    if not relpath or not store.exists(relpath):
        raise web.HTTPNotFound(text="this event has no snapshot")
    await access.audit(request, "event.snapshot.view", f"{event['camera']}/{event['id']}")
    return await footage_response(request, relpath, "image/jpeg")


@routes.get("/api/events/{event_id}/thumbnail.jpg")
@access.viewer
async def event_thumbnail(request: web.Request) -> web.StreamResponse:
    """A small picture of the event for lists (the snapshot itself when it has none)."""
    event = await _event(request)
    relpath = event.get("snapshot_path")
    store = request.app[HUB_KEY].footage
    if not relpath or not store.exists(relpath):
        raise web.HTTPNotFound(text="this event has no snapshot")
    small = thumbnail_path(relpath)
    if thumbnails_look_starts(request, str(event["camera"])):
        await access.audit(request, "event.thumbnails.view", str(event["camera"]))
    return await footage_response(request, small if store.exists(small) else relpath, "image/jpeg")


@routes.get("/api/events/{event_id}/clip.mp4")
@access.viewer
async def event_clip(request: web.Request) -> web.StreamResponse:
    """The event's footage (plus pre/post roll) joined into one MP4, made once then cached."""
    hub = request.app[HUB_KEY]
    event = await _event(request)
    if event.get("end") is None:
        # A clip made now would be cut short and then served from the cache forever.
        raise web.HTTPConflict(text="the event is still going on; its clip is made when it ends")
    require_unlocked(hub.footage)  # making the clip reads (decrypts) the segments
    relpath = await hub.async_event_clip(event)
    if relpath is None:
        raise web.HTTPNotFound(text="no recording covers this event")
    download = request.query.get("download") in ("1", "true")
    action = "clip.export" if download else "clip.view"
    target = f"{event['camera']}/{event['id']}"
    if video_look_starts(request, action, target):
        await access.audit(request, action, target)
    return await _video_response(
        request,
        relpath,
        f"{event['camera']}-{event['id']}.mp4",
        "attachment" if download else "inline",
    )


@routes.get("/api/events/{event_id}")
@access.viewer
async def event_detail(request: web.Request) -> web.Response:
    """One event."""
    return web.json_response(_event_json(await _event(request)))


@routes.patch("/api/events/{event_id}")
@access.admin
async def event_update(request: web.Request) -> web.Response:
    """`{"keep": true}`: a kept event (and the footage it covers) outlives retention."""
    hub = request.app[HUB_KEY]
    event = await _event(request)
    body = await read_json_object(request)
    keep = body.get("keep")
    if not isinstance(keep, bool) or set(body) != {"keep"}:
        raise web.HTTPBadRequest(text='send {"keep": true} or {"keep": false}')
    await hub.event_log.async_set_keep(event["id"], keep)
    await access.audit(request, "event.keep", f"{event['camera']}/{event['id']}", keep=keep)
    event["keep"] = keep
    return web.json_response(_event_json(event))


@routes.delete("/api/events/{event_id}")
@access.admin
async def event_delete(request: web.Request) -> web.Response:
    """Delete an event with its snapshot and cached clip (recorded segments stay)."""
    hub = request.app[HUB_KEY]
    event = await _event(request)
    await hub.event_log.async_delete(event["id"])
    paths = event_files(str(event["camera"]), str(event["id"]), event.get("snapshot_path"))

    def remove_files() -> None:
        for relpath in paths:
            if hub.footage.exists(relpath):
                hub.footage.delete(relpath)

    await asyncio.to_thread(remove_files)
    await access.audit(
        request, "event.delete", f"{event['camera']}/{event['id']}", label=event.get("label")
    )
    return web.json_response({"deleted": event["id"]})
