"""Reading JSON request bodies with a size cap and errors that say what is wrong."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

MAX_JSON_BYTES = 256 * 1024
"""Default cap for a JSON body; the app-wide cap (client_max_size) is for uploads."""


async def read_json_object(request: web.Request, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The body as a JSON object, or 415/413/400 with a one-line reason.

    Only `application/json` is accepted: an HTML form on another site cannot send
    it without a CORS preflight, which this API never grants.
    """
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    value = parse_json(await read_body(request, max_bytes))
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return value


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The whole body, or 413 as soon as it is known to be over `max_bytes` (from its
    Content-Length, or while it streams in without one)."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=request.content_length)
    chunks: list[bytes] = []
    size = 0
    # read(n) answers with what has arrived so far: a body in several packets takes several.
    while chunk := await request.content.read(max_bytes + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=size)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """JSON from a request body, or 400: malformed, not UTF-8, or nested deeper than the
    parser recurses (a RecursionError must never become a 500)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise web.HTTPBadRequest(text="the body is not valid JSON") from None


def string_field(body: dict[str, Any], name: str, max_length: int = 1024) -> str:
    """A required string member of a JSON object (400 if missing, not a string or too long)."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"'{name}' must be a non-empty string")
    if len(value) > max_length:
        raise web.HTTPBadRequest(text=f"'{name}' must be at most {max_length} characters")
    return value
