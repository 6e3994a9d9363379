"""The whole detection path on real video: file source, decode, motion, ONNX model on the
crops around motion, tracking, one event with its snapshot; with a test model, and with
the bundled COCO model on a person walking by."""

from __future__ import annotations

import asyncio
import io
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from hub.detection.tracker import iou
from hub.events import EventEnded, EventStarted
from tests.helpers import hub_at
from tests.plugins.onnx_models import white_box_finder
from tests.plugins.person_clips import walking_person_video
from tests.web_clients import signed_in_client

pytest.importorskip("onnxruntime")


def red_square_video(path: Path) -> None:
    """1 s of black, then a red square crossing left to right for 2.5 s, then black."""
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 10)
        for i in range(45):
            image = np.zeros((240, 320, 3), np.uint8)
            if 10 <= i < 35:
                x = 20 + (i - 10) * 10
                image[100:140, x : x + 40] = (230, 30, 30)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


async def test_red_square_is_one_event_found_by_the_onnx_model(tmp_path):
    video = tmp_path / "square.ts"
    red_square_video(video)
    model = white_box_finder(tmp_path / "finder.onnx", size=(64, 64))
    hub = hub_at(
        tmp_path,
        f"""
detectors:
  finder:
    type: onnx
    model: {model}
    labels: [person]
cameras:
  hall:
    url: {video}
    detect:
      fps: 10
      height: 240
    objects:
      max_fps: 10
      end_after: 0.8
    record:
      mode: events
""",
    )
    lifecycle = hub.bus.subscribe("t", (EventStarted, EventEnded))
    await hub.async_start()
    try:
        assert hub.problems == []
        started = await asyncio.wait_for(lifecycle.get(), 15)
        ended = await asyncio.wait_for(lifecycle.get(), 15)
        assert isinstance(started, EventStarted) and isinstance(ended, EventEnded)
        assert started.label == "person" and ended.event_id == started.event_id
        assert ended.top_score == pytest.approx(0.9, abs=0.01)
        assert 1.0 <= ended.end - ended.start <= 3.0  # the square is in view 2.5 s

        query = "select snapshot_path from events where kind = 'object'"
        await hub.async_block_till_done()  # the snapshot is written just after the end
        rows = await hub.storage.async_read(lambda db: [dict(r) for r in db.query(query)])
        assert rows[0]["snapshot_path"] == f"snapshots/hall/{started.event_id}.jpg"
        assert hub.footage.exists(rows[0]["snapshot_path"])
        detections = hub.object_loops[0].calls
        # The model saw crops around the moving square only while it moved.
        assert 5 <= detections <= 40
    finally:
        await hub.async_stop()


async def test_a_person_walking_by_is_one_event_with_a_snapshot_of_them(tmp_path):
    video = tmp_path / "walk.ts"
    _, height = walking_person_video(video)
    # No detectors section: the bundled COCO model does the work.
    hub = hub_at(
        tmp_path,
        f"""
cameras:
  pad:
    url: {video}
    detect:
      fps: 10
    motion:
      end_after: 1
    objects:
      end_after: 1
    record:
      mode: events
""",
    )
    lifecycle = hub.bus.subscribe("t", (EventStarted, EventEnded))
    await hub.async_start()
    client = await signed_in_client(hub)
    try:
        assert hub.problems == []
        started = await asyncio.wait_for(lifecycle.get(), 30)
        ended = await asyncio.wait_for(lifecycle.get(), 30)
        assert isinstance(started, EventStarted) and isinstance(ended, EventEnded)
        assert (started.label, ended.event_id) == ("person", started.event_id)
        assert ended.top_score >= 0.5
        assert 1.5 <= ended.end - ended.start <= 5.0  # she is in view 4 s
        row = await wait_for_snapshot(hub, started.event_id)
        assert row["parent_id"]  # it grew out of a motion event...
        listed = (await (await client.get("/api/events")).json())["events"]
        # ...shown as one story: the object event, starting when the motion did.
        (story,) = [e for e in listed if e["id"] in (row["id"], row["parent_id"])]
        assert story["id"] == row["id"] and story["story_start"] < story["start"]
        everything = (await (await client.get("/api/events?stories=0")).json())["events"]
        assert {e["id"] for e in everything} >= {row["id"], row["parent_id"]}

        response = await client.get(f"/api/events/{row['id']}/snapshot.jpg")
        assert response.status == 200
        snapshot = Image.open(io.BytesIO(await response.read()))
        assert snapshot.format == "JPEG" and snapshot.size == (640, 360)
        # The person's box is drawn (orange) on the best frame, around where she walks.
        box = json.loads(row["data"])["snapshot_box"]
        drawn = person_box(snapshot)
        assert iou(box, drawn) >= 0.8, (box, drawn)
        assert drawn[3] - drawn[1] >= 0.6 * height and drawn[1] >= 170 - 0.2 * height
        thumbnail = await client.get(f"/api/events/{row['id']}/thumbnail.jpg")
        assert Image.open(io.BytesIO(await thumbnail.read())).size == (320, 180)
    finally:
        await client.close()
        await hub.async_stop()


def person_box(snapshot: Image.Image) -> tuple[float, float, float, float]:
    """The bounding box of the orange pixels drawn on a snapshot."""
    rgb = np.asarray(snapshot.convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    drawn = (r > 200) & (g > 20) & (g < 110) & (b < 70)
    ys, xs = np.nonzero(drawn)
    assert len(xs) > 100, "no box drawn"
    return float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)


async def wait_for_snapshot(hub, event_id: str) -> dict:
    """The event's row once its best snapshot is written (just after the event ends)."""
    writing = [t for t in asyncio.all_tasks() if t.get_name() == f"snapshot:{event_id}"]
    if writing:
        await asyncio.wait(writing, timeout=30)
    query = "select * from events where id = ?"
    for _ in range(100):
        rows = await hub.storage.async_read(
            lambda db: [dict(r) for r in db.query(query, [event_id])]
        )
        if rows and rows[0]["snapshot_path"] and rows[0]["end"]:
            return rows[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"event {event_id} has no snapshot: {rows}")
