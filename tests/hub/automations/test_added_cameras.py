"""Automations see cameras added and removed on a running hub (their camera checks are live)."""

from __future__ import annotations

from hub.config.models import CameraConfig
from hub.events import MotionStarted
from tests.hub.automations.conftest import notifications, publish

SHED = CameraConfig.model_validate(
    {
        "url": "demo://",
        "enabled": False,
        "zones": {"door": {"points": [[0, 0], [1, 0], [1, 1]]}},
    }
)


def on_shed_motion(automation_id: str = "shed_motion") -> dict[str, object]:
    return {
        "id": automation_id,
        "triggers": [{"type": "motion", "camera": "shed"}],
        "actions": [{"type": "notify", "notifier": "phone", "message": "motion on {camera}"}],
    }


async def test_an_automation_for_a_just_added_camera_validates_and_runs(auto_hub):
    hub = await auto_hub()
    [issue] = hub.automations.validate(on_shed_motion())
    assert issue.path == "triggers[0].camera" and "unknown camera 'shed'" in issue.message

    await hub.cameras.async_add("shed", SHED)
    assert hub.automations.validate(on_shed_motion()) == []
    assert await hub.automations.async_save(on_shed_motion(), create=True) == []
    await publish(hub, MotionStarted(camera="shed", event_id="m1"))
    [row] = await notifications(hub, 1)
    assert row["body"] == "motion on shed"

    await hub.cameras.async_remove("shed")
    assert hub.automations.validate(on_shed_motion()) != []


async def test_an_automation_waiting_for_its_camera_starts_once_it_is_added(auto_hub):
    hub = await auto_hub(
        "automations:\n"
        "  - id: shed_motion\n"
        "    triggers: [{type: motion, camera: shed}]\n"
        "    actions: [{type: notify, notifier: phone, message: 'motion on {camera}'}]\n"
    )
    assert hub.automations.automations["shed_motion"].as_dict()["state"] == "invalid"
    assert any("shed_motion" in problem for problem in hub.problems)

    await hub.cameras.async_add("shed", SHED)
    await hub.bus.async_drain(5)
    assert hub.automations.automations["shed_motion"].as_dict()["state"] == "on"
    assert not any("shed_motion" in problem for problem in hub.problems)
    await publish(hub, MotionStarted(camera="shed", event_id="m1"))
    [row] = await notifications(hub, 1)
    assert row["body"] == "motion on shed"
