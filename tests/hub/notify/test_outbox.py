"""The notification outbox: stored first, retried, rate-limited, and resumed after a stop."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.notify.message import Message
from tests.conftest import free_port
from tests.helpers import wait_for_row
from tests.plugins.test_notify_webhook import SECRET, Receiver, hook_config
from tests.web_clients import signed_in_client

SECRETS = f"hook: {SECRET}\n"


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr("hub.notify.outbox.BACKOFF_FIRST", 0.05)


async def serve(receiver: Receiver, port: int = 0) -> TestServer:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    receiver.server = TestServer(app, host="127.0.0.1", port=port)
    await receiver.server.start_server()
    return receiver.server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    recv = Receiver()
    server = await serve(recv)
    yield recv
    await server.close()


async def test_rate_limit_holds_back_a_burst(make_hub, receiver):
    hub = make_hub(hook_config(receiver.url, "    rate_per_minute: 2\n"), SECRETS)
    await hub.async_start()
    try:
        messages = [Message(f"m{i}", "b") for i in range(4)]
        for message in messages:
            await hub.outbox.async_enqueue("hook", message)
        await hub.async_block_till_done()
        # Oldest first; the third waits for a token (30 s at 2 a minute), so no more is sent.
        assert [r["json"]["title"] for r in receiver.requests] == ["m0", "m1"]
        pending = await hub.outbox.async_list(state="pending")
        assert {r["id"] for r in pending} == {messages[2].id, messages[3].id}
        assert all(r["attempts"] == 0 for r in pending)
    finally:
        await hub.async_stop()


async def test_cooldown_drops_repeats_of_one_automation(make_hub, receiver):
    config = hook_config(receiver.url) + "  hub_log:\n    type: log\n"
    hub = make_hub(config, SECRETS)
    await hub.async_start()
    try:
        first = await hub.outbox.async_enqueue("hook", Message("a", "b"), "door", cooldown=60)
        again = Message("a", "b", snapshot_jpeg=b"\xff\xd8jpeg")
        dropped = await hub.outbox.async_enqueue("hook", again, "door", cooldown=60)
        other_notifier = await hub.outbox.async_enqueue(
            "hub_log", Message("a", "b"), "door", cooldown=60
        )
        other_automation = await hub.outbox.async_enqueue(
            "hook", Message("a", "b"), "garden", cooldown=60
        )
        assert first and other_notifier and other_automation
        assert dropped is None
        row = await hub.outbox.async_get(again.id)
        assert row is not None and row["state"] == "dropped"
        assert "cool-down" in row["error"] and row["snapshot"] is None
        assert not hub.footage.exists(f"notifications/{again.id}.jpg")
        await wait_for_row(hub, other_automation, "delivered")
        await wait_for_row(hub, other_notifier, "delivered")
        assert hub.notifiers["hub_log"].sent[0].id == other_notifier
    finally:
        await hub.async_stop()


async def test_unknown_notifier_fails(started_hub):
    message_id = await started_hub.outbox.async_enqueue("nobody", Message("a", "b"))
    assert message_id is not None
    row = await wait_for_row(started_hub, message_id, "failed")
    assert "unknown notifier 'nobody'" in row["error"]


async def test_gives_up_after_max_age(make_hub):
    hub = make_hub(hook_config(f"http://127.0.0.1:{free_port()}/hook"), SECRETS)
    await hub.async_start()
    try:
        hub.outbox.max_age = 0.3
        message_id = await hub.outbox.async_enqueue("hook", Message("a", "b"))
        assert message_id is not None
        row = await wait_for_row(hub, message_id, "failed")
        assert row["attempts"] >= 2 and "gave up after" in row["error"]
        assert "ClientConnectorError" in row["error"]
    finally:
        await hub.async_stop()


async def test_api_lists_the_delivery_log_without_secrets(make_hub, receiver):
    receiver.statuses = [404]
    hub = make_hub(hook_config(receiver.url) + "  hub_log:\n    type: log\n", SECRETS)
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        failed = await hub.outbox.async_enqueue("hook", Message("to hook", "b"))
        delivered = await hub.outbox.async_enqueue("hub_log", Message("to log", "b"))
        assert failed and delivered
        await wait_for_row(hub, failed, "failed")
        await wait_for_row(hub, delivered, "delivered")

        response = await client.get("/api/notifications")
        assert response.status == 200
        text = await response.text()
        items = (await response.json())["notifications"]
        assert [i["id"] for i in items] == [delivered, failed]  # newest first
        assert SECRET not in text and "snapshot" not in items[0]
        assert items[1]["state"] == "failed" and "HTTP 404" in items[1]["error"]
        only_failed = await (await client.get("/api/notifications?state=failed")).json()
        assert [i["id"] for i in only_failed["notifications"]] == [failed]
        by_notifier = await (await client.get("/api/notifications?notifier=hub_log")).json()
        assert [i["id"] for i in by_notifier["notifications"]] == [delivered]
        limited = await (await client.get("/api/notifications?limit=1")).json()
        assert len(limited["notifications"]) == 1
        assert (await client.get("/api/notifications?state=lost")).status == 400
        assert (await client.get("/api/notifications?limit=0")).status == 400
    finally:
        await client.close()
        await hub.async_stop()


def set_state(data_dir, state: str, message_ids: list[str]) -> None:
    """Write row states as a crash would have left them (the hub is stopped)."""
    with sqlite3.connect(data_dir / "camhub.db") as db:
        db.executemany(
            "update notifications set state = ? where id = ?", [(state, i) for i in message_ids]
        )


async def test_restart_delivers_what_was_left_exactly_once(make_hub, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    hub = make_hub(hook_config(url), SECRETS)
    await hub.async_start()
    messages = [Message(f"m{i}", "b") for i in range(3)]
    for message in messages:
        await hub.outbox.async_enqueue("hook", message)
    # The receiver is down: once idle, every message has been tried and waits to retry.
    await hub.async_block_till_done()
    rows = await hub.outbox.async_list()
    assert sorted(r["id"] for r in rows) == sorted(m.id for m in messages)
    assert all(r["state"] == "pending" and r["attempts"] >= 1 for r in rows), rows
    await hub.async_stop()
    # One was being sent when the process died.
    set_state(tmp_path / "data", "sending", [messages[0].id])

    receiver = Receiver()
    server = await serve(receiver, port)
    again = make_hub(hook_config(url), SECRETS)
    await again.async_start()
    try:
        for message in messages:
            await wait_for_row(again, message.id, "delivered")
        await again.async_block_till_done()  # a duplicate, were one to come, is sent by now
        ids = [r["headers"]["X-Camhub-Id"] for r in receiver.requests]
        assert sorted(ids) == sorted(m.id for m in messages)
    finally:
        await again.async_stop()
        await server.close()


async def test_crash_between_send_and_mark_repeats_the_idempotency_key(
    make_hub, tmp_path, receiver
):
    hub = make_hub(hook_config(receiver.url), SECRETS)
    await hub.async_start()
    message = Message("once", "b")
    await hub.outbox.async_enqueue("hook", message)
    await wait_for_row(hub, message.id, "delivered")
    await hub.async_stop()
    # As if the process died after the receiver got it but before the row was marked.
    set_state(tmp_path / "data", "sending", [message.id])

    again = make_hub(hook_config(receiver.url), SECRETS)
    await again.async_start()
    try:
        # A fresh start sets `sending` rows back to pending, so this is the resend.
        await wait_for_row(again, message.id, "delivered")
    finally:
        await again.async_stop()
    first, second = receiver.requests
    # Same key both times, so the receiver can tell the second is a copy.
    assert first["headers"]["X-Camhub-Id"] == second["headers"]["X-Camhub-Id"] == message.id
    assert first["json"] == second["json"]
    unique = {r["headers"]["X-Camhub-Id"] for r in receiver.requests}
    assert unique == {message.id}
