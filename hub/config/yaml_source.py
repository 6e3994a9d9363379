"""Read YAML config text into plain data, remembering the line of every key path.

Supports `!secret name` (looked up in `secrets.yaml` beside the config) and
`${ENV_VAR}` / `${ENV_VAR:-default}` expansion inside strings. Every value that
came from a secret or an environment variable is collected so the hub can
redact it from logs and API answers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hub.config.issues import Issue, KeyPath, line_of, path_to_str

_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Short values ("on", "1") would redact half of every log line; they are not secrets.
MIN_SECRET_LENGTH = 4


@dataclass
class YamlSource:
    """The parsed data plus what was learned while parsing it."""

    data: Any
    filename: str
    lines: dict[KeyPath, int] = field(default_factory=dict)
    secret_values: set[str] = field(default_factory=set)
    issues: list[Issue] = field(default_factory=list)
    """Problems found while reading the YAML itself (before model validation)."""
    # Values whose secret or variable was missing; their stand-in is not worth checking.
    unresolved: set[KeyPath] = field(default_factory=set)

    def line_of(self, path: KeyPath) -> int | None:
        """Line of the deepest known key on `path`."""
        return line_of(self.lines, path)

    def add_issue(self, line: int | None, path: KeyPath, message: str) -> None:
        """Note a problem found while reading."""
        self.issues.append(Issue(path_to_str(path), message, self.filename, line))


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps `!secret` nodes for the walker to resolve."""


def _keep_secret_tag(loader: yaml.SafeLoader, node: yaml.Node) -> _SecretRef:
    return _SecretRef(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class _SecretRef:
    name: str


_Loader.add_constructor("!secret", _keep_secret_tag)


class _Walker:
    """Builds Python data from a composed node tree, recording lines as it goes."""

    def __init__(self, loader: _Loader, source: YamlSource, secrets: Mapping[str, Any] | None):
        self.loader = loader
        self.source = source
        self.secrets = secrets
        self.env = os.environ

    def walk(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str | int | float | bool) or key is None:
                    self.source.add_issue(
                        key_node.start_mark.line + 1, path, "keys must be plain scalars"
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                child = (*path, key)
                if key in out:
                    self.source.add_issue(key_node.start_mark.line + 1, child, "duplicate key")
                self.source.lines[child] = key_node.start_mark.line + 1
                out[key] = self.walk(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item_node in enumerate(node.value):
                child = (*path, index)
                self.source.lines[child] = item_node.start_mark.line + 1
                items.append(self.walk(item_node, child))
            return items
        value = self.loader.construct_object(node, deep=True)
        line = node.start_mark.line + 1
        if isinstance(value, _SecretRef):
            return self._secret(value.name, path, line)
        if isinstance(value, str) and "${" in value:
            return self._expand_env(value, path, line)
        return value

    def _secret(self, name: str, path: KeyPath, line: int) -> Any:
        if self.secrets is None:
            self.source.add_issue(line, path, f"!secret {name}: no secrets.yaml beside the config")
            self.source.unresolved.add(path)
            return None
        if name not in self.secrets:
            self.source.add_issue(line, path, f"!secret {name}: not defined in secrets.yaml")
            self.source.unresolved.add(path)
            return None
        value = self.secrets[name]
        self._remember(value)
        return value

    def _expand_env(self, text: str, path: KeyPath, line: int) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                value = self.env[name]
            elif default is not None:
                value = default
            else:
                self.source.add_issue(line, path, f"environment variable {name} is not set")
                self.source.unresolved.add(path)
                return ""
            self._remember(value)
            return value

        return _ENV_RE.sub(substitute, text)

    def _remember(self, value: Any) -> None:
        if isinstance(value, str | int) and len(str(value)) >= MIN_SECRET_LENGTH:
            self.source.secret_values.add(str(value))


def _load_secrets(path: Path, source: YamlSource) -> Mapping[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        source.add_issue(None, (), f"{path.name}: cannot read: {exc}")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        source.add_issue(None, (), f"{path.name}{where}: invalid YAML")
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        source.add_issue(None, (), f"{path.name}: must be a mapping of name: value")
        return None
    return data


def parse_yaml(text: str, filename: str, secrets_path: Path | None = None) -> YamlSource:
    """Parse config text; YAML syntax errors become issues, never exceptions."""
    source = YamlSource(data=None, filename=filename)
    secrets: Mapping[str, Any] | None = None
    if secrets_path is not None:
        secrets = _load_secrets(secrets_path, source)
    try:
        # The reader refuses control characters as soon as it is built.
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        where = text[: exc.position].count("\n") + 1
        source.add_issue(where, (), f"invalid YAML: character {exc.character:#06x} is not allowed")
        return source
    try:
        node = loader.get_single_node()
        if node is None:
            source.data = {}
            return source
        source.data = _Walker(loader, source, secrets).walk(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        source.add_issue(line, (), f"invalid YAML: {problem}")
    except yaml.YAMLError as exc:
        source.add_issue(None, (), f"invalid YAML: {exc}")
    finally:
        loader.dispose()
    return source
