"""Who may call a route: every handler declares a rule, and a handler without one is refused.

Handlers are decorated with exactly one of `public`, `admin` or `viewer`. The
authentication middleware (web/auth.py) reads the rule with `rule_of` and answers
401 (no session or token), 403 (wrong role) or lets the request through. A viewer
sees only the cameras granted to them: handlers that serve one camera call
`require_camera` (404, as for a camera that does not exist), handlers that list
things filter with `can_view`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

from aiohttp import web

from hub.extensions.registry import PRINCIPAL_KEY
from web.keys import HUB_KEY

if TYPE_CHECKING:
    from hub.cameras.manager import CameraRuntime

Rule = Literal["public", "admin", "viewer"]
HandlerT = TypeVar("HandlerT", bound=Callable[..., Awaitable[web.StreamResponse]])
_RULE_ATTR = "__camhub_access__"


@dataclass(frozen=True)
class Principal:
    """The user (or API token) behind a request."""

    name: str
    role: Literal["admin", "viewer"]
    cameras: frozenset[str] = field(default_factory=frozenset)
    """Cameras a viewer may see; ignored for admins."""
    token: str | None = None
    """Set when the request came with an API token rather than a session."""
    user_id: int | None = None
    """The signed-in user, or the user an API token acts for."""

    def can_view(self, camera_id: str) -> bool:
        """Admins see every camera; viewers only the ones granted to them."""
        return self.role == "admin" or camera_id in self.cameras


"""Key under which the middleware stores the Principal on the request."""


def _mark(rule: Rule) -> Callable[[HandlerT], HandlerT]:
    def decorate(handler: HandlerT) -> HandlerT:
        setattr(handler, _RULE_ATTR, rule)
        return handler

    return decorate


public = _mark("public")
"""Anyone, signed in or not (health, login, static panel)."""
admin = _mark("admin")
"""Admins only."""
viewer = _mark("viewer")
"""Any signed-in user; camera-specific handlers must still call `require_camera`."""


def rule_of(handler: object) -> Rule | None:
    """The rule a handler declared, or None (which the middleware refuses)."""
    rule = getattr(handler, _RULE_ATTR, None)
    return rule if rule in ("public", "admin", "viewer") else None


def principal(request: web.Request) -> Principal | None:
    """Who is calling, as set by the middleware (None on public routes without a session)."""
    found = request.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else None


def can_view(request: web.Request, camera_id: str) -> bool:
    """Whether the caller may see this camera's video, footage and events."""
    who = principal(request)
    return who is not None and who.can_view(camera_id)


def sees_faces(request: web.Request, face_blur: bool) -> bool:
    """Whether the caller may get unblurred video: of a `face_blur` camera, only admins."""
    who = principal(request)
    return not face_blur or (who is not None and who.role == "admin")


def require_camera(request: web.Request, camera_id: str, not_found: str | None = None) -> None:
    """Raise 404 unless the caller may see this camera, with the text an unknown camera (or
    event, or recording: `not_found`) gets: what a viewer may not see, they cannot tell
    apart from what does not exist."""
    if not can_view(request, camera_id):
        raise web.HTTPNotFound(text=not_found or f"no camera '{camera_id}'")


def camera_runtime(request: web.Request, camera_id: str) -> CameraRuntime:
    """The running camera, after checking the caller may see it (404 either way)."""
    runtime = request.app[HUB_KEY].cameras.get(camera_id)
    if runtime is None:
        raise web.HTTPNotFound(text=f"no camera '{camera_id}'")
    require_camera(request, camera_id)
    return runtime


async def audit(request: web.Request, action: str, target: str = "", **details: object) -> None:
    """Write an audit row for this request: who (the principal), from where (the peer)."""
    who = principal(request)
    await request.app[HUB_KEY].audit.async_log(
        who.name if who else None, action, target, request.remote, **details
    )
