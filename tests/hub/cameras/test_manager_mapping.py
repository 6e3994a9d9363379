"""`hub.cameras` is a read-only mapping of camera id to its runtime; adds and removes show."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from hub import CameraRuntime
from hub.config.models import CameraConfig

CONFIG = """
cameras:
  front:
    url: demo://
    enabled: false
  back:
    name: Back yard
    url: demo://
    enabled: false
"""


def test_cameras_read_like_a_mapping_in_config_order(make_hub):
    cameras = make_hub(CONFIG).cameras
    assert isinstance(cameras, Mapping)
    assert list(cameras) == ["front", "back"] and len(cameras) == 2
    assert "back" in cameras and "side" not in cameras and None not in cameras
    assert isinstance(cameras["back"], CameraRuntime) and cameras["back"].name == "Back yard"
    assert cameras.get("side") is None
    assert [camera_id for camera_id, runtime in cameras.items()] == ["front", "back"]
    assert [runtime.camera_id for runtime in cameras.values()] == ["front", "back"]
    with pytest.raises(KeyError):
        cameras["side"]


def test_the_mapping_cannot_be_changed_behind_the_managers_back(make_hub):
    cameras = make_hub(CONFIG).cameras
    with pytest.raises(TypeError):
        cameras["side"] = cameras["front"]  # type: ignore[index]
    with pytest.raises(TypeError):
        del cameras["front"]  # type: ignore[attr-defined]
    assert not hasattr(cameras, "cameras")  # the old dict is gone, not a second way in


async def test_cameras_added_and_removed_at_run_time_show_in_the_mapping(make_hub):
    hub = make_hub(CONFIG)
    await hub.async_start()
    try:
        await hub.cameras.async_add("side", CameraConfig(url="demo://", enabled=False))
        assert list(hub.cameras) == ["front", "back", "side"] and "side" in hub.cameras
        await hub.cameras.async_remove("front")
        assert list(hub.cameras) == ["back", "side"] and len(hub.cameras) == 2
    finally:
        await hub.async_stop()
