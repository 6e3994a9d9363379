"""A test plugin adds a trigger, a condition and an action type; they work end to end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from hub.events import Context
from hub.extensions.registry import AutomationType, PluginOptions
from hub.hookspecs import hookimpl
from tests.hub.automations.conftest import wait_traces


class DoorbellOptions(PluginOptions):
    button: str = Field(description="Which button.")


class QuietOptions(PluginOptions):
    quiet: bool = Field(description="Whether it is quiet time.")


class SayOptions(PluginOptions):
    text: str = Field(min_length=1, description="What to say.")
    fail: bool = Field(False, description="Raise instead.")


class Doorbells:
    """The plugin: its triggers are fired by `ring`, its action collects what it says."""

    def __init__(self) -> None:
        self.listeners: dict[str, list[Callable[..., None]]] = {}
        self.said: list[tuple[str, str]] = []

    def ring(self, button: str) -> None:
        for fire in self.listeners.get(button, []):
            fire({"button": button}, Context())

    @hookimpl
    def automation_types(self) -> list[AutomationType]:
        plugin = self

        class Trigger:
            def __init__(self, options: DoorbellOptions):
                self.button = options.button

            def attach(self, fire: Callable[..., None]) -> Callable[[], None]:
                plugin.listeners.setdefault(self.button, []).append(fire)
                return lambda: plugin.listeners[self.button].remove(fire)

        class Quiet:
            def __init__(self, options: QuietOptions):
                self.quiet = options.quiet

            def check(self, variables: Mapping[str, Any]) -> bool:
                return not self.quiet

        class Say:
            def __init__(self, automation_id: str, options: SayOptions):
                self.automation_id = automation_id
                self.options = options

            async def async_run(self, variables: Mapping[str, Any], context: Context) -> Any:
                if self.options.fail:
                    raise RuntimeError("speaker unplugged")
                plugin.said.append(
                    (self.automation_id, f"{self.options.text} {variables['button']}")
                )
                return {"said": self.options.text}

        return [
            AutomationType(name="doorbell", kind="trigger", options=DoorbellOptions,
                           create=lambda hub, aid, options: Trigger(options),
                           description="A doorbell button."),
            AutomationType(name="not_quiet", kind="condition", options=QuietOptions,
                           create=lambda hub, aid, options: Quiet(options)),
            AutomationType(name="say", kind="action", options=SayOptions,
                           create=lambda hub, aid, options: Say(aid, options)),
        ]  # fmt: skip


CONFIG = """\
automations:
  - id: bell
    triggers:
      - type: doorbell
        button: front
    conditions:
      - type: not_quiet
        quiet: false
    actions:
      - type: say
        text: ding
      - type: say
        text: dong
        fail: true
      - type: say
        text: dang
"""


async def test_plugin_trigger_condition_and_action_end_to_end(auto_hub):
    plugin = Doorbells()
    hub = await auto_hub(CONFIG, plugins={"doorbells": plugin})
    assert hub.automations.automations["bell"].issues == []
    plugin.ring("back")
    plugin.ring("front")
    [trace] = await wait_traces(hub, "bell", 1)
    assert plugin.said == [("bell", "ding front"), ("bell", "dang front")]
    assert [s["state"] for s in trace["steps"]] == ["done", "error", "done"]
    assert trace["steps"][1]["error"] == "RuntimeError: speaker unplugged"
    assert trace["conditions"] == [{"path": "conditions[0]", "type": "not_quiet", "result": True}]
    info = {(t["kind"], t["name"]): t for t in hub.automations.types_info()}
    assert info[("trigger", "doorbell")]["plugin"] == "doorbells"
    assert info[("action", "say")]["schema"]["properties"]["text"]["description"] == "What to say."
    # Disabling detaches the plugin's trigger.
    await hub.automations.async_set_enabled("bell", False)
    assert plugin.listeners["front"] == []


async def test_plugin_options_are_validated_with_paths(auto_hub):
    hub = await auto_hub(plugins={"doorbells": Doorbells()})
    data = {
        "id": "x",
        "triggers": [{"type": "doorbell"}],
        "conditions": [{"type": "not_quiet", "quiet": "maybe"}],
        "actions": [{"type": "say", "text": "", "volume": 11}],
    }
    issues = {(i.path, i.message) for i in hub.automations.validate(data)}
    assert issues == {
        ("triggers[0].button", "required key is missing"),
        ("conditions[0].quiet", "must be true or false (got 'maybe')"),
        ("actions[0].text", "string should have at least 1 character"),
        ("actions[0].volume", "unknown key"),
    }
