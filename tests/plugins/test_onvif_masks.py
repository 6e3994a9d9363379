"""Privacy masks burnt in by the camera: ONVIF Media2 masks pushed to the simulator, read back,
and the hub's re-encode skipped only when they came back exactly as sent.

The end-to-end cameras stream SMPTE colour bars from the real RTSP server; the
simulator only *says* it masks, so a bright top-left corner in the hub's snapshot
proves the hub did not mask (camera path) and a black one that it did (fallback).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hub.core import Hub
from plugins.onvif.client import OnvifClient
from plugins.onvif.masks import (
    TOKENS_FILE,
    MaskError,
    MaskPusher,
    TokenStore,
    from_onvif,
    parse_masks,
    parse_options,
    polygon_xml,
    same_polygon,
    to_onvif,
)
from plugins.onvif.soap import Credentials, body_of, envelope
from tests.helpers import wait_for_state, wait_until
from tests.servers.fixtures import Mount
from tests.servers.onvif_sim import OnvifSimulator, SimMask, SimOptions, SimProfile

pytestmark = pytest.mark.timeout(60)
GOOD = Credentials("admin", "s3cret-pass")
# The white and yellow bars of the SMPTE pattern, top left.
CORNER = [(0.0, 0.0), (0.25, 0.0), (0.25, 0.5), (0.0, 0.5)]
TRIANGLE = [(0.5, 0.5), (0.9, 0.6), (0.6, 0.95)]
MAIN = "rtsp://127.0.0.1:554/main"  # what the default simulator reports for its main profile

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


# ---------------------------------------------------------------- coordinates


def test_corners_map_to_onvif_space_with_y_up() -> None:
    assert to_onvif((0.0, 0.0)) == (-1.0, 1.0)  # top left
    assert to_onvif((1.0, 1.0)) == (1.0, -1.0)  # bottom right
    assert to_onvif((0.5, 0.5)) == (0.0, 0.0)
    assert to_onvif((0.25, 0.75)) == (-0.5, -0.5)


@given(st.tuples(unit, unit))
def test_a_point_survives_the_round_trip(point: tuple[float, float]) -> None:
    x, y = to_onvif(point)
    assert -1.0 <= x <= 1.0 and -1.0 <= y <= 1.0
    back = from_onvif((x, y))
    assert back == pytest.approx(point, abs=1e-12)


@given(st.lists(st.tuples(unit, unit), min_size=3, max_size=8), st.integers(0, 7), st.booleans())
def test_a_polygon_sent_as_xml_reads_back_the_same(
    polygon: list[tuple[float, float]], turn: int, backwards: bool
) -> None:
    # Corners closer than the tolerance are one corner to the comparison.
    assume(
        all(
            max(abs(a[0] - b[0]), abs(a[1] - b[1])) > 0.02
            for i, a in enumerate(polygon)
            for b in polygon[i + 1 :]
        )
    )
    # What a camera answers to GetMasks with the corners as we sent them, maybe from another
    # corner or the other way round.
    xml = polygon_xml(polygon)
    answer = body_of(
        envelope(
            '<tr2:GetMasksResponse><tr2:Masks token="m"><tr2:ConfigurationToken>vsc0'
            f"</tr2:ConfigurationToken><tr2:Polygon>{xml}</tr2:Polygon><tr2:Type>Color"
            "</tr2:Type><tr2:Enabled>true</tr2:Enabled></tr2:Masks></tr2:GetMasksResponse>"
        )
    )
    [mask] = parse_masks(answer)
    points = list(mask.points)
    assert np.allclose(points, polygon, atol=1e-6)
    turned = points[turn % len(points) :] + points[: turn % len(points)]
    assert same_polygon(polygon, turned[::-1] if backwards else turned)


def test_a_moved_corner_is_a_different_polygon() -> None:
    moved = [*CORNER[:2], (0.25, 0.52), CORNER[3]]
    assert not same_polygon(CORNER, moved)
    assert same_polygon(CORNER, [*CORNER, CORNER[0]])  # a closing corner is the same
    assert not same_polygon(CORNER, CORNER[:3])


@pytest.mark.parametrize(
    "options",
    [
        "<tr2:GetMaskOptionsResponse/>",
        "<tr2:GetMaskOptionsResponse><tr2:Options><tr2:MaxMasks>many</tr2:MaxMasks>"
        "</tr2:Options></tr2:GetMaskOptionsResponse>",
    ],
)
def test_nonsense_mask_options_are_a_clear_refusal(options: str) -> None:
    with pytest.raises(MaskError, match="mask options"):
        parse_options(body_of(envelope(options)))


def test_unreadable_corners_match_nothing() -> None:
    answer = body_of(
        envelope(
            '<tr2:GetMasksResponse><tr2:Masks token="m"><tr2:Polygon><tt:Point x="NaN" y="0"/>'
            '<tt:Point x="0.5" y="1"/><tt:Point x="1" y="inf"/><tt:Point x="-1" y="-1"/>'
            "</tr2:Polygon><tr2:Type>Color</tr2:Type><tr2:Enabled>true</tr2:Enabled>"
            "</tr2:Masks></tr2:GetMasksResponse>"
        )
    )
    [mask] = parse_masks(answer)
    assert mask.points == () and not same_polygon(CORNER, mask.points)


# ---------------------------------------------------------------- the pusher and the camera

Push = Callable[..., Awaitable[tuple[OnvifSimulator, MaskPusher]]]


@pytest.fixture
async def push(tmp_path: Path) -> AsyncIterator[Push]:
    """A simulator with options and a pusher for it (one per call, shared token file)."""
    sims: list[OnvifSimulator] = []
    session = aiohttp.ClientSession()

    async def make(**options: Any) -> tuple[OnvifSimulator, MaskPusher]:
        sim = await OnvifSimulator(SimOptions(**options)).start()
        sims.append(sim)
        client = OnvifClient(session, sim.device_url, GOOD, timeout=5)
        return sim, MaskPusher(client, TokenStore(tmp_path), "cam")

    yield make
    await session.close()
    for sim in sims:
        await sim.close()


async def test_masks_are_created_in_onvif_coordinates_and_read_back(push, tmp_path) -> None:
    sim, pusher = await push()
    await pusher.async_apply([CORNER, TRIANGLE], [MAIN])
    assert sorted(m.configuration for m in sim.masks.values()) == ["vsc0", "vsc0"]
    stored = sorted(sim.masks.values(), key=lambda m: len(m.points))
    assert np.allclose(stored[0].points, [(0.0, 0.0), (0.8, -0.2), (0.2, -0.9)])
    assert np.allclose(stored[1].points, [(-1.0, 1.0), (-0.5, 1.0), (-0.5, 0.0), (-1.0, 0.0)])
    assert all(m.type == "Color" and m.enabled for m in sim.masks.values())
    assert sim.calls.count("CreateMask") == 2
    assert sim.calls[-1] == "GetMasks"  # verified after creating
    tokens = json.loads((tmp_path / TOKENS_FILE).read_text())["cam"]
    assert sorted(tokens) == sorted(sim.masks)


async def test_a_restart_keeps_the_masks_and_a_change_replaces_only_ours(push) -> None:
    sim, pusher = await push()
    await pusher.async_apply([CORNER, TRIANGLE], [MAIN])
    first = set(sim.masks)
    # Someone set a mask of their own on the camera: it is not ours to remove.
    sim.masks["owner"] = SimMask("vsc0", [(0.5, 0.5), (0.9, 0.5), (0.9, 0.9)], "Color", True)
    sim.calls.clear()
    await pusher.async_apply([CORNER, TRIANGLE], [MAIN])
    assert "CreateMask" not in sim.calls and "DeleteMask" not in sim.calls
    assert set(sim.masks) == first | {"owner"}
    await pusher.async_apply([CORNER], [MAIN])
    assert sim.calls.count("DeleteMask") == 1 and sim.calls.count("CreateMask") == 0
    assert len(sim.masks) == 2 and "owner" in sim.masks


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"masks": "forget"}, "mask 1 of 2 is not on the camera as sent (read back 0 mask"),
        ({"masks": "shift"}, "is not on the camera as sent (read back 2 mask"),
        ({"masks": "no"}, "the camera does not offer masks"),
        ({"media2": False}, "no ONVIF Media2 service"),
        ({"mask_types": ("Pixelated",)}, "no solid colour masks (types: Pixelated)"),
        ({"max_masks": 1}, "2 masks wanted, the camera takes at most 1"),
        ({"max_mask_points": 3}, "a mask has 4 corners, the camera takes at most 3"),
        ({"rectangle_only": True}, "only takes upright rectangles"),
    ],
)
async def test_a_camera_that_cannot_or_does_not_keep_them_is_refused(push, options, reason) -> None:
    _, pusher = await push(**options)
    with pytest.raises(MaskError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        await pusher.async_apply([CORNER, TRIANGLE], [MAIN])


async def test_with_two_sensors_the_stream_the_hub_reads_picks_the_source(push) -> None:
    profiles = [
        SimProfile("a", "Wide", 1920, 1080, stream_uri="rtsp://10.0.0.9/wide", video_source="w"),
        SimProfile("b", "Tele", 1920, 1080, stream_uri="rtsp://10.0.0.9/tele", video_source="t"),
    ]
    sim, pusher = await push(profiles=profiles)
    await pusher.async_apply([CORNER], ["rtsp://admin:pw@10.0.0.9:554/tele"])
    assert [m.configuration for m in sim.masks.values()] == ["t"]
    with pytest.raises(MaskError, match="different video sources"):
        await pusher.async_apply([CORNER], ["rtsp://10.0.0.9/wide", "rtsp://10.0.0.9/tele"])


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://10.0.0.77/main",  # another device (an NVR) with the same path
        "rtsp://127.0.0.1:8554/main",  # another port
        "rtsp://127.0.0.1:554/main2",
    ],
)
async def test_a_stream_the_camera_does_not_report_is_not_trusted_to_it(push, url) -> None:
    sim, pusher = await push()
    with pytest.raises(MaskError, match="is not a stream this camera reports"):
        await pusher.async_apply([CORNER], [MAIN, url])
    assert "CreateMask" not in sim.calls


# ---------------------------------------------------------------- end to end


def corner_luma(jpeg: bytes) -> float:
    """Mean luma well inside the CORNER mask of a snapshot."""
    with av.open(io.BytesIO(jpeg)) as image:
        frame = next(image.decode(video=0))
    luma = frame.to_ndarray(format="gray")
    h, w = luma.shape
    return float(np.mean(luma[round(h * 0.1) : round(h * 0.4), round(w * 0.03) : round(w * 0.2)]))


Run = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def masked_camera(rtsp_server, make_hub) -> Run:
    """Start a hub with one masked RTSP camera whose ONVIF side is the simulator."""
    server = rtsp_server([Mount("/main", width=640, height=360, fps=10, pattern="smpte")])

    async def run(
        onvif_extra: str = "",
        then: Callable[[Hub, OnvifSimulator], Awaitable[None]] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        profiles = [SimProfile("main_tok", "Main", 640, 360, stream_uri=server.url("/main"))]
        sim = await OnvifSimulator(SimOptions(profiles=profiles, **options)).start()
        hub: Hub = make_hub(
            f"""
cameras:
  porch:
    url: "{server.url("/main")}"
    privacy_masks: [{json.dumps(CORNER)}]
    record: {{mode: 'off'}}
    onvif:
      device_url: {sim.device_url}
      username: admin
      password: s3cret-pass
      events: false
{onvif_extra}"""
        )
        try:
            await hub.async_start()
            await wait_for_state(hub, "camera.porch", "online", timeout=30)
            if then is not None:
                await then(hub, sim)
            runtime = hub.cameras["porch"]
            snapshot = await hub.cameras.async_snapshot("porch")
            assert snapshot is not None
            return {
                "at": runtime.as_dict(hub)["privacy_masks"],
                "luma": corner_luma(snapshot),
                "masks": dict(sim.masks),
                "calls": list(sim.calls),
            }
        finally:
            await hub.async_stop()
            await sim.close()

    return run


async def test_a_camera_that_keeps_the_masks_is_recorded_as_it_sends(masked_camera) -> None:
    result = await masked_camera()
    assert result["at"] == "camera"
    [mask] = result["masks"].values()
    assert np.allclose(mask.points, [(-1.0, 1.0), (-0.5, 1.0), (-0.5, 0.0), (-1.0, 0.0)])
    # The bars are there: the hub used the camera's stream untouched (no decode-mask-encode).
    assert result["luma"] > 100, result["luma"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"masks": "forget"}, "mask 1 of 1 is not on the camera as sent"),
        ({"masks": "no"}, "the camera does not offer masks"),
    ],
)
async def test_a_lying_or_maskless_camera_is_masked_by_the_hub(
    masked_camera, caplog, options, reason
) -> None:
    caplog.set_level(logging.INFO)
    result = await masked_camera(**options)
    assert result["at"] == "hub"
    assert result["luma"] < 40, result["luma"]  # the hub blacked the corner out
    [line] = [r.getMessage() for r in caplog.records if "not burnt in by the camera" in r.message]
    assert reason in line and "re-encodes" in line
    assert "s3cret-pass" not in caplog.text


async def test_the_switch_off_leaves_the_camera_alone(masked_camera) -> None:
    result = await masked_camera(onvif_extra="      privacy_masks: false\n")
    assert result["at"] == "hub"
    assert result["luma"] < 40
    assert not {"GetMaskOptions", "CreateMask", "GetMasks"} & set(result["calls"])


async def test_masks_removed_on_the_camera_later_put_the_hub_back_in_charge(
    masked_camera, monkeypatch, caplog
) -> None:
    monkeypatch.setattr("plugins.onvif.MASK_CHECK_SECONDS", 0.2)

    async def tamper(hub: Hub, sim: OnvifSimulator) -> None:
        runtime = hub.cameras["porch"]
        assert runtime.privacy_masks_at == "camera"
        [first] = sim.masks
        # Someone deletes the mask on the camera: the hub notices, restarts the camera and
        # pushes it again (the camera takes it: still masked at the source).
        sim.masks.clear()
        await wait_until(lambda: sim.masks and first not in sim.masks, 10, "mask pushed again")
        await wait_until(lambda: runtime.privacy_masks_at == "camera", 10, "camera masks again")
        # Now the camera will not take masks any more: the hub masks the stream itself.
        sim.options.masks = "no"
        sim.masks.clear()
        await wait_until(lambda: runtime.privacy_masks_at == "hub", 10, "hub masks")
        await wait_for_state(hub, "camera.porch", "online", timeout=30)

    caplog.set_level(logging.WARNING)
    result = await masked_camera(then=tamper)
    assert result["at"] == "hub"
    assert result["luma"] < 40, result["luma"]
    assert "its privacy masks are no longer on the camera: mask 1 of 1" in caplog.text
