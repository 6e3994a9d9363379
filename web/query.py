"""Reading query-string parameters, with 400 answers that name the parameter and its range."""

from __future__ import annotations

from aiohttp import web


def time_param(request: web.Request, name: str) -> float | None:
    """An optional time in seconds since the epoch."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise web.HTTPBadRequest(
            text=f"{name} must be a number (seconds since the epoch)"
        ) from None


def int_param(request: web.Request, name: str, default: int, lower: int, upper: int) -> int:
    """An optional whole number within [lower, upper]."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number") from None
    if not lower <= value <= upper:
        raise web.HTTPBadRequest(text=f"{name} must be between {lower} and {upper}")
    return value


SQLITE_MAX_INT = 2**63 - 1


def id_param(request: web.Request, name: str, not_found: str) -> int:
    """A numeric id from the path; one no row can have (beyond SQLite's integers) is 404."""
    raw = request.match_info[name]
    value = int(raw) if raw.isdigit() and len(raw) <= 19 else SQLITE_MAX_INT + 1
    if value > SQLITE_MAX_INT:
        raise web.HTTPNotFound(text=not_found)
    return value
