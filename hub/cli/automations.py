"""`camhub automations export|reload`: the automations as YAML; the config file's reloaded."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path
from typing import Any

import yaml

from hub.automations.store import read_configs
from hub.config.loading import LoadedConfig
from hub.core import DB_FILENAME

PID_FILENAME = "camhub.pid"
"""In the data dir while `camhub run` runs: its process id."""


class AutomationsCliError(Exception):
    """An automations command failed; the message is shown as is."""


def add_automations_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `automations` and its actions to the CLI's sub-commands."""
    automations = commands.add_parser(
        "automations", parents=[common], help="export automations, reload the config file's"
    )
    actions = automations.add_subparsers(
        dest="automations_command", metavar="ACTION", required=True
    )
    export = actions.add_parser(
        "export", parents=[common], help="write the automations as YAML (`automations:` key)"
    )
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    actions.add_parser(
        "reload",
        parents=[common],
        help="make the running hub apply the config file's `automations:` again (those made "
        "in the panel stay)",
    )


def export_yaml(loaded: LoadedConfig, data_dir: Path) -> str:
    """The automations as YAML: the database's once the hub has started, else the config's."""
    configs = read_configs(data_dir / DB_FILENAME)
    if configs is None:
        configs = [
            a.model_dump(by_alias=True, exclude_unset=True) for a in loaded.config.automations
        ]
    text: str = yaml.safe_dump(
        {"automations": configs}, sort_keys=False, allow_unicode=True, width=100
    )
    return text


def running_hub(data_dir: Path) -> int | None:
    """The process id of the `camhub run` using this data dir, or None."""
    try:
        pid = int((data_dir / PID_FILENAME).read_text(encoding="utf-8").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    # A stale file may name a process id reused by something else: it must be camhub.
    return pid if b"camhub" in cmdline or b"hub.cli" in cmdline else None


def reload_hub(loaded: LoadedConfig, data_dir: Path) -> str:
    """Signal the running hub (SIGHUP) to apply the config file's automations again."""
    name = loaded.path.name if loaded.path else "the config file"
    pid = running_hub(data_dir)
    if pid is None:
        return (
            f"No hub runs with the data dir {data_dir}: the automations in {name} "
            "load when it starts."
        )
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise AutomationsCliError(f"cannot signal the hub (pid {pid}): {exc.strerror}") from None
    return (
        f"Asked the hub (pid {pid}) to reload the automations of {name}; its log says "
        "what changed, and the panel shows them."
    )


def automations_command(args: argparse.Namespace, loaded: LoadedConfig, data_dir: Path) -> str:
    """Run one `automations` action; returns what to print."""
    if args.automations_command == "reload":
        return reload_hub(loaded, data_dir)
    text = export_yaml(loaded, data_dir)
    if args.output is None:
        return text.rstrip("\n")
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AutomationsCliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return f"wrote {args.output}"
