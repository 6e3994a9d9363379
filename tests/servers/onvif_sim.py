"""An ONVIF camera simulator for the tests: a SOAP server and a WS-Discovery responder on loopback.

``OnvifSimulator`` is an aiohttp server on 127.0.0.1 (port 0) speaking the parts of
ONVIF camhub uses: device (GetSystemDateAndTime, GetServices, GetCapabilities,
GetDeviceInformation), Media1 and Media2 (GetProfiles, GetStreamUri,
GetSnapshotUri; Media2 privacy masks: GetMaskOptions, GetMasks, CreateMask,
DeleteMask), events (CreatePullPointSubscription, PullMessages, Renew,
Unsubscribe) and PTZ (ContinuousMove, Stop, GetPresets, GotoPreset). It checks
WS-Security UsernameToken digests against its own clock and answers a wrong one
with the standard ter:NotAuthorized fault; `SimOptions` switches on the quirks of
real devices (SOAP 1.1, odd prefixes, no Media2, a clock hours off, slowness,
garbage, plain-text or HTTP Digest authentication only, no masks, masks it
claims to create but does not keep), and `sloppy` has chosen answers carry the
faults of sloppy firmware (tests/servers/onvif_sim_sloppy.py).

``WsDiscoveryResponder`` joins 239.255.255.250:3702 on 127.0.0.1 only, answers
Probes with ProbeMatches and multicasts Hello/Bye with TTL 1 out of loopback.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import re
import secrets
import socket
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import Element

from aiohttp import web
from defusedxml.ElementTree import fromstring

from tests.servers.onvif_sim_masks import MaskService, SimMask
from tests.servers.onvif_sim_sloppy import SloppyFault, sloppy_answer
from tests.servers.sim_xml import child, local, text

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NAMESPACES = {
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": "http://www.w3.org/2005/08/addressing",
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
}
ODD_PREFIXES = {
    "tds": "dev0",
    "trt": "m",
    "tr2": "M2",
    "tt": "sch",
    "tev": "e_v",
    "tptz": "pz",
    "wsnt": "b2",
    "wsa": "addr",
    "tns1": "t1",
    "ter": "errs",
}
PASSWORD_DIGEST_SUFFIX = "#PasswordDigest"
PASSWORD_TEXT_SUFFIX = "#PasswordText"
CLOCK_TOLERANCE = 30.0
"""Seconds a token's Created may differ from the device clock (real devices: 5 s to 5 min)."""


@dataclass(frozen=True)
class SimProfile:
    """A media profile the simulator serves."""

    token: str
    name: str
    width: int
    height: int
    codec: str = "H264"
    stream_uri: str = "rtsp://127.0.0.1:554/stream"
    ptz: bool = True
    video_source: str = "vsc0"
    """Token of the video source configuration (the sensor) the profile encodes."""


@dataclass
class SimOptions:
    """Who the device is and which real-world quirks it has."""

    username: str = "admin"
    password: str = "s3cret-pass"
    auth: Literal["digest", "text", "http"] = "digest"
    """digest: WS-Security digest or text; text: plain text only; http: HTTP Digest only."""
    media2: bool = True
    get_services: bool = True
    soap11: bool = False
    odd_prefixes: bool = False
    clock_offset: float = 0.0
    """Seconds the device clock is ahead of the real one."""
    delay: float = 0.0
    garbage: bool = False
    host: str = "127.0.0.1"
    """Loopback address to listen on."""
    xaddr_host: str | None = None
    """Host put in service addresses (GetServices/GetCapabilities), e.g. 0.0.0.0 like a
    camera with a default config; None: the listening address."""
    pull_wait: float = 0.5
    """Longest a PullMessages is held open here, whatever the client asks."""
    manufacturer: str = "SimCam"
    model: str = "SC-1080"
    profiles: list[SimProfile] = field(
        default_factory=lambda: [
            SimProfile("sub_tok", "SubStream", 640, 360, stream_uri="rtsp://127.0.0.1:554/sub"),
            SimProfile(
                "main_tok", "MainStream", 1920, 1080, stream_uri="rtsp://127.0.0.1:554/main"
            ),
        ]
    )
    presets: dict[str, str] = field(default_factory=lambda: {"1": "Gate", "2": "Drive"})
    masks: Literal["yes", "no", "forget", "shift"] = "yes"
    """Media2 privacy masks. no: GetMaskOptions is not supported; forget: CreateMask answers
    with a token but GetMasks returns nothing; shift: GetMasks returns them moved."""
    max_masks: int = 4
    max_mask_points: int = 8
    mask_types: tuple[str, ...] = ("Color", "Pixelated")
    rectangle_only: bool = False
    sloppy: dict[str, SloppyFault] = field(default_factory=dict)
    """Action (e.g. `GetSnapshotUri`, or "*" for every answer) -> the fault its answer has."""
    pull_point_address: Literal["absolute", "relative"] = "absolute"
    """relative: CreatePullPointSubscription names the pull point by its path alone."""


class OnvifSimulator(MaskService):
    """The SOAP side; `device_url` once started."""

    def __init__(self, options: SimOptions | None = None):
        self.options = options or SimOptions()
        self.calls: list[str] = []
        self.auth_failures = 0
        self.auth_modes: list[str] = []
        self.ptz: list[tuple[str, dict[str, str]]] = []
        self.subscriptions: dict[str, asyncio.Queue[str]] = {}
        self.renewals = 0
        self.unsubscribed = 0
        self.masks: dict[str, SimMask] = {}
        self._nonces: set[str] = set()
        self._http_nonce = secrets.token_hex(8)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> OnvifSimulator:
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post("/onvif/{service}", self._handle)
        app.router.add_post("/onvif/subscription/{sid}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        """Where services say they are (what GetServices reports)."""
        host = self.options.xaddr_host or self.options.host
        return f"http://{host}:{self.port}/onvif"

    @property
    def device_url(self) -> str:
        return f"http://{self.options.host}:{self.port}/onvif/device_service"

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.options.clock_offset)

    # ------------------------------------------------------------ events the test controls

    def push_event(
        self,
        topic: str,
        data: dict[str, str],
        source: dict[str, str] | None = None,
        operation: str = "Changed",
    ) -> None:
        """Queue one notification for every open pull-point (topic like `tns1:VideoSource/...`)."""
        source = source if source is not None else {"VideoSourceConfigurationToken": "vsc0"}
        items = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in source.items())
        values = "".join(f'<tt:SimpleItem Name="{k}" Value="{v}"/>' for k, v in data.items())
        message = (
            "<wsnt:NotificationMessage>"
            f'<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">'
            f"{topic}</wsnt:Topic><wsnt:Message>"
            f'<tt:Message UtcTime="{self.now():%Y-%m-%dT%H:%M:%SZ}" '
            f'PropertyOperation="{operation}">'
            f"<tt:Source>{items}</tt:Source><tt:Data>{values}</tt:Data></tt:Message>"
            "</wsnt:Message></wsnt:NotificationMessage>"
        )
        for queue in self.subscriptions.values():
            queue.put_nowait(message)

    # ------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if self.options.delay:
            await asyncio.sleep(self.options.delay)
        if self.options.garbage:
            return web.Response(body=b"\x00\xffHTTP/1.1 <not>xml&", content_type="text/xml")
        root = fromstring(raw)
        body = child(root, "Body")
        assert body is not None and len(body) > 0
        action = local(body[0].tag)
        self.calls.append(action)
        if action != "GetSystemDateAndTime":
            refused = self._check_auth(request, root)
            if refused is not None:
                return refused
        handler = getattr(self, f"_do_{action}", None)
        if handler is None:
            return self._fault("Receiver", "ter:ActionNotSupported", f"{action} not supported")
        answer = handler(body[0], request)
        if asyncio.iscoroutine(answer):
            answer = await answer
        if isinstance(answer, web.StreamResponse):
            return answer
        return self._reply(str(answer), action=action)

    def _check_auth(self, request: web.Request, root: Element) -> web.Response | None:
        options = self.options
        if options.auth == "http":
            if self._http_digest_ok(request):
                self.auth_modes.append("http")
                return None
            self.auth_failures += 1
            return web.Response(
                status=401,
                headers={
                    "WWW-Authenticate": f'Digest realm="simcam", qop="auth", '
                    f'nonce="{self._http_nonce}", algorithm=MD5'
                },
            )
        token = _find(root, "Header", "Security", "UsernameToken")
        if token is None:
            return self._not_authorized()
        username = text(child(token, "Username"))
        password_element = child(token, "Password")
        password = text(password_element)
        kind = password_element.get("Type", "") if password_element is not None else ""
        created = text(child(token, "Created"))
        nonce = text(child(token, "Nonce"))
        if username != options.username:
            return self._not_authorized()
        if kind.endswith(PASSWORD_TEXT_SUFFIX) or (not kind and not nonce):
            if password == options.password:
                self.auth_modes.append("text")
                return None
            return self._not_authorized()
        if options.auth == "text" or not kind.endswith(PASSWORD_DIGEST_SUFFIX):
            return self._not_authorized()
        try:
            moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
            raw_nonce = base64.b64decode(nonce, validate=True)
        except ValueError:
            return self._not_authorized()
        if abs((moment - self.now()).total_seconds()) > CLOCK_TOLERANCE or nonce in self._nonces:
            return self._not_authorized()
        expected = base64.b64encode(
            hashlib.sha1(raw_nonce + created.encode() + options.password.encode()).digest()
        ).decode()
        if not secrets.compare_digest(expected, password):
            return self._not_authorized()
        self._nonces.add(nonce)
        self.auth_modes.append("digest")
        return None

    def _http_digest_ok(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        options = self.options
        if fields.get("username") != options.username or fields.get("nonce") != self._http_nonce:
            return False
        ha1 = _md5(f"{options.username}:simcam:{options.password}")
        ha2 = _md5(f"{request.method}:{fields.get('uri', '')}")
        expected = _md5(
            f"{ha1}:{self._http_nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:"
            f"{fields.get('qop', '')}:{ha2}"
        )
        return secrets.compare_digest(expected, fields.get("response", ""))

    def _not_authorized(self) -> web.Response:
        self.auth_failures += 1
        return self._fault("Sender", "ter:NotAuthorized", "Sender not Authorized")

    # ------------------------------------------------------------ SOAP out

    def _prefixes(self) -> dict[str, str]:
        return ODD_PREFIXES if self.options.odd_prefixes else {p: p for p in NAMESPACES}

    def _reply(self, body: str, status: int = 200, action: str = "") -> web.Response:
        prefixes = self._prefixes()
        if self.options.odd_prefixes:
            body = re.sub(
                r"(</?|\b)(" + "|".join(NAMESPACES) + r"):",
                lambda m: f"{m.group(1)}{prefixes[m.group(2)]}:",
                body,
            )
        env, soap = ("SOAP-ENV", SOAP11) if self.options.soap11 else ("env", SOAP12)
        if self.options.odd_prefixes:
            env = "S12" if not self.options.soap11 else "S11"
        fault = self.options.sloppy.get(action) or self.options.sloppy.get("*")
        if fault is not None and action:
            namespaces = {prefixes[p]: ns for p, ns in NAMESPACES.items()}
            return sloppy_answer(fault, env, soap, namespaces, body.replace("env:", env + ":"))
        declarations = " ".join(f'xmlns:{prefixes[p]}="{ns}"' for p, ns in NAMESPACES.items())
        envelope = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{env}:Envelope xmlns:{env}="{soap}" '
            f"{declarations}><{env}:Header/><{env}:Body>{body.replace('env:', env + ':')}"
            f"</{env}:Body></{env}:Envelope>"
        )
        content_type = "text/xml" if self.options.soap11 else "application/soap+xml"
        return web.Response(text=envelope, status=status, content_type=content_type)

    def _fault(self, code: str, subcode: str, reason: str) -> web.Response:
        if self.options.soap11:
            body = (
                f"<env:Fault><faultcode>env:{'Client' if code == 'Sender' else 'Server'}"
                f"</faultcode><faultstring>{reason}</faultstring>"
                f"<detail>{subcode}</detail></env:Fault>"
            )
        else:
            body = (
                f"<env:Fault><env:Code><env:Value>env:{code}</env:Value><env:Subcode>"
                f"<env:Value>{subcode}</env:Value></env:Subcode></env:Code><env:Reason>"
                f'<env:Text xml:lang="en">{reason}</env:Text></env:Reason></env:Fault>'
            )
        return self._reply(body, status=400 if code == "Sender" else 500)

    # ------------------------------------------------------------ device

    def _do_GetSystemDateAndTime(self, _: Element, __: Any) -> str:
        now = self.now()
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
            f"<tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month>"
            f"<tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime>"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _services(self) -> dict[str, str]:
        services = {
            "tds": f"{self.base}/device_service",
            "trt": f"{self.base}/media_service",
            "tev": f"{self.base}/events_service",
            "tptz": f"{self.base}/ptz_service",
        }
        if self.options.media2:
            services["tr2"] = f"{self.base}/media2_service"
        return services

    def _do_GetServices(self, _: Element, __: Any) -> Any:
        if not self.options.get_services:
            return self._fault("Receiver", "ter:ActionNotSupported", "GetServices")
        items = "".join(
            f"<tds:Service><tds:Namespace>{NAMESPACES[key]}</tds:Namespace>"
            f"<tds:XAddr>{url}</tds:XAddr><tds:Version><tt:Major>2</tt:Major>"
            "<tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for key, url in self._services().items()
        )
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def _do_GetCapabilities(self, _: Element, __: Any) -> str:
        services = self._services()
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{services['tds']}</tt:XAddr></tt:Device>"
            f"<tt:Events><tt:XAddr>{services['tev']}</tt:XAddr></tt:Events>"
            f"<tt:Media><tt:XAddr>{services['trt']}</tt:XAddr></tt:Media>"
            f"<tt:PTZ><tt:XAddr>{services['tptz']}</tt:XAddr></tt:PTZ>"
            "</tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def _do_GetDeviceInformation(self, _: Element, __: Any) -> str:
        o = self.options
        return (
            f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{o.manufacturer}"
            f"</tds:Manufacturer><tds:Model>{o.model}</tds:Model>"
            "<tds:FirmwareVersion>1.0.7</tds:FirmwareVersion>"
            "<tds:SerialNumber>SIM0001</tds:SerialNumber><tds:HardwareId>HW1</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    # ------------------------------------------------------------ media

    def _profile(self, request: Element) -> SimProfile | None:
        token = text(child(request, "ProfileToken"))
        return next((p for p in self.options.profiles if p.token == token), None)

    def _do_GetProfiles(self, request: Element, http: web.Request) -> Any:
        media2 = http.match_info["service"] == "media2_service"
        if media2 and not self.options.media2:
            return self._fault("Receiver", "ter:ActionNotSupported", "no Media2")
        items = []
        for p in self.options.profiles:
            ptz = '<tt:PTZConfiguration token="ptz0"><tt:Name>PTZ</tt:Name></tt:PTZConfiguration>'
            if media2:
                items.append(
                    f'<tr2:Profiles token="{p.token}" fixed="true"><tr2:Name>{p.name}</tr2:Name>'
                    f'<tr2:Configurations><tr2:VideoSource token="{p.video_source}">'
                    f"<tt:Name>src</tt:Name><tt:UseCount>2</tt:UseCount>"
                    f"<tt:SourceToken>vs0</tt:SourceToken>"
                    f'<tt:Bounds x="0" y="0" width="{p.width}" height="{p.height}"/>'
                    f'</tr2:VideoSource><tr2:VideoEncoder token="ve_{p.token}" '
                    f'Encoding="{p.codec}"><tt:Name>enc</tt:Name><tt:Resolution>'
                    f"<tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height>"
                    "</tt:Resolution></tr2:VideoEncoder>"
                    + ('<tr2:PTZ token="ptz0"><tt:Name>PTZ</tt:Name></tr2:PTZ>' if p.ptz else "")
                    + "</tr2:Configurations></tr2:Profiles>"
                )
            else:
                items.append(
                    f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.name}</tt:Name>'
                    f'<tt:VideoEncoderConfiguration token="ve_{p.token}"><tt:Name>enc</tt:Name>'
                    f"<tt:Encoding>{p.codec}</tt:Encoding><tt:Resolution>"
                    f"<tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height>"
                    "</tt:Resolution></tt:VideoEncoderConfiguration>"
                    + (ptz if p.ptz else "")
                    + "</trt:Profiles>"
                )
        prefix = "tr2" if media2 else "trt"
        return f"<{prefix}:GetProfilesResponse>{''.join(items)}</{prefix}:GetProfilesResponse>"

    def _do_GetStreamUri(self, request: Element, http: web.Request) -> Any:
        profile = self._profile(request)
        if profile is None:
            return self._fault("Sender", "ter:InvalidArgVal", "no such profile")
        if http.match_info["service"] == "media2_service":
            return (
                f"<tr2:GetStreamUriResponse><tr2:Uri>{profile.stream_uri}</tr2:Uri>"
                "</tr2:GetStreamUriResponse>"
            )
        return (
            f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{profile.stream_uri}</tt:Uri>"
            "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetStreamUriResponse>"
        )

    def _do_GetSnapshotUri(self, request: Element, http: web.Request) -> Any:
        profile = self._profile(request)
        if profile is None:
            return self._fault("Sender", "ter:InvalidArgVal", "no such profile")
        uri = f"http://127.0.0.1:{self.port}/snapshot/{profile.token}.jpg"
        if http.match_info["service"] == "media2_service":
            return (
                f"<tr2:GetSnapshotUriResponse><tr2:Uri>{uri}</tr2:Uri></tr2:GetSnapshotUriResponse>"
            )
        return (
            f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri></trt:MediaUri>"
            "</trt:GetSnapshotUriResponse>"
        )

    # ------------------------------------------------------------ events

    def _do_CreatePullPointSubscription(self, _: Element, __: Any) -> str:
        sid = uuid.uuid4().hex[:8]
        self.subscriptions[sid] = asyncio.Queue()
        now = self.now()
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{self._pull_point_base()}/subscription/{sid}</wsa:Address>"
            "</tev:SubscriptionReference>"
            f"<wsnt:CurrentTime>{now:%Y-%m-%dT%H:%M:%SZ}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{now + dt.timedelta(seconds=60):%Y-%m-%dT%H:%M:%SZ}"
            "</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"
        )

    def _pull_point_base(self) -> str:
        return "/onvif" if self.options.pull_point_address == "relative" else self.base

    def _subscription(self, http: web.Request) -> asyncio.Queue[str] | None:
        return self.subscriptions.get(http.match_info.get("sid", ""))

    async def _do_PullMessages(self, _: Element, http: web.Request) -> Any:
        queue = self._subscription(http)
        if queue is None:
            return self._fault("Receiver", "ter:InvalidArgVal", "no such subscription")
        messages: list[str] = []
        try:
            messages.append(await asyncio.wait_for(queue.get(), self.options.pull_wait))
            while not queue.empty() and len(messages) < 32:
                messages.append(queue.get_nowait())
        except TimeoutError:
            pass
        now = self.now()
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{now:%Y-%m-%dT%H:%M:%SZ}"
            f"</tev:CurrentTime><tev:TerminationTime>{now:%Y-%m-%dT%H:%M:%SZ}"
            f"</tev:TerminationTime>{''.join(messages)}</tev:PullMessagesResponse>"
        )

    def _do_Renew(self, _: Element, http: web.Request) -> Any:
        if self._subscription(http) is None:
            return self._fault("Receiver", "ter:InvalidArgVal", "no such subscription")
        self.renewals += 1
        return (
            "<wsnt:RenewResponse><wsnt:TerminationTime>2030-01-01T00:00:00Z"
            "</wsnt:TerminationTime></wsnt:RenewResponse>"
        )

    def _do_Unsubscribe(self, _: Element, http: web.Request) -> str:
        self.subscriptions.pop(http.match_info.get("sid", ""), None)
        self.unsubscribed += 1
        return "<wsnt:UnsubscribeResponse/>"

    # ------------------------------------------------------------ PTZ

    def _do_ContinuousMove(self, request: Element, _: Any) -> str:
        velocity = child(request, "Velocity")
        pan_tilt, zoom = child(velocity, "PanTilt"), child(velocity, "Zoom")
        self.ptz.append(
            (
                "move",
                {
                    "x": pan_tilt.get("x", "") if pan_tilt is not None else "",
                    "y": pan_tilt.get("y", "") if pan_tilt is not None else "",
                    "zoom": zoom.get("x", "") if zoom is not None else "",
                    "profile": text(child(request, "ProfileToken")),
                },
            )
        )
        return "<tptz:ContinuousMoveResponse/>"

    def _do_Stop(self, request: Element, _: Any) -> str:
        self.ptz.append(("stop", {"profile": text(child(request, "ProfileToken"))}))
        return "<tptz:StopResponse/>"

    def _do_GetPresets(self, _: Element, __: Any) -> str:
        items = "".join(
            f'<tptz:Preset token="{token}"><tt:Name>{name}</tt:Name></tptz:Preset>'
            for token, name in self.options.presets.items()
        )
        return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"

    def _do_GotoPreset(self, request: Element, _: Any) -> Any:
        token = text(child(request, "PresetToken"))
        if token not in self.options.presets:
            return self._fault("Sender", "ter:InvalidArgVal", "no such preset")
        self.ptz.append(("preset", {"token": token}))
        return "<tptz:GotoPresetResponse/>"


def _md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def _find(element: Element | None, *path: str) -> Element | None:
    for name in path:
        element = child(element, name)
    return element


# ---------------------------------------------------------------- WS-Discovery

GROUP = "239.255.255.250"
WSD_PORT = 3702
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSA_2004 = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


class WsDiscoveryResponder(asyncio.DatagramProtocol):
    """A device's discovery side, on loopback: answers Probes, announces Hello and Bye."""

    def __init__(self, endpoint: str, xaddrs: str, name: str = "Sim Camera"):
        self.endpoint = endpoint
        self.xaddrs = xaddrs
        self.name = name
        self.probes = 0
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> WsDiscoveryResponder:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((GROUP, WSD_PORT))
        sock.setsockopt(
            socket.IPPROTO_IP,
            socket.IP_ADD_MEMBERSHIP,
            struct.pack("4s4s", socket.inet_aton(GROUP), socket.inet_aton("127.0.0.1")),
        )
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        return self

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            root = fromstring(data)
        except Exception:
            return
        body = child(root, "Body")
        if body is None or len(body) == 0 or local(body[0].tag) != "Probe":
            return
        message_id = text(_find(root, "Header", "MessageID"))
        self.probes += 1
        assert self.transport is not None
        self.transport.sendto(self._message("ProbeMatches", message_id), addr)

    def _message(self, kind: str, relates_to: str = "") -> bytes:
        relates = f"<a:RelatesTo>{relates_to}</a:RelatesTo>" if relates_to else ""
        inner = f"<a:EndpointReference><a:Address>{self.endpoint}</a:Address></a:EndpointReference>"
        if kind != "Bye":
            name = self.name.replace(" ", "%20")
            inner += (
                "<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>"
                f"<d:Scopes>onvif://www.onvif.org/name/{name} "
                "onvif://www.onvif.org/hardware/SC-1080</d:Scopes>"
                f"<d:XAddrs>{self.xaddrs}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>"
            )
        if kind == "ProbeMatches":
            inner = f"<d:ProbeMatch>{inner}</d:ProbeMatch>"
        return (
            f'<?xml version="1.0"?><s:Envelope xmlns:s="{SOAP12}" xmlns:a="{WSA_2004}" '
            f'xmlns:d="{WSD}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" '
            f'xmlns:tds="{NAMESPACES["tds"]}"><s:Header>'
            f"<a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>{relates}"
            f"<a:Action>{WSD}/{kind}</a:Action></s:Header>"
            f"<s:Body><d:{kind}>{inner}</d:{kind}></s:Body></s:Envelope>"
        ).encode()

    def hello(self) -> None:
        """Multicast a Hello out of loopback."""
        assert self.transport is not None
        self.transport.sendto(self._message("Hello"), (GROUP, WSD_PORT))

    def bye(self) -> None:
        """Multicast a Bye out of loopback."""
        assert self.transport is not None
        self.transport.sendto(self._message("Bye"), (GROUP, WSD_PORT))
