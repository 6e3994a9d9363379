"""Object events: detector only around motion, tracking, zones, best snapshot, API."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hub.detection.object_detector import Detection, DetectorError
from hub.detection.objects import point_in_polygon, regions_for
from hub.events import EventEnded, EventStarted, EventUpdated, ObjectDetected
from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl
from tests.helpers import wait_until
from tests.web_clients import signed_in_client


def test_point_in_polygon_even_odd():
    square = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert point_in_polygon(0.5, 0.5, square)
    assert not point_in_polygon(1.5, 0.5, square)
    ell = [(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]
    assert point_in_polygon(0.5, 1.5, ell) and not point_in_polygon(1.5, 1.5, ell)


def test_regions_widen_merge_shift_and_fall_back_to_the_whole_frame():
    # A small box becomes a MIN_REGION square around its centre.
    (region,) = regions_for([(300, 150, 310, 160)], 640, 360)
    assert region == (257, 107, 353, 203)
    # Near the edge the square is shifted inside, not cut.
    (edge,) = regions_for([(0, 0, 10, 10)], 640, 360)
    assert edge == (0, 0, 96, 96)
    # Two touching boxes are looked at together; far apart ones separately.
    assert len(regions_for([(100, 100, 140, 200), (150, 100, 190, 200)], 640, 360)) == 1
    assert len(regions_for([(10, 10, 40, 60), (500, 250, 540, 300)], 640, 360)) == 2
    # Motion over most of the picture: the whole frame.
    assert regions_for([(0, 0, 600, 340)], 640, 360) == [(0, 0, 640, 360)]


class Options(PluginOptions):
    pass


class CentreFinder:
    """Finds the demo's walker (its dark blue jacket) as a person, plus a cat to be filtered out."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, int]]] = []
        self.fail = False
        self.score = 0.7

    async def async_detect(self, images):
        self.calls.append([image.shape[:2] for image in images])
        if self.fail:
            raise DetectorError("server down")
        answers = []
        for image in images:
            rgb = image.astype(int)
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            walker = (rgb.sum(axis=2) < 200) & (b >= r + 20) & (b >= g + 10)  # a dark blue jacket
            ys, xs = np.nonzero(walker)
            if len(xs) < 20:
                answers.append([Detection("cat", 0.99, (0, 0, 10, 10))])
                continue
            box = (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))
            answers.append([Detection("person", self.score, box), Detection("cat", 0.99, box)])
        if any(len(answer) > 1 for answer in answers):
            # Surer each time it sees the walker (not for looks at the empty lawn, which an
            # idle camera's wake-up replays: see adaptive decoding).
            self.score = min(0.95, self.score + 0.05)
        return answers


class Plugin:
    """Offers the `centre` detector type; each plugin has its own finder (no shared state)."""

    def __init__(self, finder: CentreFinder | None = None) -> None:
        self.finder = finder or CentreFinder()

    @hookimpl
    def detector_types(self):
        return [TypeSpec("centre", Options, lambda hub, detector_id, options: self.finder)]


CONFIG = """
detectors:
  finder:
    type: centre
cameras:
  garden:
    url: demo://?first=1&walk=4&period=60
    motion:
      end_after: 1
    objects:
      labels: [person]
      max_fps: 4
      end_after: 1.5
    zones:
      left_lawn:
        points: [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]
      roof:
        points: [[0.5, 0], [1, 0], [1, 0.3], [0.5, 0.3]]
    record:
      mode: events
      pre_seconds: 1
      post_seconds: 1
"""


async def test_walker_makes_one_event_with_zones_snapshot_and_clip(make_hub):
    finder = CentreFinder()
    hub = make_hub(CONFIG)
    hub.plugins.register(Plugin(finder), "centre")
    lifecycle = hub.bus.subscribe("t", (EventStarted, EventUpdated, EventEnded, ObjectDetected))
    await hub.async_start()
    assert [o.camera_id for o in hub.object_loops] == ["garden"]
    frames = hub.cameras["garden"].frames
    await wait_until(lambda: frames.delivered >= 3, 20, "three detection frames")
    assert finder.calls == []  # nothing moves yet: the detector is not called

    seen = []
    while not seen or not isinstance(seen[-1], EventEnded):
        try:
            seen.append(await asyncio.wait_for(lifecycle.get(), 20))
        except TimeoutError:
            raise AssertionError([type(e).__name__ for e in seen]) from None
    started = next(e for e in seen if isinstance(e, EventStarted))
    ended = seen[-1]
    assert sum(isinstance(e, EventStarted) for e in seen) == 1  # one walk, one event
    assert started.label == "person" and ended.event_id == started.event_id
    assert ended.context.id == started.context.id
    assert "left_lawn" in ended.zones and "roof" not in ended.zones
    assert ended.top_score > started.top_score  # improved while tracked
    detected = [e for e in seen if isinstance(e, ObjectDetected)]
    assert detected and all(d[0] == "person" for e in detected for d in e.detections)
    # Only crops around motion were sent, never a full 640x360 frame.
    assert all(shape != (360, 640) for call in finder.calls for shape in call)

    client = await signed_in_client(hub)
    try:
        await hub.async_block_till_done()  # the snapshot is written just after the end
        (row,) = await hub.storage.async_read(
            lambda db: [dict(r) for r in db.query("select * from events where kind='object'")]
        )
        assert row["snapshot_path"]
        assert row["id"] == started.event_id and row["end"] == pytest.approx(ended.end)
        assert row["top_score"] == pytest.approx(ended.top_score)
        listed = await (await client.get("/api/events?label=person&zone=left_lawn")).json()
        assert [e["id"] for e in listed["events"]] == [row["id"]]
        assert (await (await client.get("/api/events?zone=roof")).json())["events"] == []
        snapshot = await client.get(f"/api/events/{row['id']}/snapshot.jpg")
        assert snapshot.status == 200 and (await snapshot.read())[:2] == b"\xff\xd8"
    finally:
        await client.close()
        await hub.async_stop()


async def test_failing_detector_skips_frames_and_motion_goes_on(make_hub, caplog):
    finder = CentreFinder()
    finder.fail = True
    hub = make_hub(CONFIG)
    hub.plugins.register(Plugin(finder), "centre")
    started = hub.bus.subscribe("t", (EventStarted,))
    await hub.async_start()
    await wait_until(lambda: len(finder.calls) >= 2, 20, "two detector calls")
    assert hub.states.get("motion.garden").state == "on"  # motion events are unaffected
    assert started.stats.queued == 0
    assert "Object detector failed on camera garden" in caplog.text and "server down" in caplog.text
    await hub.async_stop()


def test_unknown_detector_is_a_config_error(write_config):
    from hub.config.loading import ConfigError, load_config

    path = write_config(
        "cameras:\n  garden:\n    url: demo://\n    objects:\n      detector: nope\n"
    )
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        "config.yaml:5: cameras.garden.objects.detector: unknown detector 'nope' "
        "(known: none configured)"
    )
