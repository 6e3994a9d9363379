"""The notification delivery log: `GET /api/notifications`."""

from __future__ import annotations

from aiohttp import web

from hub.notify.message import Message
from hub.notify.outbox import STATES
from web import access
from web.keys import HUB_KEY
from web.query import int_param

routes = web.RouteTableDef()

MAX_LIMIT = 1000
# Message text and ids only: never notifier options (URLs, tokens, secrets) or pictures.
FIELDS = (
    "id",
    "notifier",
    "title",
    "body",
    "priority",
    "tags",
    "clip_url",
    "event_id",
    "context_id",
    "automation_id",
    "state",
    "attempts",
    "next_attempt",
    "created",
    "updated",
    "delivered_at",
    "error",
)


@routes.get("/api/notifications")
@access.admin
async def notifications(request: web.Request) -> web.Response:
    """Notifications newest first; `?state=`, `?notifier=` and `?limit=` (default 100) filter."""
    hub = request.app[HUB_KEY]
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise web.HTTPBadRequest(text=f"state must be one of {', '.join(STATES)}")
    limit = int_param(request, "limit", 100, 1, MAX_LIMIT)
    rows = await hub.outbox.async_list(state, request.query.get("notifier") or None, limit)
    items = [{key: row[key] for key in FIELDS} for row in rows]
    for item in items:
        if item["error"]:
            item["error"] = hub.redactor(item["error"])
    return web.json_response({"notifications": items})


@routes.post("/api/notifiers/{notifier_id}/test")
@access.admin
async def send_test(request: web.Request) -> web.Response:
    """Queue a test message for one notifier (the panel's "send a test"); 202 with its id."""
    hub = request.app[HUB_KEY]
    notifier_id = request.match_info["notifier_id"]
    if notifier_id not in hub.notifiers:
        raise web.HTTPNotFound(text=f"no running notifier '{notifier_id}'")
    message = Message(
        title="camhub test notification",
        body=f"If you can read this, the notifier '{notifier_id}' works.",
        tags=("test",),
    )
    message_id = await hub.outbox.async_enqueue(notifier_id, message)
    await access.audit(request, "notifier.test", notifier_id)
    return web.json_response({"id": message_id}, status=202)
