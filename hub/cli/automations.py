"""`camhub automations export`: the automations as YAML, from the database once it has them."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from hub.automations.store import read_configs
from hub.config.loading import LoadedConfig
from hub.core import DB_FILENAME


class AutomationsCliError(Exception):
    """An automations command failed; the message is shown as is."""


def add_automations_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `automations` and its actions to the CLI's sub-commands."""
    automations = commands.add_parser("automations", parents=[common], help="automations")
    actions = automations.add_subparsers(
        dest="automations_command", metavar="ACTION", required=True
    )
    export = actions.add_parser(
        "export", parents=[common], help="write the automations as YAML (`automations:` key)"
    )
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


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


def automations_command(args: argparse.Namespace, loaded: LoadedConfig, data_dir: Path) -> str:
    """Run one `automations` action; returns what to print."""
    text = export_yaml(loaded, data_dir)
    if args.output is None:
        return text.rstrip("\n")
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise AutomationsCliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    return f"wrote {args.output}"
