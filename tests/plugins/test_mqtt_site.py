"""Two hubs on one mosquitto form a site: each sees the other's cameras, stills and events,
automations trigger on a peer's events, and a peer that goes away shows as offline."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hub.core import Hub
from hub.events import EventEnded, EventStarted, PeerEvent, new_id
from plugins.mqtt import MqttNotifier
from tests.helpers import hub_at, wait_until
from tests.web_clients import AuthedClient

JPEG_MAGIC = b"\xff\xd8"


def site_notifier(port: int, name: str, still_interval: float = 1) -> str:
    """The `notifiers` section of a hub called `name` in site `home` on the broker at `port`."""
    return f"""
notifiers:
  broker:
    type: mqtt
    host: 127.0.0.1
    port: {port}
    topic_prefix: camhub-{name}
    discovery: false
    site: home
    hub_name: {name}
    panel_url: http://{name}.lan:8470
    still_interval: {still_interval:g}
"""


def site_config(port: int, name: str, camera: str, extra: str = "") -> str:
    return f"""{site_notifier(port, name)}cameras:
  {camera}:
    name: {camera.title()}
    url: demo://
{extra}"""


def link_of(hub: Hub):
    notifier = next(n for n in hub.notifiers.values() if isinstance(n, MqttNotifier))
    assert notifier.site is not None
    return notifier.site


@asynccontextmanager
async def two_hubs(folder: Path, port: int, automation: str = "") -> AsyncIterator[tuple[Hub, Hub]]:
    (folder / "barn").mkdir()
    (folder / "house").mkdir()
    barn = hub_at(folder / "barn", site_config(port, "barn", "yard"))
    house = hub_at(folder / "house", site_config(port, "house", "porch", automation))
    await barn.async_start()
    await house.async_start()
    try:
        assert barn.problems == [] and house.problems == []
        await wait_until(lambda: link_of(barn).connected and link_of(house).connected, 10)
        yield barn, house
    finally:
        await house.async_stop()
        await barn.async_stop()


def object_event(kind, camera: str, event_id: str, **extra):
    return kind(
        camera=camera,
        event_id=event_id,
        label="person",
        top_score=0.91,
        zones=("steps",),
        start=extra.pop("start", 1_700_000_000.0),
        **extra,
    )


TRIGGER_ON_BARN = """
automations:
  - id: barn-person
    triggers:
      - type: object
        hub: barn
        label: person
        zone: steps
    actions:
      - type: set_mode
        mode: alarm
"""


async def test_each_hub_sees_the_others_cameras_stills_and_events(tmp_path, mqtt_broker):
    broker = mqtt_broker()
    async with two_hubs(tmp_path, broker.port, TRIGGER_ON_BARN) as (barn, house):
        await wait_until(lambda: (p := house.site.peer("barn")) is not None and p.online, 10)
        peer = house.site.peer("barn")
        assert peer.panel_url == "http://barn.lan:8470" and peer.version
        await wait_until(lambda: "yard" in peer.cameras, 10, "barn's camera announced")
        await wait_until(lambda: peer.cameras["yard"].state == "online", 15, "yard online")
        await wait_until(lambda: peer.cameras["yard"].still is not None, 15, "a still of yard")
        assert peer.cameras["yard"].still.startswith(JPEG_MAGIC)
        # And the other way round; nobody lists itself.
        await wait_until(lambda: (p := barn.site.peer("house")) is not None and p.online, 10)
        assert "porch" in barn.site.peer("house").cameras
        assert house.site.peer("house") is None

        heard = house.bus.subscribe("t", (PeerEvent,))
        event_id = new_id()
        barn.bus.publish(object_event(EventStarted, "yard", event_id))
        started = await heard.get()
        assert (started.hub, started.camera, started.phase) == ("barn", "yard", "start")
        assert started.label == "person" and started.zones == ("steps",)
        await wait_until(lambda: house.mode == "alarm", 10, "the automation on barn's event")
        await wait_until(
            lambda: any(e["event_id"] == event_id and e.get("thumbnail") for e in peer.events),
            10,
            "the event with its thumbnail",
        )
        barn.bus.publish(object_event(EventEnded, "yard", event_id, end=1_700_000_005.0))
        ended = await heard.get()
        assert ended.phase == "end" and ended.end == 1_700_000_005.0
        await wait_until(lambda: peer.events[0].get("end") == 1_700_000_005.0, 10, "the end")
        thumbnail = next(e["thumbnail"] for e in peer.events if e["event_id"] == event_id)
        assert thumbnail.startswith(JPEG_MAGIC)


async def test_a_peer_that_drops_off_shows_offline_then_online_again(tmp_path, mqtt_broker):
    broker = mqtt_broker()
    async with two_hubs(tmp_path, broker.port) as (barn, house):
        await wait_until(lambda: (p := house.site.peer("barn")) is not None and p.online, 10)
        # Barn's network goes: no DISCONNECT reaches the broker, which sends barn's last will.
        link = link_of(barn)
        link._client._client.socket().shutdown(socket.SHUT_RDWR)
        await wait_until(lambda: not house.site.peer("barn").online, 10, "barn offline")
        assert "yard" in house.site.peer("barn").cameras  # still listed, as offline
        await wait_until(lambda: house.site.peer("barn").online, 15, "barn back")

        await barn.async_stop()  # a clean stop says offline itself
        await wait_until(lambda: not house.site.peer("barn").online, 10, "barn stopped")


async def test_the_panel_api_shows_the_site_and_peers_pictures(
    tmp_path, mqtt_broker, make_api_client
):
    broker = mqtt_broker()
    async with two_hubs(tmp_path, broker.port) as (barn, house):
        client: AuthedClient = await make_api_client(hub=house)
        viewer: AuthedClient = await make_api_client(hub=house, role="viewer", cameras=["porch"])
        peer = house.site.peer
        await wait_until(lambda: peer("barn") and peer("barn").cameras.get("yard"), 10)
        await wait_until(lambda: peer("barn").cameras["yard"].still is not None, 15, "a still")
        event_id = new_id()
        barn.bus.publish(object_event(EventStarted, "yard", event_id))
        await wait_until(lambda: peer("barn").events and peer("barn").events[0].get("thumbnail"))

        site = await (await client.get("/api/site")).json()
        assert site["enabled"] and site["site"] == "home" and site["name"] == "house"
        (shown,) = site["peers"]
        assert shown["name"] == "barn" and shown["state"] == "online"
        (yard,) = shown["cameras"]
        assert yard["panel_url"] == "http://barn.lan:8470/#/live/yard"
        still = await client.get(yard["still_url"])
        assert still.status == 200 and still.content_type == "image/jpeg"
        assert (await still.read()).startswith(JPEG_MAGIC)

        (event,) = (await (await client.get("/api/site/events")).json())["events"]
        assert event["hub"] == "barn" and event["event_id"] == event_id
        assert event["panel_url"] == f"http://barn.lan:8470/#/events/{event_id}"
        thumbnail = await client.get(event["thumbnail_url"])
        assert (await thumbnail.read()).startswith(JPEG_MAGIC)
        assert (await client.get("/api/site/nobody/cameras/yard/still.jpg")).status == 404
        # Another hub's cameras were never granted to a viewer.
        assert (await viewer.get("/api/site")).status == 403

        await barn.async_stop()
        await wait_until(lambda: not peer("barn").online, 10, "barn stopped")
        site = await (await client.get("/api/site")).json()
        assert site["peers"][0]["state"] == "offline"
        assert (await client.get(yard["still_url"])).status == 200  # the last still stays
