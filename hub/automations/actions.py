"""Built-in actions that do something: notify, record, snapshot, set the house mode."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlite_utils

from hub.automations.model import (
    DetectionActionOptions,
    NotifyActionOptions,
    RecordActionOptions,
    SetModeActionOptions,
    SnapshotActionOptions,
    WatchActionOptions,
)
from hub.automations.templates import render
from hub.events import Context
from hub.notify.message import Message

if TYPE_CHECKING:
    from hub.automations.engine import AutomationEngine

SNAPSHOT_DIR = "snapshots/automations"


class ActionError(Exception):
    """An action could not do its job; the message goes into the trace."""


def _camera(engine: AutomationEngine, wanted: str | None, variables: Mapping[str, Any]) -> str:
    camera = wanted or variables.get("camera")
    if not isinstance(camera, str) or not camera:
        raise ActionError("no camera: set `camera`, or use a trigger that has one")
    if camera not in engine.hub.cameras:
        raise ActionError(f"unknown camera '{camera}'")
    return camera


class NotifyAction:
    """Queue a message in the outbox (which stores, rate-limits and retries it)."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: NotifyActionOptions):
        self.engine = engine
        self.automation_id = automation_id
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Render the texts, take the picture if asked, enqueue."""
        options = self.options
        engine = self.engine
        now = engine.clock.now()
        title_template = options.title or str(variables.get("alias") or self.automation_id)
        title = render(title_template, variables, now, engine.tz)
        body = render(options.message, variables, now, engine.tz)
        event_id = variables.get("event_id")
        event_id = event_id if isinstance(event_id, str) else None
        snapshot = None
        if options.snapshot:
            snapshot = await engine.hub.cameras.async_snapshot(
                _camera(engine, options.camera, variables)
            )
        clip_url = f"/api/events/{event_id}/clip.mp4" if options.clip and event_id else None
        message = Message(
            title=title,
            body=body,
            priority=options.priority,
            tags=tuple(options.tags),
            snapshot_jpeg=snapshot,
            clip_url=clip_url,
            event_id=event_id,
            context=context,
        )
        if options.notifier not in engine.hub.notifiers:
            raise ActionError(f"notifier '{options.notifier}' is not running")
        message_id = await engine.hub.outbox.async_enqueue(
            options.notifier, message, automation_id=self.automation_id, cooldown=options.cooldown
        )
        return {
            "notifier": options.notifier,
            "message_id": message_id,
            "dropped": message_id is None,
            "snapshot": snapshot is not None,
            "body": body,
        }


def _keep_event(db: sqlite_utils.Database, event_id: str) -> int:
    return db.execute("update events set keep = 1 where id = ?", [event_id]).rowcount


class RecordAction:
    """Hold recording for N seconds and/or mark the trigger's event `keep`."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: RecordActionOptions):
        self.engine = engine
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Extend the recording window; flag the event."""
        result: dict[str, Any] = {}
        hub = self.engine.hub
        if self.options.seconds is not None:
            camera = _camera(self.engine, self.options.camera, variables)
            # The recorder compares with the system clock, not the automation clock.
            until = time.time() + self.options.seconds
            hub.cameras.hold_recording(camera, until)
            result.update(camera=camera, record_until=until)
        if self.options.keep:
            event_id = variables.get("event_id")
            if not isinstance(event_id, str):
                raise ActionError("keep: the trigger has no event")
            changed = await hub.storage.async_write(lambda db: _keep_event(db, event_id))
            result.update(event_id=event_id, kept=bool(changed))
        return result


class WatchAction:
    """Have a camera decode and examine every frame for a while (adaptive decoding)."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: WatchActionOptions):
        self.engine = engine
        self.automation_id = automation_id
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Ask for full decoding; motion found meanwhile keeps it on longer, as usual."""
        camera = _camera(self.engine, self.options.camera, variables)
        reason = f"automation {self.automation_id}"
        self.engine.hub.cameras.request_full_decode(camera, reason, self.options.seconds)
        return {"camera": camera, "seconds": self.options.seconds}


class SnapshotAction:
    """Save the camera's current picture under footage `snapshots/automations/`."""

    def __init__(
        self, engine: AutomationEngine, automation_id: str, options: SnapshotActionOptions
    ):
        self.engine = engine
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Take and store the picture."""
        camera = _camera(self.engine, self.options.camera, variables)
        jpeg = await self.engine.hub.cameras.async_snapshot(camera)
        if not jpeg:
            raise ActionError(f"camera '{camera}' gave no picture")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.engine.clock.now()))
        relpath = f"{SNAPSHOT_DIR}/{camera}/{stamp}-{context.id}.jpg"
        footage = self.engine.hub.footage

        def write() -> int:
            out = footage.create(relpath)
            try:
                out.write(jpeg)
                return out.finish()
            except BaseException:
                out.abort()
                raise

        size = await asyncio.to_thread(write)
        return {"camera": camera, "path": relpath, "bytes": size}


class SetModeAction:
    """Set the house mode (with the run's context, so what it triggers links back)."""

    def __init__(self, engine: AutomationEngine, automation_id: str, options: SetModeActionOptions):
        self.engine = engine
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Change `mode.house`."""
        previous = self.engine.hub.mode
        self.engine.hub.async_set_mode(self.options.mode, context)
        return {"mode": self.options.mode, "previous": previous}


class DetectionAction:
    """Arm or disarm detection on one camera or all (state `detection.<camera>`)."""

    def __init__(
        self, engine: AutomationEngine, automation_id: str, options: DetectionActionOptions
    ):
        self.engine = engine
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Switch detection; a camera removed since the automation was made is an error."""
        cameras = self.engine.hub.cameras
        wanted = self.options.camera
        if wanted is not None and wanted not in cameras:
            raise ActionError(f"unknown camera '{wanted}'")
        chosen = [wanted] if wanted is not None else list(cameras)
        for camera_id in chosen:
            cameras.set_armed(camera_id, self.options.enabled)
        return {"cameras": chosen, "enabled": self.options.enabled}
