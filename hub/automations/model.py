"""Options of the built-in trigger, condition and action types, and their cross-checks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from hub.automations.schedule import WEEKDAYS, Cron, parse_time
from hub.extensions.registry import PluginOptions

OneOrMany = Annotated[
    list[str], BeforeValidator(lambda value: [value] if isinstance(value, str) else value)
]
"""A list of strings that also accepts one bare string (`label: person`)."""

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_MODE = re.compile(r"^[a-z0-9_]{1,32}$")
NestedList = list[dict[str, Any]]
TEMPLATE: dict[str, Any] = {"format": "template"}
"""Marks an option whose text is a template: its placeholders are checked and offered."""


@dataclass(frozen=True)
class CheckEnv:
    """What cross-checks compare against: the cameras (with zones), notifiers, location."""

    cameras: dict[str, frozenset[str]] = field(default_factory=dict)
    notifiers: frozenset[str] = frozenset()
    has_location: bool = False


def _known(kind: str, value: str, known: Any) -> str:
    names = ", ".join(sorted(known)) or "none configured"
    return f"unknown {kind} '{value}' (known: {names})"


class CheckedOptions(PluginOptions):
    """Options that can also be checked against the running hub (cameras, notifiers)."""

    def check(self, env: CheckEnv) -> list[tuple[str, str]]:
        """Problems as (field, message); empty when fine."""
        problems: list[tuple[str, str]] = []
        if getattr(self, "hub", None) is not None:
            return problems  # another hub's cameras and zones: this hub cannot know them
        camera = getattr(self, "camera", None)
        if isinstance(camera, str) and camera not in env.cameras:
            problems.append(("camera", _known("camera", camera, env.cameras)))
        zone = getattr(self, "zone", None)
        zones = env.cameras.get(camera) if isinstance(camera, str) else None
        if zones is not None and isinstance(zone, str) and zone not in zones:
            problems.append(("zone", _known(f"zone of {camera}", zone, zones)))
        return problems


def _check_mode(value: str | None) -> str | None:
    if value is not None and not _MODE.match(value):
        raise ValueError(f"a mode is 1-32 lowercase letters, digits or _ (got '{value}')")
    return value


def _check_time(value: str | None) -> str | None:
    if value is not None:
        parse_time(value)
    return value


# ---------------------------------------------------------------- triggers


class MotionTriggerOptions(CheckedOptions):
    """Motion started (or ended) on a camera."""

    camera: str | None = Field(None, description="Camera id; empty means any camera.")
    hub: str | None = Field(
        None,
        min_length=1,
        description="Another hub of the site (its name; * for any peer): fire on that hub's "
        "events instead of this one's. Needs an `mqtt` notifier with `site` set.",
    )
    event: Literal["started", "ended"] = Field(
        "started", description="Fire when motion starts (started) or stops (ended)."
    )


class ObjectTriggerOptions(CheckedOptions):
    """An object event (person, car...) matching label, zone, score and duration."""

    camera: str | None = Field(None, description="Camera id; empty means any camera.")
    hub: str | None = Field(
        None,
        min_length=1,
        description="Another hub of the site (its name; * for any peer): fire on that hub's "
        "events instead of this one's. Needs an `mqtt` notifier with `site` set.",
    )
    label: str | None = Field(None, description="Object label, e.g. person; empty: any.")
    zone: str | None = Field(None, description="Only when the object is in this zone.")
    min_score: float = Field(0.0, ge=0, le=1, description="Lowest detection score (0-1).")
    min_duration: float = Field(
        0.0, ge=0, le=3600, description="Seconds the object must have been seen first."
    )


class CameraStateTriggerOptions(CheckedOptions):
    """A camera went online or offline (optionally: and stayed so for `seconds`)."""

    camera: str | None = Field(None, description="Camera id; empty means any camera.")
    to: str | None = Field(None, description="New state: online, offline, error, ...")
    from_: str | None = Field(None, alias="from", description="Previous state; empty: any.")
    seconds: float = Field(0.0, ge=0, le=86400, description="Fire only once held this long.")


class OnvifEventTriggerOptions(CheckedOptions):
    """An ONVIF event from a camera whose topic matches (`*` matches within one level)."""

    camera: str | None = Field(None, description="Camera id; empty means any camera.")
    topic: str = Field(
        min_length=1, description="Topic, e.g. RuleEngine/CellMotionDetector/Motion; * allowed."
    )
    data: dict[str, str] = Field(
        default_factory=dict, description="Data items that must have these values."
    )


class TimeTriggerOptions(CheckedOptions):
    """At given times of day, or on a cron schedule, in the house's time zone."""

    at: OneOrMany = Field(default_factory=list, description="Times of day, HH:MM[:SS].")
    cron: str | None = Field(None, description="Cron line: minute hour day month weekday.")

    @field_validator("at")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_time(item)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            Cron.parse(value)
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeTriggerOptions:
        if bool(self.at) == bool(self.cron):
            raise ValueError("give either `at` or `cron`")
        return self


class SunTriggerOptions(CheckedOptions):
    """Sunrise or sunset (plus an offset) at the configured latitude/longitude."""

    event: Literal["sunrise", "sunset"] = Field(description="sunrise or sunset.")
    offset: float = Field(
        0.0, ge=-43200, le=43200, description="Seconds after (negative: before) the event."
    )

    def check(self, env: CheckEnv) -> list[tuple[str, str]]:
        """Sun times need coordinates."""
        if env.has_location:
            return []
        return [("event", "set location.latitude and location.longitude for sun triggers")]


class ModeTriggerOptions(CheckedOptions):
    """The house mode changed."""

    to: str | None = Field(None, description="New mode (home, away, night, ...); empty: any.")
    from_: str | None = Field(None, alias="from", description="Previous mode; empty: any.")

    _modes = field_validator("to", "from_")(_check_mode)


class WebhookTriggerOptions(CheckedOptions):
    """An HTTP POST to /api/webhook/<webhook_id>; the id is the secret, keep it long."""

    webhook_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{16,128}$",
        description="Secret part of the URL: 16-128 letters, digits, - or _.",
    )


# ---------------------------------------------------------------- conditions


class TimeConditionOptions(CheckedOptions):
    """Local time between `after` and `before` (may cross midnight), on given weekdays."""

    after: str | None = Field(None, description="From this time of day, HH:MM[:SS].")
    before: str | None = Field(None, description="Until (not including) this time of day.")
    weekdays: list[Weekday] = Field(
        default_factory=list, description=f"Days the window opens on ({', '.join(WEEKDAYS)})."
    )

    _times = field_validator("after", "before")(_check_time)

    @model_validator(mode="after")
    def _something(self) -> TimeConditionOptions:
        if self.after is None and self.before is None and not self.weekdays:
            raise ValueError("give at least one of `after`, `before`, `weekdays`")
        return self


class ModeConditionOptions(CheckedOptions):
    """The house mode is one of these."""

    mode: OneOrMany = Field(min_length=1, description="Modes that pass.")

    @field_validator("mode")
    @classmethod
    def _modes(cls, value: list[str]) -> list[str]:
        for mode in value:
            _check_mode(mode)
        return value


class CameraStateConditionOptions(CheckedOptions):
    """A camera is in one of these states (for at least `seconds`)."""

    camera: str = Field(description="Camera id.")
    state: OneOrMany = Field(min_length=1, description="States that pass: online, offline...")
    seconds: float = Field(0.0, ge=0, description="Held at least this long.")


class LabelConditionOptions(CheckedOptions):
    """The trigger's object label is one of these."""

    label: OneOrMany = Field(min_length=1, description="Labels that pass.")


class ZoneConditionOptions(CheckedOptions):
    """The trigger's object is in one of these zones."""

    zone: OneOrMany = Field(min_length=1, description="Zones that pass.")


class ScoreConditionOptions(CheckedOptions):
    """The trigger's detection score is within bounds."""

    above: float | None = Field(None, ge=0, le=1, description="Score must be at least this.")
    below: float | None = Field(None, ge=0, le=1, description="Score must be under this.")


class GroupConditionOptions(CheckedOptions):
    """A group of conditions: and (all pass), or (any passes), not (none passes)."""

    conditions: NestedList = Field(min_length=1, description="Conditions in the group.")


# ---------------------------------------------------------------- actions


class NotifyActionOptions(CheckedOptions):
    """Send a notification through a notifier (stored first, retried)."""

    notifier: str = Field(description="Notifier id (notifiers.<id>).")
    message: str = Field(
        min_length=1,
        max_length=2000,
        description="The text; {placeholders} are filled in from what started the run.",
        json_schema_extra=TEMPLATE,
    )
    title: str | None = Field(
        None,
        max_length=200,
        description="Title; default: the automation's name.",
        json_schema_extra=TEMPLATE,
    )
    snapshot: bool = Field(False, description="Attach a picture of the camera.")
    clip: bool = Field(False, description="Link the event's clip.")
    camera: str | None = Field(None, description="Camera for the picture; default: trigger's.")
    priority: int = Field(3, ge=1, le=5, description="1 (lowest) to 5 (urgent).")
    tags: list[str] = Field(default_factory=list, description="Tags (ntfy emoji names...).")
    cooldown: float | None = Field(
        None, ge=0, description="Drop this message if this automation notified within N s."
    )

    def check(self, env: CheckEnv) -> list[tuple[str, str]]:
        """The notifier and camera exist."""
        problems = super().check(env)
        if self.notifier not in env.notifiers:
            problems.append(("notifier", _known("notifier", self.notifier, env.notifiers)))
        return problems


class RecordActionOptions(CheckedOptions):
    """Keep recording a camera for N seconds and/or mark the trigger's event `keep`."""

    camera: str | None = Field(None, description="Camera id; default: the trigger's camera.")
    seconds: float | None = Field(None, gt=0, le=86400, description="Record at least this long.")
    keep: bool = Field(False, description="Mark the trigger's event to be kept by retention.")

    @model_validator(mode="after")
    def _something(self) -> RecordActionOptions:
        if self.seconds is None and not self.keep:
            raise ValueError("give `seconds`, `keep: true`, or both")
        return self


class WatchActionOptions(CheckedOptions):
    """Look at every frame of a camera for N seconds (wakes an idle adaptive camera up)."""

    camera: str | None = Field(None, description="Camera id; default: the trigger's camera.")
    seconds: float = Field(
        60.0, gt=0, le=86400, description="Decode and examine every frame at least this long."
    )


class SnapshotActionOptions(CheckedOptions):
    """Save a picture of the camera now (in footage, under snapshots/)."""

    camera: str | None = Field(None, description="Camera id; default: the trigger's camera.")


class SetModeActionOptions(CheckedOptions):
    """Set the house mode."""

    mode: str = Field(description="New mode: home, away, night, ...")

    _mode = field_validator("mode")(_check_mode)


class DetectionActionOptions(CheckedOptions):
    """Turn detection (motion and objects) on or off; recording goes on either way."""

    camera: str | None = Field(None, description="Camera id; empty means every camera.")
    # Not `on`: YAML 1.1 reads a bare `on:` key as true.
    enabled: bool = Field(description="true: detect; false: stop looking at the pictures.")


class DelayActionOptions(CheckedOptions):
    """Wait; survives a hub restart."""

    seconds: float = Field(ge=0, le=30 * 86400, description="Seconds to wait.")


class WaitForTriggerActionOptions(CheckedOptions):
    """Wait until one of `triggers` fires, or `timeout` seconds pass; survives a restart."""

    triggers: NestedList = Field(min_length=1, description="Triggers to wait for.")
    timeout: float | None = Field(None, gt=0, le=30 * 86400, description="Give up after N s.")
    continue_on_timeout: bool = Field(True, description="Go on with the next actions on timeout.")


class ChoiceOptions(PluginOptions):
    """One branch of `choose`."""

    conditions: NestedList = Field(min_length=1, description="All must pass.")
    actions: NestedList = Field(min_length=1, description="Run when they do.")


class ChooseActionOptions(CheckedOptions):
    """Run the first branch whose conditions pass, else `default`."""

    choices: list[ChoiceOptions] = Field(min_length=1, description="Branches, in order.")
    default: NestedList = Field(default_factory=list, description="Run when none passes.")


class IfActionOptions(CheckedOptions):
    """Run `then` when all `conditions` pass, else `else`."""

    conditions: NestedList = Field(min_length=1, description="All must pass.")
    then: NestedList = Field(min_length=1, description="Actions when they do.")
    else_: NestedList = Field(default_factory=list, alias="else", description="Otherwise.")


class StopActionOptions(CheckedOptions):
    """End the run here (`error: true` marks the run failed)."""

    reason: str = Field("", max_length=200, description="Shown in the trace.")
    error: bool = Field(False, description="Mark the run as failed.")
