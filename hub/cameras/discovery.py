"""What discovery plugins report: devices found on the LAN, deduplicated by the hub."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hub.events import DeviceDiscovered, DeviceLost

if TYPE_CHECKING:
    from hub.core import Hub


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
            source=_join_sources(seen.source, device.source),
            urls=urls,
            properties={**device.properties, **seen.properties},
        )
    return sorted(merged.values(), key=lambda d: (d.host, d.name))


def _join_sources(first: str, second: str) -> str:
    names = first.split(",")
    names += [name for name in second.split(",") if name not in names]
    return ",".join(names)


@dataclass(frozen=True)
class StreamProfile:
    """One media profile of an ONVIF device: an encoder setting and where to fetch it."""

    token: str
    name: str
    width: int | None = None
    height: int | None = None
    codec: str = ""
    stream_uri: str | None = None
    snapshot_uri: str | None = None
    ptz: bool = False

    @property
    def pixels(self) -> int:
        """Width times height, 0 when unknown (sorts last)."""
        return (self.width or 0) * (self.height or 0)


@dataclass(frozen=True)
class DeviceProbe:
    """What logging in to a device told us: who it is and which streams it offers.

    `error` is set (and the rest may be empty) when the probe failed, e.g.
    "wrong username or password"; credentials never appear in it.
    """

    device_url: str
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    profiles: tuple[StreamProfile, ...] = ()
    main: StreamProfile | None = None
    """The highest-resolution profile with a stream: what is recorded."""
    sub: StreamProfile | None = None
    """A smaller H.264 profile: what detection decodes (`detect_url`); see `pick_streams`."""
    media2: bool = False
    clock_offset: float = 0.0
    notes: tuple[str, ...] = ()
    """Optional answers the device got wrong and what was done without them, e.g.
    "GetSnapshotUri: answer is not valid XML (...); no snapshot URL for profile Main"."""
    error: str | None = None
    login_refused: bool = False
    """With `error`: the device refused the username or password (the user can fix that)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["profiles"] = [asdict(p) for p in self.profiles]
        return data


DETECT_HEIGHT = 360
"""Lines detection frames have by default (`detect.height`): a sub-stream this tall or
taller needs no upscaling."""
_H264 = ("h264", "avc", "avc1")


def is_h264(codec: str) -> bool:
    """H.264 under any of the names devices give it (`H264`, `H.264`, `AVC`)."""
    return codec.strip().lower().replace(".", "").replace("-", "") in _H264


def pick_streams(
    profiles: list[StreamProfile],
) -> tuple[StreamProfile | None, StreamProfile | None]:
    """Main stream: the largest picture. Sub stream, decoded for detection: another H.264
    profile with a smaller picture (a Pi decodes H.264 in a fraction of the time of H.265 or
    a main stream): the smallest at least DETECT_HEIGHT lines high, or else the largest
    below it; None when there is no such profile."""
    usable = sorted((p for p in profiles if p.stream_uri), key=lambda p: -p.pixels)
    if not usable:
        return None, None
    main = usable[0]
    smaller = [
        p
        for p in usable[1:]
        if p.stream_uri != main.stream_uri and is_h264(p.codec) and 0 < p.pixels < main.pixels
    ]
    tall = [p for p in smaller if (p.height or 0) >= DETECT_HEIGHT]
    if tall:
        return main, min(tall, key=lambda p: p.pixels)
    return main, max(smaller, key=lambda p: p.pixels) if smaller else None


MAX_KNOWN_DEVICES = 1024
"""Devices remembered at most; far more than any home LAN has cameras."""


def merge_one(seen: DiscoveredDevice | None, new: DiscoveredDevice) -> DiscoveredDevice:
    """`new` folded into what was known of the same device."""
    return new if seen is None else merge_devices([seen, new])[0]


def device_seen(hub: Hub, device: DiscoveredDevice) -> None:
    """Remember a device; a running hub announces one it did not know (DeviceDiscovered)."""
    known = hub.discovered.get(device.id)
    if known is None and len(hub.discovered) >= MAX_KNOWN_DEVICES:
        return  # a flood of fake announcements must not grow memory without bound
    hub.discovered[device.id] = merge_one(known, device)
    if known is None and hub.running:
        hub.bus.publish(
            DeviceDiscovered(
                device_id=device.id, name=device.name, host=device.host, source=device.source
            )
        )


def device_lost(hub: Hub, device_id: str, source: str) -> None:
    """Forget a device that said goodbye or stopped answering (DeviceLost when it was known)."""
    if hub.discovered.pop(device_id, None) is not None and hub.running:
        hub.bus.publish(DeviceLost(device_id=device_id, source=source))


def url_host(url: str | None) -> str | None:
    """The host of a URL, lowercased, or None."""
    if not url or "://" not in url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def configured_hosts(hub: Hub) -> dict[str, str]:
    """Host -> camera id for every running camera's stream and ONVIF addresses."""
    hosts: dict[str, str] = {}
    for camera_id, runtime in hub.cameras.items():
        config = runtime.config
        candidates = [config.url, config.detect_url]
        if config.onvif is not None:
            candidates += [config.onvif.service_url()]
        for url in candidates:
            host = url_host(url)
            if host:
                hosts.setdefault(host, camera_id)
    return hosts


def device_view(device: DiscoveredDevice, hosts: dict[str, str]) -> dict[str, Any]:
    """What the API and CLI show of a device: its fields, its ONVIF service, `configured`."""
    data = device.as_dict()
    props = device.properties
    # WS-Discovery scopes say `hardware`; mDNS TXT records often `model`/`manufacturer`.
    data["model"] = props.get("hardware") or props.get("model") or props.get("md") or None
    data["manufacturer"] = props.get("manufacturer") or props.get("vendor") or None
    data["onvif_url"] = onvif_service_url(device)
    camera = hosts.get(device.host.lower())
    data["configured"] = camera is not None
    data["camera"] = camera
    return data


def onvif_service_url(device: DiscoveredDevice) -> str | None:
    """The device's ONVIF device service URL, if it advertised one."""
    for url in device.urls:
        if url.lower().startswith(("http://", "https://")) and "onvif" in url.lower():
            return url
    if device.source.startswith("ws-discovery") or "ws-discovery" in device.source:
        http = [u for u in device.urls if u.lower().startswith(("http://", "https://"))]
        return http[0] if http else None
    return None
