"""The `mqtt` notifier follows cameras added, changed and removed on a running hub (mosquitto)."""

from __future__ import annotations

import json

from hub.config.models import CameraConfig, ObjectsConfig
from hub.core import Hub
from tests.helpers import wait_until
from tests.plugins.test_mqtt import FRONT_ONLY, config, notifier, retained, running, watching
from web.keys import HUB_KEY

YARD_MOTION = "homeassistant/binary_sensor/camhub_yard/motion/config"
YARD_CAR = "homeassistant/sensor/camhub_yard/car_count/config"


def _names(payload: bytes | None) -> list[str]:
    """Camera names in an index message (the index is published last: all else is done)."""
    return [entry["name"] for entry in json.loads(payload or b"[]")]


async def _index(port: int) -> list[tuple[str, str]]:
    found = await retained(port, "camhub/cameras")
    return [(entry["id"], entry["name"]) for entry in json.loads(found["camhub/cameras"])]


async def test_a_camera_added_over_the_api_appears_and_is_cleared_when_removed(
    mqtt_broker, make_api_client
):
    broker = mqtt_broker()
    client = await make_api_client(config=config(broker.port, FRONT_ONLY))
    hub: Hub = client.app[HUB_KEY]
    await wait_until(lambda: notifier(hub).connected, 10, "connected to the broker")
    assert YARD_MOTION not in await retained(broker.port, "homeassistant/#")

    async with watching(broker.port) as watcher:
        body = {"id": "yard", "name": "Yard", "url": "demo://"}
        answer = await client.post("/api/cameras", json=body)
        assert answer.status == 201, await answer.text()
        index = "camhub/cameras"
        await wait_until(lambda: _names(watcher.last(index)) == ["Front door", "Yard"], 10, "index")

    configs = await retained(broker.port, "homeassistant/#")
    motion = json.loads(configs[YARD_MOTION])
    assert motion["device"]["name"] == "Yard"
    assert motion["state_topic"] == "camhub/yard/motion"
    assert "camhub/yard/detection" in await retained(broker.port, "camhub/yard/#")
    assert await _index(broker.port) == [("front", "Front door"), ("yard", "Yard")]

    async with watching(broker.port) as watcher:
        answer = await client.delete("/api/cameras/yard")
        assert answer.status == 200, await answer.text()
        await wait_until(lambda: _names(watcher.last(index)) == ["Front door"], 10, "new index")

    assert not [topic for topic in await retained(broker.port, "#") if "yard" in topic]
    assert await _index(broker.port) == [("front", "Front door")]
    # The configured camera is untouched.
    configs = await retained(broker.port, "homeassistant/#")
    assert "homeassistant/binary_sensor/camhub_front/motion/config" in configs


async def test_a_renamed_camera_is_republished_and_a_dropped_label_cleared(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, FRONT_ONLY))) as hub:
        yard = CameraConfig(
            name="Yard", url="demo://", enabled=False, objects=ObjectsConfig(labels=["car"])
        )
        async with watching(broker.port) as watcher:
            await hub.cameras.async_add("yard", yard)
            await wait_until(lambda: "Yard" in _names(watcher.last("camhub/cameras")), 10, "index")
            assert watcher.last(YARD_CAR)

        # `car` dropped from the labels (the default labels have it too).
        people = ObjectsConfig(labels=["person"])
        renamed = yard.model_copy(update={"name": "Back yard", "objects": people})
        async with watching(broker.port) as watcher:
            await hub.cameras.async_reconfigure("yard", renamed)
            await wait_until(lambda: watcher.last(YARD_CAR) == b"", 10, "the car sensor cleared")
            await wait_until(
                lambda: "Back yard" in _names(watcher.last("camhub/cameras")), 10, "new index"
            )

        configs = await retained(broker.port, "homeassistant/#")
        assert json.loads(configs[YARD_MOTION])["device"]["name"] == "Back yard"
        assert "homeassistant/sensor/camhub_yard/person_count/config" in configs
        assert YARD_CAR not in configs
        assert "camhub/yard/car" not in await retained(broker.port, "camhub/#")
        assert await _index(broker.port) == [("front", "Front door"), ("yard", "Back yard")]


async def test_zone_edits_do_not_republish_discovery(mqtt_broker, make_hub):
    broker = mqtt_broker()
    async with running(make_hub(config(broker.port, FRONT_ONLY))) as hub:
        front = hub.cameras["front"].config
        async with watching(broker.port) as watcher:
            moved = front.model_copy(update={"masks": [[(0.0, 0.0), (0.5, 0.0), (0.5, 0.5)]]})
            await hub.cameras.async_reconfigure("front", moved)
            # A later change that does rename it shows the notifier did handle the first.
            renamed = moved.model_copy(update={"name": "Porch"})
            await hub.cameras.async_reconfigure("front", renamed)
            await wait_until(
                lambda: _names(watcher.last("camhub/cameras")) == ["Porch"], 10, "new index"
            )
        topic = "homeassistant/binary_sensor/camhub_front/motion/config"
        names = [json.loads(p)["device"]["name"] for p in watcher.payloads(topic)]
        # The retained config delivered on subscribing, then the rename only.
        assert names == ["Front door", "Porch"]
