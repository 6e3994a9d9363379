"""Built-in `ntfy` notifier: phone push through your own ntfy server, with no cloud."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
from pydantic import Field, field_validator
from yarl import URL

from hub import (
    Message,
    PluginOptions,
    TemporaryNotifyError,
    TypeSpec,
    hookimpl,
    raise_for_status,
    redact_url,
)

__version__ = "1.0.0"

ID_HEADER = "X-Camhub-Id"
"""ntfy ignores it; a proxy or script in front of ntfy can use it to drop a duplicate."""


class NtfyOptions(PluginOptions):
    """Options of an `ntfy` notifier."""

    url: str = Field(
        description="Server and topic, e.g. `http://ntfy.lan/camhub` (the topic is the path)."
    )
    token: str | None = Field(
        None,
        repr=False,
        description="Access token (`tk_...`), sent as `Authorization: Bearer`; "
        "best kept in secrets.yaml.",
    )
    timeout: float = Field(
        10.0, gt=0.0, le=120.0, description="Seconds to wait for the server's answer."
    )
    verify_tls: bool = Field(
        True, description="Check an https:// server's certificate (false for a self-signed one)."
    )
    click_base: str | None = Field(
        None,
        description="Address of the camhub panel as the phone reaches it, e.g. "
        "`http://camhub.lan:8470`; tapping a notification opens the event there.",
    )
    rate_per_minute: int = Field(
        10, ge=1, le=600, description="Most notifications sent a minute (more wait their turn)."
    )

    @field_validator("url")
    @classmethod
    def _topic_url(cls, value: str) -> str:
        url = URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        if url.path.strip("/") == "":
            raise ValueError("must end with the topic, e.g. http://ntfy.lan/camhub")
        return str(url)


def header_text(text: str) -> str:
    """`text` made safe for an HTTP header: one line, RFC 2047 when not ASCII (ntfy decodes it)."""
    text = text.replace("\r", "").replace("\n", "\\n")
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


class NtfyNotifier:
    """Publishes each message to one ntfy topic (ntfy's HTTP publish API)."""

    def __init__(self, notifier_id: str, options: NtfyOptions):
        self.notifier_id = notifier_id
        self.options = options
        self.rate_per_minute = options.rate_per_minute
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.options.timeout),
                connector=aiohttp.TCPConnector(ssl=self.options.verify_tls),
            )
        return self._session

    def request(self, message: Message) -> tuple[dict[str, str], bytes]:
        """Headers and body of the publish request for `message`."""
        headers = {
            "Title": header_text(message.title),
            "Priority": str(min(5, max(1, message.priority))),
            ID_HEADER: message.id,
        }
        if message.tags:
            headers["Tags"] = header_text(",".join(message.tags))
        if self.options.click_base and message.event_id:
            headers["Click"] = f"{self.options.click_base.rstrip('/')}/#/events/{message.event_id}"
        elif message.clip_url and message.clip_url.startswith(("http://", "https://")):
            headers["Click"] = message.clip_url
        if self.options.token:
            headers["Authorization"] = f"Bearer {self.options.token}"
        if message.snapshot_jpeg:
            # An attachment upload: the picture is the body, the text goes in a header.
            headers["Filename"] = "snapshot.jpg"
            headers["Message"] = header_text(message.body)
            return headers, message.snapshot_jpeg
        return headers, message.body.encode()

    async def async_send(self, message: Message) -> None:
        """PUT the message to the topic; 5xx, 429 and network errors are temporary."""
        headers, body = self.request(message)
        where = redact_url(self.options.url)
        try:
            async with self._client().put(self.options.url, data=body, headers=headers) as answer:
                status = answer.status
                reason = (await answer.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryNotifyError(f"{where}: {type(exc).__name__}: {exc}") from None
        raise_for_status(where, status, reason)

    async def async_close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def _create(hub: Any, notifier_id: str, options: NtfyOptions) -> NtfyNotifier:
    return NtfyNotifier(notifier_id, options)


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `ntfy` notifier type."""
    return [
        TypeSpec(
            name="ntfy",
            options=NtfyOptions,
            create=_create,
            description="Push to phones through a self-hosted ntfy server.",
        )
    ]
