"""`automation_types`: trigger, condition and action types land in `hub.automation_types`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from hub.extensions.registry import AutomationType, PluginOptions, TypeSpec
from hub.hookspecs import hookimpl


class SayOptions(PluginOptions):
    text: str = Field(description="What to say.")


def _noop(*args: Any) -> None:
    return None


class Speech:
    @hookimpl
    def automation_types(self) -> list[Any]:
        return [
            AutomationType(name="say", kind="action", options=SayOptions, create=_noop),
            AutomationType(
                name="quiet_hours", kind="condition", options=PluginOptions, create=_noop
            ),
            AutomationType(name="doorbell", kind="trigger", options=PluginOptions, create=_noop),
            TypeSpec(name="plain", options=PluginOptions, create=_noop),  # not an AutomationType
        ]


class Rival:
    @hookimpl
    def automation_types(self) -> list[AutomationType]:
        return [
            AutomationType(name="say", kind="action", options=PluginOptions, create=_noop),
            AutomationType(name="say", kind="trigger", options=PluginOptions, create=_noop),
        ]


async def test_automation_types_are_collected_by_kind_and_name(make_hub):
    hub = make_hub()
    hub.plugins.register(Speech(), "speech")
    await hub.async_start()
    try:
        # Built-in plugins offer some too (mqtt trigger, webhook action...).
        from_speech = {key for key, spec in hub.automation_types.items() if spec.plugin == "speech"}
        assert from_speech == {
            ("action", "say"),
            ("condition", "quiet_hours"),
            ("trigger", "doorbell"),
        }
        say = hub.automation_types[("action", "say")]
        assert say.options is SayOptions
        assert say.schema()["required"] == ["text"]
    finally:
        await hub.async_stop()


async def test_the_first_plugin_to_offer_a_kind_and_name_keeps_it(make_hub):
    hub = make_hub()
    hub.plugins.register(Rival(), "rival")
    hub.plugins.register(Speech(), "speech")  # asked first: registered last
    await hub.async_start()
    try:
        assert hub.automation_types[("action", "say")].options is SayOptions
        assert ("trigger", "say") in hub.automation_types  # same name, other kind: kept
    finally:
        await hub.async_stop()
