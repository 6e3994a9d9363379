"""One shared MQTT connection per `mqtt` notifier: states, events, notifications, commands."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections import OrderedDict
from typing import Any

import aiomqtt

from hub import (
    HOUSE_MODE_ENTITY,
    CameraAdded,
    CameraChanged,
    CameraRemoved,
    Context,
    Event,
    EventEnded,
    EventStarted,
    Message,
    MotionEnded,
    MotionStarted,
    StateChanged,
    TemporaryNotifyError,
    new_id,
)
from plugins.mqtt.discovery import (
    MOTION_EVENT_TYPE,
    OFF,
    OFFLINE,
    ON,
    ONLINE,
    Topics,
    camera_configs,
)
from plugins.mqtt.options import MqttOptions
from plugins.mqtt.site import LISTENED, SiteLink, mqtt_client
from plugins.mqtt.stills import StillPublisher

_LOGGER = logging.getLogger(__name__)

BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0
PUBLISH_TIMEOUT = 5.0
INDEX_READ_TIMEOUT = 5.0
STOP_TIMEOUT = 0.5
KNOWN_EVENTS = 1000
"""Event ids remembered to find the camera of a notification's snapshot."""


def backoff_delay(attempt: int) -> float:
    """Seconds before reconnect try `attempt + 1`: 1, 2, 4, ... capped at 30."""
    return float(min(BACKOFF_MAX, BACKOFF_MIN * 2.0 ** max(attempt - 1, 0)))


def tls_context(options: MqttOptions) -> ssl.SSLContext | None:
    """The TLS context for `tls: true` (reads `ca_file`: call off the loop)."""
    if not options.tls:
        return None
    return ssl.create_default_context(cafile=options.ca_file)


def _switch(payload: str) -> bool | None:
    value = payload.strip().lower()
    if value in ("on", "true", "1"):
        return True
    if value in ("off", "false", "0"):
        return False
    return None


class MqttNotifier:
    """Publishes camhub to an MQTT broker (Home Assistant discovery included) and obeys it."""

    def __init__(self, notifier_id: str, options: MqttOptions, tls: ssl.SSLContext | None):
        self.notifier_id = notifier_id
        self.options = options
        self.topics = Topics(options.topic_prefix)
        self._tls = tls
        self.hub: Any = None
        self.connected = False
        self.connections = 0
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop_listener: Any = None
        self._motion: dict[str, bool] = {}
        self._ongoing: dict[tuple[str, str], set[str]] = {}
        self._event_cameras: OrderedDict[str, str] = OrderedDict()
        self._listeners: dict[str, list[Any]] = {}
        """Automation `mqtt` triggers: topic filter -> callbacks(topic, payload)."""
        self._index: dict[str, dict[str, Any]] = {}
        """The retained camera index as last published: id -> {id, name, labels, retained}."""
        self.stills: StillPublisher | None = None
        self.site = SiteLink(notifier_id, options, tls) if options.site else None
        """This hub's membership of a site of hubs (`site` set), on its own connection."""
        self._cameras_lock: asyncio.Lock | None = None
        """Held while (re)connecting and while one camera's discovery changes, so a camera
        added meanwhile is neither missed nor published twice over."""

    # ---------------------------------------------------------- lifecycle

    def start(self, hub: Any) -> None:
        """Listen on the bus and start the connection task (on the loop, from `startup`)."""
        self.hub = hub
        self._cameras_lock = asyncio.Lock()
        self._stop_listener = hub.bus.async_listen(
            f"mqtt:{self.notifier_id}",
            self._async_on_event,
            LISTENED,
        )
        self._task = hub.async_create_background_task(self._async_run(), f"mqtt:{self.notifier_id}")
        self.stills = StillPublisher(hub, self._async_publish_still, self.options.still_interval)
        self.stills.start(f"mqtt:{self.notifier_id}")
        if self.site is not None:
            self.site.start(hub)

    async def async_stop(self) -> None:
        """Say `offline` (a clean disconnect sends no will) and close the connection."""
        if self._stop_listener is not None:
            self._stop_listener()
            self._stop_listener = None
        if self.stills is not None:
            await self.stills.async_stop()
        if self.site is not None:
            await self.site.async_stop()
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(
                    self.topics.availability, OFFLINE, qos=1, retain=True, timeout=STOP_TIMEOUT
                )
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=1.0)
            self._task = None

    def _new_client(self) -> aiomqtt.Client:
        return mqtt_client(
            self.options,
            self._tls,
            self.topics.availability,
            identifier=self.options.client_id,
            timeout=PUBLISH_TIMEOUT,
        )

    async def _async_run(self) -> None:
        attempt = 0
        where = f"{self.options.host}:{self.options.port}"
        while True:
            try:
                async with self._new_client() as client:
                    attempt = 0
                    assert self._cameras_lock is not None
                    async with self._cameras_lock:
                        await self._async_on_connect(client)
                        self._client = client
                    self.connected = True
                    self.connections += 1
                    _LOGGER.info("MQTT %s: connected to %s", self.notifier_id, where)
                    self._pictures_of_online_cameras()
                    async for message in client.messages:
                        await self._async_on_command(message)
            except aiomqtt.MqttError as exc:
                if self.connected:
                    _LOGGER.warning("MQTT %s: lost %s: %s", self.notifier_id, where, exc)
                else:
                    _LOGGER.debug("MQTT %s: cannot connect to %s: %s", self.notifier_id, where, exc)
            finally:
                self._client = None
                self.connected = False
            attempt += 1
            await asyncio.sleep(backoff_delay(attempt))

    # ---------------------------------------------------------- on (re)connect

    async def _async_on_connect(self, client: aiomqtt.Client) -> None:
        """Announce `online`, (re)publish discovery and every current state, subscribe."""
        topics = self.topics
        await client.publish(topics.availability, ONLINE, qos=1, retain=True)
        previous = await self._async_read_index(client)
        self._index = {}
        published: set[str] = set()
        for camera_id, runtime in list(self.hub.cameras.items()):
            labels = list(runtime.config.objects.labels)
            retained = await self._async_publish_camera(client, camera_id, runtime.name, labels)
            published.update(retained)
            self._index[camera_id] = _index_entry(camera_id, runtime.name, labels, retained)
        for entry in previous:
            await self._async_clear(client, entry.get("retained", []), published)
        await client.publish(
            topics.index, json.dumps(list(self._index.values())), qos=1, retain=True
        )
        await client.publish(topics.mode, str(self.hub.mode), qos=1, retain=True)
        await client.subscribe(topics.mode_set, qos=1)
        await client.subscribe(topics.detection_set_filter, qos=1)
        for topic_filter in list(self._listeners):
            await client.subscribe(topic_filter, qos=1)

    async def _async_read_index(self, client: aiomqtt.Client) -> list[dict[str, Any]]:
        """The retained camera index left by an earlier run, or [] if there is none.

        The broker sends retained messages in order with what follows, so a message of
        our own published after subscribing marks the end of what is retained.
        """
        marker = f"{self.topics.prefix}/sync/{new_id()}"
        token = new_id().encode()
        await client.subscribe(self.topics.index, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, token, qos=1)
        previous: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(INDEX_READ_TIMEOUT):
                async for message in client.messages:
                    if message.topic.matches(marker) and message.payload == token:
                        break
                    if message.topic.matches(self.topics.index):
                        previous = self._parse_index(message.payload)
        except TimeoutError:
            _LOGGER.warning("MQTT %s: no answer reading %s", self.notifier_id, self.topics.index)
        await client.unsubscribe(self.topics.index)
        await client.unsubscribe(marker)
        return previous

    @staticmethod
    def _parse_index(payload: Any) -> list[dict[str, Any]]:
        try:
            data = json.loads(payload) if payload else []
        except (TypeError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [entry for entry in data if isinstance(entry, dict)]

    async def _async_publish_camera(
        self, client: aiomqtt.Client, camera_id: str, name: str, labels: list[str]
    ) -> list[str]:
        """Publish a camera's discovery configs and states; returns the retained topics."""
        retained: list[str] = []

        async def put(topic: str, payload: str | bytes) -> None:
            await client.publish(topic, payload, qos=1, retain=True)
            retained.append(topic)

        if self.options.discovery:
            configs = camera_configs(
                self.options.discovery_prefix, self.topics, camera_id, name, labels
            )
            for topic, config in configs.items():
                await put(topic, json.dumps(config))
        await put(
            self.topics.camera(camera_id, "motion"), ON if self._motion_on(camera_id) else OFF
        )
        for label in labels:
            count = len(self._ongoing.get((camera_id, label), ()))
            await put(self.topics.camera(camera_id, label), str(count))
        detection = self.hub.states.get(f"detection.{camera_id}")
        armed = detection is None or detection.state == "on"
        await put(self.topics.camera(camera_id, "detection"), ON if armed else OFF)
        retained.append(self.topics.camera(camera_id, "snapshot"))
        return retained

    async def _async_clear(self, client: aiomqtt.Client, topics: Any, keep: set[str]) -> None:
        """Delete the retained messages of `topics` (an index entry's list) not in `keep`."""
        for topic in topics if isinstance(topics, list) else []:
            if isinstance(topic, str) and topic not in keep:
                await client.publish(topic, b"", qos=1, retain=True)

    async def _async_on_camera(self, camera_id: str, changed: bool) -> None:
        """Bring one camera's discovery in line with the hub: publish a camera added (or
        renamed, or with other labels), clear every retained topic of one removed, and
        republish the index that lets a later run clear what this one leaves behind.
        Offline, nothing is done: the next connection publishes all cameras anew."""
        assert self._cameras_lock is not None
        async with self._cameras_lock:
            client = self._client
            if client is None:
                return
            old = self._index.get(camera_id)
            runtime = self.hub.cameras.get(camera_id)
            entry: dict[str, Any] | None = None
            if runtime is not None:
                labels = list(runtime.config.objects.labels)
                shown = (old["name"], old["labels"]) if old is not None else None
                if changed and shown == (runtime.name, labels):
                    return  # zones or masks: nothing Home Assistant shows
            try:
                if runtime is not None:
                    retained = await self._async_publish_camera(
                        client, camera_id, runtime.name, labels
                    )
                    entry = _index_entry(camera_id, runtime.name, labels, retained)
                if old is not None:
                    keep = set(entry["retained"]) if entry is not None else set()
                    await self._async_clear(client, old["retained"], keep)
                if entry is None:
                    self._index.pop(camera_id, None)
                    self._motion.pop(camera_id, None)
                else:
                    self._index[camera_id] = entry
                index = json.dumps(list(self._index.values()))
                await client.publish(self.topics.index, index, qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                # The reconnect that follows publishes every camera and clears the rest.
                _LOGGER.debug(
                    "MQTT %s: camera %s not updated: %s", self.notifier_id, camera_id, exc
                )

    def _motion_on(self, camera_id: str) -> bool:
        if camera_id in self._motion:
            return self._motion[camera_id]
        state = self.hub.states.get(f"motion.{camera_id}")
        return state is not None and state.state == "on"

    # ---------------------------------------------------------- bus -> MQTT

    async def _async_publish(self, topic: str, payload: str | bytes, retain: bool) -> None:
        """Publish if connected; a lost update is republished as current state on reconnect."""
        client = self._client
        if client is None:
            return
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as exc:
            _LOGGER.debug("MQTT %s: %s not published: %s", self.notifier_id, topic, exc)

    def _remember(self, event_id: str, camera_id: str) -> None:
        self._event_cameras[event_id] = camera_id
        while len(self._event_cameras) > KNOWN_EVENTS:
            self._event_cameras.popitem(last=False)

    async def _async_on_event(self, event: Event) -> None:
        topics = self.topics
        camera = getattr(event, "camera", None)
        if isinstance(event, MotionStarted | MotionEnded | EventStarted | EventEnded) and (
            camera not in self.hub.cameras
        ):
            return  # the last words of a removed camera's loops would retain its topics again
        if isinstance(event, MotionStarted | MotionEnded):
            started = isinstance(event, MotionStarted)
            self._motion[event.camera] = started
            self._remember(event.event_id, event.camera)
            await self._async_publish(
                topics.camera(event.camera, "motion"), ON if started else OFF, retain=True
            )
            if started:
                await self._async_publish_event_type(event.camera, MOTION_EVENT_TYPE)
        elif isinstance(event, EventStarted | EventEnded):
            ongoing = self._ongoing.setdefault((event.camera, event.label), set())
            started = isinstance(event, EventStarted)
            if started:
                ongoing.add(event.event_id)
            else:
                ongoing.discard(event.event_id)
            self._remember(event.event_id, event.camera)
            await self._async_publish(
                topics.camera(event.camera, event.label), str(len(ongoing)), retain=True
            )
            data = {
                "type": "start" if started else "end",
                "camera": event.camera,
                "event_id": event.event_id,
                "label": event.label,
                "top_score": event.top_score,
                "zones": list(event.zones),
                "start": event.start,
                "end": event.end if isinstance(event, EventEnded) else None,
            }
            await self._async_publish(topics.events, json.dumps(data), retain=False)
            if started:
                await self._async_publish_event_type(event.camera, event.label)
        elif isinstance(event, StateChanged):
            await self._async_on_state(event)
        elif isinstance(event, CameraAdded | CameraChanged | CameraRemoved):
            await self._async_on_camera(event.camera, isinstance(event, CameraChanged))

    async def _async_publish_event_type(self, camera_id: str, event_type: str) -> None:
        payload = json.dumps({"event_type": event_type})
        await self._async_publish(self.topics.camera(camera_id, "event"), payload, retain=False)
        if self.options.snapshots and self.stills is not None:
            self.stills.take(camera_id)

    def _pictures_of_online_cameras(self) -> None:
        """After a (re)connect, a broker that lost its retained pictures gets fresh ones."""
        if self.options.still_interval <= 0 or self.stills is None:
            return
        for camera_id in list(self.hub.cameras):
            state = self.hub.states.get(f"camera.{camera_id}")
            if state is not None and state.state == "online":
                self.stills.take(camera_id)

    async def _async_publish_still(self, camera_id: str, jpeg: bytes) -> bool:
        """A picture on the camera's retained snapshot topic (and the site's); False when not
        connected."""
        if self.site is not None:
            await self.site.async_publish_still(camera_id, jpeg)
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(
                self.topics.camera(camera_id, "snapshot"), jpeg, qos=1, retain=True
            )
        except aiomqtt.MqttError as exc:
            _LOGGER.debug(
                "MQTT %s: picture of %s not published: %s", self.notifier_id, camera_id, exc
            )
            return False
        return True

    async def _async_on_state(self, event: StateChanged) -> None:
        if event.entity_id == HOUSE_MODE_ENTITY:
            await self._async_publish(self.topics.mode, event.new_state, retain=True)
        elif event.entity_id.startswith("camera.") and event.new_state == "online":
            # A camera just (re)connected: its entity gets a picture now, not a minute later.
            if self.options.still_interval > 0 and self.stills is not None:
                self.stills.take(event.entity_id.partition(".")[2])
        elif event.entity_id.startswith("detection."):
            camera_id = event.entity_id.partition(".")[2]
            payload = ON if event.new_state == "on" else OFF
            await self._async_publish(
                self.topics.camera(camera_id, "detection"), payload, retain=True
            )

    # ---------------------------------------------------------- MQTT -> hub

    async def _async_on_command(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        text = payload.decode(errors="replace") if isinstance(payload, bytes) else str(payload)
        topic = message.topic.value
        self._dispatch_listeners(message, topic, text)
        context = Context()
        if message.topic.matches(self.topics.mode_set):
            mode = text.strip()
            if not mode or len(mode) > 32:
                _LOGGER.warning("MQTT %s: ignored house mode %r", self.notifier_id, mode[:40])
                return
            _LOGGER.info("MQTT %s: house mode set to %s", self.notifier_id, mode)
            self.hub.async_set_mode(mode, context=context)
        elif message.topic.matches(self.topics.detection_set_filter):
            camera_id = topic[len(self.topics.prefix) + 1 :].split("/")[0]
            armed = _switch(text)
            if camera_id not in self.hub.cameras or armed is None:
                _LOGGER.warning("MQTT %s: ignored %s = %r", self.notifier_id, topic, text[:40])
                return
            _LOGGER.info("MQTT %s: detection of %s %s", self.notifier_id, camera_id, text)
            self.hub.cameras.set_armed(camera_id, armed)

    # ---------------------------------------------------------- automation triggers

    def add_listener(self, topic_filter: str, callback: Any) -> Any:
        """Call `callback(topic, payload_text)` for messages matching the filter; returns undo."""
        callbacks = self._listeners.setdefault(topic_filter, [])
        callbacks.append(callback)
        client = self._client
        if client is not None and len(callbacks) == 1 and self.hub is not None:
            self.hub.async_create_task(
                self._async_subscribe(client, topic_filter), f"mqtt:{self.notifier_id}:subscribe"
            )

        def remove() -> None:
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks and self._listeners.get(topic_filter) is callbacks:
                del self._listeners[topic_filter]

        return remove

    async def _async_subscribe(self, client: aiomqtt.Client, topic_filter: str) -> None:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.subscribe(topic_filter, qos=1)

    def _dispatch_listeners(self, message: aiomqtt.Message, topic: str, text: str) -> None:
        for topic_filter, callbacks in list(self._listeners.items()):
            if message.topic.matches(topic_filter):
                for callback in list(callbacks):
                    try:
                        callback(topic, text)
                    except Exception:
                        _LOGGER.exception(
                            "MQTT %s: a trigger on %s failed", self.notifier_id, topic
                        )

    # ---------------------------------------------------------- notifications

    async def async_send(self, message: Message) -> None:
        """Publish to `<prefix>/notify` (and the snapshot); a temporary error when offline."""
        client = self._client
        if client is None:
            raise TemporaryNotifyError(
                f"not connected to MQTT broker {self.options.host}:{self.options.port}"
            )
        data = message.as_dict()
        camera_id = self._event_cameras.get(message.event_id) if message.event_id else None
        try:
            if message.snapshot_jpeg and camera_id is not None:
                await client.publish(
                    self.topics.camera(camera_id, "snapshot"),
                    message.snapshot_jpeg,
                    qos=1,
                    retain=True,
                )
            await client.publish(self.topics.notify, json.dumps(data), qos=1)
        except aiomqtt.MqttError as exc:
            raise TemporaryNotifyError(f"MQTT publish failed: {exc}") from None


def _index_entry(
    camera_id: str, name: str, labels: list[str], retained: list[str]
) -> dict[str, Any]:
    """One camera in the retained index (`retained` is what a later run must clear)."""
    return {"id": camera_id, "name": name, "labels": labels, "retained": retained}
