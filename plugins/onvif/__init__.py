"""Built-in ONVIF plugin: probes devices for onboarding, follows camera events, drives PTZ.

Cameras with an `onvif` section get a pull-point subscription: every message
becomes an `OnvifEvent` on the bus; motion topics feed `camera_motion` for cameras
with `motion.source: camera`, and the person, vehicle and animal topics of real
cameras (vendor_events.py) feed `camera_objects` for `objects.source: camera`.
Cameras added, changed or removed at run time (`CameraAdded`, `CameraChanged`,
`CameraRemoved`) start, restart or end theirs. The `ptz` automation action moves them.
A camera's `privacy_masks` are pushed to it as Media2 masks and read back, so that a
camera which burns them in spares the hub from re-encoding its stream; they are read
back again every MASK_CHECK_SECONDS, and a camera that lost them is restarted (masked
by the hub unless the camera takes them again).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import aiohttp

from hub import (
    AutomationType,
    CameraAdded,
    CameraChanged,
    CameraDetection,
    CameraRemoved,
    DeviceProbe,
    Event,
    OnvifEvent,
    hookimpl,
)
from plugins.onvif.client import OnvifClient
from plugins.onvif.events import Notification, async_follow, source_key
from plugins.onvif.masks import MaskError, MaskPusher, Polygon, TokenStore
from plugins.onvif.media import async_probe, async_profile_list
from plugins.onvif.ptz import ptz_action_type
from plugins.onvif.soap import Credentials, OnvifError, SoapFault
from plugins.onvif.vendor_events import MOTION, signal_of

if TYPE_CHECKING:
    from hub import CameraConfig, Hub, OnvifConfig

__version__ = "0.1.0"

_LOGGER = logging.getLogger(__name__)
MOTION_QUEUE = 64
PROBE_TIMEOUT = 10.0
MASK_CHECK_SECONDS = 60.0
"""How often masks a camera burns in are read back (someone may remove them on the camera)."""


T = TypeVar("T")


class QueueSignals(Generic[T]):
    """An async iterator over a queue that survives a cancelled `anext` (the hub reads with a
    timeout); an async generator would be closed by the first cancellation."""

    def __init__(self, queue: asyncio.Queue[T]):
        self.queue = queue

    def __aiter__(self) -> QueueSignals[T]:
        return self

    async def __anext__(self) -> T:
        return await self.queue.get()


def _put_newest(queue: asyncio.Queue[T], item: T) -> None:
    if queue.full():
        queue.get_nowait()  # the newest signal is the one that matters
    queue.put_nowait(item)


class OnvifService:
    """The plugin's per-hub state: one HTTP session, clients, event followers, motion queues."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self._session: aiohttp.ClientSession | None = None
        self.clients: dict[str, OnvifClient] = {}
        self.client_configs: dict[str, OnvifConfig] = {}
        """The config each client was made from: a camera given another gets a new client."""
        self.ptz_profiles: dict[str, str] = {}
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.followed: dict[str, OnvifConfig] = {}
        """The config each follower was started with, to restart it when that changes."""
        self.motion_queues: dict[str, asyncio.Queue[bool]] = {}
        self.object_queues: dict[str, asyncio.Queue[CameraDetection]] = {}
        self.active: dict[str, dict[str, bool]] = {}
        """Camera -> motion sources (video source or rule) -> whether each sees motion."""
        self.seen: dict[str, dict[tuple[str, str], bool]] = {}
        """Camera -> (label, source) -> whether the camera sees that label there."""
        self.mask_watchers: dict[str, asyncio.Task[None]] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        """Created on first use, inside the running loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def client(self, camera_id: str, config: OnvifConfig) -> OnvifClient:
        """The camera's client (not necessarily connected yet)."""
        client = self.clients.get(camera_id)
        if client is None or self.client_configs.get(camera_id) != config:
            url = config.service_url()
            assert url is not None  # the config model requires host or device_url
            credentials = (
                Credentials(config.username, config.password or "") if config.username else None
            )
            client = OnvifClient(self.session, url, credentials, timeout=config.timeout)
            self.clients[camera_id] = client
            self.client_configs[camera_id] = config
            self.ptz_profiles.pop(camera_id, None)
        return client

    def follow(self, camera_id: str) -> None:
        """Start following the camera's events if it has ONVIF events and is not followed yet."""
        runtime = self.hub.cameras.get(camera_id)
        if runtime is None or runtime.config.onvif is None or not runtime.config.onvif.events:
            return
        if camera_id in self.followers or not runtime.config.enabled:
            return
        client = self.client(camera_id, runtime.config.onvif)
        self.followed[camera_id] = runtime.config.onvif
        self.followers[camera_id] = self.hub.async_create_background_task(
            async_follow(
                client,
                lambda n: self._handle(camera_id, n),
                lambda state, reason: self._status(camera_id, state, reason),
            ),
            f"onvif-events:{camera_id}",
        )

    def unfollow(self, camera_id: str) -> None:
        """Stop following the camera's events; its cancelled follower unsubscribes."""
        self.followed.pop(camera_id, None)
        task = self.followers.pop(camera_id, None)
        if task is not None:
            task.cancel()
        self._lost(camera_id)

    def refollow(self, camera_id: str) -> None:
        """Follow the camera's current config: restart the follower if its ONVIF section or
        `enabled` changed, start or stop it if events were switched on or off."""
        runtime = self.hub.cameras.get(camera_id)
        config = runtime.config if runtime is not None else None
        wanted = config.onvif if config is not None and config.enabled else None
        if camera_id in self.followers and self.followed.get(camera_id) != wanted:
            self.unfollow(camera_id)
        self.follow(camera_id)

    def forget(self, camera_id: str) -> None:
        """A removed camera: no follower, mask watcher, client or state is left for it."""
        self.unfollow(camera_id)
        if camera_id in self.hub.cameras:
            # Added again before this news came: its new motion loop holds the queue and
            # its own `CameraAdded` (next on the bus) starts a follower with its config.
            return
        watcher = self.mask_watchers.pop(camera_id, None)
        if watcher is not None:
            watcher.cancel()
        self.clients.pop(camera_id, None)
        self.client_configs.pop(camera_id, None)
        self.ptz_profiles.pop(camera_id, None)
        self.motion_queues.pop(camera_id, None)
        self.object_queues.pop(camera_id, None)
        self.hub.states.async_remove(f"onvif.{camera_id}")

    def _handle(self, camera_id: str, notification: Notification) -> None:
        self.hub.bus.publish(
            OnvifEvent(
                camera=camera_id,
                topic=notification.topic,
                data=notification.data,
                source=notification.source,
            )
        )
        signal = signal_of(notification)
        if signal is None:
            return
        if signal.kind == MOTION:
            sources = self.active.setdefault(camera_id, {})
            before = any(sources.values())
            sources[source_key(notification)] = signal.active
            now = any(sources.values())
            if now and not before:
                # The camera saw motion itself: an idle camera (adaptive decoding) decodes
                # every frame at once instead of waiting for its next keyframe to show it.
                self.hub.cameras.request_full_decode(camera_id, "camera motion")
            queue = self.motion_queues.get(camera_id)
            if queue is not None and now != before:
                _put_newest(queue, now)
            return
        labels = self.seen.setdefault(camera_id, {})
        was = any(on for (label, _), on in labels.items() if label == signal.kind)
        labels[(signal.kind, source_key(notification))] = signal.active
        seen = any(on for (label, _), on in labels.items() if label == signal.kind)
        if seen and not was:
            self.hub.cameras.request_full_decode(camera_id, f"camera saw {signal.kind}")
        objects = self.object_queues.get(camera_id)
        if objects is not None and seen != was:
            _put_newest(objects, CameraDetection(signal.kind, seen))

    def _status(self, camera_id: str, state: str, reason: str | None) -> None:
        """State `onvif.<camera>`: connected, or error with the reason (shown in the panel)."""
        attributes = {"reason": self.hub.redactor(reason)} if reason else {}
        self.hub.states.async_set(f"onvif.{camera_id}", state, attributes)
        if state == "error":
            self._lost(camera_id)

    def _lost(self, camera_id: str) -> None:
        """Events stopped: motion and objects the camera reported are not known to go on."""
        sources = self.active.pop(camera_id, {})
        queue = self.motion_queues.get(camera_id)
        if queue is not None and any(sources.values()) and not queue.full():
            queue.put_nowait(False)
        labels = self.seen.pop(camera_id, {})
        objects = self.object_queues.get(camera_id)
        for label in sorted({label for (label, _), on in labels.items() if on}):
            if objects is not None and not objects.full():
                objects.put_nowait(CameraDetection(label, False))

    def motion_signals(self, camera_id: str) -> AsyncIterator[bool]:
        """What `camera_motion` returns: True/False as the camera's motion starts and stops."""
        # Made now, not at the first read: a message arriving before that must not be lost.
        queue = self.motion_queues.setdefault(camera_id, asyncio.Queue(MOTION_QUEUE))
        return QueueSignals(queue)

    def object_signals(self, camera_id: str) -> AsyncIterator[CameraDetection]:
        """What `camera_objects` returns: each label the camera sees, as it starts and stops."""
        queue = self.object_queues.setdefault(camera_id, asyncio.Queue(MOTION_QUEUE))
        return QueueSignals(queue)

    async def async_ptz_client(self, camera_id: str) -> tuple[OnvifClient, str]:
        """A connected client for the camera and its first PTZ-capable profile token, found
        from GetProfiles alone (stream and snapshot URIs are none of PTZ's business) and kept
        until the camera's ONVIF settings change."""
        runtime = self.hub.cameras.get(camera_id)
        if runtime is None or runtime.config.onvif is None:
            raise OnvifError(f"camera {camera_id} has no onvif section")
        client = self.client(camera_id, runtime.config.onvif)
        if not client.services:
            await client.async_connect()
        if camera_id not in self.ptz_profiles:
            profiles = await async_profile_list(client)
            with_ptz = [p for p in profiles if p.ptz] or profiles
            if not with_ptz:
                raise OnvifError(f"camera {camera_id} has no media profile")
            self.ptz_profiles[camera_id] = with_ptz[0].token
        return client, self.ptz_profiles[camera_id]

    def watch_masks(self, camera_id: str, pusher: MaskPusher, polygons: list[Polygon]) -> None:
        """Keep reading the camera's masks back while the hub relies on them."""
        old = self.mask_watchers.pop(camera_id, None)
        if old is not None:
            old.cancel()
        self.mask_watchers[camera_id] = self.hub.async_create_background_task(
            self._watch_masks(camera_id, pusher, polygons), f"onvif-masks:{camera_id}"
        )

    async def _watch_masks(
        self, camera_id: str, pusher: MaskPusher, polygons: list[Polygon]
    ) -> None:
        while True:
            await asyncio.sleep(MASK_CHECK_SECONDS)
            runtime = self.hub.cameras.get(camera_id)
            if runtime is None or runtime.privacy_masks_at != "camera":
                return
            try:
                await pusher.async_check(polygons)
            except (MaskError, SoapFault) as exc:
                # It answered, and not with our masks (a refusal counts: they are unverifiable).
                reason = f"its privacy masks are no longer on the camera: {exc}"
                # Its own task: the restart asks this plugin again, which replaces this watcher.
                self.hub.async_create_task(
                    self.hub.cameras.async_restart(camera_id, reason),
                    f"onvif-masks-restart:{camera_id}",
                )
                return
            except OnvifError as exc:
                # Unreachable for now: the masks cannot have been changed through ONVIF either.
                _LOGGER.debug("Camera %s: masks not read back (%s)", camera_id, exc)

    async def async_close(self) -> None:
        """Stop following events and watching masks, and close the session."""
        tasks = list(self.followers.values()) + list(self.mask_watchers.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.2)
        self.followers.clear()
        self.mask_watchers.clear()
        if self._session is not None:
            await self._session.close()


_SERVICES: weakref.WeakKeyDictionary[Any, OnvifService] = weakref.WeakKeyDictionary()


def service_for(hub: Hub) -> OnvifService:
    """The hub's OnvifService, created on first use."""
    service = _SERVICES.get(hub)
    if service is None:
        service = _SERVICES[hub] = OnvifService(hub)
    return service


@hookimpl
def startup(hub: Hub) -> None:
    """Follow the events of every camera with an `onvif` section."""
    service = service_for(hub)
    for camera_id in hub.cameras:
        service.follow(camera_id)


@hookimpl
async def shutdown(hub: Hub) -> None:
    """Unsubscribe and close."""
    service = _SERVICES.pop(hub, None)
    if service is not None:
        await service.async_close()


@hookimpl
def event_published(hub: Hub, event: Event) -> None:
    """Cameras added, changed or removed at run time: start, restart or end their follower."""
    if isinstance(event, CameraAdded):
        service_for(hub).follow(event.camera)
    elif isinstance(event, CameraChanged):
        service_for(hub).refollow(event.camera)
    elif isinstance(event, CameraRemoved):
        service_for(hub).forget(event.camera)


@hookimpl
def camera_motion(hub: Hub, camera_id: str, config: CameraConfig) -> AsyncIterator[bool] | None:
    """Motion signals from the camera's ONVIF events, for `motion.source: camera`."""
    if config.onvif is None or not config.onvif.events:
        return None
    service = service_for(hub)
    signals = service.motion_signals(camera_id)
    service.follow(camera_id)
    return signals


@hookimpl
def camera_objects(
    hub: Hub, camera_id: str, config: CameraConfig
) -> AsyncIterator[CameraDetection] | None:
    """People, vehicles and animals from the camera's ONVIF events, for `objects.source:
    camera`."""
    if config.onvif is None or not config.onvif.events:
        return None
    service = service_for(hub)
    signals = service.object_signals(camera_id)
    service.follow(camera_id)
    return signals


@hookimpl
async def apply_privacy_masks(hub: Hub, camera_id: str, config: CameraConfig) -> bool | None:
    """Push the masks as ONVIF Media2 masks; True only once read back exactly as sent."""
    onvif = config.onvif
    if onvif is None or not onvif.privacy_masks or not config.privacy_masks:
        return None
    service = service_for(hub)
    client = service.client(camera_id, onvif)
    urls = [config.url] + ([config.detect_url] if config.detect_url else [])
    pusher = MaskPusher(client, TokenStore(hub.data_dir), camera_id)
    try:
        await pusher.async_apply(config.privacy_masks, urls)
    except OnvifError as exc:
        _LOGGER.warning(
            "Camera %s: privacy masks not burnt in by the camera (%s); the hub re-encodes "
            "its stream with them instead",
            camera_id,
            hub.redactor(str(exc)),
        )
        return None
    service.watch_masks(camera_id, pusher, list(config.privacy_masks))
    return True


@hookimpl
async def probe_device(hub: Hub, url: str, username: str, password: str) -> DeviceProbe | None:
    """Log in to an ONVIF device service and describe its streams."""
    if not url.lower().startswith(("http://", "https://")):
        return None
    async with aiohttp.ClientSession() as session:
        credentials = Credentials(username, password) if username else None
        client = OnvifClient(session, url, credentials, timeout=PROBE_TIMEOUT)
        return await async_probe(client)


@hookimpl
def automation_types() -> list[AutomationType]:
    """The `ptz` action."""
    return [ptz_action_type(lambda hub: service_for(hub).async_ptz_client)]
