"""Property-based: every route of the app, with made-up path parameters, query parameters and
JSON bodies, answers 4xx (never 500) and leaves no traceback in the log.

The routes are enumerated from the app's router, so a route added later is fuzzed without
anyone remembering to add it here. Requests are made as a signed-in admin (who gets past
every access check to the handler's own input handling) and, for public routes, as anonymous.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import Hub
from hub.footage.recordings import RecordingSegment
from hub.security.sessions import async_create_token
from hub.security.users import async_add_user, async_get_user
from tests.threaded_hub import ThreadedHub, serve_in_thread
from tests.web_clients import PASSWORD
from web import access

WEBHOOK = "fuzz-webhook-0123456789"
CONFIG = (
    "server:\n  auth:\n    max_login_failures: 1000000\n"
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
    "automations:\n"
    "  - id: door\n"
    "    mode: parallel\n"
    f"    triggers:\n      - type: webhook\n        webhook_id: {WEBHOOK}\n"
    "    actions:\n      - type: set_mode\n        mode: home\n"
)
ADMIN = "fuzz-admin"
# Ids that exist (seeded below), drawn half the time so handlers get past their look-ups.
KNOWN = {
    "camera": "front",
    "event_id": "ev1",
    "segment_id": "1",
    "name": "kid",
    "token_id": "1",
    "automation_id": "door",
    "webhook_id": WEBHOOK,
    "notifier_id": "log",
}
# Routes a signed-in fuzzer must not call: logging out would end the session under test.
SKIPPED = {("POST", "/api/auth/logout")}
# Query names the API reads. `scan` is left out on purpose: it sends probes on the LAN.
QUERY_NAMES = (
    "camera",
    "start",
    "end",
    "limit",
    "offset",
    "label",
    "zone",
    "segments",
    "since",
    "until",
    "actor",
    "action",
    "format",
    "state",
    "notifier",
    "download",
    "cameras",
    "types",
)
PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _routes() -> list[tuple[str, str, str]]:
    """(method, path template, rule) of every route, from an app built on a throwaway hub."""
    import tempfile
    from pathlib import Path

    from hub.config.loading import load_config
    from hub.core import Hub
    from web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.yaml").write_text(CONFIG)
        app = create_app(Hub(load_config(Path(folder) / "config.yaml"), Path(folder) / "data"))
    found = []
    for route in app.router.routes():
        if isinstance(route.resource, web.StaticResource) or route.resource is None:
            continue
        key = (route.method, route.resource.canonical)
        if key not in SKIPPED:
            found.append((*key, access.rule_of(route.handler) or ""))
    return found


ROUTES = _routes()


class TracebackCatcher(logging.Handler):
    """Collects log records that carry a traceback (an exception reached a log call)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.exc_text or record.levelno >= logging.CRITICAL:
            self.records.append(record)


async def seed(hub: Hub) -> None:
    """A viewer, a token, a recording, an event with its snapshot and cached clip."""
    now = time.time()
    await async_add_user(hub.storage, "kid", PASSWORD, "viewer", ["front"])
    admin = await async_get_user(hub.storage, ADMIN)
    assert admin is not None
    await async_create_token(hub.storage, "fuzz", ["read"], admin.id)
    for relpath in ("front/seg.mp4", "front/ev1.jpg", "clips/front/ev1.mp4"):
        out = hub.footage.create(relpath)
        out.write(b"\x00" * 2048)
        out.finish()
    await hub.recordings.async_add(
        RecordingSegment("front", now - 60, now - 50, "front/seg.mp4", 2048)
    )
    event = {"id": "ev1", "camera": "front", "kind": "motion", "start": now - 58, "end": now - 52}
    await hub.async_insert("events", {**event, "snapshot_path": "front/ev1.jpg"})


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[ThreadedHub]:
    with serve_in_thread(tmp_path_factory.mktemp("routes"), CONFIG, ADMIN) as hub:
        asyncio.run_coroutine_threadsafe(seed(hub.hub), hub.loop).result(30)
        hub.sign_in(ADMIN)
        yield hub


@pytest.fixture
def tracebacks() -> Iterator[TracebackCatcher]:
    catcher = TracebackCatcher()
    root = logging.getLogger()
    root.addHandler(catcher)
    try:
        yield catcher
    finally:
        root.removeHandler(catcher)


scalars = (
    st.none()
    | st.booleans()
    | st.floats()  # NaN and Infinity too: Python's JSON reads them
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from((*QUERY_NAMES, "id", "url", "name", "text", "mode")), json_values
    ).map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=500, max_value=200_000).map(lambda n: deep(n).encode()),
    st.integers(min_value=500, max_value=50_000).map(lambda n: b'{"a": ' + deep(n).encode() + b"}"),
    st.binary(max_size=200),
)
path_values = st.one_of(
    st.text(min_size=1, max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["front", "9" * 30, "0", "-1", "..", ".", "%", "\x00", "a" * 300, "1e999"]),
)
query_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "-1", "9" * 40, "", "front,back", "csv"]),
)
queries = st.dictionaries(st.sampled_from(QUERY_NAMES), query_values, max_size=4)


def fill(template: str, values: dict[str, str]) -> str:
    return PATH_PARAM.sub(lambda m: quote(values[m.group(1)], safe=""), template)


@pytest.mark.parametrize(
    ("method", "template", "rule"), ROUTES, ids=[f"{m} {t}" for m, t, _ in ROUTES]
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_input_makes_a_route_fail(served, tracebacks, method, template, rule, data):
    names = PATH_PARAM.findall(template)
    values = {
        name: data.draw(
            st.just(KNOWN[name]) | path_values if name in KNOWN else path_values, label=name
        )
        for name in names
    }
    path = fill(template, values)
    query = data.draw(queries, label="query") if method in ("GET", "HEAD") else {}
    if query:
        path += "?" + urlencode(query)
    body = data.draw(bodies, label="body") if method in ("POST", "PUT", "PATCH", "DELETE") else None
    for signed_in in (True, False) if rule == "public" else (True,):
        status, answer = served.request(method, path, body, signed_in=signed_in)
        assert status < 500 or status == 503, (
            method,
            path,
            body and body[:200],
            status,
            answer[:300],
        )
        assert b"Traceback" not in answer
    assert not tracebacks.records, [
        (r.name, r.getMessage(), r.exc_text or r.exc_info) for r in tracebacks.records
    ]
