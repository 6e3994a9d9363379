"""The Hub: the one root object owning config, plugins, bus, states, storage and cameras."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hub import hookspecs
from hub.automations import AutomationEngine
from hub.bus import EventBus
from hub.cameras.discovery import DiscoveredDevice, device_seen, merge_devices
from hub.cameras.manager import CameraManager
from hub.config.issues import Issue
from hub.config.loading import LoadedConfig
from hub.detection.detectors import DetectorEntry, DetectorPool
from hub.detection.event_log import EventLog
from hub.detection.motion import CameraMotion, async_start_motion
from hub.detection.object_detector import ObjectDetector
from hub.detection.objects import ObjectLoop, async_start_objects
from hub.events import (
    Context,
    Event,
    HubStarted,
    HubStopping,
    PluginFailed,
    RecordingSaved,
)
from hub.extensions.manager import PluginInfo, PluginManager
from hub.extensions.registry import AutomationType, TypeSpec
from hub.extensions.typed_sections import check_section, types_by_name
from hub.footage.keyring import KEYS_DIRNAME, Keyring, KeyringError
from hub.footage.recordings import RecordingIndex, RecordingSegment
from hub.footage.retention import RetentionManager
from hub.footage.store import LOCK_ENTITY, FootageStore
from hub.idle import DEFAULT_IDLE_TIMEOUT, Pending, async_wait_idle
from hub.notify.message import Notifier
from hub.notify.outbox import Outbox
from hub.security.audit import AuditLog
from hub.security.redact import Redactor
from hub.security.setup_code import SetupCode
from hub.site import SiteRegistry
from hub.states import DEFAULT_HOUSE_MODE, HOUSE_MODE_ENTITY, StateRegistry
from hub.storage import Migration, Storage
from hub.tasks import OwnedTasks

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

DB_FILENAME = "camhub.db"
FOOTAGE_DIRNAME = "footage"
MODELS_DIRNAME = "models"
"""Folder of the data dir where plugins keep and look for their models."""
INDEX_FLUSH_SECONDS = 1.0
CAMERA_STOP_SECONDS = 1.5
PLUGIN_SHUTDOWN_SECONDS = 1.5
PLUGIN_STARTUP_SECONDS = 10.0
BUS_DRAIN_SECONDS = 0.5
TASK_CANCEL_SECONDS = 0.5


class HubStartError(Exception):
    """The hub cannot start; the message says why in one sentence."""


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/camhub`, or `~/.local/share/camhub`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "camhub"


def prepare_data_dir(path: Path) -> Path:
    """Create the data dir if needed (mode 0700: it holds footage, password hashes and keys,
    so no other account on the machine may list or read it) and prove it is writable, or
    raise HubStartError."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.stat().st_mode & 0o077:
            _LOGGER.info("Data dir %s was open to other users: now 0700", path)
            path.chmod(0o700)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise HubStartError(f"data dir {path} is not writable: {reason}") from None
    return path


def load_plugins(loaded: LoadedConfig, on_failed: Any = None) -> PluginManager:
    """A plugin manager with built-in, entry-point and `plugins_dir` plugins loaded."""
    manager = PluginManager(on_failed=on_failed)
    plugins_dir = None
    if loaded.config.plugins_dir:
        plugins_dir = Path(loaded.config.plugins_dir).expanduser()
        if not plugins_dir.is_absolute() and loaded.path is not None:
            plugins_dir = loaded.path.parent / plugins_dir
    manager.load_all(plugins_dir, tuple(loaded.config.plugins.disabled))
    return manager


def check_plugin_sections(loaded: LoadedConfig, manager: PluginManager) -> list[Issue]:
    """Config issues that need plugins to find: unknown notifier/detector types, bad options."""
    issues: list[Issue] = []
    for section, hook in (
        ("notifiers", hookspecs.notifier_types),
        ("detectors", hookspecs.detector_types),
    ):
        types = types_by_name(manager.call_collect(hook))
        _, found = check_section(loaded, section, getattr(loaded.config, section), types)
        issues.extend(found)
    return issues


class Hub:
    """Owns everything that lives as long as the process; passed first to every plugin hook."""

    def __init__(
        self,
        loaded: LoadedConfig,
        data_dir: Path,
        plugins: PluginManager | None = None,
        redactor: Redactor | None = None,
    ):
        self.loaded = loaded
        self.config = loaded.config
        self.data_dir = data_dir
        self.redactor = redactor or Redactor(loaded.secret_values)
        self.bus = EventBus()
        self.states = StateRegistry(self.bus)
        self.site = SiteRegistry(self.bus)
        """Other hubs on this hub's broker, once a plugin links a site."""
        self.plugins = plugins or load_plugins(loaded)
        self.plugins.on_failed = self._plugin_failed
        self.storage = Storage(data_dir / DB_FILENAME)
        self.audit = AuditLog(self.storage)
        self.setup_code = SetupCode()
        """The one-time code first-run setup needs while no user exists."""
        self.footage = FootageStore(
            data_dir / FOOTAGE_DIRNAME,
            Keyring(data_dir / KEYS_DIRNAME, self.config.storage.encryption.mode),
        )
        self.recordings = RecordingIndex(self.storage)
        self.event_log = EventLog(self.storage)
        self.retention = RetentionManager(self)
        self.cameras = CameraManager(self)
        self.notifiers: dict[str, Notifier] = {}
        self.outbox = Outbox(self)
        self.detectors: dict[str, ObjectDetector] = {}
        self.detector_pool = DetectorPool(self)
        self.notifier_types: dict[str, TypeSpec] = {}
        self.detector_types: dict[str, TypeSpec] = {}
        self.automation_types: dict[tuple[str, str], AutomationType] = {}
        self.automations = AutomationEngine(self)
        self.problems: list[str] = []
        self.motion_loops: list[CameraMotion] = []
        self.object_loops: list[ObjectLoop] = []
        self.discovered: dict[str, DiscoveredDevice] = {}
        self.started_at: float | None = None
        self.running = False
        # Short-lived tasks (a send, a snapshot): `async_block_till_done` waits for them.
        self._tasks = OwnedTasks("hub", _LOGGER)
        # Tasks that live as long as the hub or a camera (loops, connections): it does not.
        self._background = OwnedTasks("hub", _LOGGER)
        # Database writes from loop code that cannot await: awaited, not cancelled, at stop.
        self._pending_writes = OwnedTasks("database writes", _LOGGER)
        self._stop_listeners: list[Any] = []

    # ---------------------------------------------------------- lifecycle

    async def async_start(self) -> None:
        """Open storage, build plugin sections, run `startup` hooks and start cameras."""
        prepare_data_dir(self.data_dir)
        migrations: list[Migration] = []
        for plugin, migration in self.plugins.call_collect(hookspecs.storage_migrations):
            if isinstance(migration, Migration):
                migrations.append(Migration(f"{plugin}:{migration.name}", migration.apply))
        try:
            await self.storage.async_open(migrations)
        except Exception as exc:
            raise HubStartError(f"cannot open the database in {self.data_dir}: {exc}") from exc
        try:
            await asyncio.to_thread(self.footage.keyring.ensure_ready)
        except KeyringError as exc:
            raise HubStartError(str(exc)) from None
        self.states.async_set(LOCK_ENTITY, self.footage.lock_state())
        await self._async_build_typed_sections()
        self._collect_automation_types()
        await self.outbox.async_start()
        # Before plugins start: the first thing an MQTT notifier publishes is the kept state.
        await self.cameras.async_restore_armed()
        self._stop_listeners.append(
            self.bus.async_listen("plugins:event_published", self._forward_event)
        )
        await self.plugins.async_call(
            hookspecs.startup, time_limit=PLUGIN_STARTUP_SECONDS, hub=self
        )
        self.async_set_mode(DEFAULT_HOUSE_MODE)
        # Before the cameras, so their first state changes can trigger automations.
        await self._async_start_automations()
        await self.cameras.async_start()
        self.motion_loops = await async_start_motion(self)
        self.object_loops = await async_start_objects(self)
        self.async_create_background_task(self.retention.async_run(), "retention")
        self.running = True
        self.started_at = time.time()
        self.bus.publish(HubStarted())
        _LOGGER.info(
            "Hub started: %d camera(s), %d plugin(s), data in %s",
            len(self.cameras),
            len(self.plugins.infos),
            self.data_dir,
        )

    async def async_stop(self) -> None:
        """Staged stop: cameras, then plugins, then queued writes; well within 5 s."""
        if not self.running:
            await self.storage.async_close()
            self.footage.keyring.release()
            return
        self.running = False
        started = time.monotonic()
        self.bus.publish(HubStopping())
        # First: a camera going down at shutdown is no reason to notify anyone.
        self.automations.stop_triggers()
        # Motion loops end first, so their last event rows are written before storage closes.
        for objects in self.object_loops:
            objects.stop()
        for motion in self.motion_loops:
            motion.stop()
        await self.cameras.async_stop(CAMERA_STOP_SECONDS)
        await self.automations.async_stop()
        await self._pending_writes.async_wait(INDEX_FLUSH_SECONDS)
        # Let plugins see hub_stopping and the cameras going down before they stop.
        await self.bus.async_drain(BUS_DRAIN_SECONDS)
        await self.outbox.async_stop()
        await self.plugins.async_call(
            hookspecs.shutdown, time_limit=PLUGIN_SHUTDOWN_SECONDS, hub=self
        )
        await self._async_close_built()
        for stop in self._stop_listeners:
            stop()
        # Both sets at once, so the stop waits TASK_CANCEL_SECONDS at most.
        await asyncio.gather(
            self._tasks.async_cancel(TASK_CANCEL_SECONDS),
            self._background.async_cancel(TASK_CANCEL_SECONDS),
        )
        await self.bus.async_close()
        await self.storage.async_close()
        self.footage.keyring.release()
        _LOGGER.info("Hub stopped in %.2f s", time.monotonic() - started)

    def async_create_task(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        """Start a short-lived task the hub owns: kept referenced, cancelled on stop, errors
        logged, and waited for by `async_block_till_done`."""
        return self._tasks.spawn(coro, name)

    def async_create_background_task(
        self, coro: Coroutine[Any, Any, T], name: str
    ) -> asyncio.Task[T]:
        """Start a task that lives as long as the hub or a camera (a loop, a connection):
        owned like `async_create_task`, but `async_block_till_done` does not wait for it."""
        return self._background.spawn(coro, name)

    async def async_block_till_done(self, timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        """Wait until the hub is idle: bus listeners done with what is queued, short-lived
        tasks (automation runs, notifications being sent, snapshots, index writes) ended,
        traces and the database writer flushed. Raises `hub.idle.NotIdleError` (a
        TimeoutError naming what is still busy) after `timeout` s.

        For tests and embedders; never call it from a bus listener or a hook (it would
        wait for itself). Work paced from outside (a camera's frames, a broker, a timer
        not yet due, an automation run waiting in a delay) is not waited for.
        """
        flushes = [self.automations.async_flush, self.storage.async_flush]
        await async_wait_idle(
            (self.bus.pending, self._pending_tasks, self.automations.pending, self.outbox.pending),
            flushes if self.running else (),
            timeout,
        )

    def _pending_tasks(self) -> list[Pending]:
        return [
            Pending(f"task {task.get_name()}", task)
            for task in (*self._tasks, *self._pending_writes)
        ]

    # ---------------------------------------------------------- plugins

    def _plugin_failed(self, info: PluginInfo) -> None:
        self.problems.append(f"plugin {info.name} disabled after repeated failures: {info.error}")
        self.bus.publish(PluginFailed(plugin=info.name, reason=info.error or ""))

    async def _forward_event(self, event: Event) -> None:
        await self.plugins.async_call(hookspecs.event_published, hub=self, event=event)

    async def _async_build_typed_sections(self) -> None:
        sections = (
            ("notifiers", hookspecs.notifier_types, self.notifier_types, self.notifiers),
            ("detectors", hookspecs.detector_types, self.detector_types, self.detectors),
        )
        for section, hook, types, built in sections:
            types.update(types_by_name(self.plugins.call_collect(hook)))
            good, issues = check_section(self.loaded, section, getattr(self.config, section), types)
            for issue in issues:
                # A bad notifier must not stop the cameras: report it and go on.
                self.problems.append(str(issue))
                _LOGGER.error("%s", issue)
            for entry in good:
                if section == "detectors":
                    self.detector_pool.entries[entry.entry_id] = DetectorEntry(
                        entry.spec.name, entry.options.summary()
                    )
                try:
                    # In a thread: loading a model can take seconds on a Pi, and the
                    # panel is already answering.
                    built[entry.entry_id] = await asyncio.to_thread(
                        entry.spec.create, self, entry.entry_id, entry.options
                    )
                except Exception as exc:
                    if section == "detectors":
                        self.detector_pool.failed_to_build(entry.entry_id, exc)
                        continue
                    message = f"{section}.{entry.entry_id}: could not start: {exc}"
                    self.problems.append(self.redactor(message))
                    _LOGGER.exception("%s", self.redactor(message))
        # With no `detectors` section, a plugin's default is built when a camera first needs it.
        self.detector_pool.offer_default(self.detector_types)

    async def _async_close_built(self) -> None:
        """Close every notifier and detector that has `async_close` (sessions, connections)."""
        built = [*self.notifiers.items(), *self.detectors.items()]
        closers = [(name, obj.async_close()) for name, obj in built if hasattr(obj, "async_close")]
        if not closers:
            return
        results = await asyncio.gather(
            *(asyncio.wait_for(closing, PLUGIN_SHUTDOWN_SECONDS) for _, closing in closers),
            return_exceptions=True,
        )
        for (name, _), result in zip(closers, results, strict=True):
            if isinstance(result, BaseException):
                _LOGGER.warning("Closing %s failed: %r", name, result)

    async def _async_start_automations(self) -> None:
        try:
            await self.automations.async_start()
        except Exception as exc:
            # Automations are worth a lot, but not the cameras: report and go on.
            self.problems.append(self.redactor(f"automations could not start: {exc}"))
            _LOGGER.exception("Automations could not start")

    def _collect_automation_types(self) -> None:
        for plugin, spec in self.plugins.call_collect(hookspecs.automation_types):
            if isinstance(spec, AutomationType):
                named = dataclasses.replace(spec, plugin=spec.plugin or plugin)
                self.automation_types.setdefault((spec.kind, spec.name), named)
                _LOGGER.debug("Automation %s type %s from %s", spec.kind, spec.name, plugin)

    # ---------------------------------------------------------- services

    async def async_discover(self, timeout: float) -> list[DiscoveredDevice]:
        """Ask every discovery plugin to scan for `timeout` s; merge and remember the result."""
        found: list[DiscoveredDevice] = []
        answers = await self.plugins.async_call(
            hookspecs.discover_devices, time_limit=timeout + 5, hub=self, timeout=timeout
        )
        for answer in answers:
            found.extend(d for d in answer if isinstance(d, DiscoveredDevice))
        devices = merge_devices(found)
        for device in devices:
            device_seen(self, device)
        return devices

    @property
    def models_dir(self) -> Path:
        """Where plugins keep and look for their models (`camhub models install` fills it)."""
        return self.data_dir / MODELS_DIRNAME

    def async_set_mode(self, mode: str, context: Context | None = None) -> None:
        """Set the house mode (`home`, `away`, `night`, ...): state `mode.house`."""
        self.states.async_set(HOUSE_MODE_ENTITY, mode, context=context)

    @property
    def mode(self) -> str:
        """The house mode now."""
        state = self.states.get(HOUSE_MODE_ENTITY)
        return state.state if state else DEFAULT_HOUSE_MODE

    def recording_finished(self, segment: RecordingSegment) -> None:
        """Sources call this (on the loop) when a segment file is complete: index it."""
        runtime = self.cameras.get(segment.camera)
        if runtime is not None and runtime.motion.overlaps(segment.start, segment.end):
            segment = dataclasses.replace(segment, has_motion=True)
        self._pending_writes.spawn(self._index_segment(segment), f"index {segment.path}")

    async def _index_segment(self, segment: RecordingSegment) -> None:
        try:
            segment_id = await self.recordings.async_add(segment)
        except Exception:
            _LOGGER.exception("Could not index segment %s", segment.path)
            return
        self.bus.publish(
            RecordingSaved(
                camera=segment.camera,
                segment_id=segment_id,
                start=segment.start,
                end=segment.end,
                bytes=segment.bytes,
            )
        )
        await self.plugins.async_call(
            hookspecs.event_stored, hub=self, table="recordings", record=segment.as_dict()
        )

    async def async_event_clip(self, event: Mapping[str, Any]) -> str | None:
        """Footage path of an event's clip (pre/post roll included), made on first request."""
        camera = self.cameras.get(str(event["camera"]))
        record = camera.config.record if camera else None
        pre = record.pre_seconds if record else 0.0
        post = record.post_seconds if record else 0.0
        start = float(event["start"]) - pre
        end = float(event["end"] or event["start"]) + post
        relpath = f"clips/{event['camera']}/{event['id']}.mp4"
        if self.footage.exists(relpath):
            return relpath
        segments = await self.recordings.async_segments(str(event["camera"]), start, end)
        if not segments:
            return None
        result = await self.plugins.async_call_first(
            hookspecs.export_clip,
            hub=self,
            segments=segments,
            start=start,
            end=end,
            relpath=relpath,
        )
        return str(result) if result else None

    async def async_insert(
        self,
        table: str,
        record: Mapping[str, Any],
        replace: bool = False,
        upsert: bool = False,
    ) -> None:
        """Write one row through the single writer, then tell `event_stored` plugins.

        `replace` replaces a row with the same primary key; `upsert` updates only the
        columns `record` gives of that row (others, a snapshot path written meanwhile, stay).
        """
        row = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in record.items()}
        if upsert:

            def write(db: Any) -> None:
                rows = db.table(table)
                rows.upsert(row, pk=rows.pks)

            await self.storage.async_write(write)
        else:
            await self.storage.async_write(lambda db: db.table(table).insert(row, replace=replace))
        await self.plugins.async_call(
            hookspecs.event_stored, hub=self, table=table, record=dict(record)
        )

    def async_store_later(self, table: str, record: Mapping[str, Any]) -> None:
        """Insert a row, or update the columns it gives of the row with the same primary key,
        from loop code that cannot await; flushed before stop."""
        self._pending_writes.spawn(self.async_insert(table, record, upsert=True), f"{table} row")

    def health(self) -> dict[str, Any]:
        """Liveness and a summary for `/api/health` (no secrets, no footage)."""
        failed = [i.name for i in self.plugins.list_plugins() if i.state in ("failed", "error")]
        return {
            "status": "ok" if self.running else "stopped",
            "uptime": round(time.time() - self.started_at, 1) if self.started_at else 0.0,
            "cameras": {s.entity_id: s.state for s in self.states.all("camera")},
            "plugins_failed": failed,
            "problems": [self.redactor(p) for p in self.problems],
            "bus": {
                "published": self.bus.published,
                "dropped": sum(s.dropped for s in self.bus.stats()),
            },
        }
