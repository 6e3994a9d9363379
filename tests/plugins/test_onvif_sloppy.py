"""Sloppy firmware: answers real cameras send that a strict client refuses.

A fault whose meaning is clear is read through; a bad answer to an optional call
(snapshot URI, device information) is noted and left out; a bad answer to a required
call fails with the call's name. Never a traceback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from hub.cameras.discovery import DeviceProbe
from plugins.onvif.client import OnvifClient
from plugins.onvif.media import async_probe
from plugins.onvif.soap import Credentials, OnvifError, body_of
from tests.servers.onvif_sim import OnvifSimulator, SimOptions
from tests.servers.onvif_sim_sloppy import REPAIRABLE

pytestmark = pytest.mark.timeout(30)
GOOD = Credentials("admin", "s3cret-pass")
PAGE = "answered with a web page, not SOAP ('500 Internal Server Error')"

Probe = Callable[..., Awaitable[tuple[DeviceProbe, OnvifSimulator]]]


@pytest.fixture
async def probe() -> AsyncIterator[Probe]:
    sims: list[OnvifSimulator] = []
    async with aiohttp.ClientSession() as session:

        async def run(**options: Any) -> tuple[DeviceProbe, OnvifSimulator]:
            sim = await OnvifSimulator(SimOptions(**options)).start()
            sims.append(sim)
            client = OnvifClient(session, sim.device_url, GOOD, timeout=5)
            return await async_probe(client), sim

        yield run
    for sim in sims:
        await sim.close()


@pytest.mark.parametrize("fault", REPAIRABLE)
async def test_every_answer_with_a_clear_meaning_is_read_whole(probe, fault):
    for soap11 in (False, True):
        result, sim = await probe(sloppy={"*": fault}, soap11=soap11, odd_prefixes=soap11)
        assert result.error is None, result.error
        assert result.manufacturer == "SimCam"
        assert result.main is not None and result.main.stream_uri == "rtsp://127.0.0.1:554/main"
        assert result.main.snapshot_uri == f"http://127.0.0.1:{sim.port}/snapshot/main_tok.jpg"
        assert result.notes == ()


@pytest.mark.parametrize("fault", ["html_page", "truncated"])
async def test_a_broken_snapshot_answer_leaves_the_snapshot_out_not_the_camera(probe, fault):
    # What a real camera did: the one bad answer used to make the whole probe fail.
    result, _ = await probe(sloppy={"GetSnapshotUri": fault})
    assert result.error is None
    assert result.main is not None and result.main.stream_uri == "rtsp://127.0.0.1:554/main"
    assert result.sub is not None and result.sub.stream_uri == "rtsp://127.0.0.1:554/sub"
    assert result.main.snapshot_uri is None and result.sub.snapshot_uri is None
    # Each profile's failure is noted, naming the call and what was done without it.
    assert len(result.notes) == 2
    assert all(note.startswith("GetSnapshotUri: ") for note in result.notes)
    assert "no snapshot URL for profile MainStream" in " ".join(result.notes)
    if fault == "html_page":
        assert PAGE in result.notes[0]


async def test_a_broken_device_information_answer_leaves_the_maker_unknown(probe):
    result, _ = await probe(sloppy={"GetDeviceInformation": "truncated"})
    assert result.error is None and result.main is not None
    assert (result.manufacturer, result.model) == ("", "")
    [note] = result.notes
    assert note.startswith("GetDeviceInformation: answer is not valid XML")
    assert note.endswith("; maker and model unknown")


async def test_broken_services_answers_fall_back_to_the_device_address(probe):
    result, sim = await probe(sloppy={"GetServices": "html_page", "GetCapabilities": "truncated"})
    assert result.error is None and result.main is not None
    assert "GetProfiles" in sim.calls
    assert any("asking every service at the device address" in n for n in result.notes)


@pytest.mark.parametrize(
    ("action", "fault", "error"),
    [
        ("GetProfiles", "html_page", f"GetProfiles: {PAGE}"),
        ("GetStreamUri", "html_page", f"GetStreamUri: {PAGE}"),
        ("GetProfiles", "truncated", "GetProfiles: answer is not valid XML"),
    ],
)
async def test_a_broken_required_answer_fails_naming_the_call(probe, action, fault, error):
    result, _ = await probe(sloppy={action: fault})
    assert result.error is not None and result.error.startswith(error)
    assert result.main is None


async def test_a_wrong_password_is_still_the_device_refusing_us_not_a_call(probe):
    sim = await OnvifSimulator(SimOptions(sloppy={"GetSnapshotUri": "html_page"})).start()
    try:
        async with aiohttp.ClientSession() as session:
            client = OnvifClient(session, sim.device_url, Credentials("admin", "x"), timeout=5)
            result = await async_probe(client)
    finally:
        await sim.close()
    assert result.error == "wrong username or password"


ENVELOPE = (
    '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">'
    "<s:Body><trt:GetSnapshotUriResponse><trt:MediaUri>"
    '<tt:Uri xsi:type="tt:AnyURI">http://cam/snap.jpg</tt:Uri></trt:MediaUri>'
    "</trt:GetSnapshotUriResponse></s:Body></s:Envelope>"
)


def test_prefixes_used_in_tags_and_attributes_without_declaration_are_read():
    answer = body_of(ENVELOPE.encode())
    assert answer.tag == "{http://www.onvif.org/ver10/media/wsdl}GetSnapshotUriResponse"
    [uri] = list(answer.iter("{http://www.onvif.org/ver10/schema}Uri"))
    assert uri.text == "http://cam/snap.jpg"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<html><body>Unauthorized</body></html>", "answered with a web page, not SOAP"),
        (b"\xef\xbb\xbf<!-- x -->\n<!DOCTYPE HTML><HTML><title>\n 404 \n</title>", "('404')"),
        (b"<a:Nothing xmlns:a='urn:x'/>", "answer is not a SOAP envelope"),
        (b"<s:Envelope><s:Body><x:Y>", "answer is not valid XML"),
        (b"", "answer is not valid XML"),
    ],
)
def test_what_cannot_be_understood_is_a_clear_error(data, message):
    with pytest.raises(OnvifError) as caught:
        body_of(data)
    assert message in str(caught.value)
