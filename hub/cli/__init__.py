"""The `camhub` command line, one module per command group; `main` is the entry point."""

from hub.cli.commands import main

__all__ = ["main"]
