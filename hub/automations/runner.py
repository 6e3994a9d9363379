"""One run of an automation: conditions, then steps, with durable waits and a trace."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from hub.automations.builder import BuiltCondition, Step
from hub.automations.trace import Trace
from hub.events import Context, new_id

if TYPE_CHECKING:
    from hub.automations.runtime import AutomationRuntime

_LOGGER = logging.getLogger(__name__)
RunPosition = list[tuple[str, int]]
"""Where a run is: (sequence path, step index) from the outermost sequence inwards."""


class StopRun(Exception):
    """A `stop` action (or a wait that timed out) ends the run."""

    def __init__(self, reason: str, error: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.error = error


class StepFailed(Exception):
    """A step failed and its `continue_on_error` is false: the run fails."""


@dataclass
class Resume:
    """A stored waiting run, picked up after a restart."""

    position: RunPosition
    kind: str
    deadline: float | None


def check_all(
    conditions: list[BuiltCondition], variables: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Evaluate in order, stopping at the first that fails; one result entry each."""
    results = []
    for condition in conditions:
        try:
            passed = bool(condition.obj.check(variables))
            results.append({"path": condition.path, "type": condition.type, "result": passed})
        except Exception as exc:
            passed = False
            results.append(
                {
                    "path": condition.path,
                    "type": condition.type,
                    "result": False,
                    "error": f"{type(exc).__name__}: {exc}",
                }
            )
        if not passed:
            break
    return results


class Run:
    """A run owns its task, its variables, its context and its trace."""

    def __init__(
        self,
        runtime: AutomationRuntime,
        variables: dict[str, Any],
        context: Context,
        trace: Trace,
        run_id: str | None = None,
    ):
        self.runtime = runtime
        self.engine = runtime.engine
        self.variables = variables
        self.context = context
        self.trace = trace
        self.id = run_id or new_id()
        self.task: asyncio.Task[None] | None = None
        self.cancel_reason = "cancelled"
        self.durable = False
        self._waits: set[asyncio.Future[Any]] = set()
        self._paused: asyncio.Future[None] | None = None

    @property
    def waiting(self) -> bool:
        """In a delay or a wait_for_trigger that has not fired: only time or the outside
        moves it on (a fired wait counts as running until the run takes it up)."""
        return bool(self._waits) and not any(w.done() for w in self._waits)

    def paused(self) -> asyncio.Future[None]:
        """A future done when the run next waits (see `waiting`) or ends (see `hub.idle`)."""
        if self._paused is None or self._paused.done():
            self._paused = asyncio.get_running_loop().create_future()
            if self.waiting or (self.task is not None and self.task.done()):
                self._paused.set_result(None)
        return self._paused

    def mark_paused(self) -> None:
        """The run waits or has ended: wake whoever waits for `paused`."""
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)

    def cancel(self, reason: str) -> None:
        """Stop the run (restart mode, disabled, deleted, shutdown); the first reason wins."""
        if self.task is not None and self.task.cancelling():
            return
        self.cancel_reason = reason
        if self.task is not None:
            self.task.cancel()

    async def execute(self, resume: Resume | None = None) -> None:
        """Run the steps (from the stored position when resuming), then finish the trace."""
        trace = self.trace
        try:
            if resume is None:
                await self._sequence("actions", 0, [])
            else:
                await self._resume(resume)
            trace.state = "finished"
        except StopRun as stop:
            trace.state = "failed" if stop.error else "stopped"
            trace.error = stop.reason or None
        except StepFailed as exc:
            trace.state = "failed"
            trace.error = str(exc)
        except asyncio.CancelledError:
            trace.state = "interrupted" if self.cancel_reason == "shutdown" else "cancelled"
            trace.error = self.cancel_reason
            if self.cancel_reason != "shutdown":
                await self._forget()
            raise
        except Exception as exc:
            _LOGGER.exception("Automation %s run failed", self.runtime.id)
            trace.state = "failed"
            trace.error = f"{type(exc).__name__}: {exc}"
        finally:
            trace.finished = self.engine.clock.now()
            for step in trace.steps:
                if step["state"] in ("running", "waiting"):
                    step["state"] = trace.state
                    step["end"] = trace.finished
            # A durable run stopped by shutdown goes on after restart, with this same trace.
            if self.cancel_reason != "shutdown" or not self.durable:
                self.engine.trace_done(trace)
        await self._forget()

    async def _forget(self) -> None:
        if self.durable:
            self.durable = False
            await self.engine.async_forget_run(self.id)

    async def _resume(self, resume: Resume) -> None:
        *outer, (path, index) = resume.position
        steps = self._steps(path)
        step = steps[index] if index < len(steps) else None
        if step is None or step.type != resume.kind:
            raise StopRun("the automation changed while the hub was down", error=True)
        self.durable = True
        await self._step(step, resume.position, resume)
        await self._sequence(path, index + 1, outer)
        for depth in range(len(outer) - 1, -1, -1):
            seq_path, seq_index = outer[depth]
            self._close_entry(f"{seq_path}[{seq_index}]")
            await self._sequence(seq_path, seq_index + 1, outer[:depth])

    def _close_entry(self, path: str) -> None:
        """Mark the enclosing if/choose step of a resumed branch done."""
        for entry in reversed(self.trace.steps):
            if entry["path"] == path:
                if entry["state"] in ("running", "waiting"):
                    entry.update(state="done", end=self.engine.clock.now())
                return

    def _steps(self, path: str) -> list[Step]:
        built = self.runtime.built
        return built.sequences.get(path, []) if built is not None else []

    async def _sequence(self, path: str, start: int, outer: RunPosition) -> None:
        steps = self._steps(path)
        for index in range(start, len(steps)):
            await self._step(steps[index], [*outer, (path, index)], None)

    async def _step(self, step: Step, position: RunPosition, resume: Resume | None) -> None:
        clock = self.engine.clock
        entry: dict[str, Any] = {
            "path": step.path,
            "type": step.type,
            "alias": step.alias,
            "start": clock.now(),
            "end": None,
            "state": "running",
            "result": None,
            "error": None,
        }
        if resume is not None and self.trace.steps and self.trace.steps[-1]["path"] == step.path:
            entry = self.trace.steps[-1]
            entry["state"] = "running"
        else:
            self.trace.steps.append(entry)
        try:
            entry["result"] = await self._do(step, position, resume)
            entry["state"] = "done"
        except (StopRun, asyncio.CancelledError, StepFailed):
            raise
        except Exception as exc:
            entry["state"] = "error"
            entry["error"] = self.engine.hub.redactor(f"{type(exc).__name__}: {exc}")
            _LOGGER.warning(
                "Automation %s: %s (%s) failed: %s", self.runtime.id, step.path, step.type, exc
            )
            if not step.continue_on_error:
                raise StepFailed(f"{step.path} failed: {entry['error']}") from None
        finally:
            entry["end"] = clock.now()

    async def _do(self, step: Step, position: RunPosition, resume: Resume | None) -> Any:
        kind = step.type
        if step.action is not None:
            result = await step.action.async_run(dict(self.variables), self.context)
            return dict(result) if isinstance(result, Mapping) else result
        options: Any = step.options
        if kind == "delay":
            deadline = resume.deadline if resume else self.engine.clock.now() + options.seconds
            assert deadline is not None
            await self._durable_wait("delay", position, deadline)
            return {"seconds": options.seconds}
        if kind == "wait_for_trigger":
            return await self._wait_for_trigger(step, position, resume)
        if kind == "if":
            results = check_all(step.conditions, self.variables)
            passed = all(r["result"] for r in results)
            branch = "then" if passed else "else"
            await self._sequence(step.branches[branch], 0, position)
            return {"conditions": results, "branch": branch}
        if kind == "choose":
            for number, (conditions, path) in enumerate(step.choices):
                results = check_all(conditions, self.variables)
                if all(r["result"] for r in results):
                    await self._sequence(path, 0, position)
                    return {"choice": number}
            await self._sequence(step.branches["default"], 0, position)
            return {"choice": "default"}
        if kind == "stop":
            raise StopRun(options.reason or "stopped", options.error)
        raise RuntimeError(f"no way to run action type '{kind}'")

    async def _durable_wait(
        self, kind: str, position: RunPosition, deadline: float | None, waiter: Any = None
    ) -> bool:
        """Store the position, then wait until `deadline` (or `waiter`); True if it fired."""
        self.trace.state = "waiting"
        self.trace.steps[-1]["state"] = "waiting"
        await self._save(kind, position, deadline)
        clock = self.engine.clock
        sleeper = asyncio.ensure_future(
            clock.sleep_until(deadline) if deadline is not None else asyncio.Future()
        )
        waits: set[asyncio.Future[Any]] = {sleeper}
        if waiter is not None:
            waits.add(waiter)
        self._waits = waits
        self.mark_paused()
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waits = set()
            sleeper.cancel()
        self.trace.state = "running"
        return waiter is not None and waiter.done()

    async def _wait_for_trigger(
        self, step: Step, position: RunPosition, resume: Resume | None
    ) -> Any:
        options: Any = step.options
        clock = self.engine.clock
        if resume is not None:
            deadline = resume.deadline
        else:
            deadline = clock.now() + options.timeout if options.timeout else None
        fired: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        def fire(variables: dict[str, Any], context: Context | None) -> None:
            if not fired.done():
                fired.set_result(variables)

        detachers = []
        try:
            for _, spec, trigger_options in step.wait_triggers:
                trigger = spec.create(self.engine.hub, self.runtime.id, trigger_options)
                detachers.append(trigger.attach(fire))
            triggered = await self._durable_wait("wait_for_trigger", position, deadline, fired)
        finally:
            for detach in detachers:
                detach()
        if triggered:
            found = {k: v for k, v in fired.result().items() if k != "event"}
            self.variables["wait"] = {"triggered": True, **found}
            return {"triggered": True, "trigger": found}
        self.variables["wait"] = {"triggered": False}
        if not options.continue_on_timeout:
            raise StopRun("wait_for_trigger timed out")
        return {"triggered": False}

    async def _save(self, kind: str, position: RunPosition, deadline: float | None) -> None:
        self.durable = True
        row = {
            "id": self.id,
            "automation_id": self.runtime.id,
            "kind": kind,
            "deadline": deadline,
            "frames": json.dumps(position),
            "variables": json.dumps(self.variables, default=str),
            "context": json.dumps(asdict(self.context)),
            "trace": json.dumps(self.trace.as_dict(), default=str),
            "saved": self.engine.clock.now(),
        }
        await self.engine.async_save_run(row)
