"""ONVIF events: a pull-point subscription kept alive, its messages made motion and events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin
from xml.etree.ElementTree import Element

from plugins.onvif.client import EVENTS_NS, OnvifClient, reachable_xaddr
from plugins.onvif.soap import (
    WSA,
    OnvifError,
    child,
    children,
    descendant,
    local,
    strip_prefixes,
    text,
)
from plugins.onvif.vendor_events import MOTION, signal_of

_LOGGER = logging.getLogger(__name__)

SUBSCRIPTION_SECONDS = 60
"""Termination time asked for; renewed at half of it."""
PULL_SECONDS = 5
"""Long-poll: the device holds PullMessages this long when it has nothing."""
MESSAGE_LIMIT = 32
RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 300.0
MAX_ITEMS = 16


@dataclass(frozen=True)
class Notification:
    """One NotificationMessage: topic without prefixes, Source and Data simple items."""

    topic: str
    source: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    operation: str = ""


def parse_notifications(answer: Element) -> list[Notification]:
    """The messages of a PullMessagesResponse; malformed ones are skipped."""
    out = []
    for message in list(children(answer, "NotificationMessage"))[:MESSAGE_LIMIT]:
        topic = strip_prefixes(text(child(message, "Topic")))[:200]
        if not topic:
            continue
        inner = child(child(message, "Message"), "Message")
        if inner is None:
            inner = descendant(message, "Message")
        out.append(
            Notification(
                topic=topic,
                source=_items(child(inner, "Source")),
                data=_items(child(inner, "Data")),
                operation=(inner.get("PropertyOperation", "") if inner is not None else "")[:16],
            )
        )
    return out


def _items(element: Element | None) -> dict[str, str]:
    items: dict[str, str] = {}
    if element is None:
        return items
    for item in element.iter():
        if local(item.tag) in ("SimpleItem", "ElementItem") and len(items) < MAX_ITEMS:
            name = item.get("Name", "")[:64]
            if name:
                items[name] = item.get("Value", "")[:256]
    return items


def motion_of(notification: Notification) -> bool | None:
    """True/False when this message says motion started/stopped, None when it is not motion."""
    signal = signal_of(notification)
    return signal.active if signal is not None and signal.kind == MOTION else None


def source_key(notification: Notification) -> str:
    """Which video source or rule a message is about: motion is on while any is."""
    return ",".join(f"{k}={v}" for k, v in sorted(notification.source.items()))


def pull_point_url(address: str, events_url: str) -> str | None:
    """The pull point's http(s) URL; some devices give only its path (`/onvif/Subscription?
    Idx=1`), which is relative to the events service that created it. None if there is none."""
    if not address:
        return None
    try:
        absolute = urljoin(events_url, address)
    except ValueError:
        return None
    return absolute if absolute.lower().startswith(("http://", "https://")) else None


class PullPoint:
    """One pull-point subscription: create, pull, renew, unsubscribe."""

    def __init__(self, client: OnvifClient):
        self.client = client
        self.address: str | None = None

    async def async_subscribe(self) -> None:
        """CreatePullPointSubscription at the events service."""
        url = self.client.service(EVENTS_NS) or self.client.device_url
        answer = await self.client.async_call(
            url,
            "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>"
            f"PT{SUBSCRIPTION_SECONDS}S</tev:InitialTerminationTime>"
            "</tev:CreatePullPointSubscription>",
        )
        address = pull_point_url(
            text(descendant(child(answer, "SubscriptionReference"), "Address")), url
        )
        if address is None:
            raise OnvifError("the device gave no pull-point address", "CreatePullPointSubscription")
        self.address = reachable_xaddr(address, self.client.device_url)

    def _to(self) -> str:
        assert self.address is not None
        return f'<wsa:To xmlns:wsa="{WSA}">{_xml(self.address)}</wsa:To>'

    async def async_pull(self) -> list[Notification]:
        """PullMessages, waiting up to PULL_SECONDS on the device for something to happen."""
        assert self.address is not None
        answer = await self.client.async_call(
            self.address,
            f"<tev:PullMessages><tev:Timeout>PT{PULL_SECONDS}S</tev:Timeout>"
            f"<tev:MessageLimit>{MESSAGE_LIMIT}</tev:MessageLimit></tev:PullMessages>",
            headers=self._to(),
            timeout=self.client.timeout + PULL_SECONDS,
        )
        return parse_notifications(answer)

    async def async_renew(self) -> None:
        """Renew before the termination time passes."""
        assert self.address is not None
        await self.client.async_call(
            self.address,
            f"<wsnt:Renew><wsnt:TerminationTime>PT{SUBSCRIPTION_SECONDS}S"
            "</wsnt:TerminationTime></wsnt:Renew>",
            headers=self._to(),
        )

    async def async_unsubscribe(self) -> None:
        """Tell the device we are gone (best effort: it expires anyway)."""
        if self.address is None:
            return
        with contextlib.suppress(OnvifError):
            await self.client.async_call(
                self.address, "<wsnt:Unsubscribe/>", headers=self._to(), timeout=1.5
            )
        self.address = None


async def async_follow(
    client: OnvifClient,
    handle: Callable[[Notification], None],
    on_status: Callable[[str, str | None], None] | None = None,
) -> None:
    """Keep a subscription alive until cancelled, handing every message to `handle` and
    telling `on_status` when it is "connected" and when it failed ("error", reason).

    Any failure (camera rebooted, subscription expired) starts over after a pause
    that doubles, up to MAX_RETRY_SECONDS, while failures go on.
    """
    loop = asyncio.get_running_loop()
    pull_point = PullPoint(client)
    delay = RETRY_SECONDS
    try:
        while True:
            try:
                if not client.services:
                    await client.async_connect()
                await pull_point.async_subscribe()
                if on_status is not None:
                    on_status("connected", None)
                delay = RETRY_SECONDS
                renew_at = loop.time() + SUBSCRIPTION_SECONDS / 2
                while True:
                    for notification in await pull_point.async_pull():
                        handle(notification)
                    if loop.time() >= renew_at:
                        await pull_point.async_renew()
                        renew_at = loop.time() + SUBSCRIPTION_SECONDS / 2
            except OnvifError as exc:
                _LOGGER.warning(
                    "ONVIF events from %s: %s; retrying in %g s", client.host, exc, delay
                )
                pull_point.address = None
                client.services = {}
                if on_status is not None:
                    on_status("error", str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
    finally:
        await asyncio.shield(pull_point.async_unsubscribe())


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
