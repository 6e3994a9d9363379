"""`apply_privacy_masks`: a camera that burns its masks in is recorded as it is; any other
answer (None, a raise) leaves the masking to the hub, so nothing is ever seen unmasked."""

from __future__ import annotations

import asyncio
import io

import av
import numpy as np

from hub.hookspecs import hookimpl
from tests.helpers import wait_for_state

# The demo's lower half, where its street and walker are: far from black when unmasked.
BAND = "[[0, 0.5], [1, 0.5], [1, 1], [0, 1]]"
CONFIG = f"""
cameras:
  trusted:
    url: demo://
    privacy_masks: [{BAND}]
    record: {{mode: 'off'}}
  declined:
    url: demo://
    privacy_masks: [{BAND}]
    record: {{mode: 'off'}}
  broken:
    url: demo://
    privacy_masks: [{BAND}]
    record: {{mode: 'off'}}
  open:
    url: demo://
    record: {{mode: 'off'}}
"""


class CameraSideMasks:
    """Says `trusted` burns its masks in, declines `declined`, fails on `broken`."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    @hookimpl
    async def apply_privacy_masks(self, hub, camera_id, config):
        self.asked.append((camera_id, len(config.privacy_masks)))
        await asyncio.sleep(0)
        if camera_id == "broken":
            raise RuntimeError("camera unreachable")
        return True if camera_id == "trusted" else None


def lower_luma(jpeg: bytes) -> float:
    """Mean luma well inside the masked lower half of a snapshot."""
    with av.open(io.BytesIO(jpeg)) as image:
        frame = next(image.decode(video=0))
    luma = frame.to_ndarray(format="gray")
    return float(np.mean(luma[round(luma.shape[0] * 0.6) :]))


async def test_only_a_verified_camera_skips_the_hub_re_encode(make_hub):
    plugin = CameraSideMasks()
    hub = make_hub(CONFIG)
    hub.plugins.register(plugin, "camera_side_masks")
    await hub.async_start()
    try:
        for camera in ("trusted", "declined", "broken", "open"):
            await wait_for_state(hub, f"camera.{camera}", "online", timeout=30)
        assert sorted(plugin.asked) == [("broken", 1), ("declined", 1), ("trusted", 1)]
        cameras = hub.cameras
        views = {c: cameras[c].as_dict(hub)["privacy_masks"] for c in cameras}
        assert views == {"trusted": "camera", "declined": "hub", "broken": "hub", "open": None}
        # The trusted camera's picture comes through as the camera sent it (the demo is not
        # really masked, which shows the hub did not mask it); the others are masked.
        shots = {c: await hub.cameras.async_snapshot(c) for c in ("trusted", "declined", "broken")}
        assert all(shots.values())
        luma = {c: lower_luma(jpeg) for c, jpeg in shots.items() if jpeg}
        assert luma["trusted"] > 40, luma
        assert luma["declined"] < 25 and luma["broken"] < 25, luma
    finally:
        await hub.async_stop()
