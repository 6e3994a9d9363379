"""The `kserve` detector against a real V2 server (MLServer running the model with ONNX Runtime):
the same detections as the local `onnx` detector, batching, failures, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

import plugins.onnx_detector as onnx_detector
import plugins.remote_detector as remote_detector
from hub.core import Hub
from hub.detection.object_detector import Detection, DetectorError, ObjectDetector
from plugins.remote_detector import KServeDetector, KServeOptions
from tests.conftest import free_port
from tests.plugins.onnx_models import picture, white_box_finder
from tests.servers.v2_binary import BinaryV2Server

pytest.importorskip("onnxruntime")

BUNDLED = Path(onnx_detector.__file__).parent / "models" / "ssd_mobilenet_v3_large_coco.onnx"


@pytest.fixture
def hub(make_hub) -> Hub:
    """A built hub (not started): enough to create detectors and hold their states."""
    return make_hub()


def build(hub: Hub, **options: Any) -> KServeDetector:
    """A `kserve` detector made the way the hub makes one from a config entry."""
    spec = next(s for s in remote_detector.detector_types() if s.name == "kserve")
    detector = spec.create(hub, "gpu", spec.options.model_validate(options))
    assert isinstance(detector, KServeDetector) and isinstance(detector, ObjectDetector)
    return detector


def local(hub: Hub, model: Path, **options: Any) -> Any:
    (spec,) = onnx_detector.detector_types()
    return spec.create(hub, "local", spec.options.model_validate({"model": str(model), **options}))


def same(found: list[Detection], expected: list[Detection]) -> None:
    assert [d.label for d in found] == [d.label for d in expected]
    for got, want in zip(found, expected, strict=True):
        assert got.score == pytest.approx(want.score, abs=1e-3)
        assert got.box == pytest.approx(want.box, abs=0.05)


IMAGES = [
    picture(64, 64, (10, 20, 30, 40)),
    picture(200, 100, (150, 10, 190, 90)),  # letterboxed: grey bars above and below
    picture(48, 120, (0, 0, 48, 30)),
    picture(64, 64),  # nothing to find
]


@pytest.mark.parametrize(
    "head, channels_last_uint8",
    [("yolov8", False), ("ssd", False), ("yolov8", True)],
    ids=["yolov8-nchw-fp32", "ssd-nchw-fp32", "yolov8-nhwc-uint8"],
)
async def test_the_server_finds_what_the_local_model_finds(
    hub, tmp_path, v2_server, head, channels_last_uint8
):
    model = white_box_finder(
        tmp_path / "finder.onnx", head=head, channels_last_uint8=channels_last_uint8
    )
    server = v2_server(model)
    detector = build(hub, url=server.url, model=server.name, labels=["person"], max_batch=4)
    try:
        expected = local(hub, model, labels=["person"]).detect(IMAGES)
        found = await detector.async_detect(IMAGES)
        assert [len(f) for f in found] == [1, 1, 1, 0]
        for got, want in zip(found, expected, strict=True):
            same(got, want)
        assert found[0][0].box == pytest.approx((10, 20, 30, 40), abs=0.5)
        # Four regions, one request (plus the model's first look: health, /v2, metadata, probe).
        assert detector.stats()["images"] == 4
        assert detector.model is not None and detector.model.batch_size == 4
        assert detector.model.binary is False  # MLServer does not offer binary tensors
        assert hub.states.get("detector.gpu").state == "online"
    finally:
        await detector.async_close()


@pytest.mark.skipif(not BUNDLED.is_file(), reason="the bundled COCO model is not installed")
async def test_the_bundled_model_finds_the_same_person_through_the_server(hub, v2_server):
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())
    server = v2_server(BUNDLED, name="coco")
    detector = build(hub, url=server.url, model="coco")
    try:
        (expected,) = (
            onnx_detector.detector_types()[0]
            .create(hub, "local", onnx_detector.OnnxDetectorOptions.model_validate({}))
            .detect([photo])
        )
        (found,) = await detector.async_detect([photo])
        assert detector.model is not None and detector.model.layout.kind == "ssd_scores"
        assert any(d.label == "person" and d.score > 0.5 for d in found)
        same(found, expected)
    finally:
        await detector.async_close()


async def test_a_version_is_asked_for_by_path(hub, tmp_path, v2_server):
    model = white_box_finder(tmp_path / "finder.onnx")
    server = v2_server(model, version="7")
    good = build(hub, url=server.url, model=server.name, version="7", labels=["person"])
    wrong = build(hub, url=server.url, model=server.name, version="8", labels=["person"])
    try:
        (found,) = await good.async_detect([picture(64, 64, (4, 4, 20, 20))])
        assert [d.label for d in found] == ["person"]
        with pytest.raises(DetectorError, match="no model detector version 8 on the server"):
            await wrong.async_detect([picture(64, 64)])
        assert hub.states.get("detector.gpu").state == "error"
    finally:
        await good.async_close()
        await wrong.async_close()


async def test_a_dead_server_opens_the_breaker_and_a_restarted_one_closes_it(
    hub, tmp_path, v2_server
):
    model = white_box_finder(tmp_path / "finder.onnx")
    server = v2_server(model)
    detector = build(
        hub,
        url=server.url,
        model=server.name,
        labels=["person"],
        retries=1,
        breaker_failures=2,
        breaker_seconds=0.2,
        timeout=5,
    )
    image = [picture(64, 64, (4, 4, 20, 20))]
    try:
        assert len((await detector.async_detect(image))[0]) == 1
        server.kill()
        for _ in range(2):
            with pytest.raises(DetectorError, match=r"cannot connect to 127\.0\.0\.1"):
                await detector.async_detect(image)
        state = hub.states.get("detector.gpu")
        assert state.state == "offline" and "cannot connect" in state.attributes["reason"]
        # Open: refused at once, without touching the network.
        requests = detector.stats()["requests"]
        with pytest.raises(DetectorError, match="not calling the server"):
            await detector.async_detect(image)
        assert detector.stats()["requests"] == requests
        server.restart()
        await asyncio.sleep(0.25)
        # The trial call reconnects (the old keep-alive connection died with the server).
        assert len((await detector.async_detect(image))[0]) == 1
        assert detector.stats()["state"] == "closed"
        assert hub.states.get("detector.gpu").state == "online"
    finally:
        await detector.async_close()


async def test_nothing_listening_is_a_clear_error(hub):
    detector = build(hub, url=f"http://127.0.0.1:{free_port()}", model="m", retries=0)
    try:
        with pytest.raises(DetectorError) as caught:
            await detector.async_detect([picture(32, 32)])
        assert "detector gpu (http://127.0.0.1:" in str(caught.value)
        assert "Connection refused" in str(caught.value)
    finally:
        await detector.async_close()


async def test_labels_must_match_the_models_classes(hub, tmp_path, v2_server):
    model = white_box_finder(tmp_path / "finder.onnx")
    server = v2_server(model)
    detector = build(hub, url=server.url, model=server.name)  # 1 class, no labels given
    try:
        with pytest.raises(DetectorError, match="scores 1 classes: set `labels`"):
            await detector.async_detect([picture(64, 64)])
    finally:
        await detector.async_close()


def test_labels_from_a_file_next_to_the_config(make_hub, tmp_path):
    (tmp_path / "names.txt").write_text("person\ncar\n")
    hub = make_hub()
    detector = build(hub, url="http://127.0.0.1:1", model="m", labels="names.txt")
    assert detector._labels == ("person", "car")
    with pytest.raises(DetectorError, match=r"labels file nope\.txt not found"):
        build(hub, url="http://127.0.0.1:1", model="m", labels="nope.txt")


@pytest.mark.parametrize(
    "options",
    [
        {"model": "m"},
        {"url": "ftp://host", "model": "m"},
        {"url": "http://host"},
        {"url": "http://host", "model": "a/b"},
        {"url": "http://host", "model": "m", "binary": "yes"},
        {"url": "http://host", "model": "m", "layout": "yolov9"},
        {"url": "http://host", "model": "m", "surprise": 1},
    ],
)
def test_bad_options_are_rejected(options):
    with pytest.raises(ValidationError):
        KServeOptions.model_validate(options)


def test_urls_follow_the_protocol():
    options = KServeOptions.model_validate(
        {"url": "https://gpu.lan:8443/serving/", "model": "yolo", "version": "2"}
    )
    assert str(options.model_url()) == "https://gpu.lan:8443/serving/v2/models/yolo/versions/2"
    assert (
        str(options.server_url("/health/ready")) == "https://gpu.lan:8443/serving/v2/health/ready"
    )
    secret = KServeOptions.model_validate({"url": "http://h", "model": "m", "token": "t0k"})
    assert "t0k" not in repr(secret)


# ---------------------------------------------------------------- binary tensors, token


@pytest.fixture
async def binary_server(tmp_path) -> AsyncIterator[tuple[BinaryV2Server, str]]:
    """A server advertising the binary tensor extension, with a token, on a real socket."""
    model = white_box_finder(tmp_path / "finder.onnx")
    server = BinaryV2Server(model, token="s3cret-token")
    test_server = TestServer(server.app(), host="127.0.0.1")
    await test_server.start_server()
    yield server, str(test_server.make_url("")).rstrip("/")
    await test_server.close()


async def test_binary_tensors_when_the_server_offers_them(hub, tmp_path, binary_server):
    server, url = binary_server
    detector = build(hub, url=url, model="detector", labels=["person"], token="s3cret-token")
    json_only = build(
        hub, url=url, model="detector", labels=["person"], token="s3cret-token", binary="off"
    )
    try:
        found = await detector.async_detect(IMAGES)
        assert detector.model is not None and detector.model.binary is True
        infer = server.requests[-1]
        assert infer.binary_input and infer.binary_outputs and infer.shape == [4, 3, 64, 64]
        assert infer.content_type == "application/octet-stream"
        expected = local(hub, white_box_finder(tmp_path / "same.onnx"), labels=["person"])
        for got, want in zip(found, expected.detect(IMAGES), strict=True):
            same(got, want)
        # The same answers as plain JSON.
        for got, want in zip(await json_only.async_detect(IMAGES), found, strict=True):
            same(got, want)
        assert not server.requests[-1].binary_input
    finally:
        await detector.async_close()
        await json_only.async_close()


async def test_a_wrong_token_is_named_and_never_shown(hub, binary_server):
    _, url = binary_server
    detector = build(hub, url=url, model="detector", labels=["person"], token="wrong-token")
    try:
        with pytest.raises(DetectorError) as caught:
            await detector.async_detect([picture(64, 64)])
        assert "the server refused the token (HTTP 401: unauthorized)" in str(caught.value)
        assert "wrong-token" not in str(caught.value)
        assert hub.states.get("detector.gpu").state == "error"
        assert detector.stats()["requests"] == 1  # a refusal is not retried
    finally:
        await detector.async_close()
