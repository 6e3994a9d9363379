"""`GET /api/audit/verify` names rows cut off the end of the audit trail."""

from __future__ import annotations

from web.keys import HUB_KEY


async def test_verify_reports_a_truncated_log_with_the_missing_range(api_client):
    hub = api_client.app[HUB_KEY]
    for i in range(3):
        await hub.audit.async_log("ann", "clip.view", f"c{i}")
    good = await (await api_client.get("/api/audit/verify")).json()
    assert good["ok"] and good["missing"] is None and good["head_id"] == good["rows"]
    total = good["rows"]
    await hub.storage.async_write(
        lambda db: db.execute("DELETE FROM audit_log WHERE id > ?", [total - 2])
    )
    bad = await (await api_client.get("/api/audit/verify")).json()
    assert not bad["ok"]
    assert bad["missing"] == [total - 1, total] and bad["broken_id"] == total - 1
    assert bad["reason"].startswith(f"truncated: the log ends at row {total - 2} but the head")
