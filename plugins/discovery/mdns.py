"""mDNS/DNS-SD browsing for cameras with python-zeroconf's async API."""

from __future__ import annotations

import asyncio
import logging

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from hub import DiscoveredDevice, OwnedTasks

_LOGGER = logging.getLogger(__name__)

RTSP = "_rtsp._tcp.local."
ONVIF = "_onvif._tcp.local."
AXIS = "_axis-video._tcp.local."
HTTP = "_http._tcp.local."
HOMEKIT = "_hap._tcp.local."
SERVICE_TYPES = (RTSP, ONVIF, AXIS, HTTP, HOMEKIT)

CAMERA_WORDS = (
    "camera",
    "cam",
    "ipc",
    "nvr",
    "hikvision",
    "dahua",
    "axis",
    "reolink",
    "amcrest",
    "foscam",
)
"""`_http._tcp` is every web server on the LAN (printers, routers, NAS): one is kept
only when its instance name or a TXT key or value contains one of these words."""

HOMEKIT_CAMERA_CATEGORIES = {"17", "18"}
"""HAP accessory categories (TXT `ci`): 17 IP camera, 18 video doorbell."""

MAX_DEVICES = 256
_MAX_TXT_ITEMS = 32
_MAX_TXT_CHARS = 256


def looks_like_camera(instance: str, txt: dict[str, str]) -> bool:
    """The `_http._tcp` heuristic: a camera-ish word in the name or the TXT record."""
    haystack = " ".join([instance, *txt.keys(), *txt.values()]).lower()
    return any(word in haystack for word in CAMERA_WORDS)


def device_from_info(info: AsyncServiceInfo) -> DiscoveredDevice | None:
    """A DiscoveredDevice for a resolved service, or None when it is not a camera."""
    service_type = info.type
    instance = info.name.removesuffix("." + service_type)
    txt = _txt(info.properties)
    if service_type == HTTP and not looks_like_camera(instance, txt):
        return None
    if service_type == HOMEKIT and txt.get("ci") not in HOMEKIT_CAMERA_CATEGORIES:
        return None
    addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
    host = addresses[0] if addresses else (info.server or "").rstrip(".")
    if not host:
        return None
    port = info.port
    url_host = f"[{host}]" if ":" in host else host
    urls: tuple[str, ...] = ()
    if port:
        if service_type == RTSP:
            urls = (f"rtsp://{url_host}:{port}/",)
        elif service_type == ONVIF:
            urls = (f"http://{url_host}:{port}/onvif/device_service",)
        elif service_type in (AXIS, HTTP):
            urls = (f"http://{url_host}:{port}/",)
    return DiscoveredDevice(
        id=f"mdns:{instance}",
        name=instance,
        host=host,
        port=port,
        source="mdns",
        urls=urls,
        properties={**txt, "service": service_type.removesuffix(".local.")},
    )


def _txt(properties: dict[bytes, bytes | None]) -> dict[str, str]:
    txt: dict[str, str] = {}
    for key, value in list(properties.items())[:_MAX_TXT_ITEMS]:
        name = key.decode("utf-8", "replace")[:_MAX_TXT_CHARS]
        txt[name] = (value or b"").decode("utf-8", "replace")[:_MAX_TXT_CHARS]
    return txt


async def async_browse(interfaces: list[str], timeout: float) -> list[DiscoveredDevice]:
    """Browse the camera service types on `interfaces` (empty: all) for `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    aiozc = AsyncZeroconf(interfaces=interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only)
    found: dict[str, DiscoveredDevice] = {}
    resolving = OwnedTasks("mDNS resolves", _LOGGER, logging.DEBUG)
    seen: set[tuple[str, str]] = set()

    async def resolve(service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        remaining_ms = int(max(0.0, deadline - loop.time()) * 1000)
        if not await info.async_request(aiozc.zeroconf, max(remaining_ms, 1)):
            return
        device = device_from_info(info)
        if device is not None and (device.id in found or len(found) < MAX_DEVICES):
            found.setdefault(device.id, device)

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed or (service_type, name) in seen:
            return
        if len(seen) >= MAX_DEVICES * 2:
            return
        seen.add((service_type, name))
        resolving.spawn(resolve(service_type, name), f"mdns-resolve {name}")

    browser = AsyncServiceBrowser(aiozc.zeroconf, list(SERVICE_TYPES), handlers=[on_change])
    try:
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        await resolving.async_wait(0.2)
    finally:
        await resolving.async_cancel()
        await browser.async_cancel()
        await aiozc.async_close()
    return list(found.values())
