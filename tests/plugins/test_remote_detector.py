"""The `deepstack` detector against a real aiohttp server speaking the DeepStack detection API."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

import plugins.remote_detector as remote_detector
from hub.detection.object_detector import Detection, DetectorError, ObjectDetector
from plugins.remote_detector import DeepStackDetector, DeepStackOptions
from plugins.remote_detector.breaker import CircuitBreaker
from tests.conftest import free_port
from tests.helpers import wait_until

PERSON = {"label": "person", "confidence": 0.91, "x_min": 10, "y_min": 5, "x_max": 40, "y_max": 45}
CAT = {"label": "cat", "confidence": 0.3, "x_min": 0, "y_min": 0, "x_max": 8, "y_max": 8}
CAR = {"label": "car", "confidence": 0.6, "x_min": -3, "y_min": 30, "x_max": 90, "y_max": 60}


class FakeDeepStack:
    """`POST /v1/vision/detection` as DeepStack answers it, one scripted behaviour per request.

    Behaviours: ok, false (success: false), 500, slow (sleeps `slow_seconds`, then ok),
    html (200 that is not JSON). With the script used up, every request is ok.
    """

    def __init__(self) -> None:
        self.script: list[str] = []
        self.predictions: list[dict[str, Any]] = [PERSON, CAT, CAR]
        self.slow_seconds = 0.5
        self.api_key: str | None = None
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.received: list[dict[str, Any]] = []
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/vision/detection", self.detect)
        return app

    async def detect(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        behaviour = self.script.pop(0) if self.script else "ok"
        form = await request.post()
        image = form.get("image")
        if not isinstance(image, web.FileField):
            return web.json_response({"success": False, "error": "No image"}, status=400)
        try:
            frames = av.CodecContext.create("mjpeg", "r").decode(av.Packet(image.file.read()))
        except av.error.FFmpegError:
            return web.json_response({"success": False, "error": "Invalid image"}, status=400)
        given_key = form.get("api_key")
        self.received.append(
            {
                "size": (frames[0].width, frames[0].height),
                "content_type": image.content_type,
                "min_confidence": form.get("min_confidence"),
                "api_key": given_key,
            }
        )
        if self.api_key is not None and given_key != self.api_key:
            # Echoes the key back, as careless servers do: the detector must not repeat it.
            error = f"Incorrect api key {given_key}" if given_key else "Missing api key"
            return web.json_response({"success": False, "error": error}, status=401)
        if behaviour == "false":
            return web.json_response({"success": False, "error": "Unable to process image"})
        if behaviour == "500":
            return web.json_response({"success": False, "error": "busy"}, status=500)
        if behaviour == "html":
            return web.Response(text="<html>Bad gateway</html>", content_type="text/html")
        if behaviour == "slow":
            await asyncio.sleep(self.slow_seconds)
        return web.json_response({"success": True, "predictions": self.predictions})


@pytest.fixture
async def deepstack() -> AsyncIterator[FakeDeepStack]:
    fake = FakeDeepStack()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url(""))
    yield fake
    await server.close()


@pytest.fixture
async def make_detector() -> AsyncIterator[Callable[..., DeepStackDetector]]:
    made: list[DeepStackDetector] = []

    def make(url: str, **options: Any) -> DeepStackDetector:
        detector = DeepStackDetector("remote", DeepStackOptions(url=url, **options))
        # The breaker's time moves only when a test says (`later`): no sleeping it out.
        clock = HandClock()
        detector.breaker = CircuitBreaker(
            detector.options.breaker_failures, detector.options.breaker_seconds, clock=clock
        )
        made.append(detector)
        return detector

    yield make
    for detector in made:
        await detector.async_close()


class HandClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def later(detector: DeepStackDetector, seconds: float) -> None:
    """Move the detector's breaker clock on."""
    detector.breaker._clock.now += seconds  # type: ignore[attr-defined]


def scene(width: int, height: int) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[height // 4 :, width // 3 : width // 2] = (200, 120, 40)
    return image


async def failure(detector: DeepStackDetector, images: list[np.ndarray] | None = None) -> str:
    """The message of the DetectorError the detector raises for these images."""
    with pytest.raises(DetectorError) as caught:
        await detector.async_detect(images or [scene(64, 48)])
    return str(caught.value)


# ---------------------------------------------------------------- answers


async def test_detects_each_image_in_order_and_drops_low_confidence(deepstack, make_detector):
    detector = make_detector(deepstack.url)
    assert isinstance(detector, ObjectDetector)

    results = await detector.async_detect([scene(64, 48), scene(33, 21)])

    # Boxes are clipped to each image; the car lies below the small one, so it is not in it.
    assert results == [
        [
            Detection("person", 0.91, (10.0, 5.0, 40.0, 45.0)),
            Detection("car", 0.6, (0.0, 30.0, 64.0, 48.0)),
        ],
        [Detection("person", 0.91, (10.0, 5.0, 33.0, 21.0))],
    ]
    # Each image arrived as a JPEG of its own size, with the threshold and no key.
    assert sorted(r["size"] for r in deepstack.received) == [(33, 21), (64, 48)]
    assert {r["content_type"] for r in deepstack.received} == {"image/jpeg"}
    assert {r["min_confidence"] for r in deepstack.received} == {"0.4"}
    assert {r["api_key"] for r in deepstack.received} == {None}
    stats = detector.stats()
    assert (stats["calls"], stats["images"], stats["requests"], stats["failures"]) == (1, 2, 2, 0)
    assert stats["state"] == "closed" and stats["open"] is False and stats["last_error"] is None


async def test_min_confidence_is_sent_and_applied(deepstack, make_detector):
    detector = make_detector(deepstack.url, min_confidence=0.7)
    assert await detector.async_detect([scene(64, 48)]) == [
        [Detection("person", 0.91, (10.0, 5.0, 40.0, 45.0))]
    ]
    assert deepstack.received[0]["min_confidence"] == "0.7"
    assert await detector.async_detect([]) == []


async def test_batch_runs_at_most_max_concurrency_requests_at_once(deepstack, make_detector):
    deepstack.script = ["slow"] * 5
    deepstack.slow_seconds = 0.1
    detector = make_detector(deepstack.url, max_concurrency=2)
    results = await detector.async_detect([scene(32, 32)] * 5)
    assert len(results) == 5 and deepstack.max_in_flight == 2


async def test_success_false_surfaces_the_servers_reason_without_retry(deepstack, make_detector):
    deepstack.script = ["false"]
    message = await failure(make_detector(deepstack.url, retries=2))
    assert "Unable to process image" in message and "detector remote" in message
    assert deepstack.requests == 1


async def test_an_answer_that_is_not_json_is_an_error(deepstack, make_detector):
    deepstack.script = ["html"]
    message = await failure(make_detector(deepstack.url))
    assert "not JSON" in message and "Bad gateway" in message
    assert deepstack.requests == 1


async def test_a_wrong_path_says_to_check_the_url(deepstack, make_detector):
    message = await failure(make_detector(deepstack.url + "/v1/vision/custom/nothing"))
    assert "404" in message and "check url" in message


# ---------------------------------------------------------------- retries and timeouts


async def test_a_server_error_is_retried(deepstack, make_detector):
    deepstack.script = ["500"]
    results = await make_detector(deepstack.url, retries=1).async_detect([scene(64, 48)])
    assert results[0][0].label == "person"
    assert deepstack.requests == 2


async def test_server_errors_past_the_retries_fail_with_the_status(deepstack, make_detector):
    deepstack.script = ["500", "500"]
    detector = make_detector(deepstack.url, retries=1)
    message = await failure(detector)
    assert "HTTP 500" in message and "busy" in message and "2 tries" in message
    assert deepstack.requests == 2
    assert detector.stats()["last_error"] == message


async def test_a_slow_server_times_out_within_timeout_times_tries(deepstack, make_detector):
    deepstack.script = ["slow", "slow"]
    deepstack.slow_seconds = 30
    detector = make_detector(deepstack.url, timeout=0.2, retries=1)
    started = time.monotonic()
    message = await failure(detector)
    elapsed = time.monotonic() - started
    # Each of the two tries waited its 0.2 s, and none waited for the 30 s answer.
    assert 0.4 <= elapsed < 30
    assert "no answer within 0.2 s" in message
    assert deepstack.requests == 2


async def test_a_server_that_is_down_fails_quickly(make_detector):
    port = free_port()  # bound and released: nothing listens there
    detector = make_detector(f"http://127.0.0.1:{port}", retries=1)
    started = time.monotonic()
    message = await failure(detector)
    assert time.monotonic() - started < 1.0
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused (2 tries)" in message


# ---------------------------------------------------------------- circuit breaker


async def test_breaker_opens_fails_fast_then_a_trial_call_closes_it(deepstack, make_detector):
    deepstack.script = ["500", "500"]
    detector = make_detector(deepstack.url, retries=0, breaker_failures=2, breaker_seconds=0.3)
    await failure(detector)
    assert detector.stats()["state"] == "closed"
    await failure(detector)
    assert detector.stats()["open"] is True

    for _ in range(5):
        message = await failure(detector)
    assert "not calling the server" in message and "HTTP 500" in message
    assert deepstack.requests == 2  # nothing reached the server while open: it failed fast
    assert detector.stats()["rejected"] == 5

    later(detector, 0.29)
    assert "not calling the server" in await failure(detector)  # still open
    later(detector, 0.02)
    results = await detector.async_detect([scene(64, 48)])
    assert results[0][0].label == "person"
    assert deepstack.requests == 3
    stats = detector.stats()
    assert stats["state"] == "closed" and stats["consecutive_failures"] == 0


async def test_a_batch_closes_a_half_open_breaker_with_its_first_image(deepstack, make_detector):
    deepstack.script = ["500"]
    detector = make_detector(deepstack.url, retries=0, breaker_failures=1, breaker_seconds=0.1)
    await failure(detector)
    later(detector, 0.15)
    results = await detector.async_detect([scene(64, 48)] * 3)
    assert [len(found) for found in results] == [2, 2, 2]
    assert deepstack.requests == 4
    assert detector.stats()["state"] == "closed"


async def test_a_failed_trial_opens_the_breaker_again(deepstack, make_detector):
    deepstack.script = ["500", "500"]
    detector = make_detector(deepstack.url, retries=0, breaker_failures=1, breaker_seconds=0.2)
    await failure(detector)
    later(detector, 0.25)
    await failure(detector)  # the trial
    assert "not calling the server" in await failure(detector)
    assert deepstack.requests == 2
    assert detector.stats()["times_opened"] == 2


async def test_half_open_lets_one_trial_through_at_a_time(deepstack, make_detector):
    deepstack.script = ["500", "slow"]
    deepstack.slow_seconds = 0.3
    detector = make_detector(deepstack.url, retries=0, breaker_failures=1, breaker_seconds=0.1)
    await failure(detector)
    later(detector, 0.15)
    trial = asyncio.create_task(detector.async_detect([scene(64, 48)]))
    await wait_until(lambda: deepstack.requests == 2, 2.0, "the trial reaches the server")
    assert "waiting for a trial call" in await failure(detector)
    assert (await trial)[0][0].label == "person"
    assert detector.stats()["state"] == "closed"
    assert deepstack.requests == 2


async def test_a_cancelled_trial_lets_the_next_call_try(deepstack, make_detector):
    deepstack.script = ["500", "slow"]
    detector = make_detector(deepstack.url, retries=0, breaker_failures=1, breaker_seconds=0.1)
    await failure(detector)
    later(detector, 0.15)
    trial = asyncio.create_task(detector.async_detect([scene(64, 48)]))
    await wait_until(lambda: deepstack.requests == 2, 2.0, "the trial reaches the server")
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert (await detector.async_detect([scene(64, 48)]))[0][0].label == "person"
    assert detector.stats()["state"] == "closed"


# ---------------------------------------------------------------- api key


async def test_the_api_key_is_sent_as_a_form_field(deepstack, make_detector):
    deepstack.api_key = "right-key"
    detector = make_detector(deepstack.url, api_key="right-key")
    assert (await detector.async_detect([scene(64, 48)]))[0][0].label == "person"
    assert deepstack.received[0]["api_key"] == "right-key"


async def test_a_rejected_key_says_so_once_and_never_shows_the_key(
    deepstack, make_detector, caplog
):
    deepstack.api_key = "right-key"
    detector = make_detector(deepstack.url, api_key="s3cret-wrong-key", breaker_failures=1)
    with caplog.at_level(logging.DEBUG):
        message = await failure(detector)
        fast = await failure(detector)
    assert "rejected the api_key" in message and "HTTP 401" in message
    assert deepstack.received[0]["api_key"] == "s3cret-wrong-key"  # the server echoed it
    assert deepstack.requests == 1  # a 4xx is not retried
    for text in (message, fast, str(detector.stats()), caplog.text, repr(detector)):
        assert "s3cret-wrong-key" not in text
    assert "s3cret-wrong-key" not in repr(detector.options)


async def test_a_missing_key_says_to_set_one(deepstack, make_detector):
    deepstack.api_key = "right-key"
    message = await failure(make_detector(deepstack.url))
    assert "wants an API key; set api_key" in message


# ---------------------------------------------------------------- options and misuse


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("http://192.168.1.50:32168", "http://192.168.1.50:32168/v1/vision/detection"),
        ("http://ai.lan:80/", "http://ai.lan/v1/vision/detection"),
        ("https://box/deepstack/", "https://box/deepstack/v1/vision/detection"),
        ("http://box:5000/v1/vision/detection", "http://box:5000/v1/vision/detection"),
        ("http://box:5000/v1/vision/custom/fire", "http://box:5000/v1/vision/custom/fire"),
    ],
)
def test_the_detection_path_is_appended_unless_given(url, endpoint):
    assert str(DeepStackOptions(url=url).endpoint()) == endpoint


@pytest.mark.parametrize(
    "options",
    [
        {"url": "ftp://box"},
        {"url": "box:5000"},
        {"url": "http://box", "min_confidence": 1.5},
        {"url": "http://box", "timeout": 0},
        {"url": "http://box", "max_concurrency": 0},
        {"url": "http://box", "model": "yolo"},
    ],
)
def test_bad_options_are_rejected(options):
    with pytest.raises(ValidationError):
        DeepStackOptions.model_validate(options)


def test_every_option_is_described():
    specs = {spec.name: spec for spec in remote_detector.detector_types()}
    assert set(specs) == {"deepstack", "kserve"}
    for spec in specs.values():
        properties = spec.schema()["properties"]
        assert set(properties) == set(spec.options.model_fields)
        assert all(p.get("description") for p in properties.values())


async def test_images_that_are_not_rgb_are_refused_before_any_request(deepstack, make_detector):
    detector = make_detector(deepstack.url)
    message = await failure(detector, [np.zeros((8, 8), np.uint8)])
    assert "RGB" in message
    await failure(detector, [np.zeros((8, 8, 3), np.float32)])
    assert deepstack.requests == 0


# ---------------------------------------------------------------- through a hub


async def test_a_hub_builds_the_detector_and_closes_its_session_at_stop(deepstack, make_hub):
    hub = make_hub(f"detectors:\n  remote:\n    type: deepstack\n    url: {deepstack.url}\n")
    hub.plugins.register(remote_detector, "remote_detector")
    await hub.async_start()
    try:
        assert hub.problems == []
        detector = hub.detectors["remote"]
        results = await detector.async_detect([scene(64, 48)])
        assert [d.label for d in results[0]] == ["person", "car"]
        session = detector.session
        assert session is not None and not session.closed
    finally:
        await hub.async_stop()
    assert session.closed
    assert "shut down" in await failure(detector)
