"""aiohttp application factory: the API, plugin routes and the static panel."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from hub import hookspecs
from hub.core import Hub
from hub.extensions.registry import Route
from web import (
    access,
    api,
    audit_api,
    auth,
    automations_api,
    camera_admin_api,
    connections,
    discovery_api,
    footage_api,
    hosts,
    live,
    live_video,
    notifications_api,
    panel_api,
    privacy_api,
    site_api,
    users_api,
)
from web.keys import HUB_KEY

_LOGGER = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"


@access.public
async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    # The panel loads nothing from elsewhere; say so, so a browser enforces it.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _plugin_routes(hub: Hub, app: web.Application) -> None:
    routes = hub.plugins.call_collect(hookspecs.web_routes, hub=hub)
    routes += hub.plugins.call_collect(hookspecs.register_routes, hub=hub)
    for plugin, route in routes:
        if not isinstance(route, Route):
            _LOGGER.error("Plugin %s returned a route that is not a hub.Route", plugin)
            continue
        path = f"/api/x/{plugin}/{route.path.lstrip('/')}"
        app.router.add_route(route.method.upper(), path, _with_rule(route.handler, route.access))


def _with_rule(handler: Handler, rule: access.Rule) -> Handler:
    """The plugin's handler under its declared rule (a wrapper: the plugin's function may
    be shared or bound, so it is not marked itself)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    marks = {"public": access.public, "admin": access.admin, "viewer": access.viewer}
    return marks.get(rule, access.admin)(guarded)


def create_app(hub: Hub) -> web.Application:
    """Build the web application around a (started or starting) hub."""
    app = web.Application(
        middlewares=[
            _security_headers,
            hosts.host_middleware,
            connections.body_deadline_middleware,
            auth.auth_middleware,
        ],
        client_max_size=4 * 1024**2,
    )
    app[HUB_KEY] = hub
    server = hub.config.server
    app[hosts.HOST_GUARD_KEY] = hosts.HostGuard(server.host, server.allowed_hosts)
    app[connections.BODY_SECONDS_KEY] = server.limits.body_seconds
    auth.setup_auth(app, hub)
    app.add_routes(api.routes)
    app.add_routes(discovery_api.routes)
    app.add_routes(camera_admin_api.routes)
    app.add_routes(automations_api.routes)
    app.add_routes(users_api.routes)
    app.add_routes(audit_api.routes)
    app.add_routes(footage_api.routes)
    app.add_routes(privacy_api.routes)
    app.add_routes(notifications_api.routes)
    app.add_routes(live.routes)
    app.add_routes(live_video.routes)
    app.add_routes(panel_api.routes)
    app.add_routes(site_api.routes)
    _plugin_routes(hub, app)
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    auth.check_rules(app)
    return app
