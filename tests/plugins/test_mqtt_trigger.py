"""The `mqtt` automation trigger against a real mosquitto, through the `mqtt` notifier."""

from __future__ import annotations

import aiomqtt

from tests.helpers import wait_until

CONFIG = """\
notifiers:
  ha:
    type: mqtt
    host: 127.0.0.1
    port: {port}
    discovery: false
  log:
    type: log
automations:
  - id: doorbell
    mode: parallel
    triggers:
      - type: mqtt
        topic: zigbee/+/action
        payload: press
    actions:
      - type: notify
        notifier: log
        message: "{{topic}} said {{payload}}"
"""


async def test_messages_on_the_topic_with_the_payload_fire(make_hub, mqtt_broker):
    broker = mqtt_broker()
    hub = make_hub(CONFIG.format(port=broker.port))
    await hub.async_start()
    try:
        assert hub.automations.automations["doorbell"].issues == []
        await wait_until(lambda: hub.notifiers["ha"].connected, what="the MQTT connection")
        sent = hub.notifiers["log"].sent
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.publish("zigbee/button1/action", b"hold", qos=1)
            await client.publish("zigbee/button1/other", b"press", qos=1)
            await client.publish("zigbee/button2/action", b"press", qos=1)
            await wait_until(lambda: sent, what="a notification")
            # The trigger survives a reconnect: it subscribes again.
            broker.kill()
            broker.restart()
        await wait_until(lambda: hub.notifiers["ha"].connections >= 2, what="a reconnect")
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.publish("zigbee/button3/action", b" press\n", qos=1)
            await wait_until(lambda: len(sent) >= 2, what="a second notification")
        assert [m.body for m in sent] == [
            "zigbee/button2/action said press",
            "zigbee/button3/action said  press\n",
        ]
    finally:
        await hub.async_stop()


async def test_without_an_mqtt_notifier_the_automation_is_reported(make_hub):
    hub = make_hub(
        "notifiers:\n  log:\n    type: log\n"
        "automations:\n  - id: a\n    triggers:\n      - type: mqtt\n        topic: a/b\n"
        "    actions:\n      - type: stop\n"
    )
    await hub.async_start()
    try:
        [issue] = hub.automations.automations["a"].issues
        assert str(issue) == (
            "triggers[0]: could not set up trigger 'mqtt': "
            "needs an `mqtt` notifier for its broker connection"
        )
        bad = {
            "id": "b",
            "triggers": [{"type": "mqtt", "topic": "a/#/b"}],
            "actions": [{"type": "stop"}],
        }
        [issue] = hub.automations.validate(bad)
        assert issue.path == "triggers[0].topic"
    finally:
        await hub.async_stop()
