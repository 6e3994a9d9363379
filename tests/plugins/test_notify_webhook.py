"""The `webhook` notifier through the outbox, against a real aiohttp receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.notify.message import Message, TemporaryNotifyError
from plugins.webhook_notifier import WebhookNotifier, WebhookOptions
from tests.conftest import free_port
from tests.helpers import wait_for_row

SECRET = "s3cret-hook"
JPEG = b"\xff\xd8\xff\xe0 not really a picture \xff\xd9"


class Receiver:
    """A webhook receiver that checks the signature and answers from a script of statuses."""

    def __init__(self, statuses: list[int] | None = None):
        self.statuses = list(statuses or [])
        self.requests: list[dict[str, Any]] = []
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers["X-Camhub-Timestamp"]
        expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
        signature_ok = hmac.compare_digest(
            request.headers.get("X-Camhub-Signature", ""), "sha256=" + expected.hexdigest()
        )
        self.requests.append(
            {"headers": dict(request.headers), "json": json.loads(body), "ok": signature_ok}
        )
        if not signature_ok:
            return web.Response(status=401, text="bad signature")
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="no thanks" if status >= 400 else "ok")

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/hook"))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    recv.server = TestServer(app, host="127.0.0.1")
    await recv.server.start_server()
    yield recv
    await recv.server.close()


@pytest.fixture
def fast_retries(monkeypatch):
    monkeypatch.setattr("hub.notify.outbox.BACKOFF_FIRST", 0.05)


def hook_config(url: str, extra: str = "") -> str:
    return (
        f"notifiers:\n  hook:\n    type: webhook\n    url: {url}\n    secret: !secret hook\n{extra}"
    )


@pytest.fixture
async def hub_for(make_hub):
    hubs = []

    async def make(url: str, extra: str = ""):
        hub = make_hub(hook_config(url, extra), secrets=f"hook: {SECRET}\n")
        await hub.async_start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.async_stop()


async def test_signed_post_retried_after_500_is_delivered_once(receiver, hub_for, fast_retries):
    receiver.statuses = [500, 200]
    hub = await hub_for(receiver.url)
    message = Message(
        "Person at the door",
        "Front door, 21:04",
        priority=4,
        tags=("person",),
        snapshot_jpeg=JPEG,
        event_id="ev1",
    )
    assert await hub.outbox.async_enqueue("hook", message) == message.id

    row = await wait_for_row(hub, message.id, "delivered")

    assert row["attempts"] == 2
    assert len(receiver.requests) == 2
    assert all(r["ok"] for r in receiver.requests), "signature must verify"
    first, second = receiver.requests
    assert first["headers"]["X-Camhub-Id"] == second["headers"]["X-Camhub-Id"] == message.id
    sent = second["json"]
    assert sent["id"] == message.id and sent["title"] == "Person at the door"
    assert sent["priority"] == 4 and sent["tags"] == ["person"] and sent["event_id"] == "ev1"
    assert base64.b64decode(sent["snapshot_base64"]) == JPEG
    # The picture was only kept until it was delivered.
    assert not hub.footage.exists(f"notifications/{message.id}.jpg")
    assert row["snapshot"] is None and row["delivered_at"] is not None


async def test_4xx_fails_at_once_with_the_reason(receiver, hub_for, fast_retries):
    receiver.statuses = [400]
    hub = await hub_for(receiver.url)
    message = Message("t", "b")
    await hub.outbox.async_enqueue("hook", message)

    row = await wait_for_row(hub, message.id, "failed")

    assert row["attempts"] == 1 and len(receiver.requests) == 1
    assert "permanent" in row["error"] and "HTTP 400" in row["error"]
    assert "no thanks" in row["error"]


async def test_unreachable_receiver_is_a_temporary_error():
    options = WebhookOptions(url=f"http://127.0.0.1:{free_port()}/hook", timeout=2)
    notifier = WebhookNotifier("hook", options)
    try:
        with pytest.raises(TemporaryNotifyError):
            await notifier.async_send(Message("t", "b"))
    finally:
        await notifier.async_close()


async def test_no_signature_header_without_a_secret(receiver):
    notifier = WebhookNotifier("hook", WebhookOptions(url=receiver.url, headers={"X-Extra": "1"}))
    try:
        # The receiver insists on a signature: an unsigned request is refused, permanently.
        with pytest.raises(Exception, match="HTTP 401"):
            await notifier.async_send(Message("t", "b"))
    finally:
        await notifier.async_close()
    headers = receiver.requests[0]["headers"]
    assert "X-Camhub-Signature" not in headers and headers["X-Extra"] == "1"
