"""An ObjectDetector that posts JPEGs to a DeepStack / CodeProject.AI server over HTTP."""

from __future__ import annotations

import asyncio
import json
import math
from fractions import Fraction
from functools import partial
from typing import Any

import aiohttp
import av
import numpy as np

from hub import RGB, Detection, DetectorError, redact_url
from plugins.remote_detector.client import Failure, RemoteClient
from plugins.remote_detector.options import DeepStackOptions

JPEG_QUALITY = 3  # mjpeg qscale, 2 best .. 31 worst
MAX_ANSWER_BYTES = 1 << 20
_BOX_KEYS = ("x_min", "y_min", "x_max", "y_max")


def encode_jpeg(image: RGB) -> bytes:
    """JPEG bytes of an RGB image (PyAV's mjpeg encoder; blocking, run it in a thread)."""
    height, width = image.shape[:2]
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": str(JPEG_QUALITY), "qmax": str(JPEG_QUALITY)}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame = frame.reformat(format="yuvj420p")
    frame.pts = 0
    packets = [*codec.encode(frame), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)


def parse_predictions(
    answer: Any, width: int, height: int, min_confidence: float
) -> list[Detection]:
    """Detections from a `{"success": true, "predictions": [...]}` answer, boxes clipped.

    `min_confidence` is applied here too: not every server honours the form field.
    """
    if not isinstance(answer, dict):
        raise Failure("answered with JSON that is not an object", retry=False)
    if answer.get("success") is not True:
        message = answer.get("error") or answer.get("message") or "no reason given"
        raise Failure(f"could not detect: {str(message)[:200]}", retry=False)
    predictions = answer.get("predictions", [])
    if not isinstance(predictions, list):
        raise Failure("answered with `predictions` that is not a list", retry=False)
    found = []
    for prediction in predictions:
        try:
            label = str(prediction["label"])
            score = float(prediction["confidence"])
            x0, y0, x1, y1 = (float(prediction[key]) for key in _BOX_KEYS)
        except (KeyError, TypeError, ValueError):
            raise Failure(
                "answered with a prediction lacking label, confidence or x_min..y_max",
                retry=False,
            ) from None
        if not all(map(math.isfinite, (score, x0, y0, x1, y1))) or score < min_confidence:
            continue
        x0, x1 = min(max(x0, 0.0), width), min(max(x1, 0.0), width)
        y0, y1 = min(max(y0, 0.0), height), min(max(y1, 0.0), height)
        if x1 > x0 and y1 > y0:  # a box wholly outside the image is no detection
            found.append(Detection(label, score, (x0, y0, x1, y1)))
    return found


class DeepStackDetector(RemoteClient):
    """Detections from a remote server, with retries and a circuit breaker.

    One aiohttp session per detector, opened on first use and closed by `async_close`
    (the hub calls it at shutdown). While the breaker is open, `async_detect`
    raises DetectorError at once, so a dead server costs the pipeline nothing.
    """

    def __init__(self, detector_id: str, options: DeepStackOptions, hub: Any | None = None):
        super().__init__(detector_id, options, options.endpoint(), options.api_key or "", hub)
        self.options = options

    def __repr__(self) -> str:
        return f"DeepStackDetector({self.detector_id!r}, {redact_url(str(self.endpoint))!r})"

    # ---------------------------------------------------------- public API

    async def async_detect(self, images: list[RGB]) -> list[list[Detection]]:
        """Detections for each image, in order; DetectorError if any image got no answer."""
        self._counts["calls"] += 1
        self._check_images(images, allow_empty=False)
        if self._closed:
            raise DetectorError(f"detector {self.detector_id} is shut down")
        if not images:
            return []
        if self.breaker.state != "closed":
            # A recovering breaker lets one trial through: send one image, then the rest.
            first = await self._detect_one(images[0])
            return [first, *await self._detect_all(images[1:])]
        return await self._detect_all(images)

    # ---------------------------------------------------------- one image

    async def _detect_all(self, images: list[RGB]) -> list[list[Detection]]:
        """Send the images in parallel; the first failure cancels the ones still waiting."""
        if not images:
            return []
        tasks = [asyncio.ensure_future(self._detect_one(image)) for image in images]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                raise error
        return [task.result() for task in tasks]

    async def _detect_one(self, image: RGB) -> list[Detection]:
        return await self._guarded(partial(self._encode_and_post, image))

    async def _encode_and_post(self, image: RGB) -> list[Detection]:
        self._counts["images"] += 1
        jpeg = await asyncio.to_thread(encode_jpeg, image)
        height, width = image.shape[:2]
        return await self._with_retries(partial(self._post, jpeg, width, height))

    async def _post(self, jpeg: bytes, width: int, height: int) -> list[Detection]:
        """Send one image; its detections, or Failure."""
        form = aiohttp.FormData()
        form.add_field("image", jpeg, filename="image.jpg", content_type="image/jpeg")
        form.add_field("min_confidence", str(self.options.min_confidence))
        if self._secret:
            form.add_field("api_key", self._secret)
        status, body, _ = await self._request(
            "POST", self.endpoint, limit=MAX_ANSWER_BYTES, data=form
        )
        answer = _decode_answer(status, body, bool(self._secret))
        return parse_predictions(answer, width, height, self.options.min_confidence)


def _decode_answer(status: int, body: bytes, has_key: bool) -> Any:
    """The JSON of a 2xx answer, or Failure saying what the status and body mean."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = None
    if 200 <= status < 300:
        if answer is None:
            snippet = body[:80].decode("utf-8", "replace").strip()
            raise Failure(f"answered with something that is not JSON: {snippet!r}", retry=False)
        return answer
    server_says = ""
    if isinstance(answer, dict) and (answer.get("error") or answer.get("message")):
        server_says = f": {str(answer.get('error') or answer.get('message'))[:200]}"
    if status in (401, 403):
        hint = (
            "the server rejected the api_key; check it"
            if has_key
            else "the server wants an API key; set api_key"
        )
        raise Failure(f"{hint} (HTTP {status}{server_says})", retry=False)
    if status == 404:
        raise Failure(
            f"HTTP 404: no detection endpoint at this URL; check url{server_says}", retry=False
        )
    if status >= 500:
        raise Failure(f"server error HTTP {status}{server_says}", retry=True)
    raise Failure(f"HTTP {status}{server_says}", retry=False)
