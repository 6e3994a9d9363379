"""An ONVIF client over aiohttp: clock-corrected WS-Security, auth fallbacks, device calls."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

import aiohttp

from plugins.onvif.soap import (
    MAX_RESPONSE_BYTES,
    NAMESPACES,
    Credentials,
    OnvifAuthError,
    OnvifError,
    OnvifUnreachable,
    SoapFault,
    auth_failed,
    body_of,
    child,
    children,
    descendant,
    envelope,
    find,
    security_header,
    text,
)

_LOGGER = logging.getLogger(__name__)

AuthMode = Literal["digest", "text", "http"]
DEVICE_NS = NAMESPACES["tds"]
MEDIA_NS = NAMESPACES["trt"]
MEDIA2_NS = NAMESPACES["tr2"]
EVENTS_NS = NAMESPACES["tev"]
PTZ_NS = NAMESPACES["tptz"]
_CAPABILITY_KEYS = {"Media": MEDIA_NS, "Events": EVENTS_NS, "PTZ": PTZ_NS, "Device": DEVICE_NS}
_CALL_NAME = re.compile(r"<\w+:(\w+)")


@dataclass(frozen=True)
class DeviceInformation:
    """GetDeviceInformation."""

    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hardware: str = ""


@dataclass
class OnvifClient:
    """Talks to one device; `async_connect` first (clock offset and service addresses)."""

    session: aiohttp.ClientSession
    device_url: str
    credentials: Credentials | None = None
    timeout: float = 10.0
    clock_offset: float = 0.0
    """Seconds the camera's clock is ahead of ours; added to WS-Security timestamps."""
    auth: AuthMode = "digest"
    services: dict[str, str] = field(default_factory=dict)
    """Service namespace -> XAddr."""
    notes: list[str] = field(default_factory=list)
    """Optional calls that failed and what the device is taken to lack instead."""
    _http_digest: aiohttp.DigestAuthMiddleware | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        """Host of the device service, for messages."""
        return urlsplit(self.device_url).hostname or self.device_url

    async def async_connect(self) -> None:
        """Read the camera's clock (unauthenticated, as ONVIF allows), then its services."""
        await self.async_sync_clock()
        self.services = await self.async_services()

    def degraded(self, exc: OnvifError, consequence: str) -> None:
        """An optional call failed: log it with the call's name and go on without it."""
        note = f"{exc}; {consequence}"
        _LOGGER.warning("%s: %s", self.host, note)
        if len(self.notes) < 20:
            self.notes.append(note)

    async def async_sync_clock(self) -> None:
        """GetSystemDateAndTime: remember how far the camera's clock is from ours."""
        try:
            answer = await self.async_call(
                self.device_url, "<tds:GetSystemDateAndTime/>", authenticate=False
            )
        except OnvifUnreachable:
            raise
        except OnvifError as exc:
            self.degraded(exc, "assuming the camera's clock is right")
            return
        camera = parse_utc_time(answer)
        if camera is not None:
            self.clock_offset = (camera - dt.datetime.now(dt.UTC)).total_seconds()
            if abs(self.clock_offset) > 5:
                _LOGGER.info(
                    "%s: camera clock is %+.0f s off; correcting", self.host, self.clock_offset
                )

    async def async_services(self) -> dict[str, str]:
        """Service addresses, with unreachable hosts put right (see `reachable_xaddr`)."""
        found = await self._async_services()
        return {ns: reachable_xaddr(url, self.device_url) for ns, url in found.items()}

    async def _async_services(self) -> dict[str, str]:
        """GetServices, or GetCapabilities on devices too old for it (or answering it badly);
        {} when neither answers usefully: then every service is asked at the device address."""
        try:
            answer = await self.async_call(
                self.device_url,
                "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability>"
                "</tds:GetServices>",
            )
            found = {
                text(child(s, "Namespace")): text(child(s, "XAddr"))
                for s in children(answer, "Service")
            }
            if any(found.values()):
                return {ns: url for ns, url in found.items() if ns and url}
        except OnvifError as exc:
            if auth_failed(exc) or isinstance(exc, OnvifUnreachable):
                raise
            _LOGGER.debug("%s: %s; trying GetCapabilities", self.host, exc)
        try:
            answer = await self.async_call(
                self.device_url,
                "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
            )
        except OnvifError as exc:
            if auth_failed(exc) or isinstance(exc, OnvifUnreachable):
                raise
            self.degraded(exc, "asking every service at the device address")
            return {}
        capabilities = child(answer, "Capabilities")
        found = {}
        for key, namespace in _CAPABILITY_KEYS.items():
            address = text(find(capabilities, key, "XAddr"))
            if address:
                found[namespace] = address
        return found

    def service(self, namespace: str) -> str | None:
        """XAddr of a service the device offers."""
        return self.services.get(namespace)

    async def async_device_information(self) -> DeviceInformation:
        """Maker, model, firmware and serial; empty when the device answers it badly."""
        try:
            answer = await self.async_call(self.device_url, "<tds:GetDeviceInformation/>")
        except OnvifError as exc:
            if auth_failed(exc) or isinstance(exc, OnvifUnreachable):
                raise
            self.degraded(exc, "maker and model unknown")
            return DeviceInformation()
        return DeviceInformation(
            manufacturer=text(child(answer, "Manufacturer"))[:100],
            model=text(child(answer, "Model"))[:100],
            firmware=text(child(answer, "FirmwareVersion"))[:100],
            serial=text(child(answer, "SerialNumber"))[:100],
            hardware=text(child(answer, "HardwareId"))[:100],
        )

    # ---------------------------------------------------------- transport

    async def async_call(
        self,
        url: str,
        body: str,
        authenticate: bool = True,
        headers: str = "",
        timeout: float | None = None,
    ) -> Element:
        """Send one request; returns the first Body element. Tries the auth fallbacks in turn:
        WS-Security digest, then plain text, then HTTP Digest; the one that works is kept.

        Failures name the call (`GetProfiles: answer is not valid XML ...`), except a
        refusal of the credentials, which is about the device, not the call.
        """
        try:
            return await self._async_call(url, body, authenticate, headers, timeout)
        except OnvifError as exc:
            found = _CALL_NAME.search(body)
            raise exc.for_call(found.group(1) if found else "request") from None

    async def _async_call(
        self, url: str, body: str, authenticate: bool, headers: str, timeout: float | None
    ) -> Element:
        if not authenticate or self.credentials is None:
            return await self._post(url, body, headers, None, timeout)
        modes: list[AuthMode] = [self.auth] + [
            m for m in ("digest", "text", "http") if m != self.auth
        ]
        first_error: OnvifError | None = None
        for mode in modes:
            try:
                answer = await self._post(url, body, headers, mode, timeout)
            except _HttpUnauthorized as exc:
                first_error = first_error or OnvifAuthError("wrong username or password")
                _LOGGER.debug("%s: %s auth refused: %s", self.host, mode, exc)
                continue
            except SoapFault as exc:
                if not exc.not_authorized:
                    raise
                first_error = first_error or exc
                continue
            if mode != self.auth:
                _LOGGER.info("%s: using %s authentication", self.host, mode)
                self.auth = mode
            return answer
        assert first_error is not None
        raise first_error

    async def _post(
        self, url: str, body: str, headers: str, mode: AuthMode | None, timeout: float | None
    ) -> Element:
        header = headers
        middlewares: tuple[aiohttp.DigestAuthMiddleware, ...] = ()
        if mode in ("digest", "text") and self.credentials is not None:
            now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.clock_offset)
            header = security_header(self.credentials, now, digest=mode == "digest") + headers
        elif mode == "http" and self.credentials is not None:
            if self._http_digest is None:
                # Kept: it remembers the device's nonce, saving a 401 round trip per call.
                self._http_digest = aiohttp.DigestAuthMiddleware(
                    self.credentials.username, self.credentials.password
                )
            middlewares = (self._http_digest,)
        limit = timeout or self.timeout
        try:
            async with self.session.post(
                url,
                data=envelope(body, header),
                headers={"Content-Type": "application/soap+xml; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=limit),
                middlewares=middlewares,
                allow_redirects=False,
            ) as response:
                data = await _read_capped(response)
                status = response.status
        except TimeoutError:
            raise OnvifUnreachable(f"{self.host} did not answer within {limit:g} s") from None
        except aiohttp.ClientError as exc:
            raise OnvifUnreachable(f"cannot reach {self.host}: {exc}") from None
        if status == 401 and not _looks_like_soap(data):
            raise _HttpUnauthorized(f"HTTP 401 from {self.host}")
        if status >= 300 and not _looks_like_soap(data):
            raise OnvifError(f"{self.host} answered HTTP {status}")
        try:
            return body_of(data)
        except SoapFault:
            raise
        except OnvifError as exc:
            if status == 401:
                raise _HttpUnauthorized(str(exc)) from None
            raise


class _HttpUnauthorized(OnvifError):
    """HTTP 401 without a SOAP fault: the device wants HTTP authentication."""


def _looks_like_soap(data: bytes) -> bool:
    head = data[:4096]
    return b"Envelope" in head or b"Fault" in head


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    if (response.content_length or 0) > MAX_RESPONSE_BYTES:
        raise OnvifError(f"answer too large ({response.content_length} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise OnvifError(f"answer too large (more than {MAX_RESPONSE_BYTES} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


_NOWHERE = ("0.0.0.0", "::", "localhost", "127.0.0.1", "::1")


def reachable_xaddr(xaddr: str, device_url: str) -> str:
    """A service address we can reach: cameras behind NAT or with a default config report
    0.0.0.0 or their loopback; then the address we reached the device service at is used."""
    try:
        service, device = urlsplit(xaddr), urlsplit(device_url)
        service_host = service.hostname or ""
    except ValueError:
        return device_url
    if not service.scheme or not service_host:
        return device_url
    if service_host in _NOWHERE and device.hostname not in _NOWHERE:
        return service._replace(netloc=device.netloc).geturl()
    return xaddr


def parse_utc_time(answer: Element) -> dt.datetime | None:
    """The UTC time in a GetSystemDateAndTime answer, None when missing or nonsense."""
    utc = descendant(answer, "UTCDateTime")
    if utc is None:
        return None
    date, clock = child(utc, "Date"), child(utc, "Time")
    try:
        return dt.datetime(
            int(text(child(date, "Year"))),
            int(text(child(date, "Month"))),
            int(text(child(date, "Day"))),
            int(text(child(clock, "Hour"))),
            int(text(child(clock, "Minute"))),
            int(text(child(clock, "Second"))),
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None
