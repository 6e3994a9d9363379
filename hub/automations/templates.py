"""Safe message templates: `{name}` and `{time:%H:%M}` placeholders, nothing that can run code.

Only a bare lowercase name is a placeholder. Attribute access, indexing, calls and
unknown names are left in the text exactly as written, so `{camera.__class__}` prints
as typed. This never uses `str.format` on user text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z_][a-z0-9_]{0,40})(?::([^{}]{0,40}))?\}")
_TIME_FORMAT = re.compile(r"^(?:%[aAbBdHIjmMpSUwWyYzZ%]|[^%])*$")
MAX_VALUE_CHARS = 500
MAX_OUTPUT_CHARS = 4000
DEFAULT_TIME_FORMAT = "%H:%M"


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if value is None:
        return ""
    return str(value)[:MAX_VALUE_CHARS]


def render(template: str, variables: Mapping[str, Any], now: float, tz: tzinfo) -> str:
    """Fill the placeholders of `template` from `variables`; `time` is `now` in `tz`."""

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole in ("{{", "}}"):
            return whole[0]
        name, spec = match.group(1), match.group(2)
        if name == "time":
            fmt = spec if spec is not None else DEFAULT_TIME_FORMAT
            if not _TIME_FORMAT.match(fmt):
                return whole
            return datetime.fromtimestamp(now, tz).strftime(fmt)
        if spec is not None or name not in variables:
            return whole
        return _text(variables[name])

    return _PLACEHOLDER.sub(replace, template)[:MAX_OUTPUT_CHARS]


def placeholders(template: str) -> list[str]:
    """Names used by a template (for validation hints)."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(template) if m.group(1)]
