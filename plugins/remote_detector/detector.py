"""An ObjectDetector that posts JPEGs to a DeepStack / CodeProject.AI server over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from fractions import Fraction
from typing import Any

import aiohttp
import av
import numpy as np

from hub import RGB, Detection, DetectorError, redact_url
from plugins.remote_detector.breaker import CircuitBreaker, Pass
from plugins.remote_detector.options import DeepStackOptions

_LOGGER = logging.getLogger(__name__)

JPEG_QUALITY = 3  # mjpeg qscale, 2 best .. 31 worst
MAX_ANSWER_BYTES = 1 << 20
RETRY_DELAY = 0.1
_BOX_KEYS = ("x_min", "y_min", "x_max", "y_max")


class _Failure(Exception):
    """One failed try; `retry` says whether trying again could help."""

    def __init__(self, reason: str, retry: bool):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


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
        raise _Failure("answered with JSON that is not an object", retry=False)
    if answer.get("success") is not True:
        message = answer.get("error") or answer.get("message") or "no reason given"
        raise _Failure(f"could not detect: {str(message)[:200]}", retry=False)
    predictions = answer.get("predictions", [])
    if not isinstance(predictions, list):
        raise _Failure("answered with `predictions` that is not a list", retry=False)
    found = []
    for prediction in predictions:
        try:
            label = str(prediction["label"])
            score = float(prediction["confidence"])
            x0, y0, x1, y1 = (float(prediction[key]) for key in _BOX_KEYS)
        except (KeyError, TypeError, ValueError):
            raise _Failure(
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


class DeepStackDetector:
    """Detections from a remote server, with retries and a circuit breaker.

    One aiohttp session per detector, opened on first use and closed by `async_close`
    (the plugin's `shutdown` hook calls it). While the breaker is open, `async_detect`
    raises DetectorError at once, so a dead server costs the pipeline nothing.
    """

    def __init__(self, detector_id: str, options: DeepStackOptions):
        self.detector_id = detector_id
        self.options = options
        self.endpoint = options.endpoint()
        self.breaker = CircuitBreaker(options.breaker_failures, options.breaker_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._slots = asyncio.Semaphore(options.max_concurrency)
        self._secret = options.api_key or ""
        self._counts = {"calls": 0, "images": 0, "requests": 0, "failures": 0, "rejected": 0}
        self._last_error: str | None = None
        self._last_reason: str | None = None
        self._last_error_at: float | None = None

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The HTTP session, once the first request opened it."""
        return self._session

    def __repr__(self) -> str:
        return f"DeepStackDetector({self.detector_id!r}, {redact_url(str(self.endpoint))!r})"

    # ---------------------------------------------------------- public API

    async def async_detect(self, images: list[RGB]) -> list[list[Detection]]:
        """Detections for each image, in order; DetectorError if any image got no answer."""
        self._counts["calls"] += 1
        for image in images:
            if not _is_rgb(image):
                raise DetectorError(
                    f"detector {self.detector_id}: expected H x W x 3 uint8 RGB images, "
                    f"got {getattr(image, 'dtype', type(image).__name__)} "
                    f"{getattr(image, 'shape', '')}"
                )
        if self._closed:
            raise DetectorError(f"detector {self.detector_id} is shut down")
        if not images:
            return []
        if self.breaker.state != "closed":
            # A recovering breaker lets one trial through: send one image, then the rest.
            first = await self._detect_one(images[0])
            return [first, *await self._detect_all(images[1:])]
        return await self._detect_all(images)

    async def async_close(self) -> None:
        """Close the HTTP session; later calls raise DetectorError."""
        self._closed = True
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def stats(self) -> dict[str, Any]:
        """Counters and breaker state, for logs, the panel and tests (no secrets)."""
        return {
            **self._counts,
            "state": self.breaker.state,
            "open": self.breaker.state == "open",
            "consecutive_failures": self.breaker.consecutive_failures,
            "times_opened": self.breaker.times_opened,
            "retry_in": round(self.breaker.retry_in(), 3),
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            "endpoint": redact_url(str(self.endpoint)),
        }

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
        granted = self.breaker.allow()
        if granted is None:
            self._counts["rejected"] += 1
            if self.breaker.state == "open":
                waiting = f"not calling the server for another {self.breaker.retry_in():.1f} s"
            else:
                waiting = "waiting for a trial call to answer"
            raise DetectorError(
                f"{self._prefix()}: {waiting} after {self.breaker.consecutive_failures} "
                f"failures in a row; last: {self._last_reason or 'unknown'}"
            )
        self._counts["images"] += 1
        try:
            jpeg = await asyncio.to_thread(encode_jpeg, image)
            height, width = image.shape[:2]
            found = await self._post_with_retries(jpeg, width, height)
        except _Failure as failure:
            raise self._failed(granted, failure.reason) from None
        except BaseException:
            self.breaker.abandon(granted)
            raise
        if self.breaker.state != "closed":
            _LOGGER.info("Detector %s: the server answers again", self.detector_id)
        self.breaker.success(granted)
        return found

    async def _post_with_retries(self, jpeg: bytes, width: int, height: int) -> list[Detection]:
        attempts = self.options.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                async with self._slots:
                    self._counts["requests"] += 1
                    answer = await self._post(jpeg)
                return parse_predictions(answer, width, height, self.options.min_confidence)
            except _Failure as failure:
                if not failure.retry or attempt == attempts or self._closed:
                    if attempt > 1:
                        failure.reason += f" ({attempt} tries)"
                    raise
                _LOGGER.debug(
                    "Detector %s: try %d failed, retrying: %s",
                    self.detector_id,
                    attempt,
                    self._scrub(failure.reason),
                )
            await asyncio.sleep(RETRY_DELAY)
        raise AssertionError("unreachable")

    async def _post(self, jpeg: bytes) -> Any:
        """Send one image; the decoded JSON answer, or _Failure."""
        form = aiohttp.FormData()
        form.add_field("image", jpeg, filename="image.jpg", content_type="image/jpeg")
        form.add_field("min_confidence", str(self.options.min_confidence))
        if self._secret:
            form.add_field("api_key", self._secret)
        seconds = self.options.timeout
        try:
            async with asyncio.timeout(seconds):
                async with self._open_session().post(self.endpoint, data=form) as response:
                    body = await _read_limited(response)
                    status = response.status
        except TimeoutError:
            raise _Failure(f"no answer within {seconds:g} s", retry=True) from None
        except aiohttp.ClientConnectorCertificateError:
            raise _Failure(
                "TLS certificate not trusted (set verify_tls: false for a self-signed one)",
                retry=False,
            ) from None
        except aiohttp.ClientConnectorError as exc:
            error = exc.os_error
            # asyncio words a refusal "Connect call failed (...)"; the errno says it plainly.
            if error.errno is not None and error.errno > 0:
                reason = os.strerror(error.errno)
            else:
                reason = error.strerror or str(error)
            where = f"{exc.host}:{exc.port}"
            raise _Failure(f"cannot connect to {where}: {reason}", retry=True) from None
        except aiohttp.ClientError as exc:
            raise _Failure(f"request failed: {type(exc).__name__}: {exc}", retry=True) from None
        return _decode_answer(status, body, bool(self._secret))

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise _Failure("detector is shut down", retry=False)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.options.max_concurrency, ssl=self.options.verify_tls
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.options.timeout),
                headers={"User-Agent": "camhub-remote-detector"},
            )
        return self._session

    # ---------------------------------------------------------- failures

    def _failed(self, granted: Pass, reason: str) -> DetectorError:
        """Count a failure, maybe open the breaker; the error to raise."""
        self._last_reason = self._scrub(reason)
        message = self._scrub(f"{self._prefix()}: {self._last_reason}")
        self._counts["failures"] += 1
        self._last_error = message
        self._last_error_at = time.time()
        if self.breaker.failure(granted):
            _LOGGER.warning(
                "Detector %s: %d failures in a row, not calling the server for %g s: %s",
                self.detector_id,
                self.breaker.consecutive_failures,
                self.options.breaker_seconds,
                message,
            )
        return DetectorError(message)

    def _prefix(self) -> str:
        return f"detector {self.detector_id} ({redact_url(str(self.endpoint))})"

    def _scrub(self, text: str) -> str:
        """The text without the API key, whatever the server echoed back."""
        return text.replace(self._secret, "***") if self._secret else text


def _is_rgb(image: Any) -> bool:
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] > 0
        and image.shape[1] > 0
    )


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The body, or _Failure once it is larger than any detection answer can be."""
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _Failure(f"answer larger than {MAX_ANSWER_BYTES} bytes", retry=False)
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_answer(status: int, body: bytes, has_key: bool) -> Any:
    """The JSON of a 2xx answer, or _Failure saying what the status and body mean."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = None
    if 200 <= status < 300:
        if answer is None:
            snippet = body[:80].decode("utf-8", "replace").strip()
            raise _Failure(f"answered with something that is not JSON: {snippet!r}", retry=False)
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
        raise _Failure(f"{hint} (HTTP {status}{server_says})", retry=False)
    if status == 404:
        raise _Failure(
            f"HTTP 404: no detection endpoint at this URL; check url{server_says}", retry=False
        )
    if status >= 500:
        raise _Failure(f"server error HTTP {status}{server_says}", retry=True)
    raise _Failure(f"HTTP {status}{server_says}", retry=False)
