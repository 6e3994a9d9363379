"""`camhub audit verify`: check the audit trail's hash chain from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from hub.cli.users import with_storage
from hub.security.audit import AuditLog, ChainReport
from hub.storage import Storage, StorageError


def add_audit_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `audit` with its actions to the CLI's sub-commands."""
    audit = commands.add_parser("audit", parents=[common], help="the audit trail")
    audit_actions = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_actions.add_parser(
        "verify", parents=[common], help="check the hash chain; name the first broken row"
    )


def audit_command(args: argparse.Namespace, data_dir: Path) -> tuple[int, str]:
    """`audit verify`: (0, "OK ...") when the chain holds, (1, "BROKEN: row N ...") if not,
    (2, "ERROR: ...") when the database cannot be read at all."""

    async def verify(storage: Storage) -> ChainReport:
        return await AuditLog(storage).async_verify()

    try:
        report = asyncio.run(with_storage(data_dir, verify))
    except (StorageError, sqlite3.DatabaseError) as exc:
        return 2, f"ERROR: cannot check the audit trail: the database cannot be read: {exc}"
    notes = "".join(f"\nnote: {warning}" for warning in report.warnings)
    if report.ok:
        return 0, (
            f"OK: {report.rows} audit row(s), hash chain intact; last hash {report.last_hash}"
            + notes
        )
    if report.unreadable:
        return 2, f"ERROR: cannot check the audit trail: {report.reason}"
    if report.missing is not None or report.whole_log:
        return 1, f"BROKEN: {report.reason} (checked {report.rows} row(s))."
    return 1, (
        f"BROKEN: audit row {report.broken_id}: {report.reason} (checked {report.rows} row(s))."
    )
