"""Built-in conditions: time window, house mode, camera state, the trigger's label/zone/score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from hub.automations.model import (
    CameraStateConditionOptions,
    LabelConditionOptions,
    ModeConditionOptions,
    ScoreConditionOptions,
    TimeConditionOptions,
    ZoneConditionOptions,
)
from hub.automations.schedule import in_window, parse_time

if TYPE_CHECKING:
    from hub.automations.engine import AutomationEngine


class Condition(Protocol):
    """What every condition object offers (built-in or from a plugin)."""

    def check(self, variables: Mapping[str, Any]) -> bool:
        """True when the condition passes."""
        ...


class TimeCondition:
    """Local time in a window (crossing midnight allowed) on the given weekdays."""

    def __init__(self, engine: AutomationEngine, options: TimeConditionOptions):
        self.engine = engine
        self.after = parse_time(options.after) if options.after else None
        self.before = parse_time(options.before) if options.before else None
        self.weekdays = tuple(options.weekdays)

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether now is inside the window."""
        now = self.engine.clock.now()
        return in_window(now, self.engine.tz, self.after, self.before, self.weekdays)


class ModeCondition:
    """The house mode is one of the listed modes."""

    def __init__(self, engine: AutomationEngine, options: ModeConditionOptions):
        self.engine = engine
        self.modes = frozenset(options.mode)

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether the mode matches."""
        return self.engine.hub.mode in self.modes


class CameraStateCondition:
    """A camera is in one of the states, for at least `seconds`."""

    def __init__(self, engine: AutomationEngine, options: CameraStateConditionOptions):
        self.engine = engine
        self.options = options

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether the camera state matches and has lasted long enough."""
        state = self.engine.hub.states.get(f"camera.{self.options.camera}")
        if state is None or state.state not in self.options.state:
            return False
        return self.engine.clock.now() - state.last_changed >= self.options.seconds


class LabelCondition:
    """The trigger's label is one of the listed labels."""

    def __init__(self, engine: AutomationEngine, options: LabelConditionOptions):
        self.labels = frozenset(options.label)

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether the label matches."""
        return variables.get("label") in self.labels


class ZoneCondition:
    """The trigger's object is in one of the listed zones."""

    def __init__(self, engine: AutomationEngine, options: ZoneConditionOptions):
        self.zones = frozenset(options.zone)

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether any of the object's zones is listed."""
        zones = variables.get("zones") or ([variables["zone"]] if variables.get("zone") else [])
        return bool(self.zones.intersection(zones))


class ScoreCondition:
    """The trigger's score is at least `above` and under `below`."""

    def __init__(self, engine: AutomationEngine, options: ScoreConditionOptions):
        self.options = options

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Whether the score is within bounds (False when the trigger has no score)."""
        score = variables.get("score")
        if not isinstance(score, int | float):
            return False
        above, below = self.options.above, self.options.below
        return (above is None or score >= above) and (below is None or score < below)


class GroupCondition:
    """and: all pass; or: any passes; not: none passes."""

    def __init__(self, kind: Literal["and", "or", "not"], children: Sequence[Condition]):
        self.kind = kind
        self.children = list(children)

    def check(self, variables: Mapping[str, Any]) -> bool:
        """Combine the children (short-circuit, in order)."""
        if self.kind == "and":
            return all(c.check(variables) for c in self.children)
        if self.kind == "or":
            return any(c.check(variables) for c in self.children)
        return not any(c.check(variables) for c in self.children)
