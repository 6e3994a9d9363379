"""The ONVIF simulator's Media2 privacy masks: GetMaskOptions, GetMasks, CreateMask, DeleteMask.

Mixed into ``OnvifSimulator``. Masks are kept per video source configuration with
their corners as received (ONVIF coordinates, -1..1, y up) and checked like a
camera would: known configuration, 3..MaxPoints corners inside -1..1, a type
it offers, at most MaxMasks. ``SimOptions.masks`` makes the camera honest
("yes"), without masks ("no"), or lying: "forget" answers CreateMask with a
token but keeps nothing, "shift" reads every mask back moved down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from tests.servers.sim_xml import child, text

if TYPE_CHECKING:
    from aiohttp import web

SHIFT = 0.3
"""How far (ONVIF units) a "shift" camera moves the masks it reads back."""


@dataclass
class SimMask:
    """A privacy mask the simulator holds (corners in ONVIF coordinates, as received)."""

    configuration: str
    points: list[tuple[float, float]]
    type: str
    enabled: bool


class MaskService:
    """The mask operations of the Media2 service."""

    options: Any
    masks: dict[str, SimMask]
    mask_serial: int = 0

    def _fault(self, code: str, subcode: str, reason: str) -> web.Response:
        raise NotImplementedError

    def _configurations(self) -> set[str]:
        return {p.video_source for p in self.options.profiles}

    def _mask_refusal(self, request: Element, http: web.Request) -> web.Response | None:
        if http.match_info["service"] != "media2_service":
            return self._fault("Receiver", "ter:ActionNotSupported", "masks are Media2")
        if self.options.masks == "no":
            return self._fault("Receiver", "ter:ActionNotSupported", "no mask support")
        return None

    def _do_GetMaskOptions(self, request: Element, http: web.Request) -> Any:
        refused = self._mask_refusal(request, http)
        if refused is not None:
            return refused
        if text(child(request, "ConfigurationToken")) not in self._configurations():
            return self._fault("Sender", "ter:InvalidArgVal", "no such configuration")
        o = self.options
        types = "".join(f"<tr2:Types>{t}</tr2:Types>" for t in o.mask_types)
        return (
            "<tr2:GetMaskOptionsResponse>"
            f'<tr2:Options RectangleOnly="{str(o.rectangle_only).lower()}" '
            'SingleColorOnly="true">'
            f"<tr2:MaxMasks>{o.max_masks}</tr2:MaxMasks>"
            f"<tr2:MaxPoints>{o.max_mask_points}</tr2:MaxPoints>{types}"
            '<tr2:Color><tt:ColorList X="16" Y="128" Z="128" '
            'Colorspace="http://www.onvif.org/ver10/colorspace/YCbCr"/></tr2:Color>'
            "</tr2:Options></tr2:GetMaskOptionsResponse>"
        )

    def _do_GetMasks(self, request: Element, http: web.Request) -> Any:
        refused = self._mask_refusal(request, http)
        if refused is not None:
            return refused
        token = text(child(request, "Token"))
        configuration = text(child(request, "ConfigurationToken"))
        shift = SHIFT if self.options.masks == "shift" else 0.0
        items = []
        for key, mask in self.masks.items():
            if (token and key != token) or (configuration and mask.configuration != configuration):
                continue
            corners = "".join(
                f'<tt:Point x="{x}" y="{max(-1.0, y - shift)}"/>' for x, y in mask.points
            )
            items.append(
                f'<tr2:Masks token="{key}"><tr2:ConfigurationToken>{mask.configuration}'
                f"</tr2:ConfigurationToken><tr2:Polygon>{corners}</tr2:Polygon>"
                f"<tr2:Type>{mask.type}</tr2:Type>"
                f"<tr2:Enabled>{str(mask.enabled).lower()}</tr2:Enabled></tr2:Masks>"
            )
        return f"<tr2:GetMasksResponse>{''.join(items)}</tr2:GetMasksResponse>"

    def _do_CreateMask(self, request: Element, http: web.Request) -> Any:
        refused = self._mask_refusal(request, http)
        if refused is not None:
            return refused
        element = child(request, "Mask")
        configuration = text(child(element, "ConfigurationToken"))
        if configuration not in self._configurations():
            return self._fault("Sender", "ter:InvalidArgVal", "no such configuration")
        points = []
        polygon = child(element, "Polygon")
        for point in list(polygon) if polygon is not None else []:
            try:
                x, y = float(point.get("x", "")), float(point.get("y", ""))
            except ValueError:
                return self._fault("Sender", "ter:InvalidArgVal", "bad point")
            if not (math.isfinite(x) and math.isfinite(y) and -1 <= x <= 1 and -1 <= y <= 1):
                return self._fault("Sender", "ter:InvalidArgVal", "point outside -1..1")
            points.append((x, y))
        o = self.options
        if not 3 <= len(points) <= o.max_mask_points:
            return self._fault("Sender", "ter:InvalidArgVal", "wrong number of points")
        kind = text(child(element, "Type"))
        if kind not in o.mask_types:
            return self._fault("Sender", "ter:InvalidArgVal", f"mask type {kind} not supported")
        if sum(m.configuration == configuration for m in self.masks.values()) >= o.max_masks:
            return self._fault("Receiver", "ter:MaxMasks", "no room for another mask")
        self.mask_serial += 1
        token = f"mask{self.mask_serial}"
        if o.masks != "forget":
            enabled = text(child(element, "Enabled")).lower() == "true"
            self.masks[token] = SimMask(configuration, points, kind, enabled)
        return f"<tr2:CreateMaskResponse><tr2:Token>{token}</tr2:Token></tr2:CreateMaskResponse>"

    def _do_DeleteMask(self, request: Element, http: web.Request) -> Any:
        refused = self._mask_refusal(request, http)
        if refused is not None:
            return refused
        token = text(child(request, "Token"))
        if self.masks.pop(token, None) is None:
            return self._fault("Sender", "ter:InvalidArgVal", "no such mask")
        return "<tr2:DeleteMaskResponse/>"
