"""The `camhub` command line: run, check-config, plugins, discover, user, audit, service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import faulthandler
import getpass
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hub.cli.audit import add_audit_parser, audit_command
from hub.cli.automations import (
    PID_FILENAME,
    AutomationsCliError,
    add_automations_parser,
    automations_command,
)
from hub.cli.check_config import check_file
from hub.cli.discover import add_discover_parser, discover_command
from hub.cli.keys import KeysError, add_keys_parser, keys_command, read_secret
from hub.cli.models import ModelsCliError, add_models_parser, models_command
from hub.cli.plugins import plugins_command
from hub.cli.service import ServiceCliError, add_service_parser, service_command
from hub.cli.users import UsersCliError, add_user_parsers, user_command
from hub.config.loading import ConfigError, LoadedConfig, default_config, load_config
from hub.config.models import DEFAULT_PORT
from hub.core import Hub, HubStartError, default_data_dir, load_plugins
from hub.footage.keyring import KeyringError
from hub.native_memory import limit_heap_arenas
from hub.security.redact import RedactingFilter, Redactor

_LOGGER = logging.getLogger("camhub")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default: embedded default)")
    common.add_argument("--data", type=Path, help="data directory (overrides storage.path)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return common


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a port is a number from 1 to 65535 (got {text!r})"
        ) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535 (got {port})")
    return port


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, exposed for docs and tests."""
    common = _common()
    parser = argparse.ArgumentParser(
        prog="camhub",
        description="Self-hosted, privacy-first hub for home IP cameras.",
        epilog="Start the hub with `camhub run`; `camhub COMMAND --help` tells more. "
        "Every command takes --config PATH and --data DIR.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", parents=[common], help="start the hub and its web panel")
    run.add_argument(
        "--unlock", action="store_true", help="ask the passphrase of sealed footage at start"
    )
    run.add_argument(
        "--host",
        metavar="ADDR",
        help="listen on this address only (default: server.host, else every address; "
        "127.0.0.1 keeps the panel to this machine)",
    )
    run.add_argument(
        "--port",
        type=_port,
        metavar="N",
        help=f"TCP port of the panel (default: server.port, {DEFAULT_PORT})",
    )
    check = commands.add_parser(
        "check-config",
        parents=[common],
        help="check a config file the way the hub will: every problem, cross-references included",
    )
    check.add_argument("path", type=Path, nargs="?", help="config file to check (or --config)")
    plugins = commands.add_parser("plugins", parents=[common], help="list plugins and states")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    add_discover_parser(commands, common)
    add_user_parsers(commands, common)
    add_audit_parser(commands, common)
    add_keys_parser(commands, common)
    add_models_parser(commands, common)
    add_automations_parser(commands, common)
    add_service_parser(commands, common)
    return parser


class CliError(Exception):
    """A command failed in an expected way; the message is shown as is."""


def _setup_logging(verbose: bool, level: str, redactor: Redactor) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else getattr(logging, level.upper()))
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(args: argparse.Namespace) -> LoadedConfig:
    if args.config is None:
        return default_config()
    return load_config(args.config)


def _data_dir(args: argparse.Namespace, loaded: LoadedConfig) -> Path:
    if args.data is not None:
        return Path(args.data).expanduser()
    if loaded.config.storage.path:
        path = Path(loaded.config.storage.path).expanduser()
        if not path.is_absolute() and loaded.path is not None:
            path = loaded.path.parent / path
        return path
    return default_data_dir()


def _with_server(loaded: LoadedConfig, host: str | None, port: int | None) -> LoadedConfig:
    """`--host` and `--port` over the config file's `server` section."""
    update: dict[str, Any] = {}
    if host is not None:
        update["host"] = host
    if port is not None:
        update["port"] = port
    if not update:
        return loaded
    config = loaded.config
    server = config.server.model_copy(update=update)
    return dataclasses.replace(loaded, config=config.model_copy(update={"server": server}))


def _print_ready(ready: Any) -> None:
    first, *others = ready.urls or ["(no address)"]
    print(f"camhub: panel at {first}  (Ctrl+C to stop)", flush=True)
    if others:
        print(f"camhub:   also at {', '.join(others)}", flush=True)
    if ready.setup_code:
        print(
            f"camhub: first-run setup code: {ready.setup_code}\n"
            "camhub:   open the panel (from a phone or laptop on your network too) and type it "
            "to create the administrator; it is good until then. "
            "Or: camhub user add NAME --role admin",
            flush=True,
        )


EXIT_GRACE_SECONDS = 10.0
"""Once the hub has stopped, how long the process may take to end before it is ended."""


def _exit_if_stuck(seconds: float) -> None:
    """End the process if it is still alive `seconds` from now.

    The hub has stopped by then; what is left is Python's exit, which waits for every
    worker thread. A thread stuck in native code (a codec, a driver) would keep a stopped
    hub alive for good and a service manager waiting: print every thread's stack for the
    bug report and exit with status 1 instead.
    """

    def end() -> None:
        names = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread())
        print(
            f"camhub: still running {seconds:.0f} s after stopping (threads: "
            f"{', '.join(names)}); their stacks follow, then the process ends",
            file=sys.stderr,
            flush=True,
        )
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(1)

    timer = threading.Timer(seconds, end)
    timer.daemon = True
    timer.name = "exit-watchdog"
    timer.start()


def cmd_run(args: argparse.Namespace) -> int:
    """Start the hub with its panel; return when stopped by a signal."""
    limit_heap_arenas()  # before any worker thread: see hub/native_memory.py
    loaded = _with_server(_load(args), args.host, args.port)
    redactor = Redactor(loaded.secret_values)
    _setup_logging(args.verbose, loaded.config.logging.level, redactor)
    data_dir = _data_dir(args, loaded)
    source = str(loaded.path) if loaded.path else "embedded default (no --config given)"
    print(f"camhub: config: {source}", flush=True)
    print(f"camhub: data dir: {data_dir}", flush=True)
    hub = Hub(loaded, data_dir, redactor=redactor)
    if args.unlock:
        try:
            hub.footage.keyring.unlock(read_secret("Passphrase of the sealed footage: "))
        except KeyringError as exc:
            raise CliError(f"cannot unlock the footage: {exc}") from None
        print("camhub: sealed footage unlocked until the hub stops", flush=True)
    # The composition root: the core itself knows no HTTP; only `run` adds the web layer
    # (imported here, lazily; tests/test_layout.py allows this one import and no other).
    from web import server

    pid_file = data_dir / PID_FILENAME

    def ready(info: Any) -> None:
        # Where `camhub automations reload` finds this process.
        pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        _print_ready(info)

    async def serve() -> None:
        try:
            await server.async_serve(hub, ready)
        finally:
            _exit_if_stuck(EXIT_GRACE_SECONDS)

    try:
        asyncio.run(serve())
    finally:
        # A data dir that could not be made has no pid file either: that error is the news.
        with contextlib.suppress(OSError):
            pid_file.unlink(missing_ok=True)
    print("camhub: stopped", flush=True)
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    """Check a config file as the hub will (hub/cli/check_config.py); print every problem."""
    path = args.path or args.config
    if path is None:
        raise CliError("check-config needs a config file: camhub check-config PATH")
    # The cameras added in the panel live in the data dir: automations may name them.
    result = check_file(path, lambda loaded: _data_dir(args, loaded))
    for issue in result.issues:
        print(issue, file=sys.stderr)
    if result.issues or result.config is None:
        print(f"{path}: {len(result.issues)} problem(s)", file=sys.stderr)
        return 1
    config = result.config
    print(
        f"{path}: OK ({len(config.cameras)} camera(s), {len(config.notifiers)} notifier(s), "
        f"{len(config.automations)} automation(s))"
    )
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List plugins with version, source, hooks and state, and each camera's detector."""
    loaded = _load(args)
    print(plugins_command(loaded, _data_dir(args, loaded), load_plugins(loaded), args.json))
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    """Scan the LAN with every discovery plugin and print what answered (hub/cli/discover.py)."""
    loaded = _load(args)
    return discover_command(args, loaded, _data_dir(args, loaded))


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise CliError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user(args: argparse.Namespace) -> int:
    """`user add|list|passwd|delete`; passwords from stdin when not a TTY."""
    loaded = _load(args)
    data_dir = _data_dir(args, loaded)
    try:
        print(user_command(args, data_dir, loaded.config.cameras, _read_password))
    except UsersCliError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """`audit verify`: exit 1 naming the first broken row, else print OK and the count."""
    code, message = audit_command(args, _data_dir(args, _load(args)))
    print(message, file=sys.stderr if code else sys.stdout)
    return code


def cmd_keys(args: argparse.Namespace) -> int:
    """`keys init|rotate|status`: the keys that encrypt footage at rest."""
    loaded = _load(args)
    try:
        return keys_command(args, _data_dir(args, loaded), loaded.config.storage.encryption.mode)
    except KeysError as exc:
        raise CliError(str(exc)) from None


def cmd_models(args: argparse.Namespace) -> int:
    """`models install NAME`: a model a plugin needs, into `<data dir>/models`."""
    loaded = _load(args)
    try:
        print(models_command(args, _data_dir(args, loaded), load_plugins(loaded)))
    except ModelsCliError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_automations(args: argparse.Namespace) -> int:
    """`automations export|reload`: the automations as YAML; the file's ones reloaded."""
    loaded = _load(args)
    if args.automations_command == "reload" and loaded.path is not None:
        # What the hub will switch off, said here rather than only in its log.
        for issue in check_file(loaded.path, lambda _: _data_dir(args, loaded)).issues:
            print(f"warning: {issue}", file=sys.stderr)
    try:
        print(automations_command(args, loaded, _data_dir(args, loaded)))
    except AutomationsCliError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    """`service install|uninstall`: the hub as a systemd service (hub/cli/service.py)."""
    try:
        print(service_command(args))
    except ServiceCliError as exc:
        raise CliError(str(exc)) from None
    return 0


COMMANDS: dict[str, Any] = {
    "service": cmd_service,
    "automations": cmd_automations,
    "models": cmd_models,
    "keys": cmd_keys,
    "run": cmd_run,
    "check-config": cmd_check_config,
    "plugins": cmd_plugins,
    "discover": cmd_discover,
    "user": cmd_user,
    "audit": cmd_audit,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `camhub` console script."""
    # Whatever a command writes (database, footage, keys, exports, plugin files) is the
    # hub user's alone; the modules that write the sensitive ones set 0600 themselves too.
    os.umask(0o077)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # Starting a server is not what a bare command should do: say what there is.
        parser.print_help()
        return 0
    try:
        return int(COMMANDS[args.command](args))
    except (ConfigError, HubStartError, CliError) as exc:
        print(f"camhub: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
