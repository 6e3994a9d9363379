"""SQLite side of automations: their configs, traces, and runs waiting across restarts."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from hub.automations.trace import Trace

META_IMPORTED = "yaml_imported"
FILE, PANEL = "file", "panel"
"""Owners: automations in the config file belong to it, those made in the panel to the
database. Rows from before owners were recorded have none until the next start."""


def migrate(db: sqlite_utils.Database) -> None:
    """Schema for durable runs, the import marker and the richer trace columns."""
    traces = db.table("traces")
    for column in ("parent_id", "trigger", "caused_by", "conditions", "error"):
        if column not in traces.columns_dict:
            traces.add_column(column, str)
    traces.create_index(["context_id"], if_not_exists=True)
    db.table("automation_runs").create(
        {
            "id": str,
            "automation_id": str,
            "kind": str,
            "deadline": float,
            "frames": str,
            "variables": str,
            "context": str,
            "trace": str,
            "saved": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("automation_meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)


def migrate_source(db: sqlite_utils.Database) -> None:
    """The owner column; older rows stay without one until `sync_file` sorts them."""
    if "source" not in db.table("automations").columns_dict:
        db.table("automations").add_column("source", str)


# ---------------------------------------------------------------- automations


def load_automations(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every stored automation row, config decoded, in creation order."""
    rows = db.execute(
        "select id, config, enabled, last_triggered, snoozed_until, source from automations "
        "order by rowid"
    ).fetchall()
    return [
        {
            "id": row[0],
            "config": json.loads(row[1]),
            "enabled": bool(row[2]),
            "last_triggered": row[3],
            "snoozed_until": row[4],
            "source": row[5] or PANEL,
        }
        for row in rows
    ]


@dataclass
class FileSync:
    """What loading the config file's automations changed in the database."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    taken_over: list[str] = field(default_factory=list)
    """Made in the panel, now defined in the file under the same id: the file's wins."""
    unchanged: list[str] = field(default_factory=list)

    def touched(self) -> list[str]:
        """Ids whose automation must be rebuilt."""
        return [*self.added, *self.changed, *self.removed, *self.taken_over]

    def summary(self) -> str:
        """`2 added, 1 changed` (or `no change`)."""
        parts = [
            f"{len(ids)} {word}"
            for word, ids in (
                ("added", self.added),
                ("changed", self.changed),
                ("removed", self.removed),
                ("taken over from the panel", self.taken_over),
            )
            if ids
        ]
        return ", ".join(parts) or "no change"


def sync_file(db: sqlite_utils.Database, configs: Iterable[dict[str, Any]]) -> FileSync:
    """Make the database hold exactly the file's automations as file-owned ones.

    A file automation whose config is as stored keeps its on/off switch from the panel;
    a changed one takes `enabled` from the file. File-owned rows the file no longer has
    are deleted. Rows without an owner (from before owners existed) that the file has
    become the file's; the others are the panel's.
    """
    report = FileSync()
    stored = {row["id"]: row for row in load_automations_raw(db)}
    wanted = {str(config["id"]): config for config in configs}
    for automation_id, config in wanted.items():
        row = stored.get(automation_id)
        enabled = bool(config.get("enabled", True))
        if row is None:
            report.added.append(automation_id)
        elif row["config"] == config and row["source"] in (FILE, None):
            enabled = bool(row["enabled"])
            report.unchanged.append(automation_id)
        elif row["source"] == PANEL:
            report.taken_over.append(automation_id)
        else:
            report.changed.append(automation_id)
        save_automation(db, config, enabled, FILE)
    for automation_id, row in stored.items():
        if row["source"] == FILE and automation_id not in wanted:
            delete_automation(db, automation_id)
            report.removed.append(automation_id)
        elif row["source"] is None and automation_id not in wanted:
            set_fields(db, automation_id, source=PANEL)
    db.table("automation_meta").upsert({"key": META_IMPORTED, "value": str(time.time())}, pk="key")
    return report


def load_automations_raw(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Rows with the owner as stored (None for rows older than owners)."""
    rows = db.execute("select id, config, enabled, source from automations").fetchall()
    return [
        {"id": r[0], "config": json.loads(r[1]), "enabled": bool(r[2]), "source": r[3]}
        for r in rows
    ]


def save_automation(
    db: sqlite_utils.Database, config: dict[str, Any], enabled: bool, source: str = PANEL
) -> None:
    """Insert or replace one automation's config (keeps last_triggered and snooze)."""
    db.execute(
        "insert into automations (id, config, enabled, updated, source) values (?, ?, ?, ?, ?) "
        "on conflict(id) do update set config = excluded.config, enabled = excluded.enabled, "
        "updated = excluded.updated, source = excluded.source",
        [config["id"], json.dumps(config), int(enabled), time.time(), source],
    )


def set_fields(db: sqlite_utils.Database, automation_id: str, **values: Any) -> None:
    """Update columns of one automation (enabled, snoozed_until, last_triggered)."""
    if values:
        sets = ", ".join(f"{key} = ?" for key in values)
        db.execute(f"update automations set {sets} where id = ?", [*values.values(), automation_id])


def delete_automation(db: sqlite_utils.Database, automation_id: str) -> None:
    """Remove an automation with its traces and waiting runs."""
    for table in ("automation_runs", "traces"):
        db.execute(f"delete from {table} where automation_id = ?", [automation_id])
    db.execute("delete from automations where id = ?", [automation_id])


def read_configs(db_path: Path) -> list[dict[str, Any]] | None:
    """Stored configs straight from the file (for `camhub automations export`), or None."""
    if not db_path.exists():
        return None
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("select config, enabled from automations order by rowid").fetchall()
        imported = conn.execute(
            "select 1 from automation_meta where key = ?", [META_IMPORTED]
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if not imported:
        return None
    configs = []
    for config_text, enabled in rows:
        config = json.loads(config_text)
        config["enabled"] = bool(enabled)
        configs.append(config)
    return configs


# ---------------------------------------------------------------- traces


def save_traces(db: sqlite_utils.Database, traces: Iterable[Trace], keep: dict[str, int]) -> None:
    """Upsert traces, then drop all but the newest `keep[automation]` of each automation."""
    rows = [trace.to_row() for trace in traces]
    if rows:
        db.table("traces").upsert_all(rows, pk="id", alter=False)
    for automation_id, count in keep.items():
        db.execute(
            "delete from traces where automation_id = ? and id not in (select id from traces "
            "where automation_id = ? order by started desc limit ?)",
            [automation_id, automation_id, count],
        )


def load_traces(db: sqlite_utils.Database, automation_id: str, limit: int) -> list[Trace]:
    """Newest first."""
    rows = db.table("traces").rows_where(
        "automation_id = ?", [automation_id], order_by="started desc", limit=limit
    )
    return [Trace.from_row(row) for row in rows]


def trace_by_context(db: sqlite_utils.Database, context_id: str) -> Trace | None:
    """The trace of the run with this context id."""
    rows = list(db.table("traces").rows_where("context_id = ?", [context_id], limit=1))
    return Trace.from_row(rows[0]) if rows else None


# ---------------------------------------------------------------- durable runs


def save_run(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    """Remember a run waiting in a delay or wait_for_trigger."""
    db.table("automation_runs").upsert(row, pk="id")


def delete_run(db: sqlite_utils.Database, run_id: str) -> None:
    """Forget a run that is no longer waiting."""
    db.execute("delete from automation_runs where id = ?", [run_id])


def load_runs(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every run that was waiting when the hub stopped, oldest first."""
    return list(db.table("automation_runs").rows_where(order_by="saved"))
