"""Camera pictures for Home Assistant's camera entities: one at each event's start, one when a
camera comes online, and one every `still_interval` seconds, on each camera's retained
snapshot topic.

Without them the camera entity showed a picture only after an automation sent a
notification with a snapshot. The pictures come from `hub.cameras.async_snapshot`, so a
face-blur camera's are blurred or not sent at all, exactly as in the panel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hub import OwnedTasks

_LOGGER = logging.getLogger(__name__)

MIN_GAP_SECONDS = 2.0
SNAPSHOT_SECONDS = 10.0
"""At most one picture per camera this often: a busy scene starts many events."""

Publish = Callable[[str, bytes], Awaitable[bool]]
"""(camera id, JPEG) -> whether it was published."""


class StillPublisher:
    """Takes camera pictures and hands them to the notifier's publish function."""

    def __init__(self, hub: Any, publish: Publish, interval: float):
        self.hub = hub
        self.publish = publish
        self.interval = interval
        self.published = 0
        self._busy: set[str] = set()
        self._last: dict[str, float] = {}
        # Started through the hub: `async_block_till_done` waits for a picture being sent.
        self._tasks = OwnedTasks("MQTT stills", start=hub.async_create_task)
        self._timer: asyncio.Task[None] | None = None

    def start(self, name: str) -> None:
        """Start the periodic stills (when `interval` is not 0)."""
        if self.interval > 0:
            self._timer = self.hub.async_create_background_task(
                self._every_interval(), f"{name}:stills"
            )

    async def async_stop(self) -> None:
        """Cancel the timer and pictures being taken."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        await self._tasks.async_cancel(timeout=1.0)
        if timer is not None:
            await asyncio.wait([timer], timeout=1.0)

    def take(self, camera_id: str) -> None:
        """Publish what the camera sees now (in the background): an event began, or the
        camera came online."""
        self._tasks.spawn(self.async_still(camera_id), f"mqtt-still:{camera_id}")

    async def async_still(self, camera_id: str) -> None:
        """Publish one current picture of the camera, unless one was sent just now."""
        now = time.monotonic()
        if camera_id in self._busy or now - self._last.get(camera_id, -MIN_GAP_SECONDS) < (
            MIN_GAP_SECONDS
        ):
            return
        self._busy.add(camera_id)
        try:
            # A snapshot that never comes must not hold the camera's stills for good.
            jpeg = await asyncio.wait_for(
                self.hub.cameras.async_snapshot(camera_id), SNAPSHOT_SECONDS
            )
            # A camera removed while its picture was taken must not get its topic back.
            known = camera_id in self.hub.cameras
            if jpeg is not None and known and await self.publish(camera_id, jpeg):
                self._last[camera_id] = time.monotonic()
                self.published += 1
        except TimeoutError:
            _LOGGER.warning(
                "MQTT: no picture of camera %s within %s s", camera_id, SNAPSHOT_SECONDS
            )
        except Exception:
            _LOGGER.exception("MQTT: no picture of camera %s", camera_id)
        finally:
            self._busy.discard(camera_id)

    async def _every_interval(self) -> None:
        while True:
            for camera_id in list(self.hub.cameras):
                state = self.hub.states.get(f"camera.{camera_id}")
                if state is not None and state.state == "online":  # no waking a dead camera
                    await self.async_still(camera_id)
            await asyncio.sleep(self.interval)
