"""The built-in automation types, described with the same contract plugins use."""

from __future__ import annotations

from typing import Any

from hub.automations import actions, conditions, model, triggers
from hub.extensions.registry import AutomationType, PluginOptions

CONTROL_ACTIONS = frozenset({"delay", "wait_for_trigger", "choose", "if", "stop"})
"""Actions the run itself carries out (they steer the run or survive restarts)."""
GROUP_CONDITIONS = frozenset({"and", "or", "not"})
COMMON_KEYS: dict[str, dict[str, dict[str, Any]]] = {
    "trigger": {
        "type": {"type": "string", "description": "The trigger type."},
        "id": {"type": "string", "description": "Optional name, available as {trigger_id}."},
    },
    "condition": {"type": {"type": "string", "description": "The condition type."}},
    "action": {
        "type": {"type": "string", "description": "The action type."},
        "alias": {"type": "string", "description": "Optional name shown in traces."},
        "continue_on_error": {
            "type": "boolean",
            "default": True,
            "description": "Go on with the next steps when this one fails (false: stop the run).",
        },
    },
}


def _engine(hub: Any) -> Any:
    return hub.automations


def _make(cls: Any) -> Any:
    def create(hub: Any, automation_id: str, options: PluginOptions) -> Any:
        return cls(_engine(hub), automation_id, options)

    return create


def _make_condition(cls: Any) -> Any:
    def create(hub: Any, automation_id: str, options: PluginOptions) -> Any:
        return cls(_engine(hub), options)

    return create


def _control(hub: Any, automation_id: str, options: PluginOptions) -> PluginOptions:
    # The run interprets control steps from their options; nothing to build.
    return options


COMMON_PLACEHOLDERS: dict[str, str] = {
    "alias": "the automation's name",
    "automation": "the automation's id",
    "trigger": "the trigger type that started it",
    "trigger_id": "the `id` you gave that trigger",
    "time": "the time now, e.g. {time:%H:%M}",
}
"""Placeholders every run fills, whatever started it (plus the automation's `variables`)."""
CAMERA = {"camera": "the camera's id"}
EVENT_ID = {"event_id": "the event's id (for links to its clip)"}


def _type(
    kind: str,
    name: str,
    options: type[PluginOptions],
    create: Any,
    title: str,
    icon: str,
    description: str,
    placeholders: dict[str, str] | None = None,
) -> AutomationType:
    return AutomationType(
        name=name,
        options=options,
        create=create,
        description=description,
        plugin="builtin",
        kind=kind,  # type: ignore[arg-type]
        title=title,
        icon=icon,
        placeholders=placeholders,
    )


def builtin_types() -> list[AutomationType]:
    """Every built-in trigger, condition and action type, the most used first."""
    m = model
    t, c, a = "trigger", "condition", "action"
    return [
        _type(t, "motion", m.MotionTriggerOptions, _make(triggers.MotionTrigger),
              "Motion detected", "🏃", "Something moves in a camera's picture (or stops moving).",
              {**CAMERA, "motion": "started or ended", **EVENT_ID}),
        _type(t, "object", m.ObjectTriggerOptions, _make(triggers.ObjectTrigger),
              "A person, car or animal is seen", "🧍",
              "The object detector sees something: choose what, in which zone, how sure.",
              {**CAMERA, "label": "what was seen (person, car...)",
               "zone": "the zone it is in", "zones": "every zone it is in",
               "score": "how sure the detector is (0-1)", **EVENT_ID}),
        _type(t, "mode", m.ModeTriggerOptions, _make(triggers.ModeTrigger),
              "House mode changes", "🏠",
              "The house switches mode, e.g. to away when everybody leaves.",
              {"mode": "the new mode", "from_mode": "the mode before"}),
        _type(t, "time", m.TimeTriggerOptions, _make(triggers.TimeTrigger),
              "At a time of day", "⏰", "At set times every day, or on a cron schedule.", {}),
        _type(t, "sun", m.SunTriggerOptions, _make(triggers.SunTrigger),
              "At sunrise or sunset", "🌅", "At sunrise or sunset, earlier or later if you like.",
              {"event": "sunrise or sunset"}),
        _type(t, "camera_state", m.CameraStateTriggerOptions,
              _make(triggers.CameraStateTrigger), "A camera goes offline or online", "📷",
              "A camera stops (or starts) sending pictures, optionally for a while.",
              {**CAMERA, "state": "the new state", "from_state": "the state before",
               "reason": "why, as the hub understood it"}),
        _type(t, "onvif_event", m.OnvifEventTriggerOptions,
              _make(triggers.OnvifEventTrigger), "The camera reports an event (ONVIF)", "📡",
              "An event the camera itself sends: its own motion sensor, a tamper alarm...",
              {**CAMERA, "topic": "the ONVIF topic", "data": "the event's data items"}),
        _type(t, "webhook", m.WebhookTriggerOptions, _make(triggers.WebhookTrigger),
              "A web address is called (webhook)", "🔗",
              "Another system calls /api/webhook/<secret id> on the hub.",
              {"payload": "what the caller sent"}),
        _type(c, "time", m.TimeConditionOptions, _make_condition(conditions.TimeCondition),
              "Only at certain times", "🕒",
              "The local time is within a window (e.g. 22:00-06:00) or on certain days."),
        _type(c, "mode", m.ModeConditionOptions, _make_condition(conditions.ModeCondition),
              "Only in a house mode", "🏠", "The house is in one of these modes (home, away...)."),
        _type(c, "label", m.LabelConditionOptions, _make_condition(conditions.LabelCondition),
              "Only for what was seen", "🏷️", "What the trigger saw is one of these (person...)."),
        _type(c, "zone", m.ZoneConditionOptions, _make_condition(conditions.ZoneCondition),
              "Only in a zone", "📍", "What the trigger saw is in one of these zones."),
        _type(c, "score", m.ScoreConditionOptions, _make_condition(conditions.ScoreCondition),
              "Only when the detector is sure", "🎯",
              "The detection score is above (or below) a value."),
        _type(c, "camera_state", m.CameraStateConditionOptions,
              _make_condition(conditions.CameraStateCondition), "Only when a camera is", "📷",
              "A camera is online, offline... (for at least a while)."),
        _type(c, "and", m.GroupConditionOptions, _control, "All of these", "✅",
              "Passes when every condition in it passes."),
        _type(c, "or", m.GroupConditionOptions, _control, "Any of these", "🔁",
              "Passes when at least one condition in it passes."),
        _type(c, "not", m.GroupConditionOptions, _control, "None of these", "🚫",
              "Passes when no condition in it passes."),
        _type(a, "notify", m.NotifyActionOptions, _make(actions.NotifyAction),
              "Send a notification", "🔔",
              "A message (with a picture if you like) through one of your notifiers."),
        _type(a, "record", m.RecordActionOptions, _make(actions.RecordAction),
              "Record video", "⏺️", "Keep recording a camera for a while, and/or keep the event."),
        _type(a, "snapshot", m.SnapshotActionOptions, _make(actions.SnapshotAction),
              "Save a picture", "📸", "Save a picture of the camera now."),
        _type(a, "watch", m.WatchActionOptions, _make(actions.WatchAction),
              "Look closely for a while", "🔎",
              "Have a camera examine every frame (no keyframes-only idling) for a while."),
        _type(a, "set_mode", m.SetModeActionOptions, _make(actions.SetModeAction),
              "Change the house mode", "🏠", "Switch to home, away, night..."),
        _type(a, "detection", m.DetectionActionOptions, _make(actions.DetectionAction),
              "Turn detection on or off", "🛡️",
              "Look for motion and objects on a camera (or all), or stop; recording goes on."),
        _type(a, "delay", m.DelayActionOptions, _control, "Wait", "⏳",
              "Wait a while before the next step (even across a restart)."),
        _type(a, "wait_for_trigger", m.WaitForTriggerActionOptions, _control,
              "Wait for something to happen", "⏱️",
              "Wait until a trigger fires, or give up after a timeout."),
        _type(a, "if", m.IfActionOptions, _control, "If … then … else", "❓",
              "Run some steps when conditions pass, others when they do not."),
        _type(a, "choose", m.ChooseActionOptions, _control, "Choose between several", "🔀",
              "Run the first branch whose conditions pass, or a default."),
        _type(a, "stop", m.StopActionOptions, _control, "Stop", "⏹️", "End the run here."),
    ]  # fmt: skip


def type_info(spec: AutomationType) -> dict[str, Any]:
    """The stable description the panel builds forms from."""
    schema = spec.options.model_json_schema(by_alias=True)
    properties = dict(COMMON_KEYS[spec.kind])
    properties["type"] = {**properties["type"], "const": spec.name}
    properties.update(schema.get("properties", {}))
    schema["properties"] = properties
    schema["required"] = ["type", *schema.get("required", [])]
    schema.setdefault("title", spec.name)
    return {
        "kind": spec.kind,
        "name": spec.name,
        "title": spec.title or spec.name.replace("_", " ").capitalize(),
        "icon": spec.icon,
        "description": spec.description,
        "plugin": spec.plugin or "builtin",
        "placeholders": dict(spec.placeholders) if spec.placeholders is not None else None,
        "schema": schema,
    }
