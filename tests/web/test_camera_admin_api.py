"""Cameras changed from the panel: add by URL, remove, save zones and masks (live, persisted)."""

from __future__ import annotations

import asyncio
import io
import time

import av
import numpy as np
import yaml

from hub.events import EventEnded, MotionEnded, MotionStarted
from tests.helpers import next_events, wait_for_state
from tests.hub.detection.test_object_events import Plugin as ObjectFinder
from tests.servers.fixtures import Auth, Mount
from web.keys import HUB_KEY

PASSWORD = "porch-cam-secret"
CONFIG = """
cameras:
  yard:
    url: demo://
    enabled: false
    zones:
      lawn:
        points: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
"""
FULL_FRAME = [[0, 0], [1, 0], [1, 1], [0, 1]]


async def audit_actions(hub, prefix: str) -> list[tuple[str, str]]:
    rows = await hub.audit.async_query(action=prefix)
    return [(r["action"], r["target"]) for r in rows]


async def test_add_by_url_keeps_the_password_as_a_secret_starts_and_survives_restart(
    rtsp_server, make_api_client, make_hub, tmp_path
):
    server = rtsp_server(
        [Mount("/main", width=320, height=240, fps=10)], auth=Auth("admin", PASSWORD)
    )
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    url = server.url("/main", user="admin", password=PASSWORD)
    response = await client.post(
        "/api/cameras", json={"id": "porch", "name": "Porch", "url": url, "record_mode": "off"}
    )
    assert response.status == 201, await response.text()
    camera = (await response.json())["camera"]
    assert camera["name"] == "Porch" and PASSWORD not in str(camera)
    await wait_for_state(hub, "camera.porch", "online")  # the login was put back into the URL

    data = tmp_path / "data"
    stored = (data / "cameras.yaml").read_text()
    assert PASSWORD not in stored and "password: !secret 'porch_password'" in stored
    assert yaml.safe_load((data / "secrets.yaml").read_text()) == {"porch_password": PASSWORD}
    listed = await (await client.get("/api/cameras")).json()
    assert PASSWORD not in str(listed) and {c["id"] for c in listed["cameras"]} == {"yard", "porch"}
    assert ("camera.add", "porch") in await audit_actions(hub, "camera.")
    await hub.async_stop()

    again = make_hub(CONFIG)
    await again.async_start()
    try:
        assert again.cameras["porch"].config.record.mode == "off"
        await wait_for_state(again, "camera.porch", "online")
    finally:
        await again.async_stop()


async def test_the_detection_stream_of_an_added_camera_is_changed_live_and_kept(
    rtsp_server, make_api_client, make_hub, tmp_path
):
    server = rtsp_server(
        [Mount("/main", width=640, height=360, fps=10), Mount("/sub", width=320, height=180)],
        auth=Auth("admin", PASSWORD),
    )
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    url = server.url("/main", user="admin", password=PASSWORD)
    added = await client.post("/api/cameras", json={"id": "porch", "url": url})
    assert added.status == 201
    await wait_for_state(hub, "camera.porch", "online")

    # The sub-stream's address as the panel shows it, without the login: the camera's is used.
    response = await client.patch(
        "/api/cameras/porch", json={"detect_url": server.url("/sub"), "record_mode": "off"}
    )
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert answer["restarted"] is True
    shown = server.url("/sub").replace("rtsp://", "rtsp://admin:***@")
    assert answer["camera"]["detect_url"] == shown
    assert answer["camera"]["record_mode"] == "off"
    config = hub.cameras["porch"].config
    assert config.detect_url == server.url("/sub", user="admin", password=PASSWORD)
    await wait_for_state(hub, "camera.porch", "online")
    assert ("camera.edit", "porch") in await audit_actions(hub, "camera.")
    stored = (tmp_path / "data" / "cameras.yaml").read_text()
    assert PASSWORD not in stored and server.url("/sub") in stored

    wrong = await client.patch(
        "/api/cameras/porch", json={"detect_url": server.url("/sub", user="x", password="y")}
    )
    assert wrong.status == 422 and (await wrong.json())["errors"][0]["path"] == "detect_url"
    bad = await client.patch("/api/cameras/porch", json={"record_mode": "often", "zones": {}})
    assert bad.status == 422 and (await bad.json())["errors"][0]["path"] == "zones"
    bad = await client.patch("/api/cameras/porch", json={"record_mode": "often"})
    assert bad.status == 422 and (await bad.json())["errors"][0]["path"] == "record_mode"
    refused = await client.patch("/api/cameras/yard", json={"detect_url": None})
    assert refused.status == 409 and "config file" in (await refused.json())["error"]
    assert (await client.patch("/api/cameras/nope", json={})).status == 404
    await hub.async_stop()

    again = make_hub(CONFIG)
    kept = again.cameras["porch"].config
    assert kept.detect_url == config.detect_url and kept.record.mode == "off"
    # Dropping it: detection decodes the main stream again.
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    dropped = await client.patch("/api/cameras/porch", json={"detect_url": ""})
    assert dropped.status == 200 and (await dropped.json())["camera"]["detect_url"] is None
    assert "detect_url" not in (tmp_path / "data" / "cameras.yaml").read_text()


async def test_detection_switched_off_in_the_panel_stays_off_after_a_restart(
    make_api_client, make_hub
):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    cameras = (await (await client.get("/api/cameras")).json())["cameras"]
    assert [c["armed"] for c in cameras] == [True]
    response = await client.put("/api/cameras/yard/detection", json={"armed": False})
    assert response.status == 200 and (await response.json())["armed"] is False
    assert hub.states.get("detection.yard").state == "off"
    assert ("camera.detection", "yard") in await audit_actions(hub, "camera.")
    for bad in ({"armed": "off"}, {}, {"armed": False, "more": 1}):
        refused = await client.put("/api/cameras/yard/detection", json=bad)
        assert refused.status == 422 and (await refused.json())["errors"][0]["path"] == "armed"
    assert (await client.put("/api/cameras/nope/detection", json={"armed": True})).status == 404
    await hub.async_stop()

    again = await make_api_client(CONFIG)
    cameras = (await (await again.get("/api/cameras")).json())["cameras"]
    assert [(c["id"], c["armed"]) for c in cameras] == [("yard", False)]
    assert again.app[HUB_KEY].states.get("detection.yard").state == "off"
    # Switched back on, it stays on too.
    assert (await again.put("/api/cameras/yard/detection", json={"armed": True})).status == 200
    await again.app[HUB_KEY].async_stop()
    third = make_hub(CONFIG)
    await third.async_start()
    try:
        assert third.cameras["yard"].armed
    finally:
        await third.async_stop()


async def test_add_by_url_refuses_bad_fields_with_their_paths(make_api_client):
    client = await make_api_client(CONFIG)
    response = await client.post(
        "/api/cameras",
        json={"id": "Bad Id", "url": "ftp://cam/1", "record_mode": "sometimes"},
    )
    assert response.status == 422
    paths = {e["path"] for e in (await response.json())["errors"]}
    assert paths == {"id", "url", "record_mode"}
    local = await client.post("/api/cameras", json={"id": "disk", "url": "/etc/passwd"})
    assert local.status == 422 and (await local.json())["errors"][0]["path"] == "url"
    extra = await client.post("/api/cameras", json={"id": "a", "url": "demo://", "zonez": {}})
    assert extra.status == 422 and (await extra.json())["errors"][0]["path"] == "zonez"
    taken = await client.post("/api/cameras", json={"id": "yard", "url": "demo://"})
    assert taken.status == 409
    assert (await client.post("/api/cameras", json={"id": "x"})).status == 422  # no url
    assert set(client.app[HUB_KEY].cameras) == {"yard"}


async def test_viewers_cannot_add_remove_or_save_zones(make_api_client):
    admin = await make_api_client(CONFIG)
    viewer = await make_api_client(hub=admin.app[HUB_KEY], role="viewer", cameras=["yard"])
    assert (await viewer.post("/api/cameras", json={"id": "a", "url": "demo://"})).status == 403
    assert (await viewer.delete("/api/cameras/yard")).status == 403
    zones = {"zones": {}, "masks": []}
    assert (await viewer.put("/api/cameras/yard/zones", json=zones)).status == 403
    assert set(admin.app[HUB_KEY].cameras) == {"yard"}


async def test_remove_stops_an_added_camera_and_refuses_config_cameras(
    make_api_client, make_hub, tmp_path
):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    added = await client.post("/api/cameras", json={"id": "temp", "url": "demo://"})
    assert added.status == 201
    await wait_for_state(hub, "camera.temp", "online")
    task = hub.cameras["temp"].task
    response = await client.delete("/api/cameras/temp")
    assert response.status == 200
    assert "temp" not in hub.cameras and task is not None and task.done()
    assert hub.states.get("camera.temp") is None
    assert all(m.camera_id != "temp" for m in hub.motion_loops)
    assert (await client.delete("/api/cameras/temp")).status == 404
    refused = await client.delete("/api/cameras/yard")
    assert refused.status == 409 and "config file" in (await refused.json())["error"]
    assert ("camera.remove", "temp") in await audit_actions(hub, "camera.")
    await hub.async_stop()
    again = make_hub(CONFIG)
    assert set(again.cameras) == {"yard"}
    assert "temp" not in (tmp_path / "data" / "cameras.yaml").read_text()


async def test_zones_saved_for_a_config_camera_override_it_and_persist(make_api_client, make_hub):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    body = {
        "zones": {"porch": {"points": [[0, 0], [0.5, 0], [0.5, 0.5]], "labels": ["person"]}},
        "masks": [[[0, 0], [0.2, 0], [0.2, 0.2]]],
    }
    response = await client.put("/api/cameras/yard/zones", json=body)
    assert response.status == 200, await response.text()
    assert (await response.json())["restarted"] is False
    shown = await (await client.get("/api/cameras/yard/zones")).json()
    assert list(shown["zones"]) == ["porch"] and shown["zones"]["porch"]["labels"] == ["person"]
    assert shown["masks"] == body["masks"]
    # The object loop reads the zones from the runtime's config: the new one is what it uses.
    assert list(hub.cameras["yard"].config.zones) == ["porch"]
    assert ("camera.zones", "yard") in await audit_actions(hub, "camera.")

    bad = await client.put(
        "/api/cameras/yard/zones", json={"zones": {"x": {"points": [[0, 0], [2, 0]]}}}
    )
    assert bad.status == 422
    assert (await bad.json())["errors"][0]["path"].startswith("zones.x.points")
    await hub.async_stop()

    again = make_hub(CONFIG)  # the config file still says `lawn`: the panel's edit wins
    config = again.cameras["yard"].config
    assert list(config.zones) == ["porch"] and len(config.masks) == 1


async def test_a_new_motion_mask_hides_motion_at_once(make_api_client):
    demo = "demo://?first=3&walk=3&period=60"
    config = "cameras:\n" + "".join(
        f"  {name}:\n    url: '{demo}'\n    detect:\n      fps: 5\n    record:\n      mode: 'off'\n"
        # Motion ends 1 s after the walk, which ends the wait below.
        "    motion:\n      end_after: 1\n"
        for name in ("masked", "plain")
    )
    client = await make_api_client(config)
    hub = client.app[HUB_KEY]
    started = hub.bus.subscribe("t", (MotionStarted,))
    ended = hub.bus.subscribe("ended", (MotionEnded,))
    response = await client.put("/api/cameras/masked/zones", json={"masks": [FULL_FRAME]})
    assert response.status == 200
    seen: list[str] = []

    async def collect() -> None:
        while True:
            seen.append((await started.get()).camera)

    collector = asyncio.create_task(collect())
    try:
        # The walk is over when motion ends on the unmasked camera; the masked one saw it all.
        [end] = await next_events(ended, 1)
        assert end.camera == "plain" and "plain" in seen
    finally:
        collector.cancel()
    assert "masked" not in seen
    assert [m.camera_id for m in hub.motion_loops].count("masked") == 1


async def bottom_band(client, camera_id: str) -> np.ndarray:
    """Luma of the lower half (a little inside) of the camera's snapshot, via the API."""
    response = await client.get(f"/api/cameras/{camera_id}/snapshot.jpg")
    assert response.status == 200
    with av.open(io.BytesIO(await response.read())) as image:
        frame = next(image.decode(video=0))
    luma = frame.to_ndarray(format="yuv420p")[: frame.height].astype(np.float64)
    return luma[frame.height // 2 + 8 :]


async def test_privacy_masks_restart_the_camera_stream_and_black_out_its_picture(
    make_api_client,
):
    client = await make_api_client("cameras:\n  gate:\n    url: demo://\n")
    hub = client.app[HUB_KEY]
    await wait_for_state(hub, "camera.gate", "online")
    assert (await bottom_band(client, "gate")).std() > 10  # the lawn, before the mask
    before = hub.cameras["gate"].source
    band = [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
    response = await client.put("/api/cameras/gate/zones", json={"privacy_masks": [band]})
    assert response.status == 200 and (await response.json())["restarted"] is True
    runtime = hub.cameras["gate"]
    assert runtime.source is not before and runtime.config.privacy_masks == [
        [(0, 0.5), (1, 0.5), (1, 1), (0, 1)]
    ]
    await wait_for_state(hub, "camera.gate", "online")
    masked = await bottom_band(client, "gate")
    assert masked.std() < 2.0 and masked.mean() < 4


async def test_a_zone_saved_while_running_is_used_by_the_next_object_event(make_api_client):
    config = (
        "detectors:\n  finder:\n    type: centre\n"
        # Walks repeat: one may pass while the loops are rebuilt (or before the save).
        "cameras:\n  garden:\n    url: demo://?first=3&walk=4&period=9\n"
        "    motion:\n      end_after: 1\n"
        "    objects:\n      labels: [person]\n      max_fps: 4\n      end_after: 1.5\n"
        "    record:\n      mode: 'off'\n"
    )
    client = await make_api_client(config, plugins={"centre": ObjectFinder()})
    hub = client.app[HUB_KEY]
    ended = hub.bus.subscribe("t", (EventEnded,))
    lawn = {"points": [[0, 0.5], [0.5, 0.5], [0.5, 1], [0, 1]]}
    response = await client.put("/api/cameras/garden/zones", json={"zones": {"left_lawn": lawn}})
    assert response.status == 200 and (await response.json())["restarted"] is False
    saved = time.time()
    event = await asyncio.wait_for(ended.get(), 30)
    while event.start < saved:  # began under the old zones
        event = await asyncio.wait_for(ended.get(), 30)
    assert event.camera == "garden" and "left_lawn" in event.zones


async def test_a_password_with_at_slash_and_colon_is_kept_whole_and_never_shown(
    rtsp_server, make_api_client, tmp_path, caplog
):
    password = "p@ss/w:rd#1"
    server = rtsp_server(
        [Mount("/main", width=320, height=240, fps=10)], auth=Auth("admin", password)
    )
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    raw = server.url("/main").replace("rtsp://", f"rtsp://admin:{password}@")  # typed as is
    response = await client.post(
        "/api/cameras", json={"id": "porch", "url": raw, "record_mode": "off"}
    )
    assert response.status == 201, await response.text()
    await wait_for_state(hub, "camera.porch", "online")  # the whole password reached the camera
    shown = (await response.json())["camera"]["url"]
    assert shown == server.url("/main").replace("rtsp://", "rtsp://admin:***@")
    data = tmp_path / "data"
    assert yaml.safe_load((data / "secrets.yaml").read_text()) == {"porch_password": password}
    everything = (
        (data / "cameras.yaml").read_text()
        + str(await (await client.get("/api/cameras")).json())
        + caplog.text
    )
    for piece in ("p@ss", "ss/w", "w:rd", "rd#1"):
        assert piece not in everything, piece


async def test_a_login_without_a_user_name_goes_to_the_secrets_file(make_api_client, tmp_path):
    client = await make_api_client(CONFIG)
    secret = "only-a-password-9"
    for key, url in (
        ("a", f"rtsp://:{secret}@127.0.0.1:9/live"),
        ("b", "rtsp://:only%2Da%2Dpassword%2D9@127.0.0.1:9/live"),
    ):
        response = await client.post(
            "/api/cameras", json={"id": f"door_{key}", "url": url, "record_mode": "off"}
        )
        assert response.status == 201, await response.text()
        assert (await response.json())["camera"]["url"] == "rtsp://:***@127.0.0.1:9/live"
    data = tmp_path / "data"
    assert secret not in (data / "cameras.yaml").read_text()
    assert yaml.safe_load((data / "secrets.yaml").read_text()) == {
        "door_a_password": secret,
        "door_b_password": secret,
    }
    runtime = client.app[HUB_KEY].cameras["door_a"]
    assert runtime.config.url == f"rtsp://:{secret}@127.0.0.1:9/live"  # what the camera gets
