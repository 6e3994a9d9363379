"""The whole detection path on real video: file source, decode, motion, ONNX model on the
crops around motion, tracking, one event with its snapshot."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hub.events import EventEnded, EventStarted
from tests.helpers import hub_at
from tests.plugins.onnx_models import white_box_finder

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
