"""What discovery plugins report: devices found on the LAN, deduplicated by the hub."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DiscoveredDevice:
    """A camera-like device seen on the network, ready for the panel's "add camera"."""

    id: str
    """Stable identity: ONVIF endpoint reference, mDNS instance name, or MAC."""
    name: str
    host: str
    port: int | None = None
    source: str = "unknown"
    """Which mechanism saw it: `mdns`, `ws-discovery`, ..."""
    urls: tuple[str, ...] = ()
    """Candidate stream or service URLs (credentials never included)."""
    properties: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["urls"] = list(self.urls)
        return data


def merge_devices(found: list[DiscoveredDevice]) -> list[DiscoveredDevice]:
    """One entry per device id; later sightings add URLs and properties to earlier ones."""
    merged: dict[str, DiscoveredDevice] = {}
    for device in found:
        seen = merged.get(device.id)
        if seen is None:
            merged[device.id] = device
            continue
        urls = seen.urls + tuple(u for u in device.urls if u not in seen.urls)
        merged[device.id] = DiscoveredDevice(
            id=seen.id,
            name=seen.name or device.name,
            host=seen.host,
            port=seen.port if seen.port is not None else device.port,
            source=seen.source
            if device.source == seen.source
            else f"{seen.source},{device.source}",
            urls=urls,
            properties={**device.properties, **seen.properties},
        )
    return sorted(merged.values(), key=lambda d: (d.host, d.name))
