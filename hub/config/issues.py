"""One problem with what a user wrote or sent (`Issue`), and pydantic's errors turned into them.

Config files, the YAML reader, camera edits, automations and plugin options all report
problems the same way: a key path like `cameras.front.zones[0]`, a short message, and
the file and line when the input came from a file.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Container, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from hub.config.models import CAMERA_ID_RULE

KeyPath = tuple[str | int, ...]
"""Where a value is in nested data: `("cameras", "front", "zones", 0)`."""
_KEY = "[key]"
"""pydantic's marker in an error location for a dict key (rather than its value)."""


@dataclass(frozen=True)
class Issue:
    """One problem, at a key path (`actions[2].notifier`; "" for the whole input).

    `filename` and `line` say where it is when the input came from a file.
    """

    path: str
    message: str
    filename: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.filename:
            parts.append(f"{self.filename}:{self.line}" if self.line else self.filename)
        if self.path:
            parts.append(self.path)
        return ": ".join([*parts, self.message])

    def within(self, prefix: str) -> Issue:
        """The same issue with its path under `prefix`: `triggers[0]` + `at` is `triggers[0].at`."""
        if not prefix or not self.path:
            return dataclasses.replace(self, path=prefix or self.path)
        joiner = "" if self.path.startswith("[") else "."
        return dataclasses.replace(self, path=f"{prefix}{joiner}{self.path}")

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the API: `{path, message}`, plus `filename`/`line` when known."""
        found: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.filename is not None:
            found["filename"] = self.filename
        if self.line is not None:
            found["line"] = self.line
        return found


def path_to_str(path: KeyPath) -> str:
    """Format a key path the way users write it: `cameras.front.zones[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def line_of(lines: Mapping[KeyPath, int], path: KeyPath) -> int | None:
    """Line of the deepest known key on `path` (a missing key reports its parent)."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None


def validation_issues(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    at: KeyPath = (),
    filename: str | None = None,
    lines: Mapping[KeyPath, int] | None = None,
    skip: Container[KeyPath] = (),
) -> list[Issue]:
    """Every error of a pydantic validation as an Issue, in pydantic's order.

    `model` is the class that was validated (unknown keys then suggest a close one); `at`
    is where its data sits in the whole input; `filename` and `lines` (key path -> line)
    locate each issue in a file; errors at a path in `skip` are left out.
    """
    issues = []
    for error in exc.errors(include_url=False):
        raw = tuple(error["loc"])
        loc: KeyPath = tuple(part for part in raw if part != _KEY)
        path = (*at, *loc)
        if path in skip:
            continue
        if _KEY in raw:
            # Camera ids are the only dict keys the models check by pattern.
            message = f"ids use {CAMERA_ID_RULE} (got {_show(loc[-1] if loc else '')})"
        else:
            message = describe_error(error, loc, _model_at(model, loc[:-1]))
        line = line_of(lines, path) if lines is not None else None
        issues.append(Issue(path_to_str(path), message, filename, line))
    return issues


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return "a mapping" if isinstance(value, dict) else "a list"
    return str(value)


_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "list": "a list",
    "tuple": "a list",
}


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return args[0] if is_union and len(args) == 1 else annotation


def _model_at(root: type[BaseModel] | None, path: KeyPath) -> type[BaseModel] | None:
    """The model class whose fields are the keys at `path` under `root` (for 'did you mean')."""
    current: Any = root
    for part in path:
        current = _unwrap_optional(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap_optional(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def describe_error(error: Any, path: KeyPath, parent: type[BaseModel] | None = None) -> str:
    """A short user-facing message for one pydantic error; `parent` helps suggest keys."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else ""
        hint = ""
        if parent is not None:
            close = difflib.get_close_matches(key, list(parent.model_fields), n=1)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {_BOUNDS[kind]} {bound} (got {_show(got)})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {_show(got)}){_yaml_bool_hint(got)}"
    for suffix in ("_type", "_parsing"):
        if kind.endswith(suffix) and kind.removesuffix(suffix) in _TYPE_NAMES:
            return f"must be {_TYPE_NAMES[kind.removesuffix(suffix)]} (got {_show(got)})"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')} (got {_show(got)})"
    if kind == "too_short" and "min_length" in ctx:
        return f"needs at least {ctx['min_length']} item(s)"
    if kind == "too_long" and "max_length" in ctx:
        return f"allows at most {ctx['max_length']} item(s)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    message = str(error["msg"])
    return message[:1].lower() + message[1:]


def _yaml_bool_hint(got: Any) -> str:
    """Why a word became true/false: YAML 1.1 reads bare on/off/yes/no as booleans."""
    if not isinstance(got, bool):
        return ""
    words = "on, yes or true" if got else "off, no or false"
    return f"; YAML reads a bare {words} as {_show(got)}: write the word in quotes"
