"""`camhub service install|uninstall`: run the hub as a hardened systemd service (as root).

install: a `camhub` system user (systemd-sysusers), the data dir owned by it, the
config in /etc/camhub (a starter one if there is none, readable by the user but not
writable), the unit in /etc/systemd/system, then enable and (re)start it.
uninstall: stop, disable and remove the unit; the config, data and user stay.
`--root DIR` writes the same files under DIR and runs no systemctl (images, tests).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from hub.cli.service_unit import (
    CONFIG_DIR,
    CONFIG_PATH,
    DATA_DIR,
    SERVICE_NAME,
    SERVICE_USER,
    SYSUSERS_PATH,
    UNIT_PATH,
    UnitSettings,
    starter_config,
    sysusers_line,
    unit_text,
)
from hub.config.loading import load_config
from hub.core import check_plugin_sections, load_plugins

# ProtectHome= hides these from the service, and the service user may not enter them anyway.
HOME_DIRS = (Path("/home"), Path("/root"), Path("/run/user"))
# Directories that are never a data dir (the service would get write access to all of them).
SYSTEM_DIRS = {
    Path(p)
    for p in [
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/media",
        "/mnt",
        "/opt",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/srv",
        "/sys",
        "/tmp",
        "/usr",
        "/var",
        "/var/lib",
    ]
}


class ServiceCliError(Exception):
    """A service command failed; the message is shown as is."""


def add_service_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `service install|uninstall` to the CLI's sub-commands."""
    service = commands.add_parser(
        "service", parents=[common], help="run camhub as a systemd service (as root)"
    )
    actions = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        parents=[common],
        help=f"create the {SERVICE_USER} user, {CONFIG_PATH} and the unit; enable and start it",
        description=f"--config FILE is copied to {CONFIG_PATH} (when that does not exist "
        f"yet); --data DIR is the data dir (default: storage.path of the config, else "
        f"{DATA_DIR}). Run it again after changing storage.path or server.port.",
    )
    install.add_argument("--no-start", action="store_true", help="enable, but do not start now")
    install.add_argument(
        "--exec", type=Path, metavar="PATH", help="the camhub program to run (default: this one)"
    )
    uninstall = actions.add_parser(
        "uninstall", parents=[common], help="stop, disable and remove the unit (data stays)"
    )
    for action in (install, uninstall):
        action.add_argument(
            "--root",
            type=Path,
            metavar="DIR",
            help="write the files under DIR instead of / and run no systemctl",
        )


def service_command(args: argparse.Namespace) -> str:
    """Run one `service` action; returns what to print."""
    root: Path | None = args.root
    if os.geteuid() != 0:
        raise ServiceCliError(f"run it as root: sudo {shlex.join(sys.argv)}")
    if root is None and not Path("/run/systemd/system").is_dir():
        raise ServiceCliError("systemd is not running on this machine (a container?)")
    if args.service_command == "uninstall":
        return _uninstall(root or Path("/"), run_systemctl=root is None)
    return _install(args, root or Path("/"))


def _in(root: Path, path: Path) -> Path:
    """`path` of the target system, as a path on this one."""
    return root / path.relative_to("/")


def _make_dirs(directory: Path) -> None:
    """Create `directory` and missing parents 0755: camhub runs under umask 077, and the
    service user must be able to walk through the parents (/mnt/usb to /mnt/usb/camhub)."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    for path in reversed(missing):
        path.mkdir()
        path.chmod(0o755)


def _write(path: Path, text: str) -> None:
    """A file everyone may read (unit, sysusers line), whatever the umask."""
    _make_dirs(path.parent)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)


def _run(command: list[str]) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceCliError(f"{' '.join(command)}: {exc}") from None
    if done.returncode != 0:
        raise ServiceCliError(
            f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}"
        )


def _executable(given: Path | None) -> Path:
    """The camhub program the unit runs: absolute, outside home dirs, reachable by anyone."""
    if given is not None:
        path = given.absolute()
    else:
        path = Path(sys.executable).parent / "camhub"
        if not path.is_file():
            path = Path(shutil.which("camhub") or path).absolute()
    if any(path.is_relative_to(home) for home in HOME_DIRS):
        raise ServiceCliError(
            f"camhub is installed under {path.parent.parent}, a home directory the service "
            "cannot read: install it system-wide, e.g. `sudo python3 -m venv /opt/camhub && "
            "sudo /opt/camhub/bin/pip install camhub`, and run /opt/camhub/bin/camhub "
            "service install"
        )
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServiceCliError(f"{path} is not an executable camhub (give one with --exec)")
    # The service's user must be able to walk to it: every directory on the way o+x.
    for directory in path.parents:
        if not directory.stat().st_mode & 0o001:
            raise ServiceCliError(
                f"{directory} is closed to other users (mode {directory.stat().st_mode & 0o777:o}),"
                f" so the {SERVICE_USER} user cannot start {path}"
            )
    return path


def _config_source(args: argparse.Namespace, root: Path) -> Path:
    """Put the service's config in place (given, or a starter one) and return it."""
    target = _in(root, CONFIG_PATH)
    given: Path | None = args.config
    if given is not None and given.absolute() != target:
        load_config(given)  # a broken file is reported now, not by a failing service
        if target.exists() and not filecmp.cmp(given, target, shallow=False):
            raise ServiceCliError(
                f"{CONFIG_PATH} exists and differs from {given}: edit it, or remove it first"
            )
        _make_dirs(target.parent)
        shutil.copyfile(given, target)
        secrets = given.parent / "secrets.yaml"
        if secrets.is_file() and not (target.parent / "secrets.yaml").exists():
            shutil.copyfile(secrets, target.parent / "secrets.yaml")
    elif not target.exists():
        data = args.data.absolute() if args.data is not None else DATA_DIR
        _make_dirs(target.parent)
        target.write_text(starter_config(data), encoding="utf-8")
    return target


def _checked_data_dir(args: argparse.Namespace, storage_path: str | None) -> Path:
    """--data, else storage.path, else /var/lib/camhub; the two must agree when both are set,
    or `sudo -u camhub camhub user ...` (which reads the config) would open another dir."""
    if args.data is not None:
        data = Path(args.data).absolute()
        if storage_path and Path(storage_path) != data:
            raise ServiceCliError(
                f"--data {data} differs from storage.path in {CONFIG_PATH} ({storage_path}): "
                "change storage.path there, or leave out --data"
            )
    elif storage_path:
        data = Path(storage_path)
        if not data.is_absolute():
            raise ServiceCliError(
                f"storage.path in {CONFIG_PATH} must be absolute for the service (got {data})"
            )
    else:
        data = DATA_DIR
    if data in SYSTEM_DIRS or any(data.is_relative_to(home) for home in HOME_DIRS):
        raise ServiceCliError(
            f"{data} cannot be the data dir: the service would get write access to all of it; "
            f"use a folder of its own such as {DATA_DIR} or /mnt/usb/camhub"
        )
    return data


def _service_ids(root: Path) -> tuple[int, int]:
    """The service user's uid and gid, from the target's /etc/passwd."""
    for line in _in(root, Path("/etc/passwd")).read_text().splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == SERVICE_USER:
            return int(fields[2]), int(fields[3])
    raise ServiceCliError(f"systemd-sysusers did not create the user {SERVICE_USER}")


def _hand_over(directory: Path, uid: int, gid: int) -> None:
    """Make the data dir the service user's (all of it, when someone else's files are there);
    0700 like the hub makes it: footage, password hashes and keys are nobody else's."""
    _make_dirs(directory)
    directory.chmod(0o700)
    if directory.stat().st_uid == uid and directory.stat().st_gid == gid:
        return
    for path in [directory, *directory.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def _protect_config(config: Path, gid: int) -> None:
    """root owns /etc/camhub; the service's group may read it, nobody else."""
    directory = config.parent
    os.chown(directory, 0, gid)
    directory.chmod(0o750)
    for path in (config, directory / "secrets.yaml"):
        if path.is_file():
            os.chown(path, 0, gid)
            path.chmod(0o640)


def _install(args: argparse.Namespace, root: Path) -> str:
    executable = _executable(args.exec)
    config = _config_source(args, root)
    loaded = load_config(config)
    issues = check_plugin_sections(loaded, load_plugins(loaded))
    if issues:
        raise ServiceCliError("\n".join(str(issue) for issue in issues))
    data = _checked_data_dir(args, loaded.config.storage.path)
    settings = UnitSettings(executable, CONFIG_PATH, data, loaded.config.server.port)
    sysusers = _in(root, SYSUSERS_PATH)
    _write(sysusers, sysusers_line(settings))
    if root == Path("/"):
        _run(["systemd-sysusers", str(SYSUSERS_PATH)])
    else:
        _make_dirs(_in(root, Path("/etc")))
        _run(["systemd-sysusers", f"--root={root}"])
    uid, gid = _service_ids(root)
    _hand_over(_in(root, data), uid, gid)
    _protect_config(config, gid)
    unit = _in(root, UNIT_PATH)
    _write(unit, unit_text(settings))
    lines = [
        f"camhub: unit {unit}, user {SERVICE_USER}, config {config}, data {_in(root, data)}",
        f"camhub: it runs {executable}",
    ]
    if root != Path("/"):
        return "\n".join([*lines, f"camhub: written under {root}; no systemctl was run"])
    _run(["systemctl", "daemon-reload"])
    _run(["systemctl", "enable", f"{SERVICE_NAME}.service"])
    if args.no_start:
        lines.append(f"camhub: enabled; start it with: systemctl start {SERVICE_NAME}")
        return "\n".join(lines)
    # restart, not start: a second install applies the new unit and config at once.
    _run(["systemctl", "restart", f"{SERVICE_NAME}.service"])
    return "\n".join(
        [
            *lines,
            "camhub: running, and started at every boot. Open the panel at "
            f"http://{socket.gethostname()}.local:{settings.port}",
            f"camhub: its log: journalctl -u {SERVICE_NAME} (the setup code, if asked, is there)",
        ]
    )


def _uninstall(root: Path, run_systemctl: bool) -> str:
    unit = _in(root, UNIT_PATH)
    if run_systemctl and unit.exists():
        _run(["systemctl", "disable", "--now", f"{SERVICE_NAME}.service"])
    removed = unit.exists()
    unit.unlink(missing_ok=True)
    if run_systemctl:
        _run(["systemctl", "daemon-reload"])
    config_dir = _in(root, CONFIG_DIR)
    kept = (
        f"camhub: kept the config ({config_dir}), the footage and database (its storage.path) "
        f"and the user {SERVICE_USER}; remove them by hand if you want them gone"
    )
    if not removed:
        return f"camhub: no service was installed ({unit} does not exist)\n{kept}"
    return f"camhub: service stopped, disabled and removed ({unit})\n{kept}"
