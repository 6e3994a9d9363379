"""The `ptz` automation action, created and run directly against the ONVIF simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import ValidationError

from hub.events import Context
from plugins.onvif.soap import OnvifError
from tests.servers.onvif_sim import OnvifSimulator

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def ptz_hub(make_hub) -> AsyncIterator[tuple[Any, OnvifSimulator]]:
    sim = await OnvifSimulator().start()
    hub = make_hub(
        "plugins: {disabled: [discovery, pyav_source]}\n"
        "cameras:\n"
        "  gate:\n"
        "    url: rtsp://127.0.0.1:9/none\n"
        "    onvif:\n"
        f"      device_url: {sim.device_url}\n"
        "      username: admin\n"
        "      password: s3cret-pass\n"
        "      events: false\n"
        "  plain:\n"
        "    url: rtsp://127.0.0.1:9/none\n"
    )
    await hub.async_start()
    yield hub, sim
    await hub.async_stop()
    await sim.close()


def _action(hub: Any, **options: Any) -> Any:
    spec = hub.automation_types[("action", "ptz")]
    return spec.create(hub, "auto1", spec.options(**options))


async def test_a_continuous_move_is_followed_by_a_stop(ptz_hub):
    hub, sim = ptz_hub
    action = _action(hub, camera="gate", move="continuous", pan=0.5, tilt=-0.25, seconds=0.2)

    result = await action.async_run({}, Context())

    assert result == {"camera": "gate", "move": "continuous", "seconds": 0.2}
    assert [kind for kind, _ in sim.ptz] == ["move", "stop"]
    move = sim.ptz[0][1]
    assert (move["x"], move["y"], move["zoom"]) == ("0.5", "-0.25", "0")
    # The first profile with PTZ is used when none is named.
    assert move["profile"] == "sub_tok" and sim.ptz[1][1]["profile"] == "sub_tok"


async def test_go_to_a_preset_by_name_or_token_and_an_unknown_one_fails(ptz_hub):
    hub, sim = ptz_hub
    assert (
        await _action(hub, camera="gate", move="preset", preset="Drive").async_run({}, Context())
    )["preset"] == "2"
    await _action(hub, camera="gate", move="preset", preset="1").async_run({}, Context())
    assert sim.ptz == [("preset", {"token": "2"}), ("preset", {"token": "1"})]

    with pytest.raises(OnvifError, match=r"no preset .Pool. \(Gate, Drive\)"):
        await _action(hub, camera="gate", move="preset", preset="Pool").async_run({}, Context())


async def test_stop_alone(ptz_hub):
    hub, sim = ptz_hub
    await _action(hub, camera="gate", move="stop", profile="main_tok").async_run({}, Context())
    assert sim.ptz == [("stop", {"profile": "main_tok"})]


async def test_bad_options_and_cameras_are_refused_when_created(ptz_hub):
    hub, _ = ptz_hub
    spec = hub.automation_types[("action", "ptz")]
    with pytest.raises(ValidationError, match="move: preset needs `preset`"):
        spec.options(camera="gate", move="preset")
    with pytest.raises(ValidationError):
        spec.options(camera="gate", move="continuous", pan=2)
    env = type("Env", (), {"cameras": {"gate": frozenset()}})()
    assert spec.options(camera="gate", move="stop").check(env) == []
    assert spec.options(camera="nope", move="stop").check(env) == [
        ("camera", "unknown camera 'nope' (known: gate)")
    ]
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        spec.create(hub, "a", spec.options(camera="nope", move="stop"))
    with pytest.raises(ValueError, match="camera 'plain' has no onvif section"):
        spec.create(hub, "a", spec.options(camera="plain", move="stop"))


async def test_ptz_asks_only_get_profiles_so_a_bad_snapshot_answer_cannot_break_presets(ptz_hub):
    # A camera's malformed GetSnapshotUri answer used to fail every `ptz` action, which
    # fetched every profile's stream and snapshot URIs just to pick a profile token.
    hub, sim = ptz_hub
    sim.options.sloppy = {"GetSnapshotUri": "truncated", "GetStreamUri": "html_page"}
    await _action(hub, camera="gate", move="preset", preset="Gate").async_run({}, Context())
    await _action(hub, camera="gate", move="stop").async_run({}, Context())
    assert sim.ptz == [("preset", {"token": "1"}), ("stop", {"profile": "sub_tok"})]
    assert "GetSnapshotUri" not in sim.calls and "GetStreamUri" not in sim.calls
    assert sim.calls.count("GetProfiles") == 1  # the profile is kept for the next action
