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
            "description": "Go on with the next actions when this one fails.",
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


def _type(
    kind: str, name: str, options: type[PluginOptions], create: Any, description: str
) -> AutomationType:
    return AutomationType(
        name=name,
        options=options,
        create=create,
        description=description,
        plugin="builtin",
        kind=kind,  # type: ignore[arg-type]
    )


def builtin_types() -> list[AutomationType]:
    """Every built-in trigger, condition and action type."""
    m = model
    return [
        _type("trigger", "motion", m.MotionTriggerOptions, _make(triggers.MotionTrigger),
              "Motion started or ended on a camera."),
        _type("trigger", "object", m.ObjectTriggerOptions, _make(triggers.ObjectTrigger),
              "An object (person, car...) seen, with label, zone, score and duration."),
        _type("trigger", "camera_state", m.CameraStateTriggerOptions,
              _make(triggers.CameraStateTrigger), "A camera went online/offline."),
        _type("trigger", "onvif_event", m.OnvifEventTriggerOptions,
              _make(triggers.OnvifEventTrigger), "An ONVIF event from a camera."),
        _type("trigger", "time", m.TimeTriggerOptions, _make(triggers.TimeTrigger),
              "At times of day or on a cron schedule."),
        _type("trigger", "sun", m.SunTriggerOptions, _make(triggers.SunTrigger),
              "At sunrise or sunset, with an offset."),
        _type("trigger", "mode", m.ModeTriggerOptions, _make(triggers.ModeTrigger),
              "The house mode changed."),
        _type("trigger", "webhook", m.WebhookTriggerOptions, _make(triggers.WebhookTrigger),
              "A POST to /api/webhook/<webhook_id>."),
        _type("condition", "time", m.TimeConditionOptions,
              _make_condition(conditions.TimeCondition), "Local time within a window."),
        _type("condition", "mode", m.ModeConditionOptions,
              _make_condition(conditions.ModeCondition), "The house mode is one of these."),
        _type("condition", "camera_state", m.CameraStateConditionOptions,
              _make_condition(conditions.CameraStateCondition), "A camera is in a state."),
        _type("condition", "label", m.LabelConditionOptions,
              _make_condition(conditions.LabelCondition), "The trigger's label is one of these."),
        _type("condition", "zone", m.ZoneConditionOptions,
              _make_condition(conditions.ZoneCondition), "The trigger's object is in a zone."),
        _type("condition", "score", m.ScoreConditionOptions,
              _make_condition(conditions.ScoreCondition), "The trigger's score is in bounds."),
        _type("condition", "and", m.GroupConditionOptions, _control, "All conditions pass."),
        _type("condition", "or", m.GroupConditionOptions, _control, "Any condition passes."),
        _type("condition", "not", m.GroupConditionOptions, _control, "No condition passes."),
        _type("action", "notify", m.NotifyActionOptions, _make(actions.NotifyAction),
              "Send a notification."),
        _type("action", "record", m.RecordActionOptions, _make(actions.RecordAction),
              "Keep recording / keep the event."),
        _type("action", "snapshot", m.SnapshotActionOptions, _make(actions.SnapshotAction),
              "Save a picture of the camera."),
        _type("action", "watch", m.WatchActionOptions, _make(actions.WatchAction),
              "Examine every frame of a camera for a while."),
        _type("action", "set_mode", m.SetModeActionOptions, _make(actions.SetModeAction),
              "Set the house mode."),
        _type("action", "delay", m.DelayActionOptions, _control, "Wait (survives restarts)."),
        _type("action", "wait_for_trigger", m.WaitForTriggerActionOptions, _control,
              "Wait for a trigger, with a timeout (survives restarts)."),
        _type("action", "choose", m.ChooseActionOptions, _control,
              "Run the first branch whose conditions pass."),
        _type("action", "if", m.IfActionOptions, _control, "Run then or else."),
        _type("action", "stop", m.StopActionOptions, _control, "End the run."),
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
        "description": spec.description,
        "plugin": spec.plugin or "builtin",
        "schema": schema,
    }
