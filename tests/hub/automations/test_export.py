"""`camhub automations export`: YAML from the database (the truth once started), re-importable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from hub.config.loading import load_config
from tests.hub.automations.conftest import hub_for

CAMHUB = str(Path(sys.executable).with_name("camhub"))
FROM_YAML = """\
automations:
  - id: leave
    alias: Leaving
    triggers:
      - type: mode
        to: away
    actions:
      - type: notify
        notifier: phone
        message: "bye"
"""
ADDED = {
    "id": "bell",
    "mode": "queued",
    "triggers": [{"type": "webhook", "webhook_id": "export-test-0123456789"}],
    "actions": [{"type": "delay", "seconds": 5}],
}


def export(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CAMHUB, "automations", "export", "--config", str(folder / "config.yaml"),
         "--data", str(folder / "data"), *extra],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_export_before_and_after_the_first_start(tmp_path):
    hub = hub_for(tmp_path, FROM_YAML)
    before = export(tmp_path)
    assert before.returncode == 0, before.stderr
    assert [a["id"] for a in yaml.safe_load(before.stdout)["automations"]] == ["leave"]

    await hub.async_start()
    try:
        assert await hub.automations.async_save(ADDED, create=True) == []
        await hub.automations.async_set_enabled("leave", False)
    finally:
        await hub.async_stop()

    out = tmp_path / "exported.yaml"
    after = export(tmp_path, "-o", str(out))
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == f"wrote {out}"
    exported = yaml.safe_load(out.read_text())["automations"]
    assert [(a["id"], a["enabled"]) for a in exported] == [("leave", False), ("bell", True)]
    assert exported[1]["triggers"] == ADDED["triggers"]
    # What is exported is a valid `automations:` section again.
    base = (tmp_path / "config.yaml").read_text().split("automations:")[0]
    (tmp_path / "again.yaml").write_text(base + out.read_text())
    again = load_config(tmp_path / "again.yaml")
    assert [a.id for a in again.config.automations] == ["leave", "bell"]
