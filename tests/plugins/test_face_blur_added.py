"""A `face_blur` camera added at run time has the face model checked at once, as at start."""

from __future__ import annotations

from hub.config.models import CameraConfig
from tests.helpers import hub_at, wait_until


async def test_a_face_blur_camera_added_without_the_model_is_reported_at_once(tmp_path) -> None:
    hub = hub_at(tmp_path, "plugins: {disabled: [discovery]}\n")
    await hub.async_start()
    try:
        info = hub.plugins.infos["face_blur"]
        assert info.error is None  # no camera wanted faces blurred: nothing loaded yet
        plain = CameraConfig.model_validate({"url": "demo://", "enabled": False})
        await hub.cameras.async_add("plain", plain)
        await hub.bus.async_drain(5)
        assert info.error is None  # a camera without face_blur needs no model
        hall = plain.model_copy(update={"face_blur": True})
        await hub.cameras.async_add("hall", hall)
        await wait_until(lambda: info.error is not None, 10, "the missing model reported")
        assert info.error is not None and "camhub models install centerface" in info.error
    finally:
        await hub.async_stop()
