"""ONVIF event followers of cameras added, changed and removed on a running hub (simulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.config.models import CameraConfig
from hub.events import OnvifEvent
from tests.helpers import wait_for_state, wait_until
from tests.servers.onvif_sim import OnvifSimulator, SimOptions

pytestmark = pytest.mark.timeout(60)
CELL_MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
PASSWORD = "s3cret-pass"


def porch(sim: OnvifSimulator, motion: str = "camera") -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "url": "demo://",
            "record": {"mode": "off"},
            "motion": {"source": motion, "end_after": 0.5},
            "onvif": {"device_url": sim.device_url, "username": "admin", "password": PASSWORD},
        }
    )


@pytest.fixture
async def sims() -> AsyncIterator[list[OnvifSimulator]]:
    started = [await OnvifSimulator(SimOptions()).start() for _ in range(2)]
    yield started
    for simulator in started:
        await simulator.close()


@pytest.fixture
async def hub(make_hub: Any) -> AsyncIterator[Any]:
    started = make_hub("plugins: {disabled: [discovery]}\n")
    await started.async_start()
    yield started
    await started.async_stop()


async def test_an_added_camera_gets_pull_point_motion_and_removing_it_unsubscribes(hub, sims):
    sim = sims[0]
    await hub.cameras.async_add("porch", porch(sim))
    await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
    await wait_for_state(hub, "onvif.porch", "connected")
    await wait_for_state(hub, "motion.porch", "off")
    sim.push_event(CELL_MOTION, {"IsMotion": "true"})
    await wait_for_state(hub, "motion.porch", "on", timeout=10)

    await hub.cameras.async_remove("porch")
    await wait_until(lambda: sim.unsubscribed == 1, 10, "the subscription ended")
    assert not sim.subscriptions
    await wait_until(lambda: hub.states.get("onvif.porch") is None, 5, "its state forgotten")


async def test_an_added_camera_without_camera_motion_still_gets_onvif_events(hub, sims):
    sim = sims[0]
    events = hub.bus.subscribe("test", (OnvifEvent,))
    await hub.cameras.async_add("porch", porch(sim, motion="hub"))
    await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
    sim.push_event("tns1:Device/Trigger/DigitalInput", {"LogicalState": "true"}, {"Input": "1"})
    event = await events.get()
    assert (event.camera, event.topic) == ("porch", "Device/Trigger/DigitalInput")


async def test_a_camera_given_another_onvif_device_follows_the_new_one(hub, sims):
    first, second = sims
    await hub.cameras.async_add("porch", porch(first))
    await wait_until(lambda: first.subscriptions, 10, "a subscription at the first device")

    await hub.cameras.async_reconfigure("porch", porch(second))
    await wait_until(lambda: first.unsubscribed == 1, 10, "the first subscription ended")
    await wait_until(lambda: second.subscriptions, 10, "a subscription at the second device")
    assert not first.subscriptions
    second.push_event(CELL_MOTION, {"IsMotion": "true"})
    await wait_for_state(hub, "motion.porch", "on", timeout=10)


async def test_a_zone_edit_keeps_the_subscription(hub, sims):
    sim = sims[0]
    await hub.cameras.async_add("porch", porch(sim))
    await wait_until(lambda: sim.subscriptions, 10, "a pull-point subscription")
    [subscription] = list(sim.subscriptions)
    config = hub.cameras["porch"].config
    zoned = config.model_copy(update={"masks": [[(0.0, 0.0), (0.5, 0.0), (0.5, 0.5)]]})
    await hub.cameras.async_reconfigure("porch", zoned)
    sim.push_event(CELL_MOTION, {"IsMotion": "true"})
    await wait_for_state(hub, "motion.porch", "on", timeout=10)
    assert list(sim.subscriptions) == [subscription]
    assert sim.unsubscribed == 0
