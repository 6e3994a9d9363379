"""PTZ calls (ContinuousMove, Stop, GotoPreset, GetPresets) and the `ptz` automation action."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from hub import AutomationType, Context, PluginOptions
from plugins.onvif.client import PTZ_NS, OnvifClient
from plugins.onvif.soap import OnvifError, child, children, text


@dataclass(frozen=True)
class Preset:
    """A stored PTZ position."""

    token: str
    name: str


def _ptz_url(client: OnvifClient) -> str:
    url = client.service(PTZ_NS)
    if not url:
        raise OnvifError(f"{client.host} has no PTZ service")
    return url


def _token(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "")


async def async_continuous_move(
    client: OnvifClient, profile: str, pan: float, tilt: float, zoom: float
) -> None:
    """Start moving at these speeds (-1..1); the camera keeps going until Stop."""
    await client.async_call(
        _ptz_url(client),
        f"<tptz:ContinuousMove><tptz:ProfileToken>{_token(profile)}</tptz:ProfileToken>"
        f'<tptz:Velocity><tt:PanTilt x="{pan:g}" y="{tilt:g}"/><tt:Zoom x="{zoom:g}"/>'
        "</tptz:Velocity></tptz:ContinuousMove>",
    )


async def async_stop(client: OnvifClient, profile: str) -> None:
    """Stop pan, tilt and zoom."""
    await client.async_call(
        _ptz_url(client),
        f"<tptz:Stop><tptz:ProfileToken>{_token(profile)}</tptz:ProfileToken>"
        "<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom></tptz:Stop>",
    )


async def async_presets(client: OnvifClient, profile: str) -> list[Preset]:
    """The stored presets."""
    answer = await client.async_call(
        _ptz_url(client),
        f"<tptz:GetPresets><tptz:ProfileToken>{_token(profile)}</tptz:ProfileToken>"
        "</tptz:GetPresets>",
    )
    return [
        Preset(token=item.get("token", "")[:64], name=text(child(item, "Name"))[:64])
        for item in list(children(answer, "Preset"))[:300]
        if item.get("token")
    ]


async def async_goto_preset(client: OnvifClient, profile: str, preset: str) -> None:
    """Move to a preset by token."""
    await client.async_call(
        _ptz_url(client),
        f"<tptz:GotoPreset><tptz:ProfileToken>{_token(profile)}</tptz:ProfileToken>"
        f"<tptz:PresetToken>{_token(preset)}</tptz:PresetToken></tptz:GotoPreset>",
    )


class PtzOptions(PluginOptions):
    """Options of the `ptz` action."""

    camera: str = Field(description="Camera id; it needs an `onvif` section.")
    move: Literal["continuous", "stop", "preset"] = Field(
        description="continuous: move at pan/tilt/zoom speed for `seconds`, then stop; "
        "stop: stop moving; preset: go to `preset` (token or name)."
    )
    pan: float = Field(0.0, ge=-1, le=1, description="Pan speed, -1 (left) to 1 (right).")
    tilt: float = Field(0.0, ge=-1, le=1, description="Tilt speed, -1 (down) to 1 (up).")
    zoom: float = Field(0.0, ge=-1, le=1, description="Zoom speed, -1 (out) to 1 (in).")
    seconds: float = Field(
        1.0, gt=0, le=60, description="How long a continuous move lasts before Stop is sent."
    )
    preset: str | None = Field(None, description="Preset token or name, for `move: preset`.")
    profile: str | None = Field(
        None, description="Media profile token; default: the first one with PTZ."
    )

    def check(self, env: Any) -> list[tuple[str, str]]:
        """Cross-check for the automation editor: the camera must exist (`env.cameras`)."""
        cameras = getattr(env, "cameras", None)
        if cameras is not None and self.camera not in cameras:
            known = ", ".join(sorted(cameras)) or "none configured"
            return [("camera", f"unknown camera '{self.camera}' (known: {known})")]
        return []

    @model_validator(mode="after")
    def _preset_needed(self) -> PtzOptions:
        if self.move == "preset" and not self.preset:
            raise ValueError("move: preset needs `preset`")
        return self


ClientFor = Callable[[str], Awaitable[tuple[OnvifClient, str]]]
"""camera id -> a connected client and the PTZ profile token to use."""


class PtzAction:
    """The action object: moves the camera when an automation runs it."""

    def __init__(self, options: PtzOptions, client_for: ClientFor):
        self.options = options
        self.client_for = client_for

    async def async_run(self, variables: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Send the move; a continuous move is stopped after `seconds`, even if cancelled."""
        options = self.options
        client, profile = await self.client_for(options.camera)
        profile = options.profile or profile
        if options.move == "stop":
            await async_stop(client, profile)
            return {"camera": options.camera, "move": "stop"}
        if options.move == "preset":
            assert options.preset is not None
            presets = await async_presets(client, profile)
            token = next((p.token for p in presets if options.preset in (p.token, p.name)), None)
            if token is None:
                known = ", ".join(p.name or p.token for p in presets) or "none"
                raise OnvifError(
                    f"camera {options.camera} has no preset {options.preset!r} ({known})"
                )
            await async_goto_preset(client, profile, token)
            return {"camera": options.camera, "move": "preset", "preset": token}
        await async_continuous_move(client, profile, options.pan, options.tilt, options.zoom)
        try:
            await asyncio.sleep(options.seconds)
        finally:
            await asyncio.shield(async_stop(client, profile))
        return {"camera": options.camera, "move": "continuous", "seconds": options.seconds}


def ptz_action_type(client_for_hub: Callable[[Any], ClientFor]) -> AutomationType:
    """The `ptz` action type; `client_for_hub(hub)` finds a camera's ONVIF client."""

    def create(hub: Any, automation_id: str, options: PtzOptions) -> PtzAction:
        if options.camera not in hub.cameras:
            raise ValueError(f"unknown camera '{options.camera}'")
        if hub.cameras[options.camera].config.onvif is None:
            raise ValueError(f"camera '{options.camera}' has no onvif section")
        return PtzAction(options, client_for_hub(hub))

    return AutomationType(
        name="ptz",
        options=PtzOptions,
        create=create,
        description="Pan, tilt, zoom or go to a preset on an ONVIF camera.",
        kind="action",
        title="Move a camera (pan, tilt, zoom)",
        icon="🎥",
    )
