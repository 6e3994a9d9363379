"""Hostile devices: XXE, billion laughs, huge and truncated answers are refused, never crash us.

Property tests (hypothesis) feed the ONVIF and WS-Discovery parsers arbitrary and
mangled input: the only outcome allowed is a clean refusal.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.discovery.wsdiscovery import parse_announcement, parse_probe_matches
from plugins.onvif.client import OnvifClient
from plugins.onvif.events import parse_notifications
from plugins.onvif.media import parse_profiles_media1, parse_profiles_media2
from plugins.onvif.soap import MAX_RESPONSE_BYTES, Credentials, OnvifError, body_of, parse_xml

pytestmark = pytest.mark.timeout(120)

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>
<x>&secret;</x></s:Body></s:Envelope>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol9;</s:Body></s:Envelope>"""
GOOD = b"""<?xml version="1.0"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
 xmlns:t="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
<s:Body><t:GetProfilesResponse><t:Profiles token="a"><tt:Name>Main</tt:Name>
<tt:VideoEncoderConfiguration><tt:Encoding>H264</tt:Encoding><tt:Resolution>
<tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution>
</tt:VideoEncoderConfiguration></t:Profiles></t:GetProfilesResponse></s:Body></s:Envelope>"""


def test_external_entities_and_dtds_are_refused():
    with pytest.raises(OnvifError, match="refused"):
        body_of(XXE)
    with pytest.raises(OnvifError, match="refused"):
        body_of(BILLION_LAUGHS)


def test_a_10_mb_answer_is_refused_unparsed():
    huge = GOOD.replace(b"<s:Body>", b"<s:Body>" + b"<pad/>" * (10 * 1024 * 1024 // 6))
    with pytest.raises(OnvifError, match="too large"):
        parse_xml(huge)


def test_truncated_answers_are_refused():
    for cut in (1, 20, len(GOOD) // 2, len(GOOD) - 3):
        with pytest.raises(OnvifError):
            body_of(GOOD[:cut])


def test_the_good_answer_parses():
    [profile] = parse_profiles_media1(body_of(GOOD))
    assert (profile.token, profile.width, profile.codec) == ("a", 1920, "H264")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_any_bytes_give_a_body_or_a_clean_refusal(data: bytes):
    try:
        body = body_of(data)
    except OnvifError:
        return
    parse_profiles_media1(body)
    parse_profiles_media2(body)
    parse_notifications(body)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(GOOD)), st.binary(max_size=64), st.integers(0, len(GOOD)))
def test_mangled_envelopes_never_crash_the_parsers(cut: int, junk: bytes, at: int):
    data = GOOD[:at] + junk + GOOD[at:cut] if at <= cut else GOOD[:cut]
    try:
        body = body_of(data)
    except OnvifError:
        return
    for profile in parse_profiles_media1(body):
        assert profile.token


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["127.0.0.1", "::1"]))
def test_ws_discovery_parsers_take_anything(data: bytes, sender: str):
    assert isinstance(parse_probe_matches(data, sender), list)
    result = parse_announcement(data, sender)
    assert result is None or result[0] in ("hello", "bye")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=300))
def test_text_inside_a_real_envelope_is_data_not_markup(text: str):
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").encode("utf-8")
    data = GOOD.replace(b"<tt:Name>Main</tt:Name>", b"<tt:Name>" + escaped + b"</tt:Name>")
    try:
        [profile] = parse_profiles_media1(body_of(data))
    except OnvifError:
        return  # control characters are not XML
    assert len(profile.name) <= 64


@pytest.fixture
async def hostile_device() -> AsyncIterator[str]:
    """A device whose every answer is 10 MB of XML, streamed without a length."""

    async def flood(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/soap+xml"})
        await response.prepare(request)
        await response.write(b'<?xml version="1.0"?><s:Envelope><s:Body>')
        chunk = b"<x>" + b"A" * 65_536 + b"</x>"
        try:
            for _ in range(10 * 1024 * 1024 // len(chunk)):
                await response.write(chunk)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass  # the client hung up once it had enough: what we want
        return response

    app = web.Application()
    app.router.add_post("/onvif/device_service", flood)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/onvif/device_service"
    await runner.cleanup()


async def test_a_device_streaming_10_mb_is_cut_off_early(hostile_device):
    async with aiohttp.ClientSession() as session:
        client = OnvifClient(session, hostile_device, Credentials("a", "b"), timeout=10)
        tracemalloc.start()
        try:
            with pytest.raises(OnvifError, match="too large"):
                await client.async_call(hostile_device, "<tds:GetDeviceInformation/>")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # What was kept is bounded by the cap, not by what the device sent.
    assert peak < 3 * MAX_RESPONSE_BYTES
