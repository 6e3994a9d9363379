"""What one run did: trigger, condition results, action steps; stored per automation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from hub.events import new_id

TRACE_STATES = (
    "queued",
    "running",
    "waiting",
    "finished",
    "not_met",
    "stopped",
    "failed",
    "cancelled",
    "interrupted",
    "expired",
)


@dataclass
class Trace:
    """The record of one run; `caused_by` links to the run of another automation."""

    automation_id: str
    context_id: str
    parent_id: str | None
    trigger: dict[str, Any]
    started: float
    id: str = field(default_factory=new_id)
    finished: float | None = None
    state: str = "running"
    error: str | None = None
    caused_by: dict[str, str] | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API."""
        return asdict(self)

    def to_row(self) -> dict[str, Any]:
        """The `traces` table row."""
        return {
            "id": self.id,
            "automation_id": self.automation_id,
            "context_id": self.context_id,
            "parent_id": self.parent_id,
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "error": self.error,
            "trigger": _dumps(self.trigger),
            "caused_by": _dumps(self.caused_by),
            "conditions": _dumps(self.conditions),
            "steps": _dumps(self.steps),
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Trace:
        """Back from a `traces` row."""
        return cls(
            id=row["id"],
            automation_id=row["automation_id"],
            context_id=row["context_id"],
            parent_id=row.get("parent_id"),
            trigger=json.loads(row.get("trigger") or "{}"),
            started=row["started"],
            finished=row.get("finished"),
            state=row.get("state") or "finished",
            error=row.get("error"),
            caused_by=json.loads(row["caused_by"]) if row.get("caused_by") else None,
            conditions=json.loads(row.get("conditions") or "[]"),
            steps=json.loads(row.get("steps") or "[]"),
        )


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))
