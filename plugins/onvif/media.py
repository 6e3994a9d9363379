"""Media profiles, stream and snapshot URIs (Media2 where offered, Media1 otherwise).

GetProfiles is required, and so is a stream URI for at least one profile. Everything
else is optional: a snapshot URI, or a profile's stream URI, that the device answers
badly is noted (`OnvifClient.degraded`) and left out, so one sloppy answer does not
keep a camera from being added.
"""

from __future__ import annotations

import logging
from xml.etree.ElementTree import Element

from hub import DeviceProbe, StreamProfile, pick_streams
from plugins.onvif.client import MEDIA2_NS, MEDIA_NS, OnvifClient
from plugins.onvif.soap import (
    OnvifError,
    OnvifUnreachable,
    auth_failed,
    child,
    children,
    descendant,
    find,
    text,
)

_LOGGER = logging.getLogger(__name__)
MAX_PROFILES = 32
GET_PROFILES_MEDIA1 = "<trt:GetProfiles/>"
GET_PROFILES_MEDIA2 = "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>"


def _int(value: str) -> int | None:
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 < number < 100_000 else None


def parse_profiles_media1(answer: Element) -> list[StreamProfile]:
    """Profiles of a Media1 GetProfilesResponse."""
    profiles = []
    for item in list(children(answer, "Profiles"))[:MAX_PROFILES]:
        token = item.get("token", "")
        if not token:
            continue
        encoder = child(item, "VideoEncoderConfiguration")
        resolution = child(encoder, "Resolution")
        profiles.append(
            StreamProfile(
                token=token[:64],
                name=text(child(item, "Name"))[:64],
                width=_int(text(child(resolution, "Width"))),
                height=_int(text(child(resolution, "Height"))),
                codec=text(child(encoder, "Encoding"))[:16],
                ptz=child(item, "PTZConfiguration") is not None,
            )
        )
    return profiles


def parse_profiles_media2(answer: Element) -> list[StreamProfile]:
    """Profiles of a Media2 GetProfilesResponse (encoding is an attribute there)."""
    profiles = []
    for item in list(children(answer, "Profiles"))[:MAX_PROFILES]:
        token = item.get("token", "")
        if not token:
            continue
        configurations = child(item, "Configurations")
        encoder = child(configurations, "VideoEncoder")
        resolution = child(encoder, "Resolution")
        codec = encoder.get("Encoding", "") if encoder is not None else ""
        profiles.append(
            StreamProfile(
                token=token[:64],
                name=text(child(item, "Name"))[:64],
                width=_int(text(child(resolution, "Width"))),
                height=_int(text(child(resolution, "Height"))),
                codec=(codec or text(child(encoder, "Encoding")))[:16],
                ptz=child(configurations, "PTZ") is not None,
            )
        )
    return profiles


def _uri(answer: Element) -> str | None:
    uri = text(find(answer, "MediaUri", "Uri")) or text(child(answer, "Uri"))
    uri = uri or text(descendant(answer, "Uri"))
    return uri[:1024] or None


async def async_profiles(client: OnvifClient) -> tuple[list[StreamProfile], bool]:
    """Every profile with its stream and snapshot URI, and whether Media2 was used."""
    media2 = client.service(MEDIA2_NS)
    if media2:
        try:
            return await _media2_profiles(client, media2), True
        except OnvifError as exc:
            if _fatal(exc):
                raise
            _LOGGER.info("%s: Media2 failed (%s); using Media1", client.host, exc)
    media = client.service(MEDIA_NS) or client.device_url
    return await _media1_profiles(client, media), False


async def async_profile_list(client: OnvifClient) -> list[StreamProfile]:
    """Profiles from GetProfiles alone, without stream or snapshot URIs: all that choosing a
    PTZ profile needs, so a bad answer to an unrelated call cannot get in its way."""
    media2 = client.service(MEDIA2_NS)
    if media2:
        try:
            return parse_profiles_media2(await client.async_call(media2, GET_PROFILES_MEDIA2))
        except OnvifError as exc:
            if _fatal(exc):
                raise
            _LOGGER.info("%s: Media2 failed (%s); using Media1", client.host, exc)
    media = client.service(MEDIA_NS) or client.device_url
    return parse_profiles_media1(await client.async_call(media, GET_PROFILES_MEDIA1))


def _fatal(exc: OnvifError) -> bool:
    """Wrong credentials or a device gone quiet: no other call will fare better."""
    return auth_failed(exc) or isinstance(exc, OnvifUnreachable)


async def _media1_profiles(client: OnvifClient, url: str) -> list[StreamProfile]:
    profiles = parse_profiles_media1(await client.async_call(url, GET_PROFILES_MEDIA1))
    out: list[StreamProfile] = []
    failures: list[OnvifError] = []
    for profile in profiles:
        token = _xml(profile.token)
        stream = await _stream_uri(
            client,
            url,
            "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"
            "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
            f"<trt:ProfileToken>{token}</trt:ProfileToken></trt:GetStreamUri>",
            profile,
            failures,
        )
        snapshot = await _optional_uri(
            client,
            url,
            f"<trt:GetSnapshotUri><trt:ProfileToken>{token}</trt:ProfileToken>"
            "</trt:GetSnapshotUri>",
            profile,
        )
        out.append(_with_uris(profile, stream, snapshot))
    return _checked(out, failures)


async def _media2_profiles(client: OnvifClient, url: str) -> list[StreamProfile]:
    answer = await client.async_call(url, GET_PROFILES_MEDIA2)
    out: list[StreamProfile] = []
    failures: list[OnvifError] = []
    for profile in parse_profiles_media2(answer):
        token = _xml(profile.token)
        stream = await _stream_uri(
            client,
            url,
            "<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol>"
            f"<tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetStreamUri>",
            profile,
            failures,
        )
        snapshot = await _optional_uri(
            client,
            url,
            f"<tr2:GetSnapshotUri><tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetSnapshotUri>",
            profile,
        )
        out.append(_with_uris(profile, stream, snapshot))
    return _checked(out, failures)


async def _stream_uri(
    client: OnvifClient,
    url: str,
    body: str,
    profile: StreamProfile,
    failures: list[OnvifError],
) -> str | None:
    """One profile's stream URI; a bad answer leaves that profile without a stream."""
    try:
        return _uri(await client.async_call(url, body))
    except OnvifError as exc:
        if _fatal(exc):
            raise
        failures.append(exc)
        client.degraded(exc, f"profile {profile.name or profile.token} left out")
        return None


def _checked(profiles: list[StreamProfile], failures: list[OnvifError]) -> list[StreamProfile]:
    """The profiles, unless every stream URI failed: then the first failure is the answer."""
    if failures and not any(p.stream_uri for p in profiles):
        raise failures[0]
    return profiles


async def _optional_uri(
    client: OnvifClient, url: str, body: str, profile: StreamProfile
) -> str | None:
    """Snapshots are optional in ONVIF: a fault or a garbled answer means none, not a failed
    probe (wrong credentials still fail it)."""
    try:
        return _uri(await client.async_call(url, body))
    except OnvifError as exc:
        if auth_failed(exc):
            raise
        client.degraded(exc, f"no snapshot URL for profile {profile.name or profile.token}")
        return None


def _with_uris(profile: StreamProfile, stream: str | None, snapshot: str | None) -> StreamProfile:
    safe_stream = stream if stream and stream.lower().startswith(("rtsp://", "rtsps://")) else None
    safe_snapshot = (
        snapshot if snapshot and snapshot.lower().startswith(("http://", "https://")) else None
    )
    return StreamProfile(
        token=profile.token,
        name=profile.name,
        width=profile.width,
        height=profile.height,
        codec=profile.codec,
        stream_uri=safe_stream,
        snapshot_uri=safe_snapshot,
        ptz=profile.ptz,
    )


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def async_probe(client: OnvifClient) -> DeviceProbe:
    """Log in and describe the device; failures come back as `DeviceProbe.error`."""
    try:
        await client.async_connect()
        info = await client.async_device_information()
        profiles, media2 = await async_profiles(client)
    except OnvifError as exc:
        return DeviceProbe(
            device_url=client.device_url, error=str(exc), login_refused=auth_failed(exc)
        )
    main, sub = pick_streams(profiles)
    return DeviceProbe(
        device_url=client.device_url,
        manufacturer=info.manufacturer,
        model=info.model,
        firmware=info.firmware,
        serial=info.serial,
        profiles=tuple(profiles),
        main=main,
        sub=sub,
        media2=media2,
        clock_offset=round(client.clock_offset, 1),
        notes=tuple(client.notes),
        error=None if main else "the device offers no RTSP stream",
    )
