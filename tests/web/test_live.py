"""`/api/ws`: bus events reach the panel live; the `panel` notifier's messages among them."""

from __future__ import annotations

import json

from aiohttp.test_utils import TestClient

import plugins.panel_notifier
from hub.events import HubStopping, MotionStarted
from hub.notify.message import Message
from tests.helpers import wait_for_sockets
from tests.web_clients import signed_in_client
from web.keys import HUB_KEY

CONFIG = "notifiers:\n  screen:\n    type: panel\n"


async def start(make_hub) -> TestClient:
    hub = make_hub(CONFIG)
    hub.plugins.register(plugins.panel_notifier, "panel_notifier")
    await hub.async_start()
    client = await signed_in_client(hub)
    return client


async def stop(client: TestClient) -> None:
    hub = client.app[HUB_KEY]
    await client.close()
    await hub.async_stop()


async def test_events_and_panel_notifications_arrive_as_json(make_hub):
    client = await start(make_hub)
    hub = client.app[HUB_KEY]
    try:
        socket = await client.ws_connect("/api/ws?types=motion_started,notification_posted")
        await wait_for_sockets(hub, 1)
        hub.bus.publish(HubStopping())  # filtered out
        hub.bus.publish(MotionStarted(camera="porch", event_id="m1", boxes=((1, 2, 3, 4),)))
        first = json.loads((await socket.receive(timeout=5)).data)
        assert first["event_type"] == "motion_started"
        assert first["camera"] == "porch" and first["boxes"] == [[1, 2, 3, 4]]

        message = Message(title="Someone at the door", body="porch, 21:14", snapshot_jpeg=b"\xff")
        assert await hub.outbox.async_enqueue("screen", message) == message.id
        posted = json.loads((await socket.receive(timeout=10)).data)
        assert posted["event_type"] == "notification_posted"
        assert (posted["title"], posted["body"], posted["message_id"]) == (
            "Someone at the door",
            "porch, 21:14",
            message.id,
        )
        # Pictures never travel inside events: the panel fetches it (admins only).
        assert set(posted) & {"snapshot", "snapshot_jpeg"} == set()
        url = posted["snapshot_url"]
        assert url == f"/api/x/panel_notifier/snapshots/{message.id}"
        picture = await client.get(url)
        assert picture.status == 200 and await picture.read() == b"\xff"
        assert picture.content_type == "image/jpeg"
        viewer = await signed_in_client(hub, "viewer")
        try:
            assert (await viewer.get(url)).status == 403
        finally:
            await viewer.close()
        await socket.close()
    finally:
        await stop(client)


async def test_a_client_that_never_reads_costs_the_hub_nothing_but_its_queue(make_hub):
    client = await start(make_hub)
    hub = client.app[HUB_KEY]
    try:
        socket = await client.ws_connect("/api/ws")
        await wait_for_sockets(hub, 1)
        for n in range(2000):  # publish never waits for the socket
            hub.bus.publish(MotionStarted(camera="porch", event_id=str(n)))
        await hub.async_block_till_done()
        assert hub.health()["status"] == "ok"
        [queue] = [s for s in hub.bus.stats() if s.name.startswith("ws:")]
        assert queue.dropped > 0  # the socket's own bounded queue took the loss
        await socket.close()
        await wait_for_sockets(hub, 0)  # unsubscribed
    finally:
        await stop(client)


async def test_embedded_default_has_the_panel_notifier():
    from hub.config.loading import default_config

    assert default_config().config.notifiers["panel"].type == "panel"


async def test_send_a_test_notification_from_the_panel(make_hub):
    client = await start(make_hub)
    try:
        socket = await client.ws_connect("/api/ws?types=notification_posted")
        await wait_for_sockets(client.app[HUB_KEY], 1)
        response = await client.post("/api/notifiers/screen/test")
        assert response.status == 202
        message_id = (await response.json())["id"]
        posted = json.loads((await socket.receive(timeout=10)).data)
        assert posted["message_id"] == message_id and posted["title"] == "camhub test notification"
        assert (await client.post("/api/notifiers/nope/test")).status == 404
        await socket.close()
    finally:
        await stop(client)
