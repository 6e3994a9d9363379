"""Strict configuration models: every section and key, with a description per field."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

DEFAULT_PORT = 8470
SOURCE_SCHEMES = ("rtsp", "rtsps", "http", "https", "file", "demo")
CAMERA_ID_PATTERN = r"^[a-z0-9_]+$"
CAMERA_ID_MAX_LENGTH = 64
CAMERA_ID_RULE = "lowercase letters, digits and _ (at most 64)"
"""The camera id rule in words, for error messages."""
CameraId = Annotated[str, Field(pattern=CAMERA_ID_PATTERN, max_length=CAMERA_ID_MAX_LENGTH)]


def is_camera_id(value: object) -> bool:
    """Whether `value` may be a camera's id (in the config file or added at run time)."""
    return (
        isinstance(value, str)
        and len(value) <= CAMERA_ID_MAX_LENGTH
        and re.fullmatch(CAMERA_ID_PATTERN, value) is not None
    )


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _check_polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) < 3:
        raise ValueError(f"a polygon needs at least 3 points (got {len(points)})")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"points are normalised to 0..1 (got [{x}, {y}])")
    return points


def _check_pair(value: Any) -> Any:
    # Without this, [0.5] reads "points[2][1]: required key is missing".
    if isinstance(value, list | tuple) and len(value) != 2:
        raise ValueError(f"a point is [x, y] (got {len(value)} value(s))")
    return value


Point = Annotated[tuple[float, float], BeforeValidator(_check_pair)]


def _bare_off(value: Any) -> Any:
    # YAML 1.1 reads a bare `off` (and `no`) as false, so `mode: off` arrives as False;
    # for a choice that has an "off", false can only mean that.
    return "off" if value is False else value


SwitchOff = BeforeValidator(_bare_off)
"""Put on a `Literal[...]` choice that includes "off": an unquoted `off` in YAML is accepted."""
# Checked one by one so an error names the polygon: `masks[1]`, not `masks`.
Polygon = Annotated[list[Point], AfterValidator(_check_polygon)]


class TlsConfig(StrictModel):
    """HTTPS for the panel and API (both files or neither)."""

    cert: str | None = Field(
        None, description="PEM certificate (chain) file; relative paths are from the config file."
    )
    key: str | None = Field(None, description="PEM private key file of that certificate.")

    @field_validator("key")
    @classmethod
    def _both_or_neither(cls, key: str | None, info: Any) -> str | None:
        if (key is None) != (info.data.get("cert") is None):
            raise ValueError("set both server.tls.cert and server.tls.key, or neither")
        return key


class AuthConfig(StrictModel):
    """Sign-in sessions and login throttling."""

    session_idle_hours: float = Field(
        24.0, gt=0, description="A session unused this long ends; the user signs in again."
    )
    session_max_days: float = Field(
        30.0, gt=0, description="A session ends this long after sign-in, used or not."
    )
    max_login_failures: int = Field(
        5,
        ge=1,
        description="Failed logins for one user name from one address before that pair is "
        "locked; one address is locked after three times this over any names, and a user name "
        "failing ten times this from anywhere is only slowed down (at most 5 s a try), never "
        "locked.",
    )
    lockout_seconds: float = Field(
        30.0,
        gt=0,
        description="First lock after too many failures; each further failure doubles it "
        "(at most one hour).",
    )


def _check_allowed_host(value: str) -> str:
    """A host name or address the panel may be reached by, as a browser's Host header says it."""
    name = value.strip().lower().rstrip(".")
    bare = name[2:] if name.startswith("*.") else name
    if bare.startswith("[") and bare.endswith("]"):
        bare = name = bare[1:-1]
    try:
        ipaddress.ip_address(bare)
        return name
    except ValueError:
        pass
    labels = bare.split(".")
    if not bare or any(
        not re.fullmatch(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?", x) for x in labels
    ):
        raise ValueError(
            f"'{value}' is not a host name or address (no scheme, port or path; "
            "'*.example.org' allows every name under example.org)"
        )
    return name


AllowedHost = Annotated[str, AfterValidator(_check_allowed_host)]


class LimitsConfig(StrictModel):
    """How long a connection may stay silent or slow, and how many one address may hold."""

    idle_seconds: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="A connection that has not sent a whole request within this long is "
        "closed: a new one, one kept open between requests, or one sending its headers a byte "
        "at a time (slowloris). Running requests (a video, the live feed) are not affected.",
    )
    body_seconds: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="A request body must arrive whole within this long after its headers; a "
        "slower one is answered 408 and the connection closed.",
    )
    connections_per_address: int = Field(
        128,
        ge=0,
        description="Open connections one client address may hold (0: no limit); more are "
        "closed at once. Behind a reverse proxy every client has the proxy's address: raise "
        "it there.",
    )
    max_connections: int | None = Field(
        None,
        ge=1,
        description="Open connections in all; more are closed at once. Default: what the "
        "open-file limit allows after keeping room for recording and the database.",
    )


class ServerConfig(StrictModel):
    """Where the web panel and API listen."""

    host: str | None = Field(
        None,
        description="Address to listen on. Empty (the default): every address of the machine, "
        "IPv4 and IPv6, so phones and laptops on the LAN reach the panel (first-run setup "
        "needs the code `camhub run` prints). 127.0.0.1 keeps it to this machine; "
        "`camhub run --host` overrides it.",
    )
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="TCP port of the panel and API.")
    allowed_hosts: list[AllowedHost] = Field(
        default_factory=list,
        description="More names the panel is reached by, such as a reverse proxy's "
        "(`camhub.example.org`, `*.example.org`). Requests naming any other host are refused "
        "(421), so a web page cannot reach the hub through DNS rebinding; loopback, this "
        "machine's names (`hostname`, `hostname.local`) and addresses, and `server.host` are "
        "always allowed.",
    )
    tls: TlsConfig = Field(
        default_factory=TlsConfig, description="Serve HTTPS with this certificate and key."
    )
    auth: AuthConfig = Field(
        default_factory=AuthConfig, description="Session lifetimes and login throttling."
    )
    limits: LimitsConfig = Field(
        default_factory=LimitsConfig,
        description="Time-outs for idle and slow connections and caps on how many are open.",
    )


class EncryptionConfig(StrictModel):
    """Encryption of footage at rest (segments, snapshots, clips)."""

    mode: Annotated[Literal["off", "key", "sealed"], SwitchOff] = Field(
        "off",
        description="`off`: plain files. `key`: AES-256-GCM with a master key kept in the data "
        "dir (stops only someone copying the footage folder alone). `sealed`: encrypted to a "
        "public key; footage can be read only after an admin unlocks with the passphrase "
        "(`camhub keys init` first).",
    )


class StorageConfig(StrictModel):
    """Where the database and footage live."""

    path: str | None = Field(
        None, description="Data directory; `--data` overrides it. Default: ~/.local/share/camhub."
    )
    max_days: float | None = Field(
        None, gt=0, description="Delete footage of any camera older than this many days."
    )
    max_gb: float | None = Field(
        None, gt=0, description="Keep at most this many GB of footage over all cameras."
    )
    min_free_gb: float = Field(
        1.0,
        ge=0,
        description="Free disk space to keep; below it the oldest footage goes, and if that "
        "is not enough, recording pauses until space returns.",
    )
    retention_check_seconds: float = Field(
        300.0, ge=10, le=86400, description="How often retention limits are enforced."
    )
    encryption: EncryptionConfig = Field(
        default_factory=EncryptionConfig, description="Encryption of footage at rest."
    )


class DetectConfig(StrictModel):
    """Frames handed to detectors."""

    enabled: bool = Field(True, description="Run motion/object detection on this camera.")
    fps: float = Field(5.0, gt=0, le=30, description="Frames per second decoded for detection.")
    height: int = Field(360, ge=64, le=2160, description="Detection frames are scaled to this.")
    decode: Literal["adaptive", "always"] = Field(
        "adaptive",
        description="adaptive: while nothing moves and no event is open, decode keyframes only "
        "and look for motion on those (a fraction of the CPU); on motion, decode the frames "
        "since the previous keyframe and then every frame. always: decode every frame.",
    )
    idle_after: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="adaptive: go back to keyframes only once motion and events have been "
        "quiet this many seconds.",
    )


class MotionConfig(StrictModel):
    """Motion detection on the camera's detection frames."""

    enabled: bool = Field(True, description="Look for motion (needs `detect.enabled`).")
    source: Literal["hub", "camera"] = Field(
        "hub",
        description="hub: find motion in the video; camera: use the camera's own motion "
        "events (ONVIF), which costs the hub no decoding.",
    )
    threshold: int = Field(
        30, ge=1, le=255, description="Brightness change (0-255) that counts as motion."
    )
    min_area: int = Field(
        10, ge=1, description="Smallest moving blob, in pixels of the working image."
    )
    frame_height: int = Field(
        100, ge=32, le=720, description="Height of the small image motion is computed on."
    )
    end_after: float = Field(
        5.0, gt=0, le=600, description="Seconds without motion before a motion event ends."
    )


DEFAULT_OBJECT_LABELS = ("person", "car", "dog", "cat", "bicycle", "motorcycle")
"""What makes object events unless `objects.labels` says otherwise."""


class LabelFilter(StrictModel):
    """Settings for one label, over the camera's `objects` defaults."""

    min_score: float = Field(
        ge=0, le=1, description="Ignore detections of this label scored lower (0 to 1)."
    )


class ObjectsConfig(StrictModel):
    """Object detection around motion, tracking and object events (at the top: defaults)."""

    enabled: bool = Field(
        True,
        description="Look for objects around motion (needs `detect.enabled`). With no "
        "`detectors` section the bundled COCO model is used.",
    )
    source: Literal["hub", "camera"] = Field(
        "hub",
        description="hub: detect objects in the video with a detector; camera: use the "
        "camera's own person/vehicle/animal detection (ONVIF events), which costs the hub "
        "no decoding. Its labels are person, vehicle, animal, face and package.",
    )
    detector: str | None = Field(
        None,
        description="Id of the `detectors` entry to use; default: the only one there is, or "
        "the bundled model when there is none.",
    )
    labels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_OBJECT_LABELS),
        description="Labels that make events (names the detector uses, e.g. COCO's).",
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Ignore detections scored lower.")
    filters: dict[str, LabelFilter] = Field(
        default_factory=dict,
        description="Per-label settings over `min_score`, e.g. `person: {min_score: 0.6}`.",
    )
    max_fps: float = Field(
        2.0, gt=0, le=30, description="Detector calls per second at most for this camera."
    )
    min_hits: int = Field(
        2, ge=1, le=30, description="Frames an object must be seen in before it makes an event."
    )
    end_after: float = Field(
        10.0, gt=0, le=600, description="Seconds without the object before its event ends."
    )
    stationary_seconds: float = Field(
        30.0, gt=0, description="An object still this long (a parked car) stops holding events."
    )

    def min_score_for(self, label: str) -> float:
        """The score a detection of `label` needs to count."""
        label_filter = self.filters.get(label)
        return label_filter.min_score if label_filter is not None else self.min_score

    def under(self, defaults: ObjectsConfig) -> ObjectsConfig:
        """These settings, with every key this section does not write taken from `defaults`."""
        written = {name: getattr(self, name) for name in self.model_fields_set}
        return defaults.model_copy(update=written)


class SnapshotsConfig(StrictModel):
    """The picture every event keeps (and shows in the event list)."""

    object_box: bool = Field(
        True, description="Draw the object's box on object event snapshots (person, car, ...)."
    )
    motion_boxes: bool = Field(
        False, description="Draw the areas that moved on motion event snapshots."
    )


class RecordConfig(StrictModel):
    """How footage is kept."""

    mode: Annotated[Literal["off", "events", "continuous"], SwitchOff] = Field(
        "events",
        description="off: never record; events: around events; continuous: always. A bare "
        "`off` (which YAML reads as false) means off.",
    )
    segment_seconds: float = Field(10.0, gt=0, le=600, description="Target MP4 segment length.")
    pre_seconds: float = Field(5.0, ge=0, le=60, description="Footage kept before an event.")
    post_seconds: float = Field(5.0, ge=0, le=600, description="Footage kept after an event.")
    max_days: float | None = Field(None, gt=0, description="Delete footage older than this.")
    max_gb: float | None = Field(None, gt=0, description="Keep at most this much footage.")


class Zone(StrictModel):
    """A named area; objects whose bottom centre is inside are 'in' the zone."""

    points: list[Point] = Field(
        description="Polygon corners, at least 3, each [x, y] from 0..1 (top left is [0, 0])."
    )
    labels: list[str] = Field(default_factory=list, description="Only these labels count here.")

    _points = field_validator("points")(_check_polygon)


class OnvifConfig(StrictModel):
    """How to reach a camera's ONVIF services (events, PTZ); give `host` or `device_url`."""

    host: str | None = Field(
        None,
        description="Camera address; the device service is taken to be "
        "http://HOST:PORT/onvif/device_service.",
    )
    port: int = Field(80, ge=1, le=65535, description="HTTP port of the ONVIF services.")
    device_url: str | None = Field(
        None, description="Full device service URL (as WS-Discovery reports it); wins over host."
    )
    username: str | None = Field(None, description="ONVIF user (often the camera's admin user).")
    password: str | None = Field(None, description="ONVIF password; use `!secret`.")
    events: bool = Field(
        True, description="Pull the camera's events (motion and others) into the hub."
    )
    snapshot_url: str | None = Field(
        None, description="JPEG snapshot URL the camera reported (GetSnapshotUri)."
    )
    timeout: float = Field(10.0, gt=0, le=60, description="Seconds to wait for an answer.")
    privacy_masks: bool = Field(
        True,
        description="Push the camera's `privacy_masks` to it (ONVIF Media2 masks) so it burns "
        "them in itself; if it cannot, or reads them back wrong, the hub re-encodes instead.",
    )

    @field_validator("device_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    @model_validator(mode="after")
    def _where(self) -> OnvifConfig:
        if not self.host and not self.device_url:
            raise ValueError("give `host` or `device_url`")
        return self

    def service_url(self) -> str | None:
        """The device service URL, or None when neither host nor device_url is set."""
        if self.device_url:
            return self.device_url
        if not self.host:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/onvif/device_service"


class CameraConfig(StrictModel):
    """One camera."""

    name: str | None = Field(None, description="Display name; defaults to the camera id.")
    enabled: bool = Field(True, description="Start this camera.")
    url: str = Field(description="Main stream: rtsp://, rtsps://, http(s)://, a file, demo://.")
    detect_url: str | None = Field(None, description="Optional sub-stream decoded for detection.")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTSP over TCP (reliable through Wi-Fi) or UDP (lower latency)."
    )
    open_timeout: float = Field(
        10.0, gt=0, le=120, description="Seconds to wait for the camera to answer when connecting."
    )
    stall_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Reconnect when the stream delivers nothing for this many seconds.",
    )
    detect: DetectConfig = Field(
        default_factory=DetectConfig, description="Frames handed to motion/object detection."
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="Motion detection settings."
    )
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig, description="Object detection and object events."
    )
    snapshots: SnapshotsConfig = Field(
        default_factory=SnapshotsConfig, description="The picture each event keeps."
    )
    record: RecordConfig = Field(default_factory=RecordConfig, description="How footage is kept.")
    zones: dict[str, Zone] = Field(default_factory=dict, description="Named zones.")
    masks: list[Polygon] = Field(
        default_factory=list,
        description="Polygons ignored by motion detection; corners written like zone points.",
    )
    privacy_masks: list[Polygon] = Field(
        default_factory=list,
        description=(
            "Polygons filled with black before anything is recorded, shown, snapshotted or "
            "detected; corners like zone points. An ONVIF camera that takes them burns them "
            "in itself (see `onvif.privacy_masks`), else the hub re-encodes its stream."
        ),
    )
    face_blur: bool = Field(
        False,
        description=(
            "Blur faces in this camera's snapshots and exported clips (needs "
            "`camhub models install centerface`); without a working face blur they are withheld. "
            "Viewers get blurred pictures instead of live video."
        ),
    )
    onvif: OnvifConfig | None = Field(
        None, description="ONVIF access, for the camera's own events and PTZ."
    )

    @field_validator("url", "detect_url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is None:
            return url
        scheme, sep, _ = url.partition("://")
        if not sep:
            return url  # a local file path
        if scheme.lower() not in SOURCE_SCHEMES:
            raise ValueError(
                f"unsupported scheme '{scheme}://' (use one of "
                + ", ".join(f"{s}://" for s in SOURCE_SCHEMES)
                + ")"
            )
        return url


class TypedSection(BaseModel):
    """A section whose options depend on its `type`; the plugin for that type checks them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(description="Which plugin handles this entry.")

    def options(self) -> dict[str, Any]:
        """Every key except `type`."""
        return dict(self.model_extra or {})


class AutomationTraceConfig(StrictModel):
    """What an automation keeps of its runs."""

    keep: int = Field(50, ge=1, le=1000, description="Traces kept (newest first).")


class AutomationConfig(StrictModel):
    """An automation; triggers, conditions and actions are checked by the automation engine."""

    id: str = Field(min_length=1, description="Stable identifier, used in URLs and traces.")
    alias: str | None = Field(None, description="Human name shown in the panel.")
    description: str | None = Field(None, description="Free text: what it is for.")
    enabled: bool = Field(True, description="Run this automation.")
    mode: Literal["single", "restart", "queued", "parallel"] = Field(
        "single",
        description="When triggered while running: single ignores, restart stops the old run, "
        "queued waits, parallel runs alongside.",
    )
    max: int = Field(10, ge=1, le=1000, description="Runs allowed at once (queued/parallel).")
    variables: dict[str, Any] = Field(
        default_factory=dict, description="Values the triggers, conditions and actions can use."
    )
    triggers: list[dict[str, Any]] = Field(
        min_length=1, description="What starts it; any one trigger is enough."
    )
    conditions: list[dict[str, Any]] = Field(
        default_factory=list, description="Checks that must all pass for the actions to run."
    )
    actions: list[dict[str, Any]] = Field(min_length=1, description="What it does, in order.")
    trace: AutomationTraceConfig = Field(
        default_factory=AutomationTraceConfig, description="What is kept of its runs."
    )


class DiscoveryConfig(StrictModel):
    """Finding cameras on the LAN."""

    enabled: bool = Field(
        False,
        description="Keep looking in the background (mDNS browse, WS-Discovery Hello/Bye, "
        "re-probes). Off: the hub stays quiet on the LAN until asked to scan.",
    )
    interfaces: list[str] = Field(
        default_factory=list,
        description="IPv4 addresses of the interfaces to use; empty means every non-loopback "
        "interface that is up.",
    )
    rescan_seconds: float = Field(
        300.0, ge=30, le=86400, description="Background mode: how often WS-Discovery re-probes."
    )


class LocationConfig(StrictModel):
    """Where the house is: time zone for schedules, coordinates for sunrise/sunset."""

    time_zone: str | None = Field(None, description="IANA name, e.g. Europe/Paris; default: local.")
    latitude: float | None = Field(
        None, ge=-90, le=90, description="Degrees north (negative: south), for sunrise/sunset."
    )
    longitude: float | None = Field(
        None, ge=-180, le=180, description="Degrees east (negative: west), for sunrise/sunset."
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is None:
            return name
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{name}'") from None
        return name


class LoggingConfig(StrictModel):
    """Log verbosity."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe messages written to the log; `-v` forces debug."
    )


class PluginsConfig(StrictModel):
    """Plugin loading."""

    disabled: list[str] = Field(default_factory=list, description="Plugin names not to load.")


class HubConfig(StrictModel):
    """The whole configuration file."""

    server: ServerConfig = Field(
        default_factory=ServerConfig, description="Where the web panel and API listen."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Where the database and footage live."
    )
    location: LocationConfig = Field(
        default_factory=LocationConfig, description="Time zone and coordinates of the house."
    )
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Log verbosity.")
    discovery: DiscoveryConfig = Field(
        default_factory=DiscoveryConfig, description="Finding cameras on the LAN."
    )
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig,
        description="Object detection defaults for every camera; a camera's own `objects` keys "
        "win. `enabled: false` here turns object detection off everywhere.",
    )
    plugins: PluginsConfig = Field(default_factory=PluginsConfig, description="Plugin loading.")
    plugins_dir: str | None = Field(None, description="Folder of single-file local plugins.")
    cameras: dict[CameraId, CameraConfig] = Field(
        default_factory=dict, description="Cameras by id (lowercase, digits, _)."
    )
    detectors: dict[str, TypedSection] = Field(
        default_factory=dict, description="Object detectors by id; options depend on `type`."
    )
    notifiers: dict[str, TypedSection] = Field(
        default_factory=dict, description="Notification channels by id; options depend on `type`."
    )
    automations: list[AutomationConfig] = Field(
        default_factory=list, description="Automations: when something happens, do something."
    )

    def camera_objects(self, camera: CameraConfig) -> CameraConfig:
        """`camera` with its `objects` settings completed from the top-level `objects`."""
        return camera.model_copy(update={"objects": camera.objects.under(self.objects)})
