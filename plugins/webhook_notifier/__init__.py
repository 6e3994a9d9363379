"""Built-in `webhook` notifier: a signed JSON POST to a URL of yours."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
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
TIMESTAMP_HEADER = "X-Camhub-Timestamp"
SIGNATURE_HEADER = "X-Camhub-Signature"


class WebhookOptions(PluginOptions):
    """Options of a `webhook` notifier."""

    url: str = Field(description="Address the JSON is POSTed to (http:// or https://).")
    secret: str | None = Field(
        None,
        repr=False,
        description="Shared secret for the `X-Camhub-Signature` HMAC-SHA256 header; "
        "best kept in secrets.yaml. No signature header without it.",
    )
    timeout: float = Field(
        10.0, gt=0.0, le=120.0, description="Seconds to wait for the receiver's answer."
    )
    verify_tls: bool = Field(
        True, description="Check an https:// receiver's certificate (false for a self-signed one)."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers sent with each request."
    )
    rate_per_minute: int = Field(
        10, ge=1, le=600, description="Most notifications sent a minute (more wait their turn)."
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        url = URL(value.strip())
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be an http:// or https:// URL with a host")
        return str(url)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Camhub-Signature` value: `sha256=` + hex HMAC of `timestamp.body`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def payload(message: Message) -> dict[str, Any]:
    """The JSON object POSTed for `message`."""
    data = message.as_dict()
    if message.snapshot_jpeg:
        data["snapshot_base64"] = base64.b64encode(message.snapshot_jpeg).decode()
    return data


class WebhookNotifier:
    """POSTs each message as JSON, signed when a secret is set."""

    def __init__(self, notifier_id: str, options: WebhookOptions):
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

    async def async_send(self, message: Message) -> None:
        """POST the message; 5xx and network errors are temporary, other 4xx permanent."""
        body = json.dumps(payload(message)).encode()
        timestamp = str(int(time.time()))
        headers = {
            **self.options.headers,
            "Content-Type": "application/json",
            ID_HEADER: message.id,
            TIMESTAMP_HEADER: timestamp,
        }
        if self.options.secret:
            headers[SIGNATURE_HEADER] = sign(self.options.secret, timestamp, body)
        where = redact_url(self.options.url)
        try:
            async with self._client().post(self.options.url, data=body, headers=headers) as answer:
                status = answer.status
                reason = (await answer.text())[:200]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TemporaryNotifyError(f"{where}: {type(exc).__name__}: {exc}") from None
        raise_for_status(where, status, reason)

    async def async_close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


def _create(hub: Any, notifier_id: str, options: WebhookOptions) -> WebhookNotifier:
    return WebhookNotifier(notifier_id, options)


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `webhook` notifier type."""
    return [
        TypeSpec(
            name="webhook",
            options=WebhookOptions,
            create=_create,
            description="POST a signed JSON message to a URL.",
        )
    ]
