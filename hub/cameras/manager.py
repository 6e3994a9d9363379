"""Starts each configured camera's source under a supervisor and tracks its state."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hub import hookspecs
from hub.cameras.added import AddedCameraStore
from hub.cameras.decoding import DecodeControl
from hub.cameras.source import CameraError, CameraSource, SnapshotSource, StatsSource
from hub.config.models import CameraConfig
from hub.detection.frames import FrameFeed
from hub.detection.motion import MotionTimeline, async_start_motion
from hub.detection.objects import async_start_objects
from hub.detection.snapshots import async_redact_snapshot
from hub.events import CameraAdded, CameraChanged, CameraRemoved
from hub.security.redact import redact_url

if TYPE_CHECKING:
    from hub.core import Hub

_LOGGER = logging.getLogger(__name__)
BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0
DETECTION_TABLE = "camera_detection"
SNAPSHOT_FULL_SECONDS = 5.0
"""How long a snapshot keeps an idle camera decoding every frame."""
PRIVACY_PUSH_TIMEOUT = 30.0
"""Longest a camera's start waits for plugins to have the camera burn its masks in."""


def entity_id(camera_id: str) -> str:
    """The state entity of a camera."""
    return f"camera.{camera_id}"


def _stream_keys(config: CameraConfig) -> CameraConfig:
    """The config without what only detection reads: if this differs, the stream restarts."""
    return config.model_copy(
        update={"zones": {}, "masks": [], "motion": None, "objects": None, "snapshots": None}
    )


def backoff_delay(attempt: int) -> float:
    """Exponential back-off from 1 s to 30 s with full jitter on the upper half."""
    ceiling = min(BACKOFF_MAX, BACKOFF_MIN * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class CameraRuntime:
    """One camera's config, source and supervising task."""

    camera_id: str
    config: CameraConfig
    source: CameraSource | None = None
    task: asyncio.Task[None] | None = None
    failures: int = 0
    frames: FrameFeed = field(default_factory=FrameFeed)
    """Detection frames from the source; detectors attach to it."""
    motion: MotionTimeline = field(default_factory=MotionTimeline)
    """Recent motion intervals, to flag recorded segments."""
    armed: bool = True
    """Detection runs while armed; disarmed, frames are not examined (recording goes on)."""
    record_until: float = 0.0
    """In `events` mode, keep recording until this wall-clock time."""
    privacy_masks_at: Literal["camera", "hub"] | None = None
    """Who burns the privacy masks in: the camera itself (its stream is used as it is) or the
    hub (decode, mask, re-encode); None without privacy masks. Sources must honour it."""
    decode: DecodeControl = field(default_factory=DecodeControl)
    """Adaptive decoding: who wants every frame decoded, and what the source decodes."""

    def __post_init__(self) -> None:
        self.decode.configure(self.config.detect.decode, self.config.detect.idle_after)

    @property
    def name(self) -> str:
        """Display name."""
        return self.config.name or self.camera_id

    def as_dict(self, hub: Hub) -> dict[str, object]:
        """JSON-ready public view: URLs have their passwords removed."""
        state = hub.states.get(entity_id(self.camera_id))
        return {
            "id": self.camera_id,
            "name": self.name,
            "enabled": self.config.enabled,
            "url": hub.redactor(redact_url(self.config.url)),
            "detect_url": hub.redactor(redact_url(self.config.detect_url))
            if self.config.detect_url
            else None,
            "record_mode": self.config.record.mode,
            "armed": self.armed,
            "removable": self.camera_id not in hub.config.cameras,
            "privacy_masks": self.privacy_masks_at,
            "state": state.state if state else "unknown",
            "reason": state.attributes.get("reason") if state else None,
            "detect_frames": {"delivered": self.frames.delivered, "dropped": self.frames.dropped},
            "decode": self.decode.as_dict(),
            "objects": hub.detector_pool.describe(self.camera_id),
            "stats": self.source.stats_dict() if isinstance(self.source, StatsSource) else {},
        }


class CameraManager(Mapping[str, CameraRuntime]):
    """Creates sources through the `camera_source` hook and keeps them running.

    `hub.cameras` is also a read-only mapping of camera id to its `CameraRuntime`:
    `hub.cameras["front"]`, `"front" in hub.cameras`, `hub.cameras.items()`. Cameras come
    and go through `async_add` and `async_remove` only.
    """

    def __init__(self, hub: Hub):
        self.hub = hub
        # Each camera's `objects` is completed from the top-level `objects` defaults here,
        # wherever it came from (config file, panel, discovery).
        complete = hub.config.camera_objects
        self._cameras: dict[str, CameraRuntime] = {
            camera_id: CameraRuntime(camera_id, complete(config))
            for camera_id, config in hub.config.cameras.items()
        }
        # Cameras added at run time (discovery, by URL) and zones/masks saved from the panel
        # live in the data dir; the panel's zones and masks replace the config file's.
        self.added = AddedCameraStore(hub.data_dir)
        added = self.added.load(hub.config.cameras)
        hub.redactor.add(added.secrets)
        self.load_problems = added.problems
        for camera_id, config in added.overrides.items():
            self._cameras[camera_id].config = complete(config)
        for camera_id, config in added.cameras.items():
            self._cameras[camera_id] = CameraRuntime(camera_id, complete(config))

    def __getitem__(self, camera_id: str) -> CameraRuntime:
        return self._cameras[camera_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cameras)

    def __len__(self) -> int:
        return len(self._cameras)

    def __contains__(self, camera_id: object) -> bool:
        return camera_id in self._cameras

    def __repr__(self) -> str:
        return f"<CameraManager {sorted(self._cameras)}>"

    def _set(self, camera_id: str, state: str, reason: str | None = None) -> None:
        attributes = {"reason": self.hub.redactor(reason)} if reason else {}
        self.hub.states.async_set(entity_id(camera_id), state, attributes)

    async def async_start(self) -> None:
        """Ask plugins for a source for each enabled camera and start supervising it."""
        for problem in self.load_problems:
            _LOGGER.error("%s", problem)
            self.hub.problems.append(problem)
        for runtime in self._cameras.values():
            await self._async_start_one(runtime)

    async def _async_start_one(self, runtime: CameraRuntime) -> None:
        if not runtime.config.enabled:
            self._set(runtime.camera_id, "disabled")
            return
        runtime.privacy_masks_at = await self._async_privacy_masks(runtime)
        source = await self.hub.plugins.async_call_first(
            hookspecs.camera_source,
            hub=self.hub,
            camera_id=runtime.camera_id,
            config=runtime.config,
        )
        if source is None:
            url = runtime.config.url
            scheme = url.partition("://")[0] if "://" in url else "file"
            self._set(runtime.camera_id, "error", f"no source plugin opens {scheme} URLs")
            return
        runtime.source = source
        self._set(runtime.camera_id, "starting")
        runtime.task = self.hub.async_create_background_task(
            self._supervise(runtime), f"camera:{runtime.camera_id}"
        )

    async def _async_privacy_masks(self, runtime: CameraRuntime) -> Literal["camera", "hub"] | None:
        """Ask plugins to have the camera burn its masks in; anything short of a verified yes
        leaves it to the hub, so nothing is ever recorded unmasked."""
        if not runtime.config.privacy_masks:
            return None
        try:
            answer = await asyncio.wait_for(
                self.hub.plugins.async_call_first(
                    hookspecs.apply_privacy_masks,
                    hub=self.hub,
                    camera_id=runtime.camera_id,
                    config=runtime.config,
                ),
                PRIVACY_PUSH_TIMEOUT,
            )
        except TimeoutError:
            _LOGGER.warning(
                "Camera %s: no plugin had the camera burn in its privacy masks within %.0f s; "
                "the hub masks its stream",
                runtime.camera_id,
                PRIVACY_PUSH_TIMEOUT,
            )
            return "hub"
        if answer is True:
            _LOGGER.info("Camera %s: privacy masks burnt in by the camera", runtime.camera_id)
            return "camera"
        return "hub"

    async def async_add(self, camera_id: str, config: CameraConfig) -> CameraRuntime:
        """Start a camera on a running hub, as if it had been configured (no restart).

        Its motion and object loops start too, then `CameraAdded` tells plugins that set up
        per-camera work at start. Persisting it is the caller's job.
        """
        if camera_id in self._cameras:
            raise ValueError(f"camera {camera_id} exists already")
        runtime = CameraRuntime(camera_id, self.hub.config.camera_objects(config))
        self._cameras[camera_id] = runtime
        self.set_armed(camera_id, True)
        await self._async_start_one(runtime)
        motion = await async_start_motion(self.hub, [camera_id])
        self.hub.motion_loops.extend(motion)
        self.hub.object_loops.extend(await async_start_objects(self.hub, [camera_id]))
        self.hub.bus.publish(CameraAdded(camera=camera_id))
        return runtime

    async def async_remove(self, camera_id: str, timeout: float = 10.0) -> None:
        """Stop a camera, its motion and object loops, and forget it (its footage stays).

        `CameraRemoved` then tells plugins to drop what they run for it.
        """
        runtime = self._cameras[camera_id]
        await self._async_stop_detection(camera_id, timeout)
        await self._async_stop_source(runtime, timeout)
        del self._cameras[camera_id]
        for entity in (entity_id(camera_id), f"detection.{camera_id}"):
            self.hub.states.async_remove(entity)
        await self.hub.storage.async_write(
            lambda db: db.execute(f"DELETE FROM {DETECTION_TABLE} WHERE camera = ?", [camera_id])
        )
        self.hub.bus.publish(CameraRemoved(camera=camera_id))

    async def async_reconfigure(
        self, camera_id: str, config: CameraConfig, timeout: float = 10.0
    ) -> bool:
        """Run a camera with a new config without a hub restart; True if its stream restarted.

        Motion and object loops are rebuilt (a motion detector takes its masks when made).
        The stream restarts only when what it reads changed (privacy masks are burnt in
        by the source when it opens the camera). `CameraChanged` follows, for plugins that
        read the camera's config once.
        """
        runtime = self._cameras[camera_id]
        config = self.hub.config.camera_objects(config)
        restart = _stream_keys(runtime.config) != _stream_keys(config)
        await self._async_stop_detection(camera_id, timeout)
        if restart:
            await self._async_stop_source(runtime, timeout)
        runtime.config = config
        runtime.decode.configure(config.detect.decode, config.detect.idle_after)
        if restart:
            await self._async_start_one(runtime)
        self.hub.motion_loops.extend(await async_start_motion(self.hub, [camera_id]))
        self.hub.object_loops.extend(await async_start_objects(self.hub, [camera_id]))
        self.hub.bus.publish(CameraChanged(camera=camera_id))
        return restart

    async def _async_stop_detection(self, camera_id: str, timeout: float) -> None:
        loops = [m for m in self.hub.motion_loops if m.camera_id == camera_id]
        objects = [o for o in self.hub.object_loops if o.camera_id == camera_id]
        self.hub.motion_loops = [m for m in self.hub.motion_loops if m.camera_id != camera_id]
        self.hub.object_loops = [o for o in self.hub.object_loops if o.camera_id != camera_id]
        tasks = [t for t in (*(o.task for o in objects), *(m.task for m in loops)) if t]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    async def async_restart(self, camera_id: str, reason: str, timeout: float = 10.0) -> None:
        """Reopen a camera's stream, settling its privacy masks again first.

        A plugin that finds the masks it had the camera burn in gone calls this: until
        `apply_privacy_masks` says otherwise the hub masks the new connection itself.
        `CameraChanged` follows once the stream is reopened.
        """
        runtime = self._cameras.get(camera_id)
        if runtime is None or not runtime.config.enabled:
            return
        _LOGGER.warning("Camera %s: restarting (%s)", camera_id, self.hub.redactor(reason))
        runtime.privacy_masks_at = "hub" if runtime.config.privacy_masks else None
        await self._async_stop_source(runtime, timeout)
        await self._async_start_one(runtime)
        self.hub.bus.publish(CameraChanged(camera=camera_id))

    async def _async_stop_source(self, runtime: CameraRuntime, timeout: float) -> None:
        if runtime.task is not None:
            runtime.task.cancel()
            await asyncio.wait([runtime.task], timeout=timeout)
        runtime.task, runtime.source, runtime.failures = None, None, 0

    async def _supervise(self, runtime: CameraRuntime) -> None:
        assert runtime.source is not None
        while True:
            try:
                await runtime.source.async_run()
                reason = "stream ended"
            except asyncio.CancelledError:
                raise
            except CameraError as exc:
                reason = str(exc)
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
            runtime.failures += 1
            delay = backoff_delay(runtime.failures)
            _LOGGER.warning(
                "Camera %s offline (%s); retrying in %.1f s",
                runtime.camera_id,
                self.hub.redactor(reason),
                delay,
            )
            self._set(runtime.camera_id, "offline", reason)
            await asyncio.sleep(delay)

    def set_armed(self, camera_id: str, armed: bool, persist: bool = True) -> None:
        """Arm or disarm a camera's detection (state `detection.<camera>` on/off), and keep
        the choice for the next start: a user who switched it off meant it to stay off."""
        runtime = self._cameras[camera_id]
        runtime.armed = armed
        self.hub.states.async_set(f"detection.{camera_id}", "on" if armed else "off")
        if persist:
            row = {"camera": camera_id, "armed": int(armed), "updated": time.time()}
            self.hub.async_store_later(DETECTION_TABLE, row)

    async def async_restore_armed(self) -> None:
        """Each camera's detection switch as it was left (on for a camera never switched)."""
        rows = await self.hub.storage.async_read(
            lambda db: {r["camera"]: bool(r["armed"]) for r in db.table(DETECTION_TABLE).rows}
        )
        for camera_id in self._cameras:
            self.set_armed(camera_id, rows.get(camera_id, True), persist=False)
        disarmed = sorted(c for c in self._cameras if not rows.get(c, True))
        if disarmed:
            _LOGGER.info("Detection stays off for %s, as it was left", ", ".join(disarmed))

    def request_full_decode(
        self, camera_id: str, reason: str, seconds: float | None = None
    ) -> None:
        """Have a camera decode every frame for `seconds` (default: its `detect.idle_after`).

        With adaptive decoding this wakes an idle camera up (keyframes only) at once.
        Unknown cameras are ignored: a plugin may ask for one that was just removed.
        """
        runtime = self._cameras.get(camera_id)
        if runtime is not None:
            wanted = runtime.decode.idle_after if seconds is None else seconds
            runtime.decode.request_full(reason, wanted)

    def hold_recording(self, camera_id: str, until: float) -> None:
        """Keep recording a camera in `events` mode until `until` (extends, never shortens)."""
        runtime = self._cameras[camera_id]
        runtime.record_until = max(runtime.record_until, until)

    async def async_snapshot(self, camera_id: str) -> bytes | None:
        """A JPEG of the camera's current picture, or None if its source cannot give one."""
        runtime = self._cameras.get(camera_id)
        if runtime is None or not isinstance(runtime.source, SnapshotSource):
            return None
        # A picture of now, not of the last keyframe: an idle camera decodes every frame for
        # a while (a viewer refreshing stills every second keeps it awake).
        runtime.decode.request_full("snapshot", SNAPSHOT_FULL_SECONDS)
        jpeg = await runtime.source.async_snapshot()
        return await async_redact_snapshot(self.hub, camera_id, jpeg) if jpeg else None

    def mark_online(self, camera_id: str) -> None:
        """Sources call this once frames flow; resets the back-off."""
        runtime = self._cameras[camera_id]
        runtime.failures = 0
        self._set(camera_id, "online")

    async def async_stop(self, timeout: float) -> None:
        """Cancel every camera task and wait up to `timeout` seconds for them."""
        tasks = [r.task for r in self._cameras.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                _LOGGER.error("Camera task %s did not stop in %.1f s", task.get_name(), timeout)
