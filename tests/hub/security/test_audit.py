"""The audit trail: rows chain by hash, concurrent writers keep one chain, tampering is named."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from hub.security.audit import GENESIS_HASH, HEAD_KEPT_GENESIS, AuditLog, row_hash
from hub.storage import Storage

CAMHUB = str(Path(sys.executable).with_name("camhub"))


@pytest.fixture
async def audit(tmp_path):
    storage = Storage(tmp_path / "camhub.db")
    await storage.async_open()
    yield AuditLog(storage)
    await storage.async_close()


def rows(path: Path) -> list[dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY id")]


async def test_concurrent_logs_form_one_unbroken_chain(audit, tmp_path):
    await asyncio.gather(
        *(
            audit.async_log(f"user{i % 3}", "clip.view", f"yard/{i}", "192.0.2.7", n=i)
            for i in range(200)
        )
    )
    report = await audit.async_verify()
    assert report.ok and report.rows == 200
    stored = rows(tmp_path / "camhub.db")
    assert [r["id"] for r in stored] == list(range(1, 201))
    assert stored[0]["prev_hash"] == HEAD_KEPT_GENESIS
    for before, after in itertools.pairwise(stored):
        assert after["prev_hash"] == before["hash"]
        assert after["hash"] == row_hash(after, before["hash"])
    assert len({r["hash"] for r in stored}) == 200


async def test_query_filters_by_actor_action_prefix_and_time(audit):
    await audit.async_log("ann", "login.ok", "ann", "192.0.2.1")
    await audit.async_log(None, "login.failed", "bob", "192.0.2.2", locked=0)
    await audit.async_log("ann", "recording.view", "yard/1", "192.0.2.1")
    middle = (await audit.async_query())[0]["time"]
    await audit.async_log("ann", "user.delete", "bob", "192.0.2.1")
    assert [r["action"] for r in await audit.async_query(actor="ann")] == [
        "user.delete",
        "recording.view",
        "login.ok",
    ]
    assert {r["action"] for r in await audit.async_query(action="login.")} == {
        "login.ok",
        "login.failed",
    }
    assert [r["action"] for r in await audit.async_query(action="login")] == []  # exact
    assert [r["action"] for r in await audit.async_query(since=middle)] == [
        "user.delete",
        "recording.view",
    ]
    assert len(await audit.async_query(until=middle)) == 3
    failed = (await audit.async_query(action="login.failed"))[0]
    assert failed["user"] is None and failed["address"] == "192.0.2.2"
    assert failed["details"] == {"locked": 0}
    # A LIKE wildcard in the filter is taken literally.
    assert await audit.async_query(action="%.") == []


@pytest.mark.parametrize(
    ("tamper", "broken", "reason"),
    [
        ("UPDATE audit_log SET target = 'nothing' WHERE id = 3", 3, "content"),
        ("UPDATE audit_log SET user = 'mallory' WHERE id = 5", 5, "content"),
        ("UPDATE audit_log SET details = '{}' WHERE id = 2", 2, "content"),
        ("DELETE FROM audit_log WHERE id = 4", 5, "link"),
        (
            "UPDATE audit_log SET hash = CASE substr(hash, 1, 1) WHEN 'f' THEN '0' ELSE 'f' END"
            " || substr(hash, 2) WHERE id = 6",
            6,
            "content",
        ),
    ],
)
async def test_verify_names_the_first_row_that_was_tampered_with(
    audit, tmp_path, tamper, broken, reason
):
    for i in range(8):
        await audit.async_log("ann", "snapshot.view", f"cam{i}", "192.0.2.1", i=i)
    assert (await audit.async_verify()).ok
    conn = sqlite3.connect(tmp_path / "camhub.db")
    conn.execute(tamper)
    conn.commit()
    conn.close()
    report = await audit.async_verify()
    assert report.broken_id == broken
    assert reason in report.reason


async def test_rehashing_an_edited_row_still_breaks_the_next_link(audit, tmp_path):
    for i in range(4):
        await audit.async_log("ann", "clip.view", f"c{i}")
    stored = rows(tmp_path / "camhub.db")
    edited = {**stored[1], "target": "forged"}
    edited["hash"] = row_hash(edited, edited["prev_hash"])
    conn = sqlite3.connect(tmp_path / "camhub.db")
    conn.execute(
        "UPDATE audit_log SET target = ?, hash = ? WHERE id = 2", ["forged", edited["hash"]]
    )
    conn.commit()
    conn.close()
    report = await audit.async_verify()
    assert report.broken_id == 3 and "link" in report.reason


def camhub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAMHUB, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_camhub_audit_verify_names_the_edited_row(tmp_path):
    data = str(tmp_path / "data")
    for name in ("ann", "bob", "cat"):
        made = camhub(
            "user", "add", name, "--role", "viewer", "--data", data, stdin="correct horse battery\n"
        )
        assert made.returncode == 0, made.stderr
    good = camhub("audit", "verify", "--data", data)
    assert good.returncode == 0, good.stderr
    assert "OK: 3 audit row(s)" in good.stdout
    last = rows(tmp_path / "data" / "camhub.db")[-1]["hash"]
    assert good.stdout.strip().endswith(f"last hash {last}")
    conn = sqlite3.connect(tmp_path / "data" / "camhub.db")
    assert conn.execute("SELECT action, target FROM audit_log WHERE id = 2").fetchone() == (
        "user.create",
        "bob",
    )
    conn.execute("UPDATE audit_log SET target = 'eve' WHERE id = 2")
    conn.commit()
    conn.close()
    bad = camhub("audit", "verify", "--data", data)
    assert bad.returncode == 1
    assert "BROKEN: audit row 2" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_camhub_user_commands_grant_cameras_and_audit_changes(tmp_path, write_config):
    config = str(write_config("cameras:\n  yard:\n    url: demo://\n    enabled: false\n"))
    data = str(tmp_path / "data")
    base = ("--config", config, "--data", data)
    assert (
        camhub("user", "add", "root", "--role", "admin", *base, stdin="password-one\n").returncode
        == 0
    )
    unknown = camhub(
        "user",
        "add",
        "kid",
        "--role",
        "viewer",
        "--camera",
        "garage",
        *base,
        stdin="password-two\n",
    )
    assert unknown.returncode == 1 and "no camera garage" in unknown.stderr
    assert (
        camhub(
            "user",
            "add",
            "kid",
            "--role",
            "viewer",
            "--camera",
            "yard",
            *base,
            stdin="password-two\n",
        ).returncode
        == 0
    )
    listing = camhub("user", "list", *base).stdout
    assert "root" in listing and "(all cameras)" in listing
    assert any(line.split()[:3] == ["kid", "viewer", "yard"] for line in listing.splitlines())
    assert camhub("user", "passwd", "kid", *base, stdin="password-three\n").returncode == 0
    last_admin = camhub("user", "delete", "root", *base)
    assert last_admin.returncode == 1 and "at least one enabled admin" in last_admin.stderr
    assert camhub("user", "delete", "kid", *base).returncode == 0
    conn = sqlite3.connect(tmp_path / "data" / "camhub.db")
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.create", "user.create", "user.password_reset", "user.delete"]
    assert all(r[0].startswith("cli:") for r in conn.execute("SELECT user FROM audit_log"))
    assert camhub("audit", "verify", *base).returncode == 0


def test_camhub_audit_verify_names_rows_cut_off_the_end(tmp_path):
    data = tmp_path / "data"
    for name in ("ann", "bob", "cat", "dan"):
        made = camhub(
            "user",
            "add",
            name,
            "--role",
            "viewer",
            "--data",
            str(data),
            stdin="correct horse battery\n",
        )
        assert made.returncode == 0, made.stderr
    good = camhub("audit", "verify", "--data", str(data))
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("OK: 4 audit row(s)") and "note:" not in good.stdout
    last = rows(data / "camhub.db")[-1]
    assert (data / "audit.head").read_text() == f"4 {last['hash']}\n"
    conn = sqlite3.connect(data / "camhub.db")
    conn.execute("DELETE FROM audit_log WHERE id >= 3")
    conn.commit()
    bad = camhub("audit", "verify", "--data", str(data))
    assert bad.returncode == 1
    assert (
        "BROKEN: truncated: the log ends at row 2 but the head (audit_head table) says row 4;"
        " rows 3..4 are missing" in bad.stderr
    )
    # Moving the table's head back as well: the file beside the database still remembers.
    conn.execute(
        "UPDATE audit_head SET row_id = 2, hash = (SELECT hash FROM audit_log WHERE id = 2)"
    )
    conn.commit()
    conn.close()
    bad = camhub("audit", "verify", "--data", str(data))
    assert bad.returncode == 1
    assert "the head (head file audit.head) says row 4; rows 3..4 are missing" in bad.stderr
    assert "Traceback" not in bad.stderr


async def test_a_rewritten_tail_does_not_match_the_head(audit, tmp_path):
    for i in range(5):
        await audit.async_log("ann", "clip.view", f"c{i}")
    assert (await audit.async_verify()).head_id == 5
    # Forge rows 4 and 5 with valid links and hashes, and move the table's head along.
    stored = rows(tmp_path / "camhub.db")
    conn = sqlite3.connect(tmp_path / "camhub.db")
    prev = stored[2]["hash"]
    for row in stored[3:]:
        forged = {**row, "target": "nothing to see", "prev_hash": prev}
        forged["hash"] = row_hash(forged, prev)
        conn.execute(
            "UPDATE audit_log SET target = ?, prev_hash = ?, hash = ? WHERE id = ?",
            [forged["target"], prev, forged["hash"], row["id"]],
        )
        prev = forged["hash"]
    conn.execute("UPDATE audit_head SET hash = ?", [prev])
    conn.commit()
    conn.close()
    report = await audit.async_verify()
    assert report.broken_id == 5 and report.missing is None
    assert "head file audit.head" in report.reason and "row 5 has hash" in report.reason


async def test_a_lost_head_is_named_and_a_missing_head_file_is_a_failure(audit, tmp_path):
    await audit.async_log("ann", "clip.view", "c0")
    (tmp_path / "audit.head").unlink()
    report = await audit.async_verify()
    assert not report.ok and report.whole_log
    assert "no head file audit.head" in report.reason and "kept from row 1" in report.reason
    await audit.async_log("ann", "clip.view", "c1")
    assert (await audit.async_verify()).ok
    conn = sqlite3.connect(tmp_path / "camhub.db")
    conn.execute("DELETE FROM audit_head")
    conn.commit()
    conn.close()
    report = await audit.async_verify()
    assert report.broken_id == 2 and "lost the chain's head" in report.reason


def rechain(path: Path, genesis: str) -> None:
    """Rewrite a whole log as if an older camhub, without a head file, had written it."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    prev = genesis
    for row in [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY id")]:
        new_hash = row_hash(row, prev)
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?", [prev, new_hash, row["id"]]
        )
        prev = new_hash
    conn.execute("UPDATE audit_head SET hash = ?", [prev])
    conn.commit()
    conn.close()


async def test_a_log_older_than_the_head_file_says_from_when_it_is_kept(tmp_path):
    storage = Storage(tmp_path / "camhub.db")
    await storage.async_open()
    try:
        old = AuditLog(storage)
        for i in range(3):
            await old.async_log("ann", "clip.view", f"c{i}")
        rechain(tmp_path / "camhub.db", GENESIS_HASH)
        (tmp_path / "audit.head").unlink()
        report = await old.async_verify()
        assert report.ok and "no head file" in report.warnings[0]  # nothing says it existed
        upgraded = AuditLog(storage)  # the next start of a newer camhub
        await upgraded.async_log("ann", "clip.view", "c3")
        actions = [r["action"] for r in rows(tmp_path / "camhub.db")]
        assert actions == ["clip.view"] * 3 + ["audit.head_kept", "clip.view"]
        assert (await upgraded.async_verify()).ok
        (tmp_path / "audit.head").write_text("")
        report = await upgraded.async_verify()
        assert not report.ok and "kept from row 4" in report.reason
    finally:
        await storage.async_close()


async def test_the_head_migration_anchors_a_log_that_predates_it(tmp_path):
    from hub.security import audit as audit_module

    storage = Storage(tmp_path / "camhub.db")
    await storage.async_open()
    try:
        log = AuditLog(storage)
        for i in range(3):
            await log.async_log("ann", "clip.view", f"c{i}")
        await storage.async_write(lambda db: db.execute("DROP TABLE audit_head"))
        await storage.async_write(audit_module.migrate)
        head = await storage.async_read(lambda db: list(db.query("SELECT * FROM audit_head")))
        assert head[0]["row_id"] == 3 and head[0]["hash"] == rows(tmp_path / "camhub.db")[2]["hash"]
    finally:
        await storage.async_close()


def test_verify_is_not_fooled_by_a_cut_tail_with_a_rewritten_head_and_no_file(tmp_path):
    data = tmp_path / "data"
    for name in ("ann", "bob", "cat", "dan"):
        made = camhub(
            "user",
            "add",
            name,
            "--role",
            "viewer",
            "--data",
            str(data),
            stdin="correct horse battery\n",
        )
        assert made.returncode == 0, made.stderr
    conn = sqlite3.connect(data / "camhub.db")
    conn.execute("DELETE FROM audit_log WHERE id >= 3")
    conn.execute(
        "UPDATE audit_head SET row_id = 2, hash = (SELECT hash FROM audit_log WHERE id = 2)"
    )
    conn.commit()
    conn.close()
    for damage in ("empty", "remove"):
        if damage == "empty":
            (data / "audit.head").write_text("")
        else:
            (data / "audit.head").unlink()
        bad = camhub("audit", "verify", "--data", str(data))
        assert bad.returncode == 1, (damage, bad.stdout)
        assert "BROKEN:" in bad.stderr and "kept from row 1" in bad.stderr
        assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "damage",
    [
        "DROP TABLE audit_head",
        "DROP TABLE audit_log",
        "ALTER TABLE audit_log RENAME COLUMN hash TO gone",
        "UPDATE audit_head SET row_id = 'many'",
        "garbage",
    ],
)
def test_a_broken_database_is_an_error_message_never_a_traceback(tmp_path, damage):
    data = tmp_path / "data"
    made = camhub(
        "user",
        "add",
        "ann",
        "--role",
        "viewer",
        "--data",
        str(data),
        stdin="correct horse battery\n",
    )
    assert made.returncode == 0, made.stderr
    if damage == "garbage":
        (data / "camhub.db").write_bytes(b"this is not a database" * 100)
        for suffix in ("-wal", "-shm"):
            (data / f"camhub.db{suffix}").unlink(missing_ok=True)
    else:
        conn = sqlite3.connect(data / "camhub.db")
        conn.execute(damage)
        conn.commit()
        conn.close()
    result = camhub("audit", "verify", "--data", str(data))
    assert result.returncode in (1, 2), result.stdout
    assert "Traceback" not in result.stderr and result.stderr.strip(), result.stderr
    if damage == "DROP TABLE audit_head":
        assert result.returncode == 1 and "audit_head table is gone" in result.stderr
    elif damage.startswith(("ALTER", "UPDATE")):
        assert result.returncode == 1 and "the audit tables were altered" in result.stderr
    else:
        assert result.returncode == 2 and "cannot check the audit trail" in result.stderr
