"""`camhub models install NAME`: fetch and prepare a model a plugin needs into the data dir.

The hub knows no model: the plugin that answers the `install_model` hook for
NAME downloads, checks and prepares it (the face blur plugin for `centerface`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hub import hookspecs
from hub.core import MODELS_DIRNAME
from hub.extensions.manager import PluginManager


class ModelsCliError(Exception):
    """A models command failed; the message is shown as is."""


def add_models_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `models` and its actions to the CLI's sub-commands."""
    models = commands.add_parser("models", parents=[common], help="models that plugins use")
    actions = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", parents=[common], help="download, check and prepare a model (e.g. centerface)"
    )
    install.add_argument("name", help="the model's name, e.g. centerface (face blur)")


def models_command(args: argparse.Namespace, data_dir: Path, manager: PluginManager) -> str:
    """Run one `models` action; returns what to print."""
    name = str(args.name)
    models_dir = data_dir / MODELS_DIRNAME
    models_dir.mkdir(parents=True, exist_ok=True)
    path = manager.call_first(hookspecs.install_model, name=name, models_dir=models_dir)
    if path is not None:
        return f"{name}: installed at {path}"
    # A plugin that raised was isolated by the manager, which kept its message.
    for info in manager.list_plugins():
        if info.error and info.error.startswith("install_model:"):
            raise ModelsCliError(f"{name}: {info.name}: {info.error.partition(': ')[2]}")
    raise ModelsCliError(f"no plugin provides a model called '{name}'")
