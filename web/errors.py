"""The core's refusals as HTTP answers: the web layer, not the hub, picks each status."""

from __future__ import annotations

from aiohttp import web

from hub.errors import ErrorKind, HubError

_STATUS = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.DEVICE_FAILED: 502,
    ErrorKind.DEVICE_TIMEOUT: 504,
}
_CLASSES: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    502: web.HTTPBadGateway,
    504: web.HTTPGatewayTimeout,
}


def status_of(exc: HubError, invalid: int = 400) -> int:
    """The status for a refusal; `invalid` is what this API answers a bad request with
    (422 where the body is checked field by field and the errors name the fields)."""
    return invalid if exc.kind is ErrorKind.INVALID else _STATUS[exc.kind]


def http_error(exc: HubError, invalid: int = 400) -> web.HTTPException:
    """A plain-text HTTP error carrying the refusal's message."""
    return _CLASSES[status_of(exc, invalid)](text=str(exc))


def json_error(exc: HubError, invalid: int = 422) -> web.Response:
    """`{"error": message, "errors": [{path, message}, ...]}` (errors only when located)."""
    body: dict[str, object] = {"error": exc.message}
    if exc.issues:
        body["errors"] = [issue.as_dict() for issue in exc.issues]
    return web.json_response(body, status=status_of(exc, invalid))
