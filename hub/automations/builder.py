"""Checks an automation with field paths and builds its triggers, conditions and steps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from hub.automations.catalog import COMMON_PLACEHOLDERS, CONTROL_ACTIONS, GROUP_CONDITIONS
from hub.automations.conditions import Condition, GroupCondition
from hub.automations.model import CheckEnv
from hub.automations.templates import placeholders
from hub.config.issues import Issue, validation_issues
from hub.config.models import AutomationConfig
from hub.extensions.registry import AutomationType, PluginOptions


class TypeSource(Protocol):
    """Where the builder finds types (and the hub to build with): the engine, or a
    `Catalog` for checks made without a running hub (`camhub check-config`)."""

    @property
    def types(self) -> Mapping[tuple[str, str], AutomationType]: ...

    @property
    def hub(self) -> Any: ...


@dataclass(frozen=True)
class Catalog:
    """Types only: enough to check automations (`build=False`), not to build them."""

    types: Mapping[tuple[str, str], AutomationType]
    hub: Any = None


KIND_PLURAL = {"trigger": "triggers", "condition": "conditions", "action": "actions"}
STRIPPED_KEYS = {
    "trigger": ("type", "id"),
    "condition": ("type",),
    "action": ("type", "alias", "continue_on_error"),
}


@dataclass
class BuiltTrigger:
    """A trigger object and where it came from."""

    path: str
    type: str
    trigger_id: str | None
    obj: Any


@dataclass
class BuiltCondition:
    """A condition object at its path."""

    path: str
    type: str
    obj: Condition


@dataclass
class Step:
    """One action; control steps keep their nested sequences by sequence path."""

    path: str
    type: str
    alias: str | None
    options: PluginOptions
    continue_on_error: bool
    action: Any = None
    conditions: list[BuiltCondition] = field(default_factory=list)
    choices: list[tuple[list[BuiltCondition], str]] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)
    """Branch name (then/else/default) to sequence path."""
    wait_triggers: list[tuple[str, AutomationType, PluginOptions]] = field(default_factory=list)


@dataclass
class Built:
    """A valid automation, ready to attach."""

    config: AutomationConfig
    triggers: list[BuiltTrigger]
    conditions: list[BuiltCondition]
    sequences: dict[str, list[Step]]
    """Every action sequence by its path; `actions` is the top one."""


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _has_wait(value: Any) -> bool:
    """Whether a wait_for_trigger step is anywhere in these (nested) actions."""
    if isinstance(value, list):
        return any(_has_wait(item) for item in value)
    if isinstance(value, Mapping):
        return value.get("type") == "wait_for_trigger" or any(_has_wait(v) for v in value.values())
    return False


class Builder:
    """Collects every issue of one automation; builds it when there are none."""

    def __init__(self, engine: TypeSource, env: CheckEnv, build: bool = True):
        self.engine = engine
        self.env = env
        self.build = build
        self.issues: list[Issue] = []
        self.sequences: dict[str, list[Step]] = {}
        self.automation_id = ""
        self.known_placeholders: dict[str, str] | None = None
        """What templates may use; None when a trigger does not declare what it fills."""
        self._filled_by: list[tuple[str, Mapping[str, str]]] = []
        """Each trigger's type and the placeholders it fills (for the messages)."""

    def _issue(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def automation(self, data: Any, check_top: bool = True) -> Built | None:
        """Check (and build) one automation from its raw mapping. `check_top=False` skips
        the keys beside triggers/conditions/actions (the config file's loader did them)."""
        if not isinstance(data, Mapping):
            if check_top:
                self._issue("", "an automation is a mapping with id, triggers and actions")
            return None
        config = None
        try:
            config = AutomationConfig.model_validate(dict(data))
        except ValidationError as exc:
            if check_top:
                self.issues += validation_issues(exc, AutomationConfig)
            # Go on with the parts that are lists, so one response lists every problem.
        self.automation_id = str(data.get("id") or "")
        variables = data.get("variables")
        raw_triggers = _list(data.get("triggers"))
        raw_conditions = _list(data.get("conditions"))
        raw_actions = _list(data.get("actions"))
        self._placeholders(
            raw_triggers, raw_actions, variables if isinstance(variables, dict) else {}
        )
        triggers = [
            t for i, item in enumerate(raw_triggers) if (t := self.trigger(item, f"triggers[{i}]"))
        ]
        conditions = self.condition_list(raw_conditions, "conditions")
        self.sequence(raw_actions, "actions")
        if self.issues or config is None:
            return None
        return Built(config, triggers, conditions, self.sequences)

    def _placeholders(
        self, raw_triggers: list[Any], raw_actions: list[Any], variables: Mapping[str, Any]
    ) -> None:
        """What every trigger of the automation fills: any one of them may start a run, so
        a template may use only what all of them fill (plus what every run has)."""
        filled: list[tuple[str, Mapping[str, str]]] = []
        for item in raw_triggers:
            name = item.get("type") if isinstance(item, Mapping) else None
            spec = self.engine.types.get(("trigger", name)) if isinstance(name, str) else None
            if spec is None:
                continue  # reported as a bad trigger; its placeholders cannot be known
            if spec.placeholders is None:
                self.known_placeholders = None
                return
            filled.append((spec.name, spec.placeholders))
        known = {**COMMON_PLACEHOLDERS}
        shared = set.intersection(*(set(names) for _, names in filled)) if filled else set()
        for _, names in filled:
            known.update({k: v for k, v in names.items() if k in shared})
        known.update({str(k): "a variable of this automation" for k in variables})
        if _has_wait(raw_actions):
            known["wait"] = "what wait_for_trigger found (after it)"
        self.known_placeholders = known
        self._filled_by = filled

    def _check_templates(self, options: PluginOptions, path: str) -> None:
        known = self.known_placeholders
        if known is None:
            return
        for name, info in type(options).model_fields.items():
            extra = info.json_schema_extra
            if not isinstance(extra, dict) or extra.get("format") != "template":
                continue
            value = getattr(options, name)
            for used in placeholders(value) if isinstance(value, str) else ():
                if used in known:
                    continue
                lacking = sorted({t for t, names in self._filled_by if used not in names})
                why = (
                    f"the {' and '.join(lacking)} trigger{'s' if len(lacking) > 1 else ''} "
                    f"{'do' if len(lacking) > 1 else 'does'} not fill it"
                    if lacking
                    else "nothing fills it"
                )
                listed = ", ".join(f"{{{k}}}" for k in sorted(known))
                self._issue(
                    f"{path}.{info.alias or name}",
                    f"unknown placeholder {{{used}}}: {why} (known: {listed})",
                )

    def _options(
        self, kind: str, data: Any, path: str
    ) -> tuple[AutomationType, PluginOptions] | None:
        if not isinstance(data, Mapping):
            self._issue(path, f"a {kind} is a mapping with `type:`")
            return None
        name = data.get("type")
        if not isinstance(name, str):
            self._issue(f"{path}.type", "required key is missing")
            return None
        spec = self.engine.types.get((kind, name))
        if spec is None:
            known = ", ".join(sorted(n for k, n in self.engine.types if k == kind))
            self._issue(f"{path}.type", f"unknown {kind} type '{name}' (known: {known})")
            return None
        raw = {k: v for k, v in data.items() if k not in STRIPPED_KEYS[kind]}
        try:
            options = spec.options.model_validate(raw)
        except ValidationError as exc:
            self.issues += [issue.within(path) for issue in validation_issues(exc, spec.options)]
            return None
        check = getattr(options, "check", None)
        if callable(check):
            for key, message in check(self.env):
                self._issue(f"{path}.{key}", message)
        if kind == "action":
            self._check_templates(options, path)
        return spec, options

    def _create(self, spec: AutomationType, options: PluginOptions, path: str) -> Any:
        if not self.build:
            return None
        try:
            return spec.create(self.engine.hub, self.automation_id, options)
        except Exception as exc:
            self._issue(path, f"could not set up {spec.kind} '{spec.name}': {exc}")
            return None

    def trigger(self, data: Any, path: str) -> BuiltTrigger | None:
        """One trigger."""
        found = self._options("trigger", data, path)
        if found is None:
            return None
        spec, options = found
        trigger_id = data.get("id")
        if trigger_id is not None and not isinstance(trigger_id, str):
            self._issue(f"{path}.id", "must be a string")
        obj = self._create(spec, options, path)
        return BuiltTrigger(path, spec.name, trigger_id, obj)

    def condition_list(self, items: Any, path: str) -> list[BuiltCondition]:
        """A list of conditions under `path`."""
        if not isinstance(items, list):
            return []
        built = [self.condition(item, f"{path}[{i}]") for i, item in enumerate(items)]
        return [c for c in built if c is not None]

    def condition(self, data: Any, path: str) -> BuiltCondition | None:
        """One condition (groups recurse)."""
        found = self._options("condition", data, path)
        if found is None:
            return None
        spec, options = found
        if spec.name in GROUP_CONDITIONS and spec.plugin == "builtin":
            group_options: Any = options
            children = self.condition_list(group_options.conditions, f"{path}.conditions")
            group = GroupCondition(spec.name, [c.obj for c in children])  # type: ignore[arg-type]
            return BuiltCondition(path, spec.name, group)
        obj = self._create(spec, options, path)
        return BuiltCondition(path, spec.name, obj)

    def sequence(self, items: Any, path: str) -> list[Step]:
        """A list of actions, registered under its sequence path."""
        steps: list[Step] = []
        if isinstance(items, list):
            for i, item in enumerate(items):
                step = self.action(item, f"{path}[{i}]")
                if step is not None:
                    steps.append(step)
        self.sequences[path] = steps
        return steps

    def action(self, data: Any, path: str) -> Step | None:
        """One action (control steps recurse into their sequences)."""
        found = self._options("action", data, path)
        if found is None:
            return None
        spec, options = found
        continue_on_error = data.get("continue_on_error", True)
        if not isinstance(continue_on_error, bool):
            self._issue(f"{path}.continue_on_error", "must be true or false")
        alias = data.get("alias")
        step = Step(path, spec.name, alias if isinstance(alias, str) else None, options,
                    continue_on_error is not False)  # fmt: skip
        if spec.name not in CONTROL_ACTIONS or spec.plugin != "builtin":
            step.action = self._create(spec, options, path)
            return step
        self._control(step, options, path)
        return step

    def _control(self, step: Step, options: Any, path: str) -> None:
        if step.type == "if":
            step.conditions = self.condition_list(options.conditions, f"{path}.conditions")
            for branch, items in (("then", options.then), ("else", options.else_)):
                self.sequence(items, f"{path}.{branch}")
                step.branches[branch] = f"{path}.{branch}"
        elif step.type == "choose":
            for i, choice in enumerate(options.choices):
                where = f"{path}.choices[{i}]"
                conditions = self.condition_list(choice.conditions, f"{where}.conditions")
                self.sequence(choice.actions, f"{where}.actions")
                step.choices.append((conditions, f"{where}.actions"))
            self.sequence(options.default, f"{path}.default")
            step.branches["default"] = f"{path}.default"
        elif step.type == "wait_for_trigger":
            for i, item in enumerate(options.triggers):
                where = f"{path}.triggers[{i}]"
                found = self._options("trigger", item, where)
                if found is not None:
                    step.wait_triggers.append((where, *found))
