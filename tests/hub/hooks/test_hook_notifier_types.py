"""`notifier_types`: config entries of a plugin's type become notifiers in `hub.notifiers`."""

from __future__ import annotations

from pydantic import Field

from hub.extensions.registry import PluginOptions, TypeSpec
from hub.hookspecs import hookimpl
from hub.notify.message import Message, Notifier


class PagerOptions(PluginOptions):
    number: str = Field(description="Where to page.")
    priority_floor: int = Field(1, ge=1, le=5, description="Quieter messages are dropped.")


class Pager:
    def __init__(self, notifier_id: str, options: PagerOptions):
        self.notifier_id = notifier_id
        self.options = options
        self.sent: list[Message] = []

    async def async_send(self, message: Message) -> None:
        if message.priority >= self.options.priority_floor:
            self.sent.append(message)


class PagerPlugin:
    @hookimpl
    def notifier_types(self) -> list[TypeSpec]:
        return [
            TypeSpec(
                name="pager",
                options=PagerOptions,
                create=lambda hub, notifier_id, options: Pager(notifier_id, options),
            ),
            "not a TypeSpec",  # ignored
        ]


CONFIG = """\
notifiers:
  night:
    type: pager
    number: "555-0100"
    priority_floor: 4
  log_it:
    type: log
  fax:
    type: fax
  day:
    type: pager
  loud:
    type: pager
    number: "555-0101"
    priority_floor: 9
"""


async def test_notifier_entries_are_built_and_bad_ones_reported_with_their_line(make_hub):
    hub = make_hub(CONFIG)
    hub.plugins.register(PagerPlugin(), "pager")
    await hub.async_start()
    try:
        assert sorted(hub.notifiers) == ["log_it", "night"]  # `log` is the built-in type
        night = hub.notifiers["night"]
        assert isinstance(night, Pager)
        assert isinstance(night, Notifier)
        assert night.options == PagerOptions(number="555-0100", priority_floor=4)
        assert hub.notifier_types["pager"].plugin == "pager"
        assert hub.notifier_types["log"].plugin == "log_notifier"

        await night.async_send(Message(title="Door", body="opened", priority=2))
        await night.async_send(Message(title="Smoke", body="kitchen", priority=5))
        assert [m.title for m in night.sent] == ["Smoke"]

        problems = "\n".join(hub.problems)
        assert "config.yaml:9: notifiers.fax.type: unknown notifier type 'fax'" in problems
        assert "(known: email, log, mqtt, ntfy, pager, panel, webhook)" in problems
        assert "config.yaml:10: notifiers.day.number: required key is missing" in problems
        assert "config.yaml:15: notifiers.loud.priority_floor: must be <= 5 (got 9)" in problems
    finally:
        await hub.async_stop()


async def test_a_later_loaded_plugin_can_replace_a_built_in_type(make_hub):
    class MyLog:
        @hookimpl
        def notifier_types(self) -> list[TypeSpec]:
            return [TypeSpec(name="log", options=PluginOptions, create=lambda *args: "mine")]

    hub = make_hub("notifiers:\n  audit:\n    type: log\n")
    hub.plugins.register(MyLog(), "my_log")
    await hub.async_start()
    try:
        assert hub.notifiers["audit"] == "mine"
        assert hub.notifier_types["log"].plugin == "my_log"
    finally:
        await hub.async_stop()
