"""`hub:` in a motion or object trigger: another hub's events (from hub.site) fire it, this hub's
own do not, and the camera and label filters apply to the peer's."""

from __future__ import annotations

from hub.events import MotionStarted
from tests.helpers import hub_at, wait_until
from tests.hub.automations.conftest import wait_traces

CONFIG = """
automations:
  - id: any-peer-motion
    mode: parallel
    triggers:
      - type: motion
        hub: "*"
        camera: yard
    actions:
      - type: set_mode
        mode: peer_motion
  - id: barn-car
    triggers:
      - type: object
        hub: barn
        label: car
        min_score: 0.5
    actions:
      - type: set_mode
        mode: car
"""


async def test_peer_events_fire_hub_triggers_and_local_ones_do_not(tmp_path):
    hub = hub_at(tmp_path, CONFIG)
    await hub.async_start()
    try:
        assert hub.problems == []
        # Our own motion on a camera called yard is not a peer's.
        hub.bus.publish(MotionStarted(camera="yard", event_id="local"))
        hub.site.event(
            "barn", {"type": "start", "kind": "motion", "camera": "gate", "event_id": "1"}
        )
        hub.site.event("barn", {"type": "end", "kind": "motion", "camera": "yard", "event_id": "2"})
        hub.site.event(
            "shed", {"type": "start", "kind": "motion", "camera": "yard", "event_id": "3"}
        )
        await wait_until(lambda: hub.mode == "peer_motion", 10, "the shed's yard motion")

        car = {"type": "start", "kind": "object", "camera": "drive", "label": "car"}
        hub.site.event("shed", {**car, "event_id": "4", "top_score": 0.9})  # not barn
        hub.site.event("barn", {**car, "event_id": "5", "top_score": 0.3})  # too low
        hub.site.event("barn", {**car, "event_id": "6", "top_score": 0.8})
        await wait_until(lambda: hub.mode == "car", 10, "barn's car")
        (motion,) = await wait_traces(hub, "any-peer-motion", 1)
        (car_run,) = await wait_traces(hub, "barn-car", 1)
        assert "shed" in str(motion) and "barn" in str(car_run)
    finally:
        await hub.async_stop()
