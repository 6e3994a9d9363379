"""Built-in discovery: finds cameras on the LAN with mDNS and ONVIF WS-Discovery.

Only on-demand scans (`discover_devices`) for now: background Hello/Bye listening,
mDNS `device_lost` and periodic re-probing are not implemented yet. Not yet in
BUILTIN_PLUGINS: once it is, every test that scans must pin `discovery.interfaces`
to 127.0.0.1, or a scan would multicast on the machine's real network.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from hub.discovery import DiscoveredDevice, merge_devices
from hub.hookspecs import hookimpl
from plugins.discovery.mdns import async_browse
from plugins.discovery.wsdiscovery import async_probe

if TYPE_CHECKING:
    from hub.core import Hub

__version__ = "0.1.0"

_LOGGER = logging.getLogger(__name__)


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
