"""Built-in discovery: finds cameras on the LAN with mDNS and ONVIF WS-Discovery.

On demand (`discover_devices`: `camhub discover`, `/api/discovery?scan=S`) it
browses mDNS and probes WS-Discovery for the given time. With
`discovery.enabled`, it also keeps looking in the background: WS-Discovery
Hello/Bye on port 3702, a re-probe every `discovery.rescan_seconds`, and a
running mDNS browse, announcing DeviceDiscovered/DeviceLost.

Interfaces are `discovery.interfaces` (IPv4 addresses); empty means every
non-loopback, non-link-local IPv4 interface (WS-Discovery) and every interface
zeroconf finds (mDNS). Tests pin 127.0.0.1 so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import TYPE_CHECKING, Any

from hub import DiscoveredDevice, hookimpl, merge_devices
from plugins.discovery.background import BackgroundDiscovery
from plugins.discovery.mdns import async_browse
from plugins.discovery.wsdiscovery import async_probe

if TYPE_CHECKING:
    from hub import Hub

__version__ = "0.2.0"

_LOGGER = logging.getLogger(__name__)
_BACKGROUND: weakref.WeakKeyDictionary[Any, BackgroundDiscovery] = weakref.WeakKeyDictionary()


@hookimpl
async def discover_devices(hub: Hub, timeout: float) -> list[DiscoveredDevice]:
    """Browse mDNS and probe WS-Discovery at the same time on `discovery.interfaces`."""
    interfaces = list(hub.config.discovery.interfaces)
    results = await asyncio.gather(
        async_browse(interfaces, timeout), async_probe(interfaces, timeout), return_exceptions=True
    )
    found: list[DiscoveredDevice] = []
    for source, result in zip(("mDNS", "WS-Discovery"), results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            _LOGGER.warning("%s scan failed: %s", source, result)
            continue
        found.extend(result)
    return merge_devices(found)


@hookimpl
async def startup(hub: Hub) -> None:
    """Start background discovery when `discovery.enabled`."""
    if not hub.config.discovery.enabled:
        return
    background = BackgroundDiscovery(hub)
    _BACKGROUND[hub] = background
    await background.async_start()


@hookimpl
async def shutdown(hub: Hub) -> None:
    """Stop background discovery."""
    background = _BACKGROUND.pop(hub, None)
    if background is not None:
        await background.async_stop()
