"""The built-in motion plugin on the demo camera: the walking figure makes a motion event."""

from __future__ import annotations

import asyncio

from hub.events import MotionStarted

CONFIG = """
cameras:
  garden:
    url: demo://
    detect:
      fps: 5
    record:
      mode: events
"""


async def test_demo_figure_starts_motion_where_the_figure_is(make_hub):
    hub = make_hub(CONFIG)
    started = hub.bus.subscribe("t", (MotionStarted,))
    await hub.async_start()
    assert [m.camera_id for m in hub.motion_loops] == ["garden"]
    # The demo's first walk starts 5 s into the stream; the garden is still before that.
    event = await asyncio.wait_for(started.get(), 20)
    assert event.camera == "garden" and len(event.boxes) == 1
    x0, _, x1, y1 = event.boxes[0]
    # The figure enters from the left, on the lawn (lower half of the 640x360 picture).
    assert x0 < 200 and y1 > 180 and (x1 - x0) < 150
    assert hub.states.get("motion.garden").state == "on"
    await hub.async_stop()


async def test_masked_area_hides_the_figure(make_hub):
    # Mask the whole left half, where the figure walks during the first seconds of its walk.
    masked = CONFIG + "    masks:\n      - [[0, 0], [0.6, 0], [0.6, 1], [0, 1]]\n"
    hub = make_hub(masked)
    started = hub.bus.subscribe("t", (MotionStarted,))
    await hub.async_start()
    event = await asyncio.wait_for(started.get(), 20)
    # Motion is only seen once the figure leaves the mask.
    assert event.boxes[0][2] > 0.6 * 640
    await hub.async_stop()
