"""Named types that plugins contribute: notifiers, detectors, automation building blocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class PluginOptions(BaseModel):
    """Base for a plugin type's options: unknown keys are errors, like the rest of the config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def summary(self) -> str:
        """One line saying what this entry uses (a model, a server), for lists; may be ""."""
        return ""


@dataclass(frozen=True)
class TypeSpec:
    """One named type a plugin offers.

    `options` validates the config entry (everything but `type`), and `create`
    builds the working object from the hub, the entry's id and the validated
    options. The schema of `options` is what the panel turns into a form.

    `default_entry` (detector types): when the config has no `detectors` entry
    at all, the hub builds one of this type with default options under this id,
    the first time a camera needs it (the bundled model works out of the box).
    """

    name: str
    options: type[PluginOptions]
    create: Callable[..., Any]
    description: str = ""
    plugin: str = field(default="", compare=False)
    default_entry: str | None = None

    def schema(self) -> dict[str, Any]:
        """JSON schema of the options, for forms and docs."""
        return self.options.model_json_schema()


@dataclass(frozen=True)
class AutomationType(TypeSpec):
    """A trigger, condition or action type for automations.

    `create(hub, automation_id, options)` returns, by `kind`:

    - trigger: an object with `attach(fire) -> detach`, where
      `fire(variables: dict[str, Any], context: Context | None)` starts a run and
      `detach()` stops listening;
    - condition: an object with `check(variables: Mapping[str, Any]) -> bool`;
    - action: an object with
      `async async_run(variables: Mapping[str, Any], context: Context) -> Mapping[str, Any] | None`
      whose result is stored in the run's trace; raising marks the step failed.
    """

    kind: Literal["trigger", "condition", "action"] = "action"
    title: str = ""
    """Plain-language name shown in the panel ("Motion detected"); default: the name."""
    icon: str = ""
    """One emoji or symbol shown beside the title in the panel's pickers."""
    placeholders: Mapping[str, str] | None = None
    """Triggers: the `{name}` placeholders this trigger fills, with what each holds. Actions
    may then use them in template fields (`json_schema_extra={"format": "template"}`); None
    means "not declared" and turns the placeholder check off for automations using it."""


PRINCIPAL_KEY = "camhub.principal"
"""Where a request handler finds the caller (`.name`, `.role`, `.can_view(camera_id)`)."""


@dataclass(frozen=True)
class Route:
    """An HTTP route a plugin adds under `/api/x/<plugin>/` (the web layer mounts it)."""

    method: str
    path: str
    handler: Callable[..., Any]
    access: Literal["public", "admin", "viewer"] = "admin"
    """Who may call it: admins only unless the plugin says otherwise. A `viewer` route
    serving one camera must check the caller itself:
    `request[PRINCIPAL_KEY].can_view(camera_id)`."""
