"""Privacy masks burnt in by the camera: ONVIF Media2 masks pushed, read back and verified.

camhub's polygons have corners in 0..1 with the origin top left and y down; ONVIF's
normalised space runs -1..1 with the origin in the middle and y up. Masks belong to a
video source configuration, which every profile (stream) of that sensor shares.

A mask carries no name, so the tokens of the masks camhub created are remembered in
the data dir: only those are ever deleted, never masks someone set on the camera.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from hub import redact_url
from plugins.onvif.client import MEDIA2_NS, OnvifClient
from plugins.onvif.soap import OnvifError, child, children, text

_LOGGER = logging.getLogger(__name__)

Point = tuple[float, float]
Polygon = Sequence[Point]

TOLERANCE = 0.005
"""How far (in 0..1 picture units, ~10 px at 1080p) a corner read back may be from ours."""
MASK_TYPE = "Color"
"""A solid fill: the only mask type that surely leaves nothing of the picture."""
TOKENS_FILE = "onvif_masks.json"
MAX_MASKS_READ = 256
_NOWHERE = ("0.0.0.0", "::", "localhost", "127.0.0.1", "::1")


class MaskError(OnvifError):
    """The camera cannot be trusted to burn the masks in; says why."""


def to_onvif(point: Point) -> Point:
    """camhub (0..1, top left origin, y down) -> ONVIF normalised (-1..1, centre, y up)."""
    x, y = point
    return 2.0 * x - 1.0, 1.0 - 2.0 * y


def from_onvif(point: Point) -> Point:
    """ONVIF normalised -> camhub picture coordinates."""
    x, y = point
    return (x + 1.0) / 2.0, (1.0 - y) / 2.0


@dataclass(frozen=True)
class MaskOptions:
    """GetMaskOptions of one video source configuration."""

    max_masks: int
    max_points: int
    types: tuple[str, ...]
    rectangle_only: bool


@dataclass(frozen=True)
class CameraMask:
    """One mask as the camera reports it (corners in camhub coordinates)."""

    token: str
    configuration: str
    points: tuple[Point, ...]
    type: str
    enabled: bool


def parse_options(answer: Element) -> MaskOptions:
    """GetMaskOptionsResponse -> MaskOptions; MaskError when it makes no sense."""
    options = child(answer, "Options")
    if options is None:
        raise MaskError("the camera's mask options are empty")
    try:
        max_masks = int(text(child(options, "MaxMasks")))
        max_points = int(text(child(options, "MaxPoints")))
    except ValueError:
        raise MaskError("the camera's mask options have no MaxMasks/MaxPoints") from None
    return MaskOptions(
        max_masks=max_masks,
        max_points=max_points,
        types=tuple(text(t) for t in children(options, "Types") if text(t)),
        rectangle_only=options.get("RectangleOnly", "false").strip().lower() in ("true", "1"),
    )


def _point(element: Element) -> Point | None:
    try:
        x, y = float(element.get("x", "")), float(element.get("y", ""))
    except ValueError:
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    return from_onvif((x, y))


def parse_masks(answer: Element) -> list[CameraMask]:
    """GetMasksResponse -> masks (unreadable corners make a mask match nothing)."""
    masks = []
    for item in list(children(answer, "Masks"))[:MAX_MASKS_READ]:
        corners = [_point(p) for p in children(child(item, "Polygon"), "Point")]
        points = tuple(p for p in corners if p is not None)
        masks.append(
            CameraMask(
                token=item.get("token", "")[:64],
                configuration=text(child(item, "ConfigurationToken"))[:64],
                points=points if len(points) == len(corners) else (),
                type=text(child(item, "Type")),
                enabled=text(child(item, "Enabled")).lower() in ("true", "1"),
            )
        )
    return masks


def _open(points: Sequence[Point]) -> list[Point]:
    """Corners without a closing repeat of the first one (some cameras add it)."""
    out = list(points)
    if len(out) > 3 and _close(out[0], out[-1]):
        out.pop()
    return out


def _close(a: Point, b: Point) -> bool:
    return abs(a[0] - b[0]) <= TOLERANCE and abs(a[1] - b[1]) <= TOLERANCE


def same_polygon(ours: Polygon, theirs: Polygon) -> bool:
    """The same corners within TOLERANCE, from any starting corner, either way round."""
    a, b = _open(ours), _open(theirs)
    if len(a) != len(b) or not a:
        return False
    for candidate in (b, b[::-1]):
        for shift in range(len(candidate)):
            turned = candidate[shift:] + candidate[:shift]
            if all(_close(p, q) for p, q in zip(a, turned, strict=True)):
                return True
    return False


def is_rectangle(polygon: Polygon) -> bool:
    """Four corners on two x and two y values: an upright rectangle."""
    points = _open(polygon)
    return (
        len(points) == 4
        and len({round(x, 6) for x, _ in points}) == 2
        and len({round(y, 6) for _, y in points}) == 2
    )


def polygon_xml(polygon: Polygon) -> str:
    """A tt:Polygon's corners in ONVIF coordinates."""
    corners = (to_onvif(p) for p in polygon)
    return "".join(f'<tt:Point x="{x:.6f}" y="{y:.6f}"/>' for x, y in corners)


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TokenStore:
    """The mask tokens camhub created, per camera, in a small JSON file."""

    def __init__(self, data_dir: Path):
        self.path = data_dir / TOKENS_FILE

    def load(self, camera_id: str) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        tokens = data.get(camera_id, []) if isinstance(data, dict) else []
        return [t for t in tokens if isinstance(t, str)]

    def save(self, camera_id: str, tokens: list[str]) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data[camera_id] = tokens
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)


@dataclass(frozen=True)
class _Profile:
    stream_uri: str
    source_configuration: str


def _stream_key(url: str, device_url: str | None = None) -> tuple[str, int, str, str]:
    """Host, port, path and query of an RTSP URL (user and password left out). A host of
    0.0.0.0 or loopback that the camera reports is where its device service answered."""
    try:
        parts = urlsplit(url)
        port = parts.port or 554
    except ValueError:
        return url, 0, "", ""
    host = (parts.hostname or "").lower()
    if device_url is not None and host in _NOWHERE:
        device_host = (urlsplit(device_url).hostname or "").lower()
        host = device_host if device_host not in _NOWHERE else host
    return host, port, parts.path.rstrip("/") or "/", parts.query


class MaskPusher:
    """Pushes one camera's masks over Media2 and verifies them by reading them back."""

    def __init__(self, client: OnvifClient, store: TokenStore, camera_id: str):
        self.client = client
        self.store = store
        self.camera_id = camera_id
        self.configuration: str | None = None
        """The video source configuration the masks were put on, once applied."""

    @property
    def media2(self) -> str:
        url = self.client.service(MEDIA2_NS)
        if not url:
            raise MaskError("the camera has no ONVIF Media2 service (needed for masks)")
        return url

    async def async_apply(self, polygons: Sequence[Polygon], stream_urls: Sequence[str]) -> None:
        """Make the camera mask `polygons` on the source of `stream_urls`; MaskError if not."""
        if not self.client.services:
            await self.client.async_connect()
        configuration = await self._configuration(stream_urls)
        options = await self._options(configuration)
        self._check_options(options, polygons)
        masks = await self._masks(configuration)
        ours = self.store.load(self.camera_id)
        wanted = list(polygons)
        keep: list[str] = []
        for mask in masks:
            if mask.token not in ours:
                continue
            match = next((p for p in wanted if self._matches(mask, configuration, p)), None)
            if match is not None:
                wanted.remove(match)
                keep.append(mask.token)
        stale = [t for t in ours if t not in keep and t in {m.token for m in masks}]
        for token in stale:
            body = f"<tr2:DeleteMask><tr2:Token>{_xml(token)}</tr2:Token></tr2:DeleteMask>"
            await self.client.async_call(self.media2, body)
        created: list[str] = []
        try:
            for polygon in wanted:
                created.append(await self._create(configuration, polygon))
        finally:
            # Remembered even when a later one fails, so the next start can clean them up.
            self.store.save(self.camera_id, keep + created)
        await self._verify(configuration, polygons)
        self.configuration = configuration

    async def async_check(self, polygons: Sequence[Polygon]) -> None:
        """Read the masks applied before back again; MaskError if any is gone or changed."""
        if self.configuration is None:
            raise MaskError("no masks were applied")
        await self._verify(self.configuration, polygons)

    async def _configuration(self, stream_urls: Sequence[str]) -> str:
        """The video source configuration token behind the streams the hub reads.

        Every stream must be one the camera itself reports: a URL of another device (an
        NVR, a second camera) would not carry this camera's masks.
        """
        if not stream_urls:
            raise MaskError("no stream to mask")
        profiles = await self._profiles()
        found = set()
        for url in stream_urls:
            key = _stream_key(url)
            matching = {
                p.source_configuration
                for p in profiles
                if _stream_key(p.stream_uri, self.client.device_url) == key
            }
            if not matching:
                raise MaskError(
                    f"{redact_url(url)} is not a stream this camera reports (GetStreamUri), "
                    "so its masks might not cover it"
                )
            if len(matching) != 1:
                raise MaskError("cannot tell which of the camera's video sources a stream uses")
            found |= matching
        if len(found) != 1:
            raise MaskError("the streams the hub reads come from different video sources")
        return found.pop()

    async def _profiles(self) -> list[_Profile]:
        answer = await self.client.async_call(
            self.media2, "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>"
        )
        profiles = []
        for item in list(children(answer, "Profiles"))[:32]:
            source = child(child(item, "Configurations"), "VideoSource")
            token = item.get("token", "")
            configuration = source.get("token", "") if source is not None else ""
            uri = ""
            if token and configuration:
                reply = await self.client.async_call(
                    self.media2,
                    "<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol>"
                    f"<tr2:ProfileToken>{_xml(token)}</tr2:ProfileToken></tr2:GetStreamUri>",
                )
                uri = text(child(reply, "Uri"))
            if uri and configuration:
                profiles.append(_Profile(uri, configuration))
        return profiles

    async def _options(self, configuration: str) -> MaskOptions:
        try:
            answer = await self.client.async_call(
                self.media2,
                f"<tr2:GetMaskOptions><tr2:ConfigurationToken>{_xml(configuration)}"
                "</tr2:ConfigurationToken></tr2:GetMaskOptions>",
            )
        except OnvifError as exc:
            raise MaskError(f"the camera does not offer masks ({exc})") from None
        return parse_options(answer)

    def _check_options(self, options: MaskOptions, polygons: Sequence[Polygon]) -> None:
        if MASK_TYPE not in options.types:
            offered = ", ".join(options.types) or "none"
            raise MaskError(f"the camera has no solid colour masks (types: {offered})")
        if len(polygons) > options.max_masks:
            raise MaskError(
                f"{len(polygons)} masks wanted, the camera takes at most {options.max_masks}"
            )
        most = max(len(_open(p)) for p in polygons)
        if most > options.max_points:
            raise MaskError(
                f"a mask has {most} corners, the camera takes at most {options.max_points}"
            )
        if options.rectangle_only and not all(is_rectangle(p) for p in polygons):
            raise MaskError("the camera only takes upright rectangles as masks")

    async def _masks(self, configuration: str) -> list[CameraMask]:
        answer = await self.client.async_call(
            self.media2,
            f"<tr2:GetMasks><tr2:ConfigurationToken>{_xml(configuration)}"
            "</tr2:ConfigurationToken></tr2:GetMasks>",
        )
        return parse_masks(answer)

    async def _create(self, configuration: str, polygon: Polygon) -> str:
        answer = await self.client.async_call(
            self.media2,
            "<tr2:CreateMask><tr2:Mask>"
            f"<tr2:ConfigurationToken>{_xml(configuration)}</tr2:ConfigurationToken>"
            f"<tr2:Polygon>{polygon_xml(_open(polygon))}</tr2:Polygon>"
            f"<tr2:Type>{MASK_TYPE}</tr2:Type><tr2:Enabled>true</tr2:Enabled>"
            "</tr2:Mask></tr2:CreateMask>",
        )
        token = text(child(answer, "Token"))[:64]
        if not token:
            raise MaskError("the camera created a mask but gave no token for it")
        return token

    @staticmethod
    def _matches(mask: CameraMask, configuration: str, polygon: Polygon) -> bool:
        return (
            mask.enabled
            and mask.type == MASK_TYPE
            and mask.configuration in ("", configuration)
            and same_polygon(polygon, mask.points)
        )

    async def _verify(self, configuration: str, polygons: Sequence[Polygon]) -> None:
        """Read the masks back: every polygon must be there, enabled, as a solid fill."""
        masks = await self._masks(configuration)
        for index, polygon in enumerate(polygons, 1):
            if not any(self._matches(m, configuration, polygon) for m in masks):
                raise MaskError(
                    f"mask {index} of {len(polygons)} is not on the camera as sent "
                    f"(read back {len(masks)} mask(s))"
                )
