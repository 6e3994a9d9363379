"""Sloppy firmware for the ONVIF simulator: answers carrying the faults real cameras send.

Each fault is applied to one finished answer (`SimOptions.sloppy` maps an action, or
"*" for every answer, to a fault). They are the slips seen from real devices:

- `undeclared_prefix`: the body uses prefixes (`tt:`, `trt:`, ...) the envelope never
  declares, so a strict XML parser refuses the whole answer;
- `bom`: a UTF-8 byte-order mark and a blank line before the XML declaration;
- `trailing_garbage`: bytes after the closing Envelope tag (a NUL, a stray chunk);
- `old_envelope_namespace`: the SOAP envelope in a draft namespace nobody uses any more;
- `undeclared_envelope`: the `env:` prefix of the envelope itself never declared;
- `no_envelope`: the response element alone, without Envelope and Body;
- `html_page`: the web server's HTML error page, with status 200;
- `truncated`: the answer cut off halfway (no meaning left to recover).
"""

from __future__ import annotations

import re
from typing import Literal

from aiohttp import web

SloppyFault = Literal[
    "undeclared_prefix",
    "bom",
    "trailing_garbage",
    "old_envelope_namespace",
    "undeclared_envelope",
    "no_envelope",
    "html_page",
    "truncated",
]
SLOPPY_FAULTS: tuple[SloppyFault, ...] = (
    "undeclared_prefix",
    "bom",
    "trailing_garbage",
    "old_envelope_namespace",
    "undeclared_envelope",
    "no_envelope",
    "html_page",
    "truncated",
)
REPAIRABLE: tuple[SloppyFault, ...] = SLOPPY_FAULTS[:6]
"""Faults whose meaning is still clear: a lenient client reads these answers whole."""
DRAFT_SOAP = "http://www.w3.org/2001/12/soap-envelope"
HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>onvif: handler crashed</p></body></html>\n"
)


def sloppy_answer(
    fault: SloppyFault, env: str, soap_ns: str, declarations: dict[str, str], body: str
) -> web.Response:
    """The answer `body` (inside `env:Envelope`/`env:Body`) as firmware with `fault` sends it.

    `declarations` maps each prefix the envelope would declare to its namespace.
    """
    if fault == "html_page":
        return web.Response(text=HTML_PAGE, content_type="text/html")
    used = set(re.findall(r"</?([A-Za-z_][\w.-]*):", body))
    declared = dict(declarations)
    if fault == "undeclared_prefix":
        declared = {p: ns for p, ns in declared.items() if p not in used}
    envelope_ns = DRAFT_SOAP if fault == "old_envelope_namespace" else soap_ns
    envelope_declaration = "" if fault == "undeclared_envelope" else f' xmlns:{env}="{envelope_ns}"'
    xmlns = "".join(f' xmlns:{p}="{ns}"' for p, ns in declared.items())
    if fault == "no_envelope":
        # The response element alone, carrying the declarations the envelope would have.
        text = re.sub(r"^(<[\w.:-]+)", lambda m: m.group(1) + xmlns, body, count=1)
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + text
    else:
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{env}:Envelope{envelope_declaration}'
            f"{xmlns}><{env}:Header/><{env}:Body>{body}</{env}:Body></{env}:Envelope>"
        )
    data = text.encode()
    if fault == "bom":
        data = b"\xef\xbb\xbf\r\n" + data
    elif fault == "trailing_garbage":
        data += b"\r\n\x00\x00<!-- 0 -->\r\n0\r\n"
    elif fault == "truncated":
        data = data[: len(data) // 2]
    return web.Response(body=data, content_type="application/soap+xml")
