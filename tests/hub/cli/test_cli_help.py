"""The command line explains itself: `camhub` alone prints help, every argument has a help
text, `user add` needs a role, and arguments that cannot work are refused at once."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from hub.cli.commands import build_parser

CAMHUB = str(Path(sys.executable).with_name("camhub"))


def camhub(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([CAMHUB, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_camhub_alone_prints_help_and_starts_nothing():
    result = camhub()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: camhub")
    for command in ("run", "check-config", "discover", "user", "automations"):
        assert command in result.stdout
    assert "camhub run" in result.stdout  # says how to start it
    assert "panel at" not in result.stdout + result.stderr


def _parsers(parser: argparse.ArgumentParser, name: str = "camhub"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_and_argument_has_a_help_text():
    missing = []
    for name, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{name} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
            elif not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_user_add_without_a_role_is_refused_with_the_choices(tmp_path):
    result = camhub("user", "add", "bob", "--data", str(tmp_path / "d"), stdin="a password 1\n")
    assert result.returncode == 1
    assert "--role admin" in result.stderr and "--role viewer" in result.stderr
    assert (
        not (tmp_path / "d" / "camhub.db").exists()
        or "bob" not in camhub("user", "list", "--data", str(tmp_path / "d")).stdout
    )


def test_a_viewer_without_cameras_is_told_they_see_nothing_yet(tmp_path):
    result = camhub(
        "user", "add", "bob", "--role", "viewer", "--data", str(tmp_path / "d"),
        stdin="a password 1\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "see no camera yet" in result.stdout


def test_discover_refuses_a_zero_timeout_and_interfaces_the_machine_lacks():
    zero = camhub("discover", "--timeout", "0")
    assert zero.returncode == 2 and "more than 0" in zero.stderr
    bogus = camhub("discover", "--interface", "eth-nothing")
    assert bogus.returncode == 2 and "an IPv4 address" in bogus.stderr
    # TEST-NET-3: never an address of this machine, and nothing is sent to it.
    foreign = camhub("discover", "--interface", "203.0.113.77")
    assert foreign.returncode == 2
    assert "203.0.113.77 is not an address of this machine" in foreign.stderr
    assert "127.0.0.1" in foreign.stderr  # lists the ones it has
