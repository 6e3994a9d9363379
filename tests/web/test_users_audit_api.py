"""User management and the audit API: admins manage people; every look and change is logged."""

from __future__ import annotations

import csv
import io
import time

from hub.footage.recordings import RecordingSegment
from tests.web_clients import PASSWORD
from web.keys import HUB_KEY

CAMERAS = (
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
)


async def test_admin_creates_changes_and_deletes_users(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    hub = admin.app[HUB_KEY]
    made = await admin.post(
        "/api/users",
        json={"username": "kid", "password": PASSWORD, "role": "viewer", "cameras": ["front"]},
    )
    assert made.status == 201
    assert (await made.json())["cameras"] == ["front"]
    duplicate = await admin.post(
        "/api/users", json={"username": "kid", "password": PASSWORD, "role": "viewer"}
    )
    assert duplicate.status == 409
    for bad in (
        {"username": "x", "password": PASSWORD, "role": "owner"},
        {"username": "x", "password": PASSWORD, "role": "viewer", "cameras": ["garage"]},
        {"username": "x", "password": PASSWORD, "role": "viewer", "cameras": "front"},
        {"username": " x", "password": PASSWORD, "role": "viewer"},
        {"username": "x", "password": "short", "role": "viewer"},
    ):
        assert (await admin.post("/api/users", json=bad)).status == 400, bad

    kid = await make_api_client(hub=hub, role=None)
    assert (await kid.login("kid")).status == 200
    assert [c["id"] for c in (await (await kid.get("/api/cameras")).json())["cameras"]] == ["front"]
    regrant = await admin.patch("/api/users/kid", json={"cameras": ["back"]})
    assert regrant.status == 200
    # Grants are read on every request: no new sign-in needed for them to apply.
    assert [c["id"] for c in (await (await kid.get("/api/cameras")).json())["cameras"]] == ["back"]
    assert (await admin.patch("/api/users/kid", json={"colour": "red"})).status == 400
    assert (await admin.patch("/api/users/nobody", json={"role": "viewer"})).status == 404

    reset = await admin.post("/api/users/kid/password", json={"password": "a new password"})
    assert await reset.json() == {"sessions_ended": 1}
    assert (await kid.get("/api/cameras")).status == 401
    assert (await kid.login("kid", "a new password")).status == 200

    detail = await (await admin.get("/api/users/kid")).json()
    assert detail["sessions"] == 1 and detail["role"] == "viewer"
    assert (await admin.delete("/api/users/kid")).status == 200
    assert (await kid.get("/api/cameras")).status == 401
    assert (await admin.get("/api/users/kid")).status == 404

    actions = [r["action"] for r in await hub.audit.async_query(actor=admin.username)]
    assert actions[:4] == ["user.delete", "user.password_reset", "user.update", "user.create"]


async def test_the_last_admin_cannot_be_removed_or_demoted(api_client):
    me = api_client.username
    for response in (
        await api_client.delete(f"/api/users/{me}"),
        await api_client.patch(f"/api/users/{me}", json={"role": "viewer"}),
        await api_client.patch(f"/api/users/{me}", json={"disabled": True}),
    ):
        assert response.status == 400
        assert "at least one enabled admin" in await response.text()
    assert (await api_client.get("/api/users")).status == 200


async def test_every_look_at_footage_is_audited_with_who_and_where(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["front"])
    now = time.time()
    relpath = "front/seg.mp4"
    out = hub.footage.create(relpath)
    out.write(b"\x00" * 4096)
    out.finish()
    segment_id = await hub.recordings.async_add(
        RecordingSegment("front", now - 10, now - 5, relpath, 4096)
    )
    first = await viewer.get(f"/api/recordings/{segment_id}/video.mp4")
    assert first.status == 200
    seek = await viewer.get(
        f"/api/recordings/{segment_id}/video.mp4", headers={"Range": "bytes=1000-1999"}
    )
    assert seek.status == 206
    assert (await viewer.get(f"/api/recordings/{segment_id}/video.mp4")).status == 200
    assert (await viewer.get("/api/cameras/front/snapshot.jpg")).status == 503
    assert (await viewer.get("/api/cameras/back/snapshot.jpg")).status == 404
    views = await hub.audit.async_query(action="recording.view")
    # One row per look, not one per seek.
    assert len(views) == 2
    assert {(r["user"], r["target"], r["address"]) for r in views} == {
        (viewer.username, f"front/{segment_id}", "127.0.0.1")
    }
    snapshots = await hub.audit.async_query(action="snapshot.view")
    assert [(r["user"], r["target"]) for r in snapshots] == [(viewer.username, "front")]
    assert (await hub.audit.async_verify()).ok


async def test_audit_api_filters_exports_csv_and_checks_the_chain(make_api_client):
    admin = await make_api_client()
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer")
    await hub.audit.async_log('=HYPERLINK("http://evil")', "login.failed", "x", "192.0.2.9")
    middle = time.time()
    await hub.audit.async_log("ann", "user.delete", "bob", "192.0.2.1", note="gone")
    assert (await viewer.get("/api/audit")).status == 403

    everything = (await (await admin.get("/api/audit")).json())["entries"]
    assert everything[0]["action"] == "user.delete" and everything[0]["details"] == {"note": "gone"}
    logins = (await (await admin.get("/api/audit?action=login.")).json())["entries"]
    assert {r["action"] for r in logins} == {"login.ok", "login.failed"}
    by_actor = (await (await admin.get("/api/audit?actor=ann")).json())["entries"]
    assert [r["target"] for r in by_actor] == ["bob"]
    since = (await (await admin.get(f"/api/audit?since={middle}")).json())["entries"]
    assert [r["action"] for r in since] == ["user.delete"]
    until = (await (await admin.get(f"/api/audit?until={middle}&limit=1")).json())["entries"]
    assert [r["action"] for r in until] == ["login.failed"]
    assert (await admin.get("/api/audit?since=yesterday")).status == 400
    assert (await admin.get("/api/audit?limit=-1")).status == 400

    exported = await admin.get("/api/audit?format=csv")
    assert exported.status == 200 and exported.content_type == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await exported.text())))
    assert rows[0]["action"] == "user.delete" and rows[0]["details"] == '{"note": "gone"}'
    hostile = next(r for r in rows if r["action"] == "login.failed" and r["target"] == "x")
    assert hostile["user"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert all(len(r["hash"]) == 64 for r in rows)
    exports = await hub.audit.async_query(action="audit.export")
    assert exports[0]["user"] == admin.username

    check = await (await admin.get("/api/audit/verify")).json()
    assert check["ok"] and check["rows"] >= 5 and check["broken_id"] is None
    newest = (await hub.audit.async_query(limit=1))[0]
    assert check["last_hash"] == newest["hash"]


async def test_footage_fetched_with_range_requests_is_audited_once_per_look(make_api_client):
    admin = await make_api_client(config=CAMERAS)
    hub = admin.app[HUB_KEY]
    viewer = await make_api_client(hub=hub, role="viewer", cameras=["front"])
    other = await make_api_client(hub=hub, role="viewer", cameras=["front"])
    now = time.time()
    for relpath in ("front/seg.mp4", "clips/front/ev1.mp4"):
        out = hub.footage.create(relpath)
        out.write(b"\x01" * 8192)
        out.finish()
    segment_id = await hub.recordings.async_add(
        RecordingSegment("front", now - 10, now - 5, "front/seg.mp4", 8192)
    )
    await hub.async_insert(
        "events", {"id": "ev1", "camera": "front", "kind": "motion", "start": now - 9, "end": now}
    )
    video = f"/api/recordings/{segment_id}/video.mp4"
    # A download manager: the whole file in pieces, none of them from byte 0 to the end.
    for piece in ("bytes=0-4095", "bytes=4096-8191"):
        answer = await viewer.get(video, headers={"Range": piece})
        assert answer.status == 206
    # A player that starts in the middle, then seeks around.
    for piece in ("bytes=2000-", "bytes=100-199", "bytes=-100"):
        assert (await other.get(video, headers={"Range": piece})).status == 206
    views = await hub.audit.async_query(action="recording.view")
    assert sorted(r["user"] for r in views) == sorted([viewer.username, other.username])

    clip = "/api/events/ev1/clip.mp4"
    exported = await viewer.get(clip + "?download=1", headers={"Range": "bytes=0-8191"})
    assert exported.status == 206 and "attachment" in exported.headers["Content-Disposition"]
    assert (await viewer.get(clip + "?download=1", headers={"Range": "bytes=10-20"})).status == 206
    assert (await viewer.get(clip, headers={"Range": "bytes=10-20"})).status == 206
    exports = await hub.audit.async_query(action="clip.export")
    assert [(r["user"], r["target"]) for r in exports] == [(viewer.username, "front/ev1")]
    clip_views = await hub.audit.async_query(action="clip.view")
    assert [(r["user"], r["target"]) for r in clip_views] == [(viewer.username, "front/ev1")]
