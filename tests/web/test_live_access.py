"""`/api/ws` for a viewer: nothing about cameras not granted, nor about running the hub."""

from __future__ import annotations

import json

from hub.events import (
    DeviceDiscovered,
    HubStopping,
    MotionStarted,
    NotificationPosted,
    PluginFailed,
    StateChanged,
)
from tests.helpers import wait_for_sockets
from web.keys import HUB_KEY

CONFIG = (
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
)


async def received(socket, until: str) -> list[dict]:
    """Messages up to (and including) the one whose title or event_id is `until`."""
    seen = []
    while True:
        message = json.loads((await socket.receive(timeout=5)).data)
        seen.append(message)
        if until in (message.get("title"), message.get("event_id")):
            return seen


async def test_a_viewer_hears_only_about_granted_cameras(make_api_client):
    admin = await make_api_client(config=CONFIG)
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["front"])
    for event_id, camera in (("ev-front", "front"), ("ev-back", "back")):
        await hub.async_insert(
            "events", {"id": event_id, "camera": camera, "kind": "motion", "start": 1.0}
        )
    sockets = {
        "viewer": await viewer.ws_connect("/api/ws"),
        "admin": await admin.ws_connect("/api/ws"),
    }
    await wait_for_sockets(hub, 2)
    for event in (
        MotionStarted(camera="back", event_id="m-back"),
        StateChanged(entity_id="camera.back", old_state="offline", new_state="online"),
        StateChanged(entity_id="motion.back", old_state="off", new_state="on"),
        PluginFailed(plugin="crashy", reason="boom"),
        DeviceDiscovered(device_id="urn:x", name="Cam", host="192.0.2.4", source="test"),
        NotificationPosted(
            notifier="screen", message_id="n1", title="back", body="b", event_id="ev-back"
        ),
        MotionStarted(camera="front", event_id="m-front"),
        StateChanged(entity_id="mode.house", old_state="home", new_state="away"),
        NotificationPosted(notifier="screen", message_id="n2", title="plain", body="no camera"),
        NotificationPosted(
            notifier="screen", message_id="n3", title="front", body="f", event_id="ev-front"
        ),
    ):
        hub.bus.publish(event)
    viewer_saw = await received(sockets["viewer"], "front")
    admin_saw = await received(sockets["admin"], "front")
    for socket in sockets.values():
        await socket.close()
    hub.bus.publish(HubStopping())

    def names(messages: list[dict]) -> list[str]:
        return [
            m.get("camera") or m.get("entity_id") or m.get("title") or m["event_type"]
            for m in messages
            if m["event_type"] != "state_changed" or not m["entity_id"].startswith("detection.")
        ]

    assert names(viewer_saw) == ["front", "mode.house", "plain", "front"]
    assert names(admin_saw) == [
        "back",
        "camera.back",
        "motion.back",
        "plugin_failed",
        "device_discovered",
        "back",
        "front",
        "mode.house",
        "plain",
        "front",
    ]
