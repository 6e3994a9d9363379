"""`redact_image`: every snapshot passes through it before it is served or stored, and a
`face_blur` camera's snapshot nobody redacted is withheld."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import av
import numpy as np

from hub.detection.object_detector import Detection
from hub.events import EventEnded
from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl
from tests.helpers import wait_until

MARK = b"\xff\xd8redacted\xff\xd9"

CONFIG = """
plugins:
  disabled: [face_blur]
detectors:
  walker:
    type: walker
cameras:
  garden:
    url: demo://?first=1&walk=3&period=60
    motion:
      end_after: 1
    objects:
      max_fps: 4
      end_after: 1
    record:
      mode: 'off'
  street:
    url: demo://
    face_blur: true
    detect:
      enabled: false
    record:
      mode: 'off'
"""


class WalkerFinder:
    """Reports the demo's walker (its dark blue coat) as a person."""

    async def async_detect(self, images: list[Any]) -> list[list[Detection]]:
        answers = []
        for image in images:
            rgb = image.astype(int)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            coat = (rgb.sum(axis=2) < 200) & (b >= r + 20) & (b >= g + 10)
            ys, xs = np.nonzero(coat)
            if len(xs) < 20:
                answers.append([])
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            answers.append([Detection("person", 0.9, box)])
        return answers


class Detectors:
    @hookimpl
    def detector_types(self) -> list[TypeSpec]:
        return [TypeSpec("walker", PluginOptions, lambda hub, i, o: WalkerFinder())]


class Redactor:
    """Replaces the garden camera's snapshots; declines (None) for every other camera."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    @hookimpl
    async def redact_image(self, hub: Any, camera_id: str, jpeg: bytes) -> bytes | None:
        self.seen.append((camera_id, jpeg))
        return MARK if camera_id == "garden" else None


class Failing:
    @hookimpl
    def redact_image(self, hub: Any, camera_id: str, jpeg: bytes) -> bytes:
        raise RuntimeError("model went away")


def is_picture(jpeg: bytes) -> bool:
    with av.open(io.BytesIO(jpeg)) as image:
        frame = next(image.decode(video=0))
    return (frame.width, frame.height) == (640, 360)


async def test_camera_and_event_snapshots_are_what_the_plugin_returns(make_hub):
    hub = make_hub(CONFIG)
    redactor = Redactor()
    hub.plugins.register(Detectors(), "walker_detector")
    hub.plugins.register(redactor, "stamp")
    ended = hub.bus.subscribe("t", (EventEnded,))
    await hub.async_start()
    try:
        await wait_until(lambda: hub.states.get("camera.garden").state == "online", 20)
        assert await hub.cameras.async_snapshot("garden") == MARK
        camera_id, original = redactor.seen[-1]
        assert camera_id == "garden" and is_picture(original)  # the source's own picture

        event = await asyncio.wait_for(ended.get(), 20)
        await hub.async_block_till_done()  # the snapshot is written just after the end
        rows = await hub.storage.async_read(
            lambda db: [dict(r) for r in db.query("select * from events where kind='object'")]
        )
        assert rows[0]["id"] == event.event_id and rows[0]["snapshot_path"]
        with hub.footage.open_read(rows[0]["snapshot_path"]) as file:
            assert file.read() == MARK
        assert ("garden", MARK) not in redactor.seen  # the plugin saw the real picture
    finally:
        await hub.async_stop()


async def test_a_face_blur_camera_nobody_redacted_gets_no_snapshot(make_hub, caplog):
    hub = make_hub(CONFIG)
    hub.plugins.register(Detectors(), "walker_detector")
    redactor = Redactor()
    hub.plugins.register(redactor, "stamp")
    await hub.async_start()
    try:
        await wait_until(lambda: hub.states.get("camera.street").state == "online", 20)
        # The plugin declined for `street`, which has face_blur: withheld, never shown as is.
        assert await hub.cameras.async_snapshot("street") is None
        # (The garden's motion and object event snapshots go through the plugin too.)
        assert [c for c, _ in redactor.seen if c != "garden"] == ["street"]
        assert "Camera street: snapshot withheld" in caplog.text
    finally:
        await hub.async_stop()


async def test_a_failing_redactor_is_isolated_and_withholds_only_face_blur_cameras(make_hub):
    hub = make_hub(CONFIG)
    hub.plugins.register(Detectors(), "walker_detector")
    hub.plugins.register(Failing(), "failing")
    await hub.async_start()
    try:
        await wait_until(lambda: hub.states.get("camera.street").state == "online", 20)
        await wait_until(lambda: hub.states.get("camera.garden").state == "online", 20)
        assert await hub.cameras.async_snapshot("street") is None
        garden = await hub.cameras.async_snapshot("garden")
        assert garden is not None and is_picture(garden)
        info = hub.plugins.infos["failing"]
        assert info.error == "redact_image: RuntimeError: model went away"
    finally:
        await hub.async_stop()
