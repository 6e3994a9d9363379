"""Object detection out of the box: the bundled model when no detector is configured,
`objects` defaults and per-label scores, and what the API and `camhub plugins` say."""

from __future__ import annotations

import asyncio

import pytest

from hub.cli.plugins import plugins_command
from hub.config.loading import ConfigError, load_config
from hub.core import load_plugins
from hub.events import EventStarted, MotionStarted
from plugins.onnx_detector import OnnxDetector, bundled
from tests.hub.detection.test_object_events import CentreFinder, Plugin
from tests.web_clients import signed_in_client

TWO_CAMERAS = """
cameras:
  porch:
    url: demo://?first=1&walk=3&period=60
    motion:
      end_after: 1
    record:
      mode: 'off'
  shed:
    url: demo://
    objects:
      enabled: false
    record:
      mode: 'off'
"""


async def test_with_no_detectors_section_cameras_use_the_bundled_model(make_hub):
    hub = make_hub(TWO_CAMERAS)
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        assert hub.problems == []
        assert [loop.camera_id for loop in hub.object_loops] == ["porch"]
        detector = hub.detectors["coco"]
        assert isinstance(detector, OnnxDetector) and detector.path == bundled.MODEL_PATH
        assert hub.object_loops[0].detector is detector
        cameras = {c["id"]: c for c in (await (await client.get("/api/cameras")).json())["cameras"]}
        assert cameras["porch"]["objects"] == {
            "enabled": True,
            "detector": "coco",
            "type": "onnx",
            "model": "bundled COCO model (SSD MobileNetV3-Large)",
            "default": True,
            "labels": ["person", "car", "dog", "cat", "bicycle", "motorcycle"],
            "state": "active",
            "reason": None,
        }
        assert cameras["shed"]["objects"]["state"] == "off"
        assert cameras["shed"]["objects"]["reason"] == "objects.enabled is false"
        assert cameras["shed"]["objects"]["detector"] is None
    finally:
        await client.close()
        await hub.async_stop()


async def test_the_demo_walker_is_a_person_event_with_the_bundled_model(make_hub):
    # What a first run shows: the demo camera's walker, seen by the bundled model as a person
    # with the default minimum score, tracked into an event (not only motion).
    hub = make_hub(TWO_CAMERAS)
    started = hub.bus.subscribe("t", (EventStarted,))
    await hub.async_start()
    try:
        event = await asyncio.wait_for(started.get(), 60)
        assert (event.camera, event.label) == ("porch", "person")
        assert event.top_score >= hub.cameras["porch"].config.objects.min_score_for("person")
    finally:
        await hub.async_stop()


async def test_objects_off_everywhere_loads_no_model(make_hub):
    hub = make_hub("objects:\n  enabled: false\n" + TWO_CAMERAS)
    await hub.async_start()
    try:
        assert hub.object_loops == [] and hub.detectors == {}
        assert hub.motion_loops  # motion goes on
        assert hub.detector_pool.describe("porch")["reason"] == "objects.enabled is false"
    finally:
        await hub.async_stop()


async def test_a_configured_detector_replaces_the_bundled_one(make_hub):
    hub = make_hub("detectors:\n  finder:\n    type: centre\n" + TWO_CAMERAS)
    hub.plugins.register(Plugin(), "centre")
    await hub.async_start()
    try:
        assert sorted(hub.detectors) == ["finder"]
        assert [loop.detector for loop in hub.object_loops] == [hub.detectors["finder"]]
        described = hub.detector_pool.describe("porch")
        assert (described["detector"], described["type"], described["default"]) == (
            "finder",
            "centre",
            False,
        )
    finally:
        await hub.async_stop()


async def test_a_damaged_bundled_model_is_a_problem_and_cameras_keep_motion(
    make_hub, tmp_path, monkeypatch
):
    damaged = tmp_path / bundled.MODEL_PATH.name
    damaged.write_bytes(bundled.MODEL_PATH.read_bytes()[:100_000])  # cut short
    monkeypatch.setattr(bundled, "MODEL_PATH", damaged)
    hub = make_hub(TWO_CAMERAS)
    motion = hub.bus.subscribe("t", (MotionStarted,))
    await hub.async_start()
    try:
        (problem,) = hub.problems
        assert problem.startswith(
            f"detectors.coco: could not start: the bundled model {damaged} is damaged"
        )
        assert hub.object_loops == [] and hub.detectors == {}
        described = hub.detector_pool.describe("porch")
        assert described["state"] == "failed" and str(damaged) in described["reason"]
        started = await asyncio.wait_for(motion.get(), 20)  # the walker still makes motion
        assert started.camera == "porch"
    finally:
        await hub.async_stop()


async def test_each_label_has_its_own_min_score(make_hub):
    # The finder reports the walker as a person (0.7 and rising) and as a cat (0.99):
    # both are default labels, and the cat's own minimum is out of its reach.
    config = (
        "detectors:\n  finder:\n    type: centre\n"
        "objects:\n  filters:\n    cat:\n      min_score: 1.0\n" + TWO_CAMERAS
    )
    hub = make_hub(config)
    hub.plugins.register(Plugin(CentreFinder()), "centre")
    started = hub.bus.subscribe("t", (EventStarted,))
    await hub.async_start()
    try:
        event = await asyncio.wait_for(started.get(), 20)
        assert event.label == "person"
        assert hub.cameras["porch"].config.objects.min_score_for("cat") == 1.0
        assert hub.cameras["porch"].config.objects.min_score_for("person") == 0.5
    finally:
        await hub.async_stop()
    assert started.stats.queued == 0  # no cat event


def test_camera_objects_keys_win_over_the_top_level_ones(write_config):
    loaded = load_config(
        write_config(
            "objects:\n  labels: [person, dog]\n  min_score: 0.6\n  max_fps: 1\n"
            "cameras:\n  porch:\n    url: demo://\n    objects:\n      max_fps: 3\n"
            "  yard:\n    url: demo://\n"
        )
    )
    porch = loaded.config.camera_objects(loaded.config.cameras["porch"]).objects
    yard = loaded.config.camera_objects(loaded.config.cameras["yard"]).objects
    assert (porch.labels, porch.min_score, porch.max_fps) == (["person", "dog"], 0.6, 3)
    assert (yard.labels, yard.min_score, yard.max_fps) == (["person", "dog"], 0.6, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "objects:\n  labels: [person]\n  filters:\n    cat:\n      min_score: 0.7\n",
            "config.yaml:4: objects.filters.cat: 'cat' is not in objects.labels (person), "
            "so this filter would never apply",
        ),
        (
            "objects:\n  labels: [person]\ncameras:\n  porch:\n    url: demo://\n"
            "    objects:\n      filters:\n        car:\n          min_score: 0.7\n",
            "config.yaml:8: cameras.porch.objects.filters.car: 'car' is not in objects.labels "
            "(person), so this filter would never apply",
        ),
        (
            "objects:\n  detector: gpu\n",
            "config.yaml:2: objects.detector: unknown detector 'gpu' (known: none configured)",
        ),
    ],
    ids=["top-level-filter", "camera-filter-against-inherited-labels", "unknown-detector"],
)
def test_object_settings_that_cannot_work_are_errors(write_config, text, expected):
    with pytest.raises(ConfigError) as error:
        load_config(write_config(text))
    assert str(error.value) == expected


def test_camhub_plugins_says_which_detector_each_camera_uses(write_config, tmp_path):
    loaded = load_config(write_config(TWO_CAMERAS))
    text = plugins_command(loaded, tmp_path / "data", load_plugins(loaded), as_json=False)
    assert (
        "    detector coco (onnx, built in default): bundled COCO model (SSD MobileNetV3-Large); "
        "used by porch"
    ) in text.splitlines()
    assert text.endswith("cameras without object detection:\n    shed: objects.enabled is false")
