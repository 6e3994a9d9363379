"""The `mqtt` notifier against a real mosquitto: discovery, states, commands, reconnects."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomqtt

from hub.core import Hub
from hub.events import MotionEnded, MotionStarted, new_id
from hub.notify.message import Message
from plugins.mqtt import MqttNotifier
from tests.helpers import wait_for_state, wait_until

JPEG = b"\xff\xd8\xff\xe0 not really a picture \xff\xd9"


def config(port: int, cameras: str, extra: str = "") -> str:
    return (
        "notifiers:\n  ha:\n    type: mqtt\n    host: 127.0.0.1\n"
        f"    port: {port}\n{extra}cameras:\n{cameras}"
    )


# Disabled cameras: no decoding, but they are configured and so get a device.
TWO_CAMERAS = """\
  front:
    name: Front door
    url: demo://
    enabled: false
    objects:
      labels: [person, car]
  back:
    url: demo://
    enabled: false
"""
FRONT_ONLY = """\
  front:
    name: Front door
    url: demo://
    enabled: false
    objects:
      labels: [person, car]
"""


def notifier(hub: Hub) -> MqttNotifier:
    found = hub.notifiers["ha"]
    assert isinstance(found, MqttNotifier)
    return found


async def retained(port: int, topic_filter: str) -> dict[str, bytes]:
    """Every retained message under `topic_filter` now (a marker message ends the read)."""
    marker = f"test/marker/{new_id()}"
    found: dict[str, bytes] = {}
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic_filter, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, b"end", qos=1)
        async with asyncio.timeout(10):
            async for message in client.messages:
                if message.topic.matches(marker):
                    break
                assert isinstance(message.payload, bytes)
                found[message.topic.value] = message.payload
    return found


class Watcher:
    """Everything published under a filter while it runs, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def payloads(self, topic: str) -> list[bytes]:
        return [payload for t, payload in self.messages if t == topic]

    def last(self, topic: str) -> bytes | None:
        found = self.payloads(topic)
        return found[-1] if found else None


@asynccontextmanager
async def watching(port: int, topic_filter: str = "#") -> AsyncIterator[Watcher]:
    watcher = Watcher()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic_filter, qos=1)

        async def collect() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                watcher.messages.append((message.topic.value, message.payload))

        task = asyncio.get_running_loop().create_task(collect())
        try:
            yield watcher
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def running(hub: Hub) -> AsyncIterator[Hub]:
    await hub.async_start()
    try:
        await wait_until(lambda: notifier(hub).connected, 10, "connected to the broker")
        yield hub
    finally:
        await hub.async_stop()


async def test_discovery_configs_are_retained_in_home_assistant_shape(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, TWO_CAMERAS))):
        configs = await retained(broker.port, "homeassistant/#")
        states = await retained(broker.port, "camhub/#")

    base = "homeassistant/{}/camhub_front/{}/config"
    motion = json.loads(configs[base.format("binary_sensor", "motion")])
    assert motion["unique_id"] == "camhub_front_motion"
    assert motion["device_class"] == "motion"
    assert motion["state_topic"] == "camhub/front/motion"
    assert (motion["payload_on"], motion["payload_off"]) == ("ON", "OFF")
    assert motion["availability_topic"] == "camhub/availability"
    assert motion["device"] == {
        "identifiers": ["camhub_front"],
        "name": "Front door",
        "manufacturer": "camhub",
        "model": "camhub camera",
    }
    person = json.loads(configs[base.format("sensor", "person_count")])
    assert person["state_topic"] == "camhub/front/person"
    assert person["device"]["identifiers"] == ["camhub_front"]
    assert base.format("sensor", "car_count") in configs
    camera = json.loads(configs[base.format("camera", "snapshot")])
    assert camera["topic"] == "camhub/front/snapshot"
    event = json.loads(configs[base.format("event", "event")])
    assert event["event_types"] == ["motion", "person", "car"]
    assert event["state_topic"] == "camhub/front/event"
    switch = json.loads(configs[base.format("switch", "detection")])
    assert switch["command_topic"] == "camhub/front/detection/set"
    every = [json.loads(payload) for payload in configs.values()]
    assert all(c["availability_topic"] == "camhub/availability" for c in every)
    assert len({c["unique_id"] for c in every}) == len(every)
    # The second camera (default labels) is a device of its own.
    back = json.loads(configs["homeassistant/binary_sensor/camhub_back/motion/config"])
    assert back["device"]["name"] == "back"

    assert states["camhub/availability"] == b"online"
    assert states["camhub/front/motion"] == b"OFF"
    assert states["camhub/front/person"] == b"0"
    assert states["camhub/front/detection"] == b"ON"
    assert states["camhub/mode"] == b"home"
    # A clean stop says offline itself (the broker sends the will only on a lost connection).
    assert (await retained(broker.port, "camhub/availability"))["camhub/availability"] == (
        b"offline"
    )


async def test_demo_walker_turns_motion_on_then_off_and_is_a_person_event(mqtt_broker, make_hub):
    broker = mqtt_broker()
    cameras = (
        "  garden:\n    url: demo://?first=1&walk=2&period=60\n"
        "    detect:\n      fps: 5\n    motion:\n      end_after: 1\n"
    )
    async with (
        watching(broker.port, "camhub/garden/#") as watcher,
        running(make_hub(config(broker.port, cameras))),
    ):

        def events() -> list[object]:
            return [json.loads(p) for p in watcher.payloads("camhub/garden/event")]

        await wait_until(
            lambda: (
                b"OFF" in watcher.payloads("camhub/garden/motion")[1:]
                and {"event_type": "person"} in events()
            ),
            25,
            "motion ON, OFF and a person event",
        )
        motion = watcher.payloads("camhub/garden/motion")
        assert motion[0] == b"OFF"  # the state on connect
        assert b"ON" in motion and motion.index(b"ON") < len(motion) - 1
        # Motion first; the bundled model then sees the walker as a person.
        assert events()[0] == {"event_type": "motion"}


async def test_everything_arrives_after_the_broker_is_killed_and_restarted(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, FRONT_ONLY))) as hub:
        mqtt = notifier(hub)
        broker.kill()
        await wait_until(lambda: not mqtt.connected, 10, "connection loss seen")
        # While the broker is down: motion starts, and a notification is queued.
        hub.bus.publish(MotionStarted(camera="front", event_id="m1"))
        message = Message(title="Someone at the door", body="front", event_id="m1")
        await hub.outbox.async_enqueue("ha", message)
        await hub.async_block_till_done()  # the send was tried, and its failure written
        row = await hub.outbox.async_get(message.id)
        assert row is not None and row["attempts"] >= 1
        assert row["state"] == "pending" and "not connected" in row["error"]

        broker.restart()  # retained messages are gone: persistence is off
        async with watching(broker.port) as watcher:
            await wait_until(lambda: mqtt.connections == 2, 20, "reconnected")
            await wait_until(lambda: watcher.payloads("camhub/notify"), 30, "notification")
            notify = json.loads(watcher.payloads("camhub/notify")[0])
            assert notify["id"] == message.id and notify["title"] == "Someone at the door"
            assert watcher.last("camhub/availability") == b"online"
            assert watcher.last("camhub/front/motion") == b"ON"
            assert watcher.last("homeassistant/binary_sensor/camhub_front/motion/config")
        row = await hub.outbox.async_get(message.id)
        assert row is not None and row["state"] == "delivered"
        # Retained again, for anyone subscribing later (Home Assistant after its own restart).
        again = await retained(broker.port, "#")
        assert again["camhub/front/motion"] == b"ON"
        assert "homeassistant/camera/camhub_front/snapshot/config" in again


async def test_killed_hub_connection_leaves_the_will(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with (
        running(make_hub(config(broker.port, FRONT_ONLY, "    keepalive: 5\n"))) as hub,
        watching(broker.port, "camhub/availability") as watcher,
    ):
        mqtt = notifier(hub)
        # Cut the socket without a DISCONNECT, as a crash or a pulled cable would.
        client = mqtt._client
        assert client is not None
        sock = client._client.socket()
        sock.shutdown(socket.SHUT_RDWR)
        await wait_until(lambda: b"offline" in watcher.payloads("camhub/availability"), 15, "will")
        await wait_until(lambda: watcher.last("camhub/availability") == b"online", 15, "back")


async def test_commands_set_the_house_mode_and_disarm_a_camera(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with (
        running(make_hub(config(broker.port, FRONT_ONLY))) as hub,
        watching(broker.port, "camhub/#") as watcher,
        aiomqtt.Client("127.0.0.1", broker.port) as remote,
    ):
        await remote.publish("camhub/mode/set", "away", qos=1)
        await wait_until(lambda: hub.mode == "away", 10, "house mode away")
        await wait_until(lambda: watcher.last("camhub/mode") == b"away", 10, "mode published")

        await remote.publish("camhub/front/detection/set", "OFF", qos=1)
        await wait_until(lambda: not hub.cameras["front"].armed, 10, "front disarmed")
        assert hub.states.get("detection.front").state == "off"
        await wait_until(lambda: watcher.last("camhub/front/detection") == b"OFF", 10, "state")

        # Unknown cameras and bad payloads are ignored.
        await remote.publish("camhub/nope/detection/set", "OFF", qos=1)
        await remote.publish("camhub/front/detection/set", "maybe", qos=1)
        await remote.publish("camhub/front/detection/set", "on", qos=1)
        await wait_until(lambda: hub.cameras["front"].armed, 10, "front armed again")


async def test_notification_and_snapshot_of_a_known_event(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with (
        running(make_hub(config(broker.port, FRONT_ONLY))) as hub,
        watching(broker.port, "camhub/#") as watcher,
    ):
        hub.bus.publish(MotionStarted(camera="front", event_id="m7"))
        await wait_until(lambda: watcher.last("camhub/front/motion") == b"ON", 10, "motion")
        hub.bus.publish(MotionEnded(camera="front", event_id="m7", duration=1.0))
        await hub.outbox.async_enqueue(
            "ha",
            Message(
                title="Motion", body="front", tags=("motion",), snapshot_jpeg=JPEG, event_id="m7"
            ),
        )
        # An event the notifier never saw: the text goes out, the picture has no camera.
        await hub.outbox.async_enqueue(
            "ha", Message(title="Other", body="?", snapshot_jpeg=JPEG, event_id="unknown")
        )
        await wait_until(lambda: len(watcher.payloads("camhub/notify")) == 2, 15, "notified")
        first, second = (json.loads(p) for p in watcher.payloads("camhub/notify"))
        assert (first["title"], first["tags"], first["event_id"]) == ("Motion", ["motion"], "m7")
        assert second["title"] == "Other"
        assert watcher.payloads("camhub/front/snapshot") == [JPEG]
        assert watcher.last("camhub/front/motion") == b"OFF"
    assert (await retained(broker.port, "camhub/front/snapshot")) == {"camhub/front/snapshot": JPEG}


async def test_a_removed_camera_is_cleared_on_the_next_start(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, TWO_CAMERAS))):
        pass
    before = await retained(broker.port, "#")
    assert any("camhub_back" in topic for topic in before)
    assert "camhub/back/motion" in before

    async with running(make_hub(config(broker.port, FRONT_ONLY))):
        after = await retained(broker.port, "#")
    assert not [topic for topic in after if "back" in topic]
    assert "homeassistant/binary_sensor/camhub_front/motion/config" in after
    index = json.loads(after["camhub/cameras"])
    assert [camera["id"] for camera in index] == ["front"]


async def test_username_and_password_from_secrets(mqtt_broker, make_hub, caplog):
    broker = mqtt_broker(users={"camhub": "pa55-word"})
    extra = "    username: camhub\n    password: !secret mqtt_pw\n"
    hub = make_hub(config(broker.port, FRONT_ONLY, extra), secrets="mqtt_pw: pa55-word\n")
    async with running(hub):
        assert notifier(hub).connections == 1
    refused = make_hub(config(broker.port, FRONT_ONLY, extra), secrets="mqtt_pw: wrong\n")
    caplog.set_level(logging.DEBUG, logger="plugins.mqtt.notifier")
    await refused.async_start()
    try:
        await wait_until(lambda: "cannot connect to" in caplog.text, 10, "the broker's refusal")
        assert not notifier(refused).connected and notifier(refused).connections == 0
    finally:
        await refused.async_stop()


def test_bad_topic_prefix_is_a_config_problem(make_hub):
    from plugins.mqtt import MqttOptions

    assert MqttOptions(host="h").topic_prefix == "camhub"
    for bad in ("camhub/#", "/camhub", "a/+/b", ""):
        try:
            MqttOptions(host="h", topic_prefix=bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


async def test_a_camera_disarmed_from_home_assistant_stays_disarmed_after_a_restart(
    mqtt_broker, make_hub
):
    # It came back armed and re-published ON, undoing what the user chose in Home Assistant.
    broker = mqtt_broker()
    async with (
        running(make_hub(config(broker.port, FRONT_ONLY))) as hub,
        aiomqtt.Client("127.0.0.1", broker.port) as remote,
    ):
        await remote.publish("camhub/front/detection/set", "OFF", qos=1)
        await wait_until(lambda: not hub.cameras["front"].armed, 10, "front disarmed")
    async with watching(broker.port, "camhub/front/detection") as watcher:
        await wait_until(lambda: watcher.payloads("camhub/front/detection"), 10, "retained")
        async with running(make_hub(config(broker.port, FRONT_ONLY))) as again:
            assert not again.cameras["front"].armed
            assert again.states.get("detection.front").state == "off"
            assert again.cameras["front"].as_dict(again)["armed"] is False
            # Published again on connect (the index is published after it), never as ON.
            await wait_until(
                lambda: len(watcher.payloads("camhub/front/detection")) >= 2, 10, "republished"
            )
        assert set(watcher.payloads("camhub/front/detection")) == {b"OFF"}


LIVE_CAMERA = """\
  front:
    url: demo://
    record: {mode: 'off'}
    motion: {enabled: false}
"""
JPEG_START = b"\xff\xd8"


async def test_a_fresh_install_gives_home_assistant_a_camera_picture_without_automations(
    mqtt_broker, make_hub
):
    # Home Assistant's camera entity stayed empty until an automation sent a notification
    # with a snapshot. With the defaults, a camera's picture is on its topic once it is live.
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, LIVE_CAMERA))) as hub:
        await wait_for_state(hub, "camera.front", "online")
        await wait_until(lambda: notifier(hub).stills.published >= 1, 20, "a picture")
        pictures = await retained(broker.port, "camhub/front/snapshot")
        assert pictures["camhub/front/snapshot"].startswith(JPEG_START)


async def test_each_event_start_and_every_still_interval_publish_a_picture(mqtt_broker, make_hub):
    broker = mqtt_broker()
    quiet = "    still_interval: 0\n"
    async with (
        running(make_hub(config(broker.port, LIVE_CAMERA, quiet))) as hub,
        watching(broker.port, "camhub/front/snapshot") as watcher,
    ):
        await wait_for_state(hub, "camera.front", "online")
        assert notifier(hub).stills.published == 0  # no interval: pictures come with events
        hub.bus.publish(MotionStarted(camera="front", event_id="m1"))
        await wait_until(lambda: watcher.payloads("camhub/front/snapshot"), 20, "event picture")
        assert watcher.last("camhub/front/snapshot").startswith(JPEG_START)

    broker = mqtt_broker()
    often = "    snapshots: false\n    still_interval: 0.2\n"
    async with (
        running(make_hub(config(broker.port, LIVE_CAMERA, often))) as hub,
        watching(broker.port, "camhub/front/snapshot") as watcher,
    ):
        # At most one picture per camera every MIN_GAP_SECONDS, however short the interval.
        await wait_until(lambda: len(watcher.payloads("camhub/front/snapshot")) >= 2, 30, "two")
        assert all(p.startswith(JPEG_START) for p in watcher.payloads("camhub/front/snapshot"))
