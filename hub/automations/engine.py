"""The automations engine: builds automations, routes events to triggers, applies run modes."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hub.automations import store
from hub.automations.builder import Builder
from hub.automations.catalog import builtin_types, type_info
from hub.automations.clock import Clock, RealClock
from hub.automations.model import CheckEnv
from hub.automations.runner import Resume, Run
from hub.automations.runtime import PROBLEM_PREFIX, AutomationRuntime
from hub.automations.schedule import house_zone
from hub.automations.trace import Trace
from hub.automations.triggers import EventDispatcher
from hub.config.issues import Issue
from hub.config.loading import ConfigError, load_config
from hub.config.models import AutomationConfig
from hub.events import (
    CameraAdded,
    CameraChanged,
    Context,
    Event,
    EventEnded,
    EventStarted,
    EventUpdated,
    MotionEnded,
    MotionStarted,
    OnvifEvent,
    PeerEvent,
    StateChanged,
)
from hub.extensions.registry import AutomationType
from hub.idle import Pending
from hub.tasks import OwnedTasks

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
LISTENED_EVENTS = (
    MotionStarted,
    MotionEnded,
    EventStarted,
    EventUpdated,
    EventEnded,
    StateChanged,
    OnvifEvent,
    PeerEvent,
    CameraAdded,
    CameraChanged,
)
EVENT_QUEUE_SIZE = 10_000
TRACE_FLUSH_SECONDS = 0.5
CONTEXT_MEMORY = 2000
"""Run contexts remembered to link a run to the run of another automation that caused it."""
Webhook = Callable[[Any, Context], None]


class FileOwnedError(Exception):
    """The automation belongs to the config file; the message says how to change it."""


def file_configs(automations: list[AutomationConfig]) -> list[dict[str, Any]]:
    """The config file's automations as stored: only the keys written in the file."""
    return [a.model_dump(by_alias=True, exclude_unset=True) for a in automations]


class AutomationEngine:
    """Owns every automation; `hub.automations`."""

    def __init__(self, hub: Hub, clock: Clock | None = None):
        self.hub = hub
        self.clock: Clock = clock or RealClock()
        self.tz = house_zone(hub.config.location.time_zone)
        self.dispatcher = EventDispatcher()
        self.types: dict[tuple[str, str], AutomationType] = {}
        self.automations: dict[str, AutomationRuntime] = {}
        self.running = False
        self._webhooks: dict[str, Webhook] = {}
        self._tasks = OwnedTasks("automations", _LOGGER)
        self._pending_traces: dict[str, Trace] = {}
        self._contexts: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._stop_listener: Callable[[], None] | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    # ---------------------------------------------------------- lifecycle

    async def async_start(self) -> None:
        """Load the config file's automations over the stored ones, build, attach, resume."""
        self.load_types()
        storage = self.hub.storage
        configs = file_configs(self.hub.config.automations)
        report = await storage.async_write(lambda db: store.sync_file(db, configs))
        self._log_sync(report)
        rows = await storage.async_read(store.load_automations)
        self.running = True
        for row in rows:
            runtime = AutomationRuntime(self, row)
            self.automations[runtime.id] = runtime
            runtime.build()
            runtime.start()
        await self._async_resume_runs()
        self._stop_listener = self.hub.bus.async_listen(
            "automations", self._on_event, LISTENED_EVENTS, EVENT_QUEUE_SIZE
        )
        self._flush_task = asyncio.get_running_loop().create_task(self._flush_loop())

    def _log_sync(self, report: store.FileSync) -> None:
        where = self.file_name
        _LOGGER.info("Automations from %s: %s", where, report.summary())
        for automation_id in report.taken_over:
            _LOGGER.warning(
                "Automation %s is now defined in %s: it replaces the one made in the panel",
                automation_id,
                where,
            )

    @property
    def file_name(self) -> str:
        """The config file's name as people know it (`config.yaml`)."""
        path = self.hub.loaded.path
        return path.name if path is not None else "the embedded default config"

    async def async_reload_file(self) -> store.FileSync:
        """Read the config file again and apply its `automations:` (the panel's stay).

        Raises ConfigError, changing nothing, when the file does not load."""
        path = self.hub.loaded.path
        if path is None:
            raise ConfigError(
                [Issue("", "no config file to reload", filename="<embedded default>")]
            )
        loaded = await asyncio.to_thread(load_config, path)
        configs = file_configs(loaded.config.automations)
        async with self._lock:
            report = await self.hub.storage.async_write(lambda db: store.sync_file(db, configs))
            rows = {r["id"]: r for r in await self.hub.storage.async_read(store.load_automations)}
            for automation_id in report.touched():
                old = self.automations.pop(automation_id, None)
                if old is not None:
                    await old.async_stop("reloaded")
                    self._forget_problem(automation_id)
                row = rows.get(automation_id)
                if row is not None:
                    runtime = AutomationRuntime(self, row)
                    self.automations[automation_id] = runtime
                    runtime.build()
                    runtime.start()
        self._log_sync(report)
        return report

    def _forget_problem(self, automation_id: str) -> None:
        prefix = PROBLEM_PREFIX.format(automation_id)
        self.hub.problems[:] = [p for p in self.hub.problems if not p.startswith(prefix)]

    def stop_triggers(self) -> None:
        """Stop listening and cancel runs at once (no await: shutdown goes on meanwhile)."""
        if not self.running:
            return
        self.running = False
        if self._stop_listener is not None:
            self._stop_listener()
            self._stop_listener = None
        for runtime in self.automations.values():
            runtime.stop("shutdown")

    async def async_stop(self) -> None:
        """Detach everything; waiting runs stay stored and resume at the next start."""
        self.stop_triggers()
        await self._tasks.async_wait()
        if self._flush_task is not None:
            self._flush_task.cancel()
            await asyncio.gather(self._flush_task, return_exceptions=True)
            self._flush_task = None
        await self.async_flush()

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """A task the engine owns (awaited at stop, after its runs were told to end)."""
        return self._tasks.spawn(coro, name)

    def pending(self) -> list[Pending]:
        """Runs under way and the engine's own short tasks; a run waiting in a delay or
        for a trigger waits on time or the outside, so it is not pending (see `hub.idle`)."""
        runs = {run.task: run for runtime in self.automations.values() for run in runtime.runs}
        found = []
        for task in self._tasks:
            run = runs.get(task)
            if run is None:
                found.append(Pending(f"task {task.get_name()}", task))
            elif not run.waiting:
                # Done when the run ends or starts to wait, whichever comes first.
                found.append(Pending(f"run of automation {run.runtime.id}", run.paused()))
        return found

    def load_types(self) -> None:
        """Built-in types, then those plugins offer (`hub.automation_types`)."""
        for spec in builtin_types():
            self.types[(spec.kind, spec.name)] = spec
        for key, spec in self.hub.automation_types.items():
            if key in self.types:
                _LOGGER.warning("Plugin %s: %s type %s is built in", spec.plugin, *key)
                continue
            self.types[key] = spec

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CameraAdded | CameraChanged):
            self._recheck_invalid()
        try:
            self.dispatcher.dispatch(event)
        except Exception:
            _LOGGER.exception("An automation trigger failed on %s", event.event_type)

    def _recheck_invalid(self) -> None:
        """A camera added (or given zones) at run time may be what an invalid automation
        named: check those again, and start the ones that are valid now."""
        for runtime in list(self.automations.values()):
            if runtime.issues:
                runtime.build()
                runtime.start()

    # ---------------------------------------------------------- building

    def check_env(self) -> CheckEnv:
        """What automations are checked against now."""
        location = self.hub.config.location
        return CheckEnv(
            cameras={
                camera_id: frozenset(runtime.config.zones)
                for camera_id, runtime in self.hub.cameras.items()
            },
            notifiers=frozenset(self.hub.notifiers),
            has_location=location.latitude is not None and location.longitude is not None,
        )

    def validate(self, data: Any, env: CheckEnv | None = None) -> list[Issue]:
        """Every problem with an automation, without building anything."""
        builder = Builder(self, env or self.check_env(), build=False)
        builder.automation(data)
        return builder.issues

    # ---------------------------------------------------------- changes (API)

    async def async_save(self, data: dict[str, Any], create: bool) -> list[Issue]:
        """Create or replace an automation; applies at once. Returns issues (nothing saved)."""
        issues = self.validate(data)
        automation_id = data.get("id")
        current = self.automations.get(str(automation_id))
        if not issues and create and current is not None:
            issues = [Issue("id", f"an automation '{automation_id}' exists already")]
        if not issues and current is not None and current.source == store.FILE:
            issues = [Issue("", self.file_owned_message())]
        if issues:
            return issues
        # An edit that does not say `enabled` keeps the automation on or off as it was.
        enabled = bool(data.get("enabled", current.enabled if current and not create else True))
        async with self._lock:
            await self.hub.storage.async_write(lambda db: store.save_automation(db, data, enabled))
            old = self.automations.get(str(automation_id))
            if old is not None:
                await old.async_stop("changed")
            row = {"id": str(automation_id), "config": data, "enabled": enabled}
            if old is not None:
                row.update(snoozed_until=old.snoozed_until, last_triggered=old.last_triggered)
            runtime = AutomationRuntime(self, row)
            self.automations[runtime.id] = runtime
            runtime.build()
            runtime.start()
        return []

    def file_owned_message(self) -> str:
        """Why an automation from the config file cannot be changed here."""
        return (
            f"defined in {self.file_name}: edit it there, then reload "
            "(`camhub automations reload`, the panel's Reload, or a restart)"
        )

    async def async_delete(self, automation_id: str) -> bool:
        """Remove an automation made in the panel, its traces and waiting runs."""
        runtime = self.automations.get(automation_id)
        if runtime is None:
            return False
        if runtime.source == store.FILE:
            raise FileOwnedError(self.file_owned_message())
        del self.automations[automation_id]
        await runtime.async_stop("deleted")
        self._pending_traces = {
            k: t for k, t in self._pending_traces.items() if t.automation_id != automation_id
        }
        await self.hub.storage.async_write(lambda db: store.delete_automation(db, automation_id))
        return True

    async def async_set_enabled(self, automation_id: str, enabled: bool) -> None:
        """Turn on or off (off cancels running runs)."""
        runtime = self.automations[automation_id]
        runtime.enabled = enabled
        await runtime.async_stop("disabled")
        if runtime.source == store.FILE:
            # The file's text stays as written: the switch holds until the file changes it.
            await self.hub.storage.async_write(
                lambda db: store.set_fields(db, automation_id, enabled=int(enabled))
            )
        else:
            config = {**runtime.config, "enabled": enabled}
            runtime.config = config
            await self.hub.storage.async_write(
                lambda db: store.save_automation(db, config, enabled)
            )
        runtime.start()

    async def async_snooze(self, automation_id: str, until: float | None) -> None:
        """Ignore triggers until `until` (None: wake up now)."""
        runtime = self.automations[automation_id]
        runtime.snoozed_until = until
        await self.hub.storage.async_write(
            lambda db: store.set_fields(db, automation_id, snoozed_until=until)
        )

    def async_run(
        self, automation_id: str, variables: dict[str, Any], skip_conditions: bool, context: Context
    ) -> Trace | None:
        """Trigger by hand (the API's `run`)."""
        runtime = self.automations[automation_id]
        base = {"trigger": "manual", **variables}
        return runtime.trigger(base, context, skip_conditions=skip_conditions, manual=True)

    # ---------------------------------------------------------- webhooks

    def register_webhook(self, webhook_id: str, callback: Webhook) -> Callable[[], None]:
        """Route calls of /api/webhook/<webhook_id> to `callback` until detached."""
        self._webhooks[webhook_id] = callback

        def detach() -> None:
            if self._webhooks.get(webhook_id) is callback:
                del self._webhooks[webhook_id]

        return detach

    def call_webhook(self, webhook_id: str, payload: Any) -> bool:
        """Fire the trigger behind a webhook id; False if no automation listens on it."""
        callback = self._webhooks.get(webhook_id)
        if callback is None:
            return False
        callback(payload, Context())
        return True

    # ---------------------------------------------------------- traces

    def cause_of(self, parent_id: str | None) -> dict[str, str] | None:
        """The run (automation and trace) whose context caused this one, if known."""
        return self._contexts.get(parent_id) if parent_id else None

    def remember_context(self, run: Run) -> None:
        """Keep a run's context to link what it causes."""
        self._contexts[run.context.id] = {"automation_id": run.runtime.id, "trace_id": run.trace.id}
        while len(self._contexts) > CONTEXT_MEMORY:
            self._contexts.popitem(last=False)

    def trace_done(self, trace: Trace) -> None:
        """Queue a finished trace for the next batched write."""
        self._pending_traces[trace.id] = trace

    def active_traces(self, automation_id: str) -> list[Trace]:
        """Traces of runs still going or queued, and of those not yet written."""
        runtime = self.automations.get(automation_id)
        live = [r.trace for r in runtime.runs] + [r.trace for r in runtime.queue] if runtime else []
        pending = [t for t in self._pending_traces.values() if t.automation_id == automation_id]
        return live + pending

    async def async_traces(self, automation_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Newest first: live and pending traces, then stored ones."""
        recent = {t.id: t for t in self.active_traces(automation_id)}
        stored = await self.hub.storage.async_read(
            lambda db: store.load_traces(db, automation_id, limit)
        )
        for trace in stored:
            recent.setdefault(trace.id, trace)
        ordered = sorted(recent.values(), key=lambda t: t.started, reverse=True)[:limit]
        return [t.as_dict() for t in ordered]

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(TRACE_FLUSH_SECONDS)
            try:
                await self.async_flush()
            except Exception:
                _LOGGER.exception("Writing automation traces failed")

    async def async_flush(self) -> None:
        """Write pending traces (pruned to `trace.keep`) and last-triggered times."""
        if not self._pending_traces:
            return
        traces = list(self._pending_traces.values())
        self._pending_traces.clear()
        keep = {}
        triggered = {}
        for trace in traces:
            runtime = self.automations.get(trace.automation_id)
            if runtime is not None:
                keep[runtime.id] = runtime.keep
                triggered[runtime.id] = runtime.last_triggered

        def write(db: Any) -> None:
            store.save_traces(db, traces, keep)
            for automation_id, when in triggered.items():
                store.set_fields(db, automation_id, last_triggered=when)

        await self.hub.storage.async_write(write)

    # ---------------------------------------------------------- durable runs

    async def async_save_run(self, row: dict[str, Any]) -> None:
        """Store a waiting run."""
        await self.hub.storage.async_write(lambda db: store.save_run(db, row))

    async def async_forget_run(self, run_id: str) -> None:
        """Drop a stored run that no longer waits."""
        if self.hub.storage is not None:
            await self.hub.storage.async_write(lambda db: store.delete_run(db, run_id))

    async def _async_resume_runs(self) -> None:
        rows = await self.hub.storage.async_read(store.load_runs)
        now = self.clock.now()
        for row in rows:
            trace = _trace_from_dict(json.loads(row["trace"]))
            runtime = self.automations.get(row["automation_id"])
            deadline = row["deadline"]
            reason = None
            if runtime is None or runtime.built is None or not runtime.enabled:
                reason = "the automation is gone, off or invalid"
            elif deadline is not None and deadline <= now:
                reason = f"{row['kind']} ended while the hub was down"
            if reason is not None:
                trace.state = "expired"
                trace.error = reason
                trace.finished = now
                if trace.steps:
                    trace.steps[-1].update(state="expired", end=now)
                self.trace_done(trace)
                await self.async_forget_run(row["id"])
                _LOGGER.warning(
                    "Automation %s: waiting run expired: %s", trace.automation_id, reason
                )
                continue
            assert runtime is not None
            context = Context(**json.loads(row["context"]))
            run = Run(runtime, json.loads(row["variables"]), context, trace, run_id=row["id"])
            run.durable = True
            position = [(str(path), int(index)) for path, index in json.loads(row["frames"])]
            runtime.launch(run, Resume(position, row["kind"], deadline))
            _LOGGER.info("Automation %s: resumed a run waiting in %s", runtime.id, row["kind"])

    # ---------------------------------------------------------- listing

    def types_info(self) -> list[dict[str, Any]]:
        """Every trigger, condition and action type with its JSON schema: built-in ones in
        the catalog's order (the most used first), then plugins' by name."""
        order = {"trigger": 0, "condition": 1, "action": 2}
        position = {key: i for i, key in enumerate(self.types)}
        specs = sorted(
            self.types.values(),
            key=lambda s: (order[s.kind], s.plugin != "builtin", s.plugin != "builtin" and s.name,
                           position[(s.kind, s.name)]),
        )  # fmt: skip
        return [type_info(spec) for spec in specs]


def _trace_from_dict(data: dict[str, Any]) -> Trace:
    return Trace(**data)
