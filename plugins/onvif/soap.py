"""SOAP envelopes for ONVIF: WS-Security headers out, safe prefix-agnostic parsing in.

Answers are parsed with defusedxml (no DTDs, no entities) after a size check, and
read by local name only: cameras use any prefix, and some answer in SOAP 1.1 or
with namespaces from another schema version. Real firmware is sloppier still: an
answer that does not parse is repaired where its meaning is clear (a byte-order
mark or text before the XML, garbage after the envelope, a prefix used but never
declared) and parsed again; a body without its envelope is taken as the body; an
HTML error page sent with status 200 is named as such. Anything else is a clear
OnvifError, never a traceback.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
"""A big NVR's GetProfiles is some hundred KiB; past this, an answer is refused unread."""

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_TOKEN_PROFILE = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
)
PASSWORD_DIGEST = f"{_TOKEN_PROFILE}#PasswordDigest"
PASSWORD_TEXT = f"{_TOKEN_PROFILE}#PasswordText"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
WSA = "http://www.w3.org/2005/08/addressing"

NAMESPACES = {
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tr2": "http://www.onvif.org/ver20/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "tev": "http://www.onvif.org/ver10/events/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "wsnt": "http://docs.oasis-open.org/wsn/b-2",
    "wsa": WSA,
}


class OnvifError(Exception):
    """An ONVIF call failed; the message says why in words a user understands, and which
    call (`GetSnapshotUri: ...`) once the client knows it."""

    def __init__(self, detail: str, call: str | None = None):
        self.detail = detail
        self.call = call
        super().__init__(f"{call}: {detail}" if call else detail)

    def for_call(self, call: str) -> OnvifError:
        """The same error, saying which call failed (left alone if it says so already)."""
        if self.call is not None:
            return self
        return type(self)(self.detail, call)


class OnvifAuthError(OnvifError):
    """The device refused our credentials; never named by call: it is the device's answer."""

    def for_call(self, call: str) -> OnvifError:
        return self


class OnvifUnreachable(OnvifError):
    """No answer at all (timeout, refused connection): the device, not one call, is at fault."""

    def for_call(self, call: str) -> OnvifError:
        return self


class SoapFault(OnvifError):
    """The device answered with a SOAP Fault."""

    def __init__(self, code: str, subcodes: tuple[str, ...], reason: str, call: str | None = None):
        self.code = code
        self.subcodes = subcodes
        self.reason = reason
        detail = describe_fault(code, subcodes, reason)
        super().__init__(detail, None if self.not_authorized else call)

    def for_call(self, call: str) -> OnvifError:
        if self.call is not None or self.not_authorized:
            return self
        return SoapFault(self.code, self.subcodes, self.reason, call)

    @property
    def not_authorized(self) -> bool:
        """The standard ter:NotAuthorized (or a device's close variant)."""
        words = " ".join((*self.subcodes, self.reason)).lower()
        return any(
            word in words for word in ("notauthorized", "not authorized", "unauthorized", "auth")
        )


def auth_failed(exc: OnvifError) -> bool:
    """The device refused who we are (as opposed to what we asked)."""
    return isinstance(exc, OnvifAuthError) or (isinstance(exc, SoapFault) and exc.not_authorized)


def describe_fault(code: str, subcodes: tuple[str, ...], reason: str) -> str:
    """One sentence for a fault: NotAuthorized reads as the credentials being wrong."""
    names = [code, *subcodes]
    if any(n.endswith("NotAuthorized") for n in names):
        return "wrong username or password"
    detail = reason or "/".join(n for n in names if n) or "no reason given"
    return f"the device refused the request: {detail}"


@dataclass(frozen=True)
class Credentials:
    """Who we are to the camera."""

    username: str
    password: str


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken digest: Base64(SHA1(nonce + created + password))."""
    digest = hashlib.sha1(nonce + created.encode() + password.encode()).digest()
    return base64.b64encode(digest).decode()


def format_time(moment: dt.datetime) -> str:
    """xs:dateTime in UTC with a Z, as devices expect in `Created`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def security_header(credentials: Credentials, now: dt.datetime, digest: bool = True) -> str:
    """A wsse:Security header with a UsernameToken (digest or plain text) created at `now`."""
    created = format_time(now)
    user = escape(credentials.username)
    if digest:
        nonce = os.urandom(16)
        password = password_digest(nonce, created, credentials.password)
        kind = PASSWORD_DIGEST
        encoded = base64.b64encode(nonce).decode()
        nonce_xml = f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{encoded}</wsse:Nonce>'
    else:
        password, kind, nonce_xml = escape(credentials.password), PASSWORD_TEXT, ""
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>"
        f'<wsse:Password Type="{kind}">{password}</wsse:Password>{nonce_xml}'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
    )


def envelope(body: str, header: str = "") -> bytes:
    """A SOAP 1.2 envelope declaring the ONVIF prefixes used by the bodies we send."""
    declarations = " ".join(f'xmlns:{p}="{ns}"' for p, ns in NAMESPACES.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP12}" {declarations}>'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def strip_prefixes(qname_path: str) -> str:
    """Topic without prefixes: `tns1:RuleEngine/tnsx:Cell/Motion` -> `RuleEngine/Cell/Motion`."""
    return "/".join(part.rsplit(":", 1)[-1] for part in qname_path.strip().split("/"))


def parse_xml(data: bytes) -> Element:
    """Parse an answer safely; OnvifError for anything oversized, hostile or malformed.

    An answer that does not parse is repaired where the fault is a known firmware
    slip (see `repair`) and parsed once more; the repairs never weaken the refusal of
    DTDs and entities, which defusedxml applies to the repaired text as well.
    """
    if len(data) > MAX_RESPONSE_BYTES:
        raise OnvifError(f"answer too large ({len(data)} bytes)")
    page = html_title(data)
    if page is not None:
        raise OnvifError(f"answered with a web page, not SOAP ({page})")
    try:
        return _parse(data)
    except (ParseError, ValueError, UnicodeError) as exc:
        repaired = repair(data)
        if repaired == data:
            raise OnvifError(f"answer is not valid XML ({exc})") from None
        try:
            return _parse(repaired)
        except (ParseError, ValueError, UnicodeError):
            raise OnvifError(f"answer is not valid XML ({exc})") from None


def _parse(data: bytes) -> Element:
    try:
        root: Element = fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise OnvifError(f"answer refused: {type(exc).__name__}") from None
    return root


_NAME = rb"[A-Za-z_][\w.\-]*"
_ENVELOPE_END = re.compile(rb"</(?:" + _NAME + rb":)?Envelope\s*>")
_PREFIX_IN_TAG = re.compile(rb"</?(" + _NAME + rb"):" + _NAME)
_PREFIX_IN_ATTRIBUTE = re.compile(rb"\s(" + _NAME + rb"):" + _NAME + rb"\s*=\s*[\"']")
_PREFIX_DECLARED = re.compile(rb"xmlns:(" + _NAME + rb")\s*=")
_FIRST_TAG = re.compile(rb"<(" + _NAME + rb"(?::" + _NAME + rb")?)")
_HTML_START = re.compile(rb"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.I | re.S)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_BOM = b"\xef\xbb\xbf"
_KNOWN_PREFIXES = {
    **NAMESPACES,
    "s": SOAP12,
    "env": SOAP12,
    "soap": SOAP12,
    "SOAP-ENV": SOAP12,
    "wsse": WSSE,
    "wsu": WSU,
    "tns1": "http://www.onvif.org/ver10/topics",
    "ter": "http://www.onvif.org/ver10/error",
}
"""Where an undeclared prefix most likely points; any URI would do, since answers are read
by local name, but the usual one keeps the parsed tree honest."""


def repair(data: bytes) -> bytes:
    """`data` with the slips of real firmware undone: anything before the first `<` (a BOM,
    a stray blank line), anything after the closing Envelope tag, and prefixes used without
    a declaration (declared on the first element). Returns `data` itself when none apply."""
    start = data.find(b"<")
    if start > 0:
        data = data[start:]
    ends = list(_ENVELOPE_END.finditer(data))
    if ends and data[ends[-1].end() :].strip():
        data = data[: ends[-1].end()]
    used = {m.group(1) for m in _PREFIX_IN_TAG.finditer(data)}
    used |= {m.group(1) for m in _PREFIX_IN_ATTRIBUTE.finditer(data)}
    missing = sorted(used - {m.group(1) for m in _PREFIX_DECLARED.finditer(data)})
    missing = [p for p in missing if p.lower() not in (b"xml", b"xmlns")]
    root = _FIRST_TAG.search(data)
    if missing and root is not None:
        declarations = b"".join(
            b' xmlns:%s="%s"' % (prefix, _namespace_for(prefix).encode()) for prefix in missing
        )
        data = data[: root.end()] + declarations + data[root.end() :]
    return data


def _namespace_for(prefix: bytes) -> str:
    name = prefix.decode("ascii", "replace")
    return _KNOWN_PREFIXES.get(name, f"urn:camhub:undeclared-prefix:{name}")


def html_title(data: bytes) -> str | None:
    """For an HTML page (a camera's error page sent as an answer): its title, or "no title";
    None when `data` is not HTML."""
    head = data[:4096].removeprefix(_BOM)
    if not _HTML_START.match(head):
        return None
    found = _TITLE.search(head)
    title = found.group(1).decode("utf-8", "replace") if found else ""
    title = " ".join(title.split())[:80]
    return f"'{title}'" if title else "no title"


def body_of(data: bytes) -> Element:
    """The first element in the Body of a SOAP 1.2 or 1.1 answer; raises SoapFault for a fault.

    An answer that is a bare ONVIF response or fault, without the envelope around it
    (as some firmware sends), is taken as the body's element.
    """
    root = parse_xml(data)
    if local(root.tag) != "Envelope":
        if local(root.tag).endswith("Response"):
            return root
        if local(root.tag) == "Fault":
            raise fault_from(root)
        raise OnvifError("answer is not a SOAP envelope")
    body = child(root, "Body")
    if body is None or len(body) == 0:
        raise OnvifError("SOAP answer without a body")
    first = body[0]
    if local(first.tag) == "Fault":
        raise fault_from(first)
    return first


def fault_from(fault: Element) -> SoapFault:
    """A SoapFault from a SOAP 1.2 (Code/Subcode/Reason) or 1.1 (faultcode/faultstring) Fault."""
    code_element = child(fault, "Code")
    if code_element is not None:
        code = _qname(text(child(code_element, "Value")))
        subcodes: list[str] = []
        sub = child(code_element, "Subcode")
        while sub is not None and len(subcodes) < 8:
            subcodes.append(_qname(text(child(sub, "Value"))))
            sub = child(sub, "Subcode")
        reason = text(find(fault, "Reason", "Text"))
        return SoapFault(code, tuple(subcodes), reason[:300])
    code = _qname(text(child(fault, "faultcode")))
    reason = text(child(fault, "faultstring"))
    subcode = text(find(fault, "detail"))
    return SoapFault(code, (_qname(subcode),) if subcode else (), reason[:300])


def _qname(value: str) -> str:
    return value.rsplit(":", 1)[-1]


def child(element: Element | None, name: str) -> Element | None:
    """The first direct child with this local name."""
    if element is None:
        return None
    for item in element:
        if local(item.tag) == name:
            return item
    return None


def children(element: Element | None, name: str) -> Iterator[Element]:
    """Direct children with this local name."""
    if element is None:
        return
    for item in element:
        if local(item.tag) == name:
            yield item


def find(element: Element | None, *path: str) -> Element | None:
    """Follow direct children by local name."""
    for name in path:
        element = child(element, name)
    return element


def descendant(element: Element | None, name: str) -> Element | None:
    """The first element at any depth with this local name."""
    if element is None:
        return None
    for item in element.iter():
        if local(item.tag) == name and item is not element:
            return item
    return None


def text(element: Element | None) -> str:
    """Stripped text of an element, '' when missing."""
    return (element.text or "").strip() if element is not None else ""
