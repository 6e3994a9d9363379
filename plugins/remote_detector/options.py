"""Options of the remote detectors: where the server is, and how patient to be with it."""

from __future__ import annotations

from pydantic import Field, field_validator
from yarl import URL

from hub import PluginOptions

DETECTION_PATH = "/v1/vision/detection"


def _http_url(value: str) -> str:
    try:
        url = URL(value.strip())
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return str(url)


class RemoteOptions(PluginOptions):
    """How patient a remote detector is with its server (shared by every remote type)."""

    timeout: float = Field(
        5.0, gt=0.0, le=120.0, description="Seconds to wait for one answer before giving up."
    )
    retries: int = Field(
        1, ge=0, le=5, description="Extra tries after a timeout, a dropped connection or HTTP 5xx."
    )
    breaker_failures: int = Field(
        3, ge=1, description="Failed calls in a row that make the detector stop calling."
    )
    breaker_seconds: float = Field(
        30.0,
        gt=0.0,
        description="Seconds to fail fast after that, before one trial call is let through.",
    )
    verify_tls: bool = Field(
        True, description="Check the server's HTTPS certificate (false for a self-signed one)."
    )
    max_concurrency: int = Field(
        2, ge=1, le=32, description="Requests in flight at once (a batch's images go in parallel)."
    )


class DeepStackOptions(RemoteOptions):
    """Options of a `deepstack` detector (DeepStack or CodeProject.AI server)."""

    url: str = Field(
        description="Base URL of the server, e.g. `http://192.168.1.50:32168` "
        f"(`{DETECTION_PATH}` is appended unless the URL already has a `/v1/vision/...` path)."
    )
    min_confidence: float = Field(
        0.4, ge=0.0, le=1.0, description="Objects scored below this (0..1) are dropped."
    )
    api_key: str | None = Field(
        None,
        repr=False,
        description="API key, sent as the `api_key` form field (DeepStack's `--API-KEY`); "
        "best kept in secrets.yaml.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    def endpoint(self) -> URL:
        """The URL images are posted to."""
        url = URL(self.url)
        if "/v1/vision/" in url.path:
            return url
        return url.with_path(url.path.rstrip("/") + DETECTION_PATH)
