"""Options of an `mqtt` notifier (`notifiers.<id>` with `type: mqtt`)."""

from __future__ import annotations

from pydantic import Field, field_validator

from hub import PluginOptions


def _topic_prefix(value: str) -> str:
    value = value.strip()
    if not value or value.startswith("/") or value.endswith("/") or set(value) & {"+", "#"}:
        raise ValueError("must be a topic without wildcards (+, #) or a leading/trailing /")
    return value


class MqttOptions(PluginOptions):
    """Options of an `mqtt` notifier."""

    host: str = Field(description="Host name or address of the MQTT broker.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(None, description="User name, if the broker asks for one.")
    password: str | None = Field(
        None, repr=False, description="Password for `username`; best kept in secrets.yaml."
    )
    tls: bool = Field(False, description="Connect with TLS, checking the broker's certificate.")
    ca_file: str | None = Field(
        None,
        description="CA certificate file (PEM) to check the broker with; default: the system's.",
    )
    client_id: str | None = Field(
        None, description="MQTT client id; default: a random one for each connection."
    )
    discovery: bool = Field(
        True, description="Publish Home Assistant MQTT discovery configs for every camera."
    )
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")
    topic_prefix: str = Field(
        "camhub", description="First level of every topic camhub publishes and listens to."
    )
    keepalive: int = Field(
        30, ge=5, le=3600, description="Seconds between keep-alive pings to the broker."
    )
    snapshots: bool = Field(
        True,
        description="Publish the camera's picture to its snapshot topic (Home Assistant's camera "
        "entity) when a motion or object event starts.",
    )
    still_interval: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="Seconds between current pictures of each online camera on its snapshot "
        "topic, so Home Assistant's camera entity has a picture without any automation; "
        "0 turns them off. Each one decodes a frame.",
    )

    site: str | None = Field(
        None,
        description="Join a site of hubs on this broker: the topic prefix every hub of the site "
        "shares, e.g. `camhub-site`. Each hub announces itself, its cameras and its events "
        "there, and the panel shows its peers'. Off when empty.",
    )
    hub_name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="This hub's name in the site (unique there); default: the host name.",
    )
    panel_url: str | None = Field(
        None,
        description="The URL peers' panels link to for this hub's footage, e.g. "
        "`http://barn.lan:8470`; default: http(s)://<host name>:<server.port>.",
    )
    site_pictures: bool = Field(
        True,
        description="Share each camera's latest still and event thumbnails with the site "
        "(small JPEGs, retained on the broker); footage never leaves this hub.",
    )

    _check_discovery_prefix = field_validator("discovery_prefix")(_topic_prefix)
    _check_topic_prefix = field_validator("topic_prefix")(_topic_prefix)

    @field_validator("site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return None if value is None else _topic_prefix(value)

    @field_validator("hub_name")
    @classmethod
    def _hub_name(cls, value: str | None) -> str | None:
        if value is not None and (set(value) & {"/", "+", "#"} or value != value.strip()):
            raise ValueError("must be one topic level: no /, +, # or surrounding spaces")
        return value
