"""`probe_device`: the first plugin that speaks a device's protocol describes its streams."""

from __future__ import annotations

from typing import Any

from hub import hookspecs
from hub.cameras.discovery import DeviceProbe, StreamProfile, pick_streams
from hub.hookspecs import hookimpl

QUIET = "plugins: {disabled: [discovery, onvif]}\n"


class Fixed:
    """Answers for /fixed URLs only."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    @hookimpl
    async def probe_device(self, hub: Any, url: str, username: str, password: str) -> Any:
        self.asked.append((url, username, password))
        if not url.endswith("/fixed"):
            return None
        profiles = [
            StreamProfile("sub", "Sub", 640, 360, "H264", "rtsp://192.0.2.9/sub"),
            StreamProfile("main", "Main", 1920, 1080, "H265", "rtsp://192.0.2.9/main"),
        ]
        main, sub = pick_streams(profiles)
        return DeviceProbe(url, manufacturer="Fixed", profiles=tuple(profiles), main=main, sub=sub)


class Broken:
    @hookimpl
    def probe_device(self, hub: Any, url: str, username: str, password: str) -> Any:
        raise OSError("boom")


async def test_the_answering_plugin_describes_the_device(make_hub):
    hub = make_hub(QUIET)
    fixed = Fixed()
    hub.plugins.register(fixed, "fixed")

    probe = await hub.plugins.async_call_first(
        hookspecs.probe_device, hub=hub, url="http://192.0.2.9/fixed", username="u", password="p"
    )

    assert isinstance(probe, DeviceProbe)
    assert probe.main is not None and probe.main.token == "main"
    assert probe.sub is not None and probe.sub.token == "sub"
    assert probe.as_dict()["profiles"][1]["codec"] == "H265"
    assert fixed.asked == [("http://192.0.2.9/fixed", "u", "p")]


async def test_no_plugin_for_the_protocol_means_none_and_a_broken_one_is_isolated(make_hub):
    hub = make_hub(QUIET)
    hub.plugins.register(Broken(), "broken")
    hub.plugins.register(Fixed(), "fixed")

    probe = await hub.plugins.async_call_first(
        hookspecs.probe_device, hub=hub, url="http://192.0.2.9/other", username="", password=""
    )

    assert probe is None
    assert hub.plugins.infos["broken"].failures == 1
