"""Routes the panel added: one event, keep, delete (audited), clip download, house mode, zones,
storage use."""

from __future__ import annotations

import json
import time

from web.keys import HUB_KEY

CONFIG = """
cameras:
  yard:
    url: demo://
    enabled: false
    zones:
      lawn:
        points: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]
        labels: [person]
    masks:
      - [[0, 0], [0.2, 0], [0.2, 0.2]]
"""


async def add_event(hub, event_id: str = "e1", with_snapshot: bool = True) -> str | None:
    snapshot = f"snapshots/yard/{event_id}.jpg" if with_snapshot else None
    if snapshot:
        file = hub.footage.create(snapshot)
        file.write(b"\xff\xd8 jpeg \xff\xd9")
        file.finish()
    row = {
        "id": event_id,
        "camera": "yard",
        "kind": "object",
        "label": "person",
        "start": time.time() - 60,
        "end": time.time() - 50,
        "zones": json.dumps(["lawn"]),
        "snapshot_path": snapshot,
        "keep": 0,
    }
    await hub.storage.async_write(lambda db: db.table("events").insert(row))
    return snapshot


async def test_one_event_keep_and_delete_with_audit(make_api_client):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    snapshot = await add_event(hub)
    event = await (await client.get("/api/events/e1")).json()
    assert event["label"] == "person" and event["zones"] == ["lawn"] and event["keep"] is False
    assert "snapshot_path" not in event

    response = await client.patch("/api/events/e1", json={"keep": True})
    assert response.status == 200 and (await response.json())["keep"] is True
    assert (await (await client.get("/api/events/e1")).json())["keep"] is True
    bad = await client.patch("/api/events/e1", json={"keep": "yes"})
    assert bad.status == 400 and "keep" in await bad.text()

    response = await client.delete("/api/events/e1")
    assert response.status == 200
    assert (await client.get("/api/events/e1")).status == 404
    assert snapshot is not None and not hub.footage.exists(snapshot)
    actions = [r["action"] for r in await hub.audit.async_query(action="event.")]
    assert actions == ["event.delete", "event.keep"]


async def test_viewers_cannot_keep_or_delete_and_writes_need_the_csrf_token(make_api_client):
    admin = await make_api_client(CONFIG)
    hub = admin.app[HUB_KEY]
    await add_event(hub)
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["yard"])
    assert (await viewer.get("/api/events/e1")).status == 200
    assert (await viewer.patch("/api/events/e1", json={"keep": True})).status == 403
    assert (await viewer.delete("/api/events/e1")).status == 403
    forged = await admin.delete("/api/events/e1", headers={"X-CSRF-Token": "wrong"})
    assert forged.status == 403
    assert (await admin.get("/api/events/e1")).status == 200
    stranger = await make_api_client(hub=hub, role="viewer", cameras=[])
    assert (await stranger.get("/api/events/e1")).status == 404


async def test_house_mode_read_by_anyone_set_by_admins_and_audited(make_api_client):
    admin = await make_api_client(CONFIG)
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer")
    assert (await (await viewer.get("/api/mode")).json())["mode"] == hub.mode
    assert (await viewer.put("/api/mode", json={"mode": "away"})).status == 403
    response = await admin.put("/api/mode", json={"mode": "away"})
    assert response.status == 200 and (await response.json()) == {"mode": "away"}
    assert hub.mode == "away" and hub.states.get("mode.house").state == "away"
    assert (await admin.put("/api/mode", json={"mode": ""})).status == 400
    rows = await hub.audit.async_query(action="mode.set")
    assert [(r["user"], r["target"]) for r in rows] == [(admin.username, "away")]


async def test_zones_and_masks_of_a_camera(make_api_client):
    client = await make_api_client(CONFIG)
    data = await (await client.get("/api/cameras/yard/zones")).json()
    assert data["zones"] == {
        "lawn": {"points": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], "labels": ["person"]}
    }
    assert data["masks"] == [[[0, 0], [0.2, 0], [0.2, 0.2]]]
    assert (await client.get("/api/cameras/nope/zones")).status == 404


async def test_storage_use_per_camera(make_api_client):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    row = {"camera": "yard", "start": 100.0, "end": 110.0, "path": "yard/a.mp4", "bytes": 5000}
    await hub.storage.async_write(lambda db: db.table("recordings").insert(row))
    data = await (await client.get("/api/storage")).json()
    assert data["cameras"] == [
        {"camera": "yard", "segments": 1, "bytes": 5000, "oldest": 100.0, "newest": 110.0}
    ]
    assert data["total_bytes"] == 5000 and data["free_bytes"] > 0
    assert data["retention"]["cameras"]["yard"]["mode"] in ("off", "events", "continuous")


async def test_day_query_finds_every_event_overlapping_the_day(make_api_client):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    day = 1_700_000_000.0
    spans = {
        "inside": (day + 100, day + 130),
        "long_into_day": (day - 2 * 86400, day + 50),  # indexed as a long event
        "hour_before_into_day": (day - 1800, day + 10),
        "ended_before": (day - 1800, day - 1),
        "ongoing": (day + 3600, None),
        "after": (day + 86400 + 5, day + 86400 + 9),
        "long_ended_before": (day - 3 * 86400, day - 86400),
    }
    rows = [
        {"id": name, "camera": "yard", "kind": "motion", "label": "motion", "start": s, "end": e}
        for name, (s, e) in spans.items()
    ]
    await hub.storage.async_write(lambda db: db.table("events").insert_all(rows))
    found = await (await client.get(f"/api/events?start={day}&end={day + 86400}")).json()
    assert [e["id"] for e in found["events"]] == [
        "ongoing",
        "inside",
        "hour_before_into_day",
        "long_into_day",
    ]
    since = await (await client.get(f"/api/events?start={day}")).json()
    assert {e["id"] for e in since["events"]} == {
        "ongoing", "inside", "hour_before_into_day", "long_into_day", "after"
    }  # fmt: skip


async def test_yaml_parse_gives_data_and_lines_and_expands_nothing(make_api_client, monkeypatch):
    monkeypatch.setenv("CAMHUB_TEST_SECRET", "do-not-leak")
    client = await make_api_client(CONFIG)
    text = (
        "id: walk\n"
        "triggers:\n"
        "  - type: motion\n"
        "    camera: yard\n"
        "actions:\n"
        "  - type: notify\n"
        '    message: "${CAMHUB_TEST_SECRET}"\n'
        "    at: 2024-01-02\n"
    )
    response = await client.post("/api/yaml/parse", json={"text": text})
    assert response.status == 200
    answer = await response.json()
    assert answer["data"]["triggers"] == [{"type": "motion", "camera": "yard"}]
    assert answer["data"]["actions"][0]["message"] == "${CAMHUB_TEST_SECRET}"
    assert answer["data"]["actions"][0]["at"] == "2024-01-02"
    assert answer["lines"]["triggers.0.camera"] == 4
    assert answer["lines"]["actions.0"] == 6


async def test_yaml_parse_refuses_bad_yaml_aliases_and_viewers(make_api_client):
    client = await make_api_client(CONFIG)
    broken = await client.post("/api/yaml/parse", json={"text": "a: [1, 2\nb: 3\n"})
    assert broken.status == 422
    [error] = (await broken.json())["errors"]
    assert error["path"] == "yaml" and error["message"].startswith("line ")
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    refused = await client.post("/api/yaml/parse", json={"text": bomb})
    assert refused.status == 422
    assert "aliases" in (await refused.json())["errors"][0]["message"]
    viewer = await make_api_client(hub=client.app[HUB_KEY], role="viewer")
    assert (await viewer.post("/api/yaml/parse", json={"text": "a: 1"})).status == 403


async def test_snapshot_refreshes_are_one_audited_view(make_api_client):
    client = await make_api_client(CONFIG)
    hub = client.app[HUB_KEY]
    for _ in range(3):  # the panel's fallback asks every second; the camera is off here
        assert (await client.get("/api/cameras/yard/snapshot.jpg")).status == 503
    rows = await hub.audit.async_query(action="snapshot.view")
    assert [(r["user"], r["target"]) for r in rows] == [(client.username, "yard")]
