"""`/api/audit` (admins): the audit trail with filters, CSV export and a chain check."""

from __future__ import annotations

import csv
import io
import json

from aiohttp import web

from hub.security.audit import MAX_PAGE
from web import access
from web.keys import HUB_KEY
from web.query import int_param, time_param

routes = web.RouteTableDef()
CSV_COLUMNS = ("id", "time", "user", "action", "target", "address", "details", "hash")


def _csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet would run a cell starting like a formula; the log holds user input.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@routes.get("/api/audit")
@access.admin
async def audit_log(request: web.Request) -> web.Response:
    """Rows newest first; filters `actor`, `action` (`login.` matches every login row),
    `since`, `until`; paging `limit` (500), `offset`; `format=csv` downloads them."""
    hub = request.app[HUB_KEY]
    rows = await hub.audit.async_query(
        actor=request.query.get("actor") or None,
        action=request.query.get("action") or None,
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        limit=int_param(request, "limit", 500, 0, MAX_PAGE),
        offset=int_param(request, "offset", 0, 0, 10**9),
    )
    if request.query.get("format") == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            details = row.get("details")
            row["details"] = details if isinstance(details, str) else json.dumps(details)
            writer.writerow([_csv_cell(row.get(c)) for c in CSV_COLUMNS])
        await access.audit(request, "audit.export", "", rows=len(rows), query=request.query_string)
        return web.Response(
            text=buffer.getvalue(),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="camhub-audit.csv"'},
        )
    return web.json_response({"entries": rows})


@routes.get("/api/audit/verify")
@access.admin
async def verify(request: web.Request) -> web.Response:
    """Check the hash chain and its head: `{ok, rows, broken_id, reason, last_hash, head_id,
    missing, warnings, unreadable}` (`missing`: `[first, last]` row ids cut off the end, or
    null; `unreadable`: the database could not be read, so nothing was checked)."""
    report = await request.app[HUB_KEY].audit.async_verify()
    return web.json_response(
        {
            "ok": report.ok,
            "rows": report.rows,
            "broken_id": report.broken_id,
            "reason": report.reason,
            "last_hash": report.last_hash,
            "head_id": report.head_id,
            "missing": list(report.missing) if report.missing else None,
            "warnings": list(report.warnings),
            "unreadable": report.unreadable,
        }
    )
