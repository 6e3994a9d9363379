"""What the hub keeps on disk is readable by its own user only, and holds no CSRF token."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hub.security.users import async_add_user
from tests.web_clients import PASSWORD, anonymous_client
from web.keys import HUB_KEY

CONFIG = "storage:\n  encryption:\n    mode: key\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_data_dir_is_0700_and_everything_in_it_0600(make_hub, tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as a careless install (or an older camhub) left it
    (data / "camhub.db").touch()
    (data / "camhub.db").chmod(0o644)
    old_umask = os.umask(0o022)
    try:
        hub = make_hub(CONFIG)
        await hub.async_start()
        try:
            await async_add_user(hub.storage, "ann", PASSWORD, "admin")
            await hub.audit.async_log("ann", "clip.view", "yard/1")
            footage = hub.footage.create("yard/seg.mp4")
            footage.write(b"\0" * 1000)
            footage.finish()
            files = {
                "camhub.db": data / "camhub.db",
                "camhub.db-wal": data / "camhub.db-wal",
                "camhub.db-shm": data / "camhub.db-shm",
                "audit.head": data / "audit.head",
                "footage": hub.footage.path_of("yard/seg.mp4"),
            }
            assert mode(data) == 0o700
            for name, path in files.items():
                assert mode(path) == 0o600, (name, oct(mode(path)))
            keys = [p for p in (data / "keys").rglob("*") if p.is_file()]
            assert keys and all(mode(p) == 0o600 for p in keys)
        finally:
            await hub.async_stop()
    finally:
        os.umask(old_umask)


async def test_csrf_tokens_are_derived_from_the_cookie_never_stored(make_api_client):
    admin = await make_api_client()
    hub = admin.app[HUB_KEY]
    other = await anonymous_client(hub)
    try:
        assert (await other.login(admin.username)).status == 200
        tokens = {admin.csrf_token, other.csrf_token}
        assert len(tokens) == 2 and all(tokens)
        stored = await hub.storage.async_read(
            lambda db: [r["csrf_token"] for r in db.query("SELECT csrf_token FROM sessions")]
        )
        assert stored == ["", ""]
        raw = b"".join(
            p.read_bytes() for p in hub.storage.path.parent.glob("camhub.db*") if p.is_file()
        )
        assert not any(t.encode() in raw for t in tokens)
        # Each session's token still guards its writes, and only its own.
        me = await (await admin.get("/api/auth/me")).json()
        assert me["csrf_token"] == admin.csrf_token
        swapped = await admin.put(
            "/api/mode", json={"mode": "away"}, headers={"X-CSRF-Token": other.csrf_token}
        )
        assert swapped.status == 403
        assert (await admin.put("/api/mode", json={"mode": "away"})).status == 200
    finally:
        await other.close()
