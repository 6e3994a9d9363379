"""Admin routes that change cameras on a running hub: add by URL, edit, remove, save zones and
masks."""

from __future__ import annotations

from aiohttp import web

from hub.cameras.edits import (
    CameraEditError,
    async_add_url_camera,
    async_edit_camera,
    async_remove_camera,
    async_save_areas,
)
from web import access
from web.body import read_json_object
from web.errors import json_error
from web.keys import HUB_KEY

routes = web.RouteTableDef()
MAX_BODY = 256 * 1024


@routes.post("/api/cameras")
@access.admin
async def add_camera(request: web.Request) -> web.Response:
    """`{id, name?, url, detect_url?, record_mode?, motion_source?}`: store the camera (a login
    in the URL goes to the data dir's secrets) and start it now."""
    hub = request.app[HUB_KEY]
    body = await read_json_object(request, MAX_BODY)
    target = str(body.get("id", ""))[:64]
    try:
        await async_add_url_camera(hub, body)
    except CameraEditError as exc:
        await access.audit(request, "camera.add_failed", target, reason=str(exc))
        return json_error(exc)
    await access.audit(request, "camera.add", target, by="url")
    return web.json_response({"camera": hub.cameras[target].as_dict(hub)}, status=201)


@routes.patch("/api/cameras/{camera}")
@access.admin
async def edit_camera(request: web.Request) -> web.Response:
    """`{name?, detect_url?, record_mode?, motion_source?}` of a camera added at run time:
    saved in the data dir and applied now (`restarted`: its stream reopened)."""
    hub = request.app[HUB_KEY]
    camera_id = request.match_info["camera"]
    body = await read_json_object(request, MAX_BODY)
    try:
        restarted = await async_edit_camera(hub, camera_id, body)
    except CameraEditError as exc:
        return json_error(exc)
    await access.audit(request, "camera.edit", camera_id, keys=sorted(body))
    camera = hub.cameras[camera_id].as_dict(hub)
    return web.json_response({"camera": camera, "restarted": restarted})


@routes.put("/api/cameras/{camera}/detection")
@access.admin
async def set_detection(request: web.Request) -> web.Response:
    """`{"armed": true|false}`: switch the camera's motion and object detection on or off
    (recording goes on); kept across restarts, like the switch in Home Assistant."""
    hub = request.app[HUB_KEY]
    camera_id = request.match_info["camera"]
    access.camera_runtime(request, camera_id)
    body = await read_json_object(request, MAX_BODY)
    armed = body.get("armed")
    if not isinstance(armed, bool) or set(body) != {"armed"}:
        errors = [{"path": "armed", "message": "must be true or false"}]
        return web.json_response(
            {"error": "give {armed: true|false}", "errors": errors}, status=422
        )
    hub.cameras.set_armed(camera_id, armed)
    await access.audit(request, "camera.detection", camera_id, armed=armed)
    return web.json_response({"camera": camera_id, "armed": armed})


@routes.delete("/api/cameras/{camera}")
@access.admin
async def remove_camera(request: web.Request) -> web.Response:
    """Stop and forget a camera added at run time; config-file cameras answer 409."""
    camera_id = request.match_info["camera"]
    try:
        await async_remove_camera(request.app[HUB_KEY], camera_id)
    except CameraEditError as exc:
        return json_error(exc)
    await access.audit(request, "camera.remove", camera_id)
    return web.json_response({"removed": camera_id})


@routes.put("/api/cameras/{camera}/zones")
@access.admin
async def save_zones(request: web.Request) -> web.Response:
    """`{zones?, masks?, privacy_masks?}` (a key left out is kept): saved in the data dir over
    the config file's, applied now; `restarted` says whether the stream had to restart."""
    hub = request.app[HUB_KEY]
    camera_id = request.match_info["camera"]
    runtime = access.camera_runtime(request, camera_id)
    body = await read_json_object(request, MAX_BODY)
    try:
        restarted = await async_save_areas(hub, camera_id, body)
    except CameraEditError as exc:
        return json_error(exc)
    config = runtime.config
    await access.audit(
        request,
        "camera.zones",
        camera_id,
        zones=sorted(config.zones),
        masks=len(config.masks),
        privacy_masks=len(config.privacy_masks),
    )
    return web.json_response({"saved": sorted(body), "restarted": restarted})
