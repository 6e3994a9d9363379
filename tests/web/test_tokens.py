"""API tokens act for the user who made them, with at most that user's rights of the moment."""

from __future__ import annotations

import sqlite_utils

from hub.security.sessions import migrate_token_makers
from hub.storage import _auth_tables, _core_tables
from tests.web_clients import PASSWORD, AuthedClient
from web.keys import HUB_KEY

CAMERAS = (
    "cameras:\n"
    "  front:\n    url: demo://\n    enabled: false\n"
    "  back:\n    url: demo://\n    enabled: false\n"
)


async def make_token(client: AuthedClient, name: str, scopes: list[str], **extra: object) -> dict:
    made = await client.post("/api/tokens", json={"name": name, "scopes": scopes, **extra})
    assert made.status == 201, await made.text()
    return {"Authorization": f"Bearer {(await made.json())['token']}"}


def new_user(name: str, role: str = "viewer") -> dict:
    return {"username": name, "password": PASSWORD, "role": role}


async def test_a_token_loses_admin_rights_when_its_maker_is_demoted(make_api_client):
    maker = await make_api_client(config=CAMERAS)
    hub = maker.app[HUB_KEY]
    other_admin = await make_api_client(hub=hub)
    script = await make_api_client(hub=hub, role=None)
    admin_token = await make_token(maker, "ha", ["admin"])
    front_token = await make_token(maker, "door", ["read"], cameras=["front"])
    made = await script.post("/api/users", json=new_user("kid"), headers=admin_token)
    assert made.status == 201

    demoted = await other_admin.patch(
        f"/api/users/{maker.username}", json={"role": "viewer", "cameras": ["back"]}
    )
    assert demoted.status == 200
    # The same token, the next request: only what a viewer granted `back` may do.
    refused = await script.post("/api/users", json=new_user("kid2", "admin"), headers=admin_token)
    assert refused.status == 403
    assert (await script.get("/api/users", headers=admin_token)).status == 403
    listed = await (await script.get("/api/cameras", headers=admin_token)).json()
    assert [c["id"] for c in listed["cameras"]] == ["back"]
    assert (await script.get("/api/cameras/front/zones", headers=admin_token)).status == 404
    # A camera-limited token is limited by its own list and the maker's grants together.
    limited = await (await script.get("/api/cameras", headers=front_token)).json()
    assert limited["cameras"] == []


async def test_disabling_or_deleting_the_maker_revokes_their_tokens(make_api_client):
    maker = await make_api_client(config=CAMERAS)
    hub = maker.app[HUB_KEY]
    other_admin = await make_api_client(hub=hub)
    script = await make_api_client(hub=hub, role=None)
    token = await make_token(maker, "ha", ["admin"])
    assert (await script.get("/api/users", headers=token)).status == 200

    assert (
        await other_admin.patch(f"/api/users/{maker.username}", json={"disabled": True})
    ).status == 200
    assert (await script.get("/api/cameras", headers=token)).status == 401
    # Enabling the maker again does not bring a revoked token back.
    assert (
        await other_admin.patch(f"/api/users/{maker.username}", json={"disabled": False})
    ).status == 200
    assert (await script.get("/api/cameras", headers=token)).status == 401

    second = await make_api_client(hub=hub)
    token = await make_token(second, "backup", ["admin"])
    by_token = await make_token_with(script, token, "made-by-token")
    assert (await script.get("/api/users", headers=by_token)).status == 200
    assert (await other_admin.delete(f"/api/users/{second.username}")).status == 200
    assert (await script.get("/api/users", headers=token)).status == 401
    assert (await script.get("/api/users", headers=by_token)).status == 401
    # A new user given the old name is someone else: the tokens stay dead.
    recreated = await other_admin.post("/api/users", json=new_user(second.username, "admin"))
    assert recreated.status == 201
    assert (await script.get("/api/users", headers=token)).status == 401
    rows = await hub.storage.async_read(lambda db: db.table("api_tokens").count)
    assert rows == 0


async def make_token_with(client: AuthedClient, headers: dict, name: str) -> dict:
    """A token made by a script holding another token: it acts for the same maker."""
    made = await client.post(
        "/api/tokens", json={"name": name, "scopes": ["admin"]}, headers=headers
    )
    assert made.status == 201, await made.text()
    return {"Authorization": f"Bearer {(await made.json())['token']}"}


def test_older_tokens_are_bound_to_their_maker_or_revoked(tmp_path):
    db = sqlite_utils.Database(tmp_path / "old.db")
    _core_tables(db)
    _auth_tables(db)
    db.table("users").insert_all(
        [
            {"id": 1, "name": "ann", "password_hash": "x", "role": "admin"},
            {"id": 2, "name": "bob", "password_hash": "x", "role": "viewer"},
        ]
    )
    tokens = [
        (1, "ha", "ann"),
        (2, "child", "token:ha"),
        (3, "grandchild", "token:child"),
        (4, "bobs", "bob"),
        (5, "orphan", "carl"),
        (6, "orphan-child", "token:orphan"),
        (7, "nobody", ""),
    ]
    db.table("api_tokens").insert_all(
        {
            "id": i,
            "name": n,
            "token_hash": f"h{i}",
            "scopes": '["admin"]',
            "created": 0.0,
            "created_by": by,
        }
        for i, n, by in tokens
    )
    migrate_token_makers(db)
    kept = {r["name"]: r["user_id"] for r in db.query("SELECT name, user_id FROM api_tokens")}
    assert kept == {"ha": 1, "child": 1, "grandchild": 1, "bobs": 2}
