"""A site of hubs over one broker: this hub announces itself and its events, and hears its peers.

Each hub of the site has its own connection (its own last will) and topics under
`<site>/hubs/<name>/`:

- `availability`: retained `online`; the broker's last will says `offline`;
- `info`: retained JSON: name, panel URL, version, cameras with state and armed;
- `events`: retained JSON list of recent object and motion events (newest first),
  each with a small JPEG thumbnail (base64) taken when it started;
- `event`: each event as it starts and ends (not retained), for automations;
- `cameras/<id>/still`: retained latest picture of each camera (small JPEG).

What peers say goes into `hub.site` (the panel shows it; automations trigger on
`PeerEvent`s). No footage crosses hubs: a peer's panel URL is where its video is.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import socket
import ssl
import time
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiomqtt
import av

from hub import (
    CameraAdded,
    CameraChanged,
    CameraRemoved,
    Event,
    EventEnded,
    EventStarted,
    MotionEnded,
    MotionStarted,
    StateChanged,
)
from plugins.mqtt.options import MqttOptions

_LOGGER = logging.getLogger(__name__)

ONLINE, OFFLINE = "online", "offline"
RECENT_EVENTS = 20
THUMBNAIL_WIDTH = 320
STILL_WIDTH = 640
MAX_PEER_MESSAGE = 4 << 20
"""Bigger messages on a peer topic are ignored (a full list with thumbnails is ~200 KB)."""
INFO_DELAY = 0.2
"""Announcement changes within this are sent as one (a camera coming online changes several)."""
BACKOFF_MAX = 30.0
STOP_TIMEOUT = 2.0
"""How long a stop waits for the broker to take `offline`: a clean disconnect cancels the last
will, so an `offline` that never arrived would leave this hub shown online to its peers."""
LISTENED = (
    MotionStarted,
    MotionEnded,
    EventStarted,
    EventEnded,
    StateChanged,
    CameraAdded,
    CameraChanged,
    CameraRemoved,
)
"""Bus events the notifier and the site link act on."""


def default_hub_name() -> str:
    """This machine's short host name, usable as one topic level."""
    return clean_level(socket.gethostname().split(".")[0]) or "camhub"


def mqtt_client(
    options: MqttOptions,
    tls: ssl.SSLContext | None,
    availability_topic: str,
    **extra: Any,
) -> aiomqtt.Client:
    """A client of the configured broker whose last will says `offline` on
    `availability_topic` (the notifier's connection and the site link's each have one)."""
    return aiomqtt.Client(
        options.host,
        options.port,
        username=options.username,
        password=options.password,
        keepalive=options.keepalive,
        tls_context=tls,
        will=aiomqtt.Will(availability_topic, OFFLINE, qos=1, retain=True),
        **extra,
    )


def clean_level(text: str) -> str:
    """`text` without the characters an MQTT topic level cannot hold."""
    return "".join(c for c in text if c not in "/+#\x00").strip()


def camhub_version() -> str:
    try:
        return version("camhub")
    except PackageNotFoundError:
        return "0+unknown"


def shrink_jpeg(jpeg: bytes, width: int) -> bytes | None:
    """The picture at most `width` wide, as JPEG (blocking: run in a thread); None if unreadable."""
    try:
        frames = av.CodecContext.create("mjpeg", "r").decode(av.Packet(jpeg))
    except av.error.FFmpegError:
        return None
    if not frames:
        return None
    frame = frames[0]
    if frame.width <= width:
        return jpeg
    height = max(2, round(frame.height * width / frame.width / 2) * 2)
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": "4", "qmax": "4"}
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    small.pts = 0
    return b"".join(bytes(p) for p in [*codec.encode(small), *codec.encode(None)])


class SiteLink:
    """This hub's membership of a site, over its own MQTT connection."""

    def __init__(self, notifier_id: str, options: MqttOptions, tls: ssl.SSLContext | None):
        assert options.site is not None
        self.notifier_id = notifier_id
        self.options = options
        self.name = options.hub_name or default_hub_name()
        self.prefix = f"{options.site}/hubs"
        self.mine = f"{self.prefix}/{self.name}"
        self._tls = tls
        self.hub: Any = None
        self.connected = False
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._info_task: asyncio.Task[None] | None = None
        self._stop_listener: Any = None
        self._recent: list[dict[str, Any]] = []
        self._thumbnails: dict[str, bytes] = {}

    # ---------------------------------------------------------- lifecycle

    def start(self, hub: Any) -> None:
        """Join the site in `hub.site`, listen on the bus, start the connection task."""
        self.hub = hub
        hub.site.join(self.options.site, self.name)
        self._stop_listener = hub.bus.async_listen(
            f"mqtt-site:{self.notifier_id}", self._async_on_event, LISTENED
        )
        self._task = hub.async_create_background_task(
            self._async_run(), f"mqtt-site:{self.notifier_id}"
        )

    async def async_stop(self) -> None:
        """Say `offline` (a clean disconnect sends no will) and close the connection."""
        if self._stop_listener is not None:
            self._stop_listener()
            self._stop_listener = None
        client = self._client
        if client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(
                    f"{self.mine}/availability", OFFLINE, qos=1, retain=True, timeout=STOP_TIMEOUT
                )
        for task in (self._info_task, self._task):
            if task is not None:
                task.cancel()
                await asyncio.wait([task], timeout=1.0)
        self._task = self._info_task = None

    def _new_client(self) -> aiomqtt.Client:
        return mqtt_client(
            self.options,
            self._tls,
            f"{self.mine}/availability",
            timeout=5.0,
            max_queued_incoming_messages=1000,
        )

    async def _async_run(self) -> None:
        attempt = 0
        while True:
            try:
                async with self._new_client() as client:
                    attempt = 0
                    # Known before the announcement: a stop that comes while it is under way
                    # (peers may already have heard `online`) must still say `offline`, as a
                    # clean disconnect cancels the last will.
                    self._client = client
                    await self._async_on_connect(client)
                    self.connected = True
                    _LOGGER.info(
                        "MQTT %s: in site %s as %s", self.notifier_id, self.options.site, self.name
                    )
                    async for message in client.messages:
                        self._on_message(message)
            except aiomqtt.MqttError as exc:
                _LOGGER.debug("MQTT %s: site connection: %s", self.notifier_id, exc)
            finally:
                self._client, self.connected = None, False
                # Unheard is not known to be up: peers show offline until the broker says again.
                for peer in list(self.hub.site.peers.values()):
                    self.hub.site.set_online(peer.name, False)
            attempt += 1
            await asyncio.sleep(min(BACKOFF_MAX, 2.0 ** max(attempt - 1, 0)))

    async def _async_on_connect(self, client: aiomqtt.Client) -> None:
        await client.publish(f"{self.mine}/info", json.dumps(self._info()), qos=1, retain=True)
        if not self._recent:
            self._recent = await self._async_stored_events()
        await client.publish(f"{self.mine}/events", self._events_payload(), qos=1, retain=True)
        await client.publish(f"{self.mine}/availability", ONLINE, qos=1, retain=True)
        for part in ("availability", "info", "events", "event"):
            await client.subscribe(f"{self.prefix}/+/{part}", qos=1)
        if self.options.site_pictures:
            await client.subscribe(f"{self.prefix}/+/cameras/+/still", qos=0)

    # ---------------------------------------------------------- what we say

    def _info(self) -> dict[str, Any]:
        cameras = []
        for camera_id, runtime in list(self.hub.cameras.items()):
            state = self.hub.states.get(f"camera.{camera_id}")
            cameras.append(
                {
                    "id": camera_id,
                    "name": runtime.name,
                    "state": state.state if state is not None else "unknown",
                    "armed": bool(runtime.armed),
                }
            )
        return {
            "name": self.name,
            "panel_url": self.options.panel_url or self._default_panel_url(),
            "version": camhub_version(),
            "cameras": cameras,
            "time": time.time(),
        }

    def _default_panel_url(self) -> str:
        server = self.hub.config.server
        scheme = "https" if server.tls.cert else "http"
        return f"{scheme}://{socket.gethostname()}:{server.port}"

    def _events_payload(self) -> str:
        listed = []
        for event in self._recent:
            item = dict(event)
            thumbnail = self._thumbnails.get(event["event_id"])
            if thumbnail is not None:
                item["thumbnail"] = base64.b64encode(thumbnail).decode()
            listed.append(item)
        return json.dumps(listed)

    async def _async_stored_events(self) -> list[dict[str, Any]]:
        """The latest events of earlier runs (without thumbnails)."""
        query = (
            "SELECT id, kind, camera, label, top_score, zones, start, end FROM events "
            "ORDER BY start DESC LIMIT ?"
        )
        try:
            rows = await self.hub.storage.async_read(
                lambda db: [dict(r) for r in db.query(query, [RECENT_EVENTS])]
            )
        except Exception:  # an empty or busy database: start with none
            _LOGGER.debug("MQTT %s: no stored events for the site", self.notifier_id)
            return []
        return [
            {
                "event_id": row["id"],
                "kind": row["kind"],
                "camera": row["camera"],
                "label": row["label"] or row["kind"],
                "top_score": row["top_score"],
                "zones": json.loads(row["zones"]) if isinstance(row["zones"], str) else [],
                "start": row["start"],
                "end": row["end"],
            }
            for row in rows
        ]

    async def _async_publish(self, topic: str, payload: str | bytes, retain: bool) -> None:
        client = self._client
        if client is None:
            return  # the next connection announces everything anew
        try:
            await client.publish(topic, payload, qos=1, retain=retain)
        except aiomqtt.MqttError as exc:
            _LOGGER.debug("MQTT %s: %s not published: %s", self.notifier_id, topic, exc)

    async def async_publish_still(self, camera_id: str, jpeg: bytes) -> None:
        """A camera's latest picture for the site (the notifier's still publisher calls this)."""
        if not self.options.site_pictures or self._client is None:
            return
        small = await asyncio.to_thread(shrink_jpeg, jpeg, STILL_WIDTH)
        if small is not None:
            await self._async_publish(f"{self.mine}/cameras/{camera_id}/still", small, True)

    def _announce_soon(self) -> None:
        if self._info_task is None or self._info_task.done():
            self._info_task = self.hub.async_create_task(
                self._async_announce(), f"mqtt-site-info:{self.notifier_id}"
            )

    async def _async_announce(self) -> None:
        await asyncio.sleep(INFO_DELAY)
        await self._async_publish(f"{self.mine}/info", json.dumps(self._info()), True)

    async def _async_on_event(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            if event.entity_id.startswith(("camera.", "detection.")):
                self._announce_soon()
            return
        if isinstance(event, CameraAdded | CameraChanged | CameraRemoved):
            self._announce_soon()
            return
        if isinstance(event, MotionStarted | MotionEnded):
            started = isinstance(event, MotionStarted)
            earlier = next((e for e in self._recent if e["event_id"] == event.event_id), None)
            start = event.time_fired if started or earlier is None else earlier["start"]
            data: dict[str, Any] = {
                "type": "start" if started else "end",
                "kind": "motion",
                "camera": event.camera,
                "event_id": event.event_id,
                "label": "motion",
                "top_score": None,
                "zones": [],
                "start": start,
                "end": None if started else event.time_fired,
            }
            await self._async_on_change(data)
        elif isinstance(event, EventStarted | EventEnded):
            await self._async_on_change(
                {
                    "type": "start" if isinstance(event, EventStarted) else "end",
                    "kind": "object",
                    "camera": event.camera,
                    "event_id": event.event_id,
                    "label": event.label,
                    "top_score": event.top_score,
                    "zones": list(event.zones),
                    "start": event.start,
                    "end": event.end if isinstance(event, EventEnded) else None,
                }
            )

    async def _async_on_change(self, data: dict[str, Any]) -> None:
        """An event started or ended: tell the site now, and update the retained list."""
        started = data["type"] == "start"
        await self._async_publish(f"{self.mine}/event", json.dumps(data), False)
        entry = {k: v for k, v in data.items() if k != "type"}
        at = next(
            (i for i, e in enumerate(self._recent) if e["event_id"] == entry["event_id"]), None
        )
        if at is None:
            self._recent.insert(0, entry)  # newest first
            del self._recent[RECENT_EVENTS:]
        else:
            self._recent[at] = entry
        known = {e["event_id"] for e in self._recent}
        self._thumbnails = {k: v for k, v in self._thumbnails.items() if k in known}
        if started and self.options.site_pictures:
            jpeg = await self.hub.cameras.async_snapshot(data["camera"])
            small = await asyncio.to_thread(shrink_jpeg, jpeg, THUMBNAIL_WIDTH) if jpeg else None
            if small is not None:
                self._thumbnails[data["event_id"]] = small
        await self._async_publish(f"{self.mine}/events", self._events_payload(), True)

    # ---------------------------------------------------------- what peers say

    def _on_message(self, message: aiomqtt.Message) -> None:
        levels = message.topic.value.split("/")
        base = len(self.prefix.split("/"))
        if len(levels) < base + 2:
            return
        peer, part = levels[base], levels[base + 1]
        payload = message.payload if isinstance(message.payload, bytes) else b""
        if peer == self.name or len(payload) > MAX_PEER_MESSAGE:
            return
        site = self.hub.site
        try:
            if part == "availability":
                site.set_online(peer, payload.decode(errors="replace").strip() == ONLINE)
            elif part == "info":
                if not payload:
                    site.forget(peer)
                    return
                info = json.loads(payload)
                cameras = [c for c in info.get("cameras", []) if _camera_entry(c)]
                site.announce(
                    peer, _text(info.get("panel_url")), _text(info.get("version")), cameras
                )
            elif part == "events":
                site.set_events(peer, [_event_entry(e) for e in json.loads(payload or b"[]")])
            elif part == "event":
                site.event(peer, json.loads(payload))
            elif (
                part == "cameras" and len(levels) == base + 4 and levels[-1] == "still" and payload
            ):
                site.set_still(peer, levels[base + 2], payload)  # an emptied one keeps the last
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            _LOGGER.warning(
                "MQTT %s: ignored what peer %s said on %s: %s", self.notifier_id, peer, part, exc
            )


def _text(value: Any) -> str | None:
    return str(value)[:500] if value is not None else None


def _camera_entry(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str) and "name" in item


def _event_entry(item: Any) -> dict[str, Any]:
    """One event of a peer's list, its thumbnail decoded (a broken one is dropped)."""
    if not isinstance(item, dict) or not isinstance(item.get("event_id"), str):
        raise ValueError("an event without event_id")
    entry = {k: v for k, v in item.items() if k != "thumbnail"}
    thumbnail = item.get("thumbnail")
    if isinstance(thumbnail, str):
        with contextlib.suppress(ValueError):
            entry["thumbnail"] = base64.b64decode(thumbnail, validate=True)
    return entry
