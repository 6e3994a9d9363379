"""What every remote detector shares: one HTTP session, retries, a circuit breaker, its state.

A subclass sends its own requests through `_request` (timeouts and connection
errors become `Failure`s a person can read) inside `_guarded` (the breaker
decides whether the call may go out at all, and hears how it went). The
detector's state entity, `detector.<id>`, says `online`, `offline` (the breaker
is open: the server is not being called) or `error` (the server answers, but
not usefully), with the reason, so the panel and automations can see it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import numpy as np
from yarl import URL

from hub import RGB, DetectorError, redact_url
from plugins.remote_detector.breaker import CircuitBreaker
from plugins.remote_detector.options import RemoteOptions

_LOGGER = logging.getLogger(__name__)

RETRY_DELAY = 0.1
T = TypeVar("T")


class Failure(Exception):
    """One failed try; `retry` says whether trying again could help."""

    def __init__(self, reason: str, retry: bool):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class StateSink:
    """Where a detector reports its state: the hub's state registry (or nowhere, in tests)."""

    def __init__(self, hub: Any | None, entity_id: str):
        self._states = getattr(hub, "states", None)
        self._redact: Callable[[str], str] = getattr(hub, "redactor", None) or (lambda t: t)
        self.entity_id = entity_id

    def set(self, state: str, **attributes: Any) -> None:
        """Set the entity; text attributes are redacted."""
        if self._states is None:
            return
        clean = {k: self._redact(v) if isinstance(v, str) else v for k, v in attributes.items()}
        self._states.async_set(self.entity_id, state, clean)


class RemoteClient:
    """The HTTP side of a remote detector: session, retries, breaker, counters, state."""

    def __init__(
        self,
        detector_id: str,
        options: RemoteOptions,
        endpoint: URL,
        secret: str,
        hub: Any | None = None,
    ):
        self.detector_id = detector_id
        self.endpoint = endpoint
        self.breaker = CircuitBreaker(options.breaker_failures, options.breaker_seconds)
        self._remote = options
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._slots = asyncio.Semaphore(options.max_concurrency)
        self._secret = secret
        self._counts = {"calls": 0, "images": 0, "requests": 0, "failures": 0, "rejected": 0}
        self._last_error: str | None = None
        self._last_reason: str | None = None
        self._last_error_at: float | None = None
        self.state = StateSink(hub, f"detector.{detector_id}")
        self.state.set("unknown", url=redact_url(str(endpoint)))

    def _check_images(self, images: list[RGB], allow_empty: bool) -> None:
        """DetectorError unless every image is H x W x 3 uint8 RGB (with rows, unless
        `allow_empty`): a caller's mistake, said before anything is sent."""
        for image in images:
            if not (
                isinstance(image, np.ndarray)
                and image.dtype == np.uint8
                and image.ndim == 3
                and image.shape[2] == 3
                and (allow_empty or image.shape[0] > 0)
            ):
                raise DetectorError(
                    f"detector {self.detector_id}: expected H x W x 3 uint8 RGB images, "
                    f"got {getattr(image, 'dtype', type(image).__name__)} "
                    f"{getattr(image, 'shape', '')}"
                )

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The HTTP session, once the first request opened it."""
        return self._session

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

    # ---------------------------------------------------------- calls

    async def _guarded(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run one call if the breaker allows it; failures are counted and raised as
        DetectorError."""
        if self._closed:
            raise DetectorError(f"detector {self.detector_id} is shut down")
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
        try:
            result = await work()
        except Failure as failure:
            self._last_reason = self._scrub(failure.reason)
            message = self._scrub(f"{self._prefix()}: {self._last_reason}")
            self._counts["failures"] += 1
            self._last_error = message
            self._last_error_at = time.time()
            if self.breaker.failure(granted):
                _LOGGER.warning(
                    "Detector %s: %d failures in a row, not calling the server for %g s: %s",
                    self.detector_id,
                    self.breaker.consecutive_failures,
                    self._remote.breaker_seconds,
                    message,
                )
            self._report_failure(failure)
            raise DetectorError(message) from None
        except BaseException:
            self.breaker.abandon(granted)
            raise
        if self.breaker.state != "closed":
            _LOGGER.info("Detector %s: the server answers again", self.detector_id)
        self.breaker.success(granted)
        self.state.set("online", url=redact_url(str(self.endpoint)))
        return result

    def _report_failure(self, failure: Failure) -> None:
        url = redact_url(str(self.endpoint))
        reason = self._last_reason or failure.reason
        if self.breaker.state == "open":
            retry_at = time.time() + self.breaker.retry_in()
            self.state.set("offline", url=url, reason=reason, retry_at=round(retry_at, 3))
        elif not failure.retry:
            self.state.set("error", url=url, reason=reason)

    async def _with_retries(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """`attempt()` again after a failure that may pass (timeout, refused, HTTP 5xx)."""
        attempts = self._remote.retries + 1
        for number in range(1, attempts + 1):
            try:
                async with self._slots:
                    self._counts["requests"] += 1
                    return await attempt()
            except Failure as failure:
                if not failure.retry or number == attempts or self._closed:
                    if number > 1:
                        failure.reason += f" ({number} tries)"
                    raise
                _LOGGER.debug(
                    "Detector %s: try %d failed, retrying: %s",
                    self.detector_id,
                    number,
                    self._scrub(failure.reason),
                )
            await asyncio.sleep(RETRY_DELAY)
        raise AssertionError("unreachable")

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        limit: int,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> tuple[int, bytes, dict[str, str]]:
        """Status, body (at most `limit` bytes) and headers of one request, or Failure."""
        seconds = timeout or self._remote.timeout
        try:
            async with asyncio.timeout(seconds):
                async with self._open_session().request(method, url, **kwargs) as response:
                    body = await read_limited(response, limit)
                    return response.status, body, dict(response.headers)
        except TimeoutError:
            raise Failure(f"no answer within {seconds:g} s", retry=True) from None
        except aiohttp.ClientConnectorCertificateError:
            raise Failure(
                "TLS certificate not trusted (set ca_file to the server's CA, or verify_tls: "
                "false for a self-signed one)",
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
            raise Failure(f"cannot connect to {where}: {reason}", retry=True) from None
        except aiohttp.ClientError as exc:
            raise Failure(f"request failed: {type(exc).__name__}: {exc}", retry=True) from None

    def _open_session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise Failure("detector is shut down", retry=False)
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._remote.max_concurrency, ssl=self._tls(), force_close=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._remote.timeout),
                headers={"User-Agent": "camhub-remote-detector"},
            )
        return self._session

    def _tls(self) -> ssl.SSLContext | bool:
        """What aiohttp checks an https:// server against."""
        if not self._remote.verify_tls:
            return False
        ca_file = getattr(self._remote, "ca_file", None)
        if ca_file:
            try:
                return ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise Failure(f"cannot read ca_file {ca_file}: {exc}", retry=False) from None
        return True

    def _prefix(self) -> str:
        return f"detector {self.detector_id} ({redact_url(str(self.endpoint))})"

    def _scrub(self, text: str) -> str:
        """The text without the secret, whatever the server echoed back."""
        return text.replace(self._secret, "***") if self._secret else text


async def read_limited(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or Failure once it is larger than any answer we expect can be."""
    chunks = []
    size = 0
    async for chunk in response.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise Failure(f"answer larger than {limit} bytes", retry=False)
        chunks.append(chunk)
    return b"".join(chunks)
