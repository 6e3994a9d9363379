"""Built-in `webhook` automation action: call an HTTP URL (the core speaks no HTTP itself)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
from pydantic import Field, field_validator

from hub import AutomationType, Context, PluginOptions, hookimpl
from hub import render_template as render

__version__ = "1.0.0"

MAX_RESPONSE_CHARS = 500
SENT_VARIABLES = ("automation", "alias", "trigger", "camera", "label", "zone", "zones", "score",
                  "event_id", "mode", "state", "topic")  # fmt: skip
"""What the default JSON body carries: names, never whole events or payloads."""


class WebhookActionOptions(PluginOptions):
    """Options of the `webhook` action."""

    url: str = Field(description="http:// or https:// URL to call.")
    method: Literal["GET", "POST", "PUT"] = Field("POST", description="HTTP method.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    body: str | None = Field(
        None,
        max_length=10_000,
        description="Body template ({camera}, {label}...); default: JSON of the trigger's names.",
        json_schema_extra={"format": "template"},
    )
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds to wait for the answer.")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url


class WebhookAction:
    """One HTTP request per run; a status of 400 or more fails the step."""

    def __init__(self, hub: Any, options: WebhookActionOptions):
        self.hub = hub
        self.options = options

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Send the request; the trace keeps the status and the start of the answer."""
        options = self.options
        engine = self.hub.automations
        headers = dict(options.headers)
        if options.body is not None:
            data = render(options.body, variables, engine.clock.now(), engine.tz).encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            sent = {key: variables[key] for key in SENT_VARIABLES if key in variables}
            sent["context_id"] = context.id
            data = json.dumps(sent, default=str).encode()
            headers.setdefault("Content-Type", "application/json")
        timeout = aiohttp.ClientTimeout(total=options.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                options.method,
                options.url,
                data=None if options.method == "GET" else data,
                headers=headers,
            ) as response,
        ):
            text = (await response.text(errors="replace"))[:MAX_RESPONSE_CHARS]
            if response.status >= 400:
                raise RuntimeError(f"HTTP {response.status} {response.reason}: {text[:100]}")
            return {"status": response.status, "response": text}


def _create(hub: Any, automation_id: str, options: WebhookActionOptions) -> WebhookAction:
    return WebhookAction(hub, options)


@hookimpl
def automation_types() -> list[AutomationType]:
    """Offer the `webhook` action."""
    return [
        AutomationType(
            name="webhook",
            kind="action",
            options=WebhookActionOptions,
            create=_create,
            description="Call an HTTP URL (POST the trigger's names as JSON, or a body template).",
            title="Call a web address",
            icon="🌐",
        )
    ]
