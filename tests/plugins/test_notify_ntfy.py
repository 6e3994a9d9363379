"""The `ntfy` notifier through the outbox, against a local server speaking ntfy's publish API."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from email.header import decode_header, make_header
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.notify.message import Message
from tests.helpers import wait_for_row

TOKEN = "tk_localphonepush"
JPEG = b"\xff\xd8\xff\xe0 a picture \xff\xd9"


class NtfyServer:
    """Enough of ntfy's publish API (PUT/POST /<topic>, header parameters, attachment upload)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.server: TestServer | None = None

    async def publish(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response(
                {"code": 40101, "http": 401, "error": "unauthorized"}, status=401
            )
        body = await request.read()

        def header(name: str) -> str | None:
            value = request.headers.get(name)
            return str(make_header(decode_header(value))) if value is not None else None

        message: dict[str, Any] = {
            "id": f"n{len(self.published)}",
            "time": int(time.time()),
            "event": "message",
            "topic": request.match_info["topic"],
            "title": header("Title"),
            "priority": int(request.headers.get("Priority", "3")),
            "tags": (header("Tags") or "").split(",") if request.headers.get("Tags") else [],
            "click": request.headers.get("Click"),
            "camhub_id": request.headers.get("X-Camhub-Id"),
        }
        if request.headers.get("Filename"):
            message["message"] = header("Message")
            message["attachment"] = {
                "name": request.headers["Filename"],
                "size": len(body),
                "data": body,
            }
        else:
            message["message"] = body.decode()
        self.published.append(message)
        return web.json_response({k: v for k, v in message.items() if k != "attachment"})


@pytest.fixture
async def ntfy() -> AsyncIterator[NtfyServer]:
    fake = NtfyServer()
    app = web.Application()
    app.router.add_route("PUT", "/{topic}", fake.publish)
    app.router.add_route("POST", "/{topic}", fake.publish)
    fake.server = TestServer(app, host="127.0.0.1")
    await fake.server.start_server()
    yield fake
    await fake.server.close()


def ntfy_config(ntfy: NtfyServer, token: str = "!secret ntfy_token") -> str:
    assert ntfy.server is not None
    url = ntfy.server.make_url("/camhub")
    return (
        f"notifiers:\n  phone:\n    type: ntfy\n    url: {url}\n    token: {token}\n"
        "    click_base: http://camhub.lan:8470/\n"
    )


@pytest.fixture
async def hub_with(make_hub):
    hubs = []

    async def make(text: str):
        hub = make_hub(text, secrets=f"ntfy_token: {TOKEN}\n")
        await hub.async_start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.async_stop()


async def test_text_message_with_title_priority_tags_and_click(ntfy, hub_with):
    hub = await hub_with(ntfy_config(ntfy))
    message = Message(
        "Personne à la porte",
        "Front door\n21:04",
        priority=5,
        tags=("rotating_light", "person"),
        event_id="ev42",
    )
    await hub.outbox.async_enqueue("phone", message)
    await wait_for_row(hub, message.id, "delivered")

    [published] = ntfy.published
    assert published["topic"] == "camhub"
    assert published["title"] == "Personne à la porte"
    assert published["message"] == "Front door\n21:04"
    assert published["priority"] == 5
    assert published["tags"] == ["rotating_light", "person"]
    assert published["click"] == "http://camhub.lan:8470/#/events/ev42"
    assert published["camhub_id"] == message.id


async def test_snapshot_is_sent_as_an_attachment(ntfy, hub_with):
    hub = await hub_with(ntfy_config(ntfy))
    message = Message("Car", "Driveway", snapshot_jpeg=JPEG)
    await hub.outbox.async_enqueue("phone", message)
    await wait_for_row(hub, message.id, "delivered")

    [published] = ntfy.published
    assert published["attachment"] == {"name": "snapshot.jpg", "size": len(JPEG), "data": JPEG}
    assert published["message"] == "Driveway" and published["title"] == "Car"


async def test_wrong_token_fails_permanently(ntfy, hub_with):
    hub = await hub_with(ntfy_config(ntfy, token="tk_wrong"))
    message = Message("t", "b")
    await hub.outbox.async_enqueue("phone", message)
    row = await wait_for_row(hub, message.id, "failed")
    assert row["attempts"] == 1 and "HTTP 401" in row["error"] and "unauthorized" in row["error"]
    assert ntfy.published == []


async def test_topic_is_required(make_hub):
    from hub.core import check_plugin_sections

    hub = make_hub("notifiers:\n  phone:\n    type: ntfy\n    url: http://ntfy.lan/\n")
    issues = check_plugin_sections(hub.loaded, hub.plugins)
    assert any("must end with the topic" in str(issue) for issue in issues)
