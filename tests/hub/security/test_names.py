"""User names: one spelling, one script, and no lookalike of someone else's name."""

from __future__ import annotations

import pytest

from hub.security.users import UserError, async_add_user, async_authenticate, async_list_users
from hub.storage import Storage
from tests.web_clients import PASSWORD

CYRILLIC_A = "\u0430"
CYRILLIC_ES, CYRILLIC_O, CYRILLIC_ER, CYRILLIC_IE = "\u0441", "\u043e", "\u0440", "\u0435"
FULLWIDTH_KID = "\uff4b\uff49\uff44"


@pytest.fixture
async def storage(tmp_path):
    store = Storage(tmp_path / "camhub.db")
    await store.async_open()
    yield store
    await store.async_close()


async def test_a_name_mixing_scripts_is_refused(storage):
    with pytest.raises(UserError, match="mixes letters of several scripts"):
        await async_add_user(storage, f"{CYRILLIC_A}dmin", PASSWORD, "admin")
    with pytest.raises(UserError, match="several scripts"):
        await async_add_user(storage, "pa\u03c5l", PASSWORD, "viewer")  # a Greek upsilon
    for name in ("anne-marie_2", "\u0418\u0432\u0430\u043d", "\u7530\u4e2d\u305f\u308d\u3046"):
        await async_add_user(storage, name, PASSWORD, "viewer")  # Latin, Cyrillic, Japanese


async def test_a_lookalike_of_an_existing_name_is_refused(storage):
    await async_add_user(storage, "admin", PASSWORD, "admin")
    await async_add_user(storage, "cope", PASSWORD, "viewer")
    lookalikes = [
        "Admin",
        "ADMIN",
        "\uff41\uff44\uff4d\uff49\uff4e",  # fullwidth: NFKC makes it "admin"
        CYRILLIC_ES + CYRILLIC_O + CYRILLIC_ER + CYRILLIC_IE,  # all Cyrillic "cope"
        "c0pe",
    ]
    for name in lookalikes:
        with pytest.raises(UserError, match="already exists"):
            await async_add_user(storage, name, PASSWORD, "viewer")
    assert [u.name for u in await async_list_users(storage)] == ["admin", "cope"]


async def test_names_are_stored_in_normal_form_and_found_in_any_width(storage):
    await async_add_user(storage, FULLWIDTH_KID, PASSWORD, "viewer")
    assert [u.name for u in await async_list_users(storage)] == ["kid"]
    assert (await async_authenticate(storage, "kid", PASSWORD)) is not None
    assert (await async_authenticate(storage, FULLWIDTH_KID, PASSWORD)) is not None


async def test_the_api_refuses_lookalikes_with_a_clear_answer(make_api_client):
    admin = await make_api_client(username="root")
    for name, status in ((f"r{CYRILLIC_O}ot", 400), ("Root", 409), (FULLWIDTH_KID, 201)):
        answer = await admin.post(
            "/api/users", json={"username": name, "password": PASSWORD, "role": "admin"}
        )
        assert answer.status == status, (name, await answer.text())
    assert (await (await admin.get("/api/users/kid")).json())["name"] == "kid"
