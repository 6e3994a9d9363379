"""One automation as the engine holds it: config, state, built parts, runs and run modes."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.automations.builder import Builder, Built
from hub.automations.runner import Resume, Run, check_all
from hub.automations.trace import Trace
from hub.config.issues import Issue
from hub.events import Context

if TYPE_CHECKING:
    from hub.automations.engine import AutomationEngine

_LOGGER = logging.getLogger(__name__)
PROBLEM_PREFIX = "automation {} disabled: "


class AutomationRuntime:
    """One automation as the engine holds it: config, state, built parts, runs."""

    def __init__(self, engine: AutomationEngine, row: dict[str, Any]):
        self.engine = engine
        self.id: str = row["id"]
        self.config: dict[str, Any] = row["config"]
        self.enabled: bool = row["enabled"]
        self.snoozed_until: float | None = row.get("snoozed_until")
        self.last_triggered: float | None = row.get("last_triggered")
        self.source: str = row.get("source") or "panel"
        """`file` (the config file owns it; read-only here) or `panel`."""
        self.built: Built | None = None
        self.issues: list[Issue] = []
        self.runs: list[Run] = []
        self.queue: deque[Run] = deque()
        self._detach: list[Callable[[], None]] = []

    @property
    def keep(self) -> int:
        """How many traces to keep."""
        return self.built.config.trace.keep if self.built else 50

    def as_dict(self) -> dict[str, Any]:
        """The API view."""
        config = self.built.config if self.built else None
        if self.issues:
            state = "invalid"
        elif not self.enabled:
            state = "off"
        elif self.snoozed_until and self.snoozed_until > self.engine.clock.now():
            state = "snoozed"
        else:
            state = "on"
        return {
            "id": self.id,
            "alias": config.alias if config else self.config.get("alias"),
            "description": config.description if config else self.config.get("description"),
            "mode": config.mode if config else self.config.get("mode"),
            "enabled": self.enabled,
            "source": self.source,
            "defined_in": self.engine.file_name if self.source == "file" else None,
            "state": state,
            "snoozed_until": self.snoozed_until,
            "last_triggered": self.last_triggered,
            "running": len(self.runs),
            "queued": len(self.queue),
            "errors": [issue.as_dict() for issue in self.issues],
            "config": self.config,
        }

    def build(self) -> None:
        """Check and build; on problems, report them and stay off."""
        prefix = PROBLEM_PREFIX.format(self.id)
        problems = self.engine.hub.problems
        # A fixed automation takes its old complaint with it.
        problems[:] = [p for p in problems if not p.startswith(prefix)]
        builder = Builder(self.engine, self.engine.check_env())
        self.built = builder.automation(self.config)
        self.issues = builder.issues
        if self.issues:
            message = PROBLEM_PREFIX.format(self.id) + "; ".join(map(str, self.issues))
            self.engine.hub.problems.append(self.engine.hub.redactor(message))
            _LOGGER.error("%s", message)

    def start(self) -> None:
        """Attach the triggers when enabled and valid."""
        if not self.enabled or self.built is None:
            return
        for index, trigger in enumerate(self.built.triggers):
            fire = self._make_fire(index, trigger.trigger_id)
            try:
                self._detach.append(trigger.obj.attach(fire))
            except Exception:
                _LOGGER.exception("Automation %s: %s could not attach", self.id, trigger.path)

    def _make_fire(self, index: int, trigger_id: str | None) -> Any:
        def fire(variables: dict[str, Any], context: Context | None) -> None:
            variables = {**variables, "trigger_index": index, "trigger_id": trigger_id or ""}
            self.trigger(variables, context)

        return fire

    def stop(self, reason: str) -> None:
        """Detach triggers and cancel runs."""
        for detach in self._detach:
            try:
                detach()
            except Exception:
                _LOGGER.exception("Automation %s: detaching a trigger failed", self.id)
        self._detach.clear()
        self.queue.clear()
        for run in list(self.runs):
            run.cancel(reason)

    async def async_stop(self, reason: str) -> None:
        """`stop`, then wait for the cancelled runs to finish their traces."""
        tasks = [run.task for run in self.runs if run.task is not None]
        self.stop(reason)
        await asyncio.gather(*tasks, return_exceptions=True)

    def trigger(
        self,
        variables: dict[str, Any],
        context: Context | None,
        skip_conditions: bool = False,
        manual: bool = False,
    ) -> Trace | None:
        """Start a run under the automation's mode; returns its trace (None if dropped)."""
        engine = self.engine
        now = engine.clock.now()
        if self.built is None or (not manual and not self.enabled):
            return None
        if not manual and self.snoozed_until and now < self.snoozed_until:
            return None
        config = self.built.config
        run_context = context.child() if context is not None else Context()
        full = {
            **config.variables,
            "automation": self.id,
            "alias": config.alias or self.id,
            **variables,
        }
        trigger_info = {k: v for k, v in full.items() if k not in config.variables}
        trace = Trace(
            automation_id=self.id,
            context_id=run_context.id,
            parent_id=run_context.parent_id,
            trigger={**trigger_info, "context_id": context.id if context else None},
            started=now,
            caused_by=engine.cause_of(run_context.parent_id),
        )
        if not skip_conditions:
            trace.conditions = check_all(self.built.conditions, full)
            if not all(result["result"] for result in trace.conditions):
                trace.state = "not_met"
                trace.finished = now
                engine.trace_done(trace)
                return trace
        self.last_triggered = now  # written with the next trace flush
        return self._admit(Run(self, full, run_context, trace))

    def _admit(self, run: Run) -> Trace | None:
        """Apply the run mode: start, queue or drop the new run."""
        assert self.built is not None
        trace = run.trace
        mode, limit = self.built.config.mode, self.built.config.max
        if mode == "single" and self.runs:
            _LOGGER.warning("Automation %s is already running: trigger ignored", self.id)
            return None
        if mode == "restart":
            for old in list(self.runs):
                old.cancel("restarted")
        if mode == "queued":
            if len(self.runs) + len(self.queue) >= limit:
                _LOGGER.warning("Automation %s: queue full (%d): trigger dropped", self.id, limit)
                return None
            if self.runs:
                trace.state = "queued"
                self.queue.append(run)
                return trace
        if mode == "parallel" and len(self.runs) >= limit:
            _LOGGER.warning("Automation %s: %d runs already: trigger dropped", self.id, limit)
            return None
        self.launch(run)
        return trace

    def launch(self, run: Run, resume: Resume | None = None) -> None:
        """Start the run's task; the queue moves on when it ends."""
        if run.trace.state == "queued":
            run.trace.started = self.engine.clock.now()
        run.trace.state = "running"
        self.runs.append(run)
        self.engine.remember_context(run)
        run.task = self.engine.spawn(run.execute(resume), f"automation:{self.id}")
        run.task.add_done_callback(lambda _: self._run_done(run))

    def _run_done(self, run: Run) -> None:
        run.mark_paused()
        if run in self.runs:
            self.runs.remove(run)
        if run.trace.finished is None and run.cancel_reason != "shutdown":
            # Cancelled before its task ever ran: nobody else closes the trace.
            run.trace.state = "cancelled"
            run.trace.error = run.cancel_reason
            run.trace.finished = self.engine.clock.now()
            self.engine.trace_done(run.trace)
            if run.durable:
                run.durable = False
                self.engine.spawn(self.engine.async_forget_run(run.id), "automations:forget")
        if self.queue and self.engine.running and run.cancel_reason != "shutdown":
            self.launch(self.queue.popleft())
