"""`camhub user add|list|passwd|delete`: the people who may use the panel.

Every user change made here is written to the audit log like one made in the panel,
with the actor `cli:<login name>`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

from hub.security.audit import AuditLog
from hub.security.users import (
    ROLES,
    UserError,
    async_add_user,
    async_delete_user,
    async_list_users,
    async_set_password,
)
from hub.storage import Storage

T = TypeVar("T")


class UsersCliError(Exception):
    """A user command failed; the message is shown as is."""


def add_user_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `user` with its actions to the CLI's sub-commands."""
    user = commands.add_parser("user", parents=[common], help="manage users")
    actions = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        parents=[common],
        help="create a user (the password is asked, or read from stdin when not a terminal)",
    )
    add.add_argument("name", help="the user name to sign in with")
    add.add_argument(
        "--role",
        choices=ROLES,
        help="admin: everything; viewer: only the cameras given with --camera "
        "(asked when left out on a terminal)",
    )
    add.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="ID",
        help="a camera this viewer may see (repeat for more)",
    )
    actions.add_parser("list", parents=[common], help="list users, roles and camera grants")
    passwd = actions.add_parser(
        "passwd", parents=[common], help="set a password (ends the user's sessions)"
    )
    passwd.add_argument("name", help="the user whose password to set")
    delete = actions.add_parser("delete", parents=[common], help="delete a user")
    delete.add_argument("name", help="the user to delete")


async def with_storage(data_dir: Path, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Open the hub's database (applying migrations), run `work`, close it."""
    from hub.core import DB_FILENAME, prepare_data_dir  # hub.core is heavy; only when needed

    prepare_data_dir(data_dir)
    storage = Storage(data_dir / DB_FILENAME)
    await storage.async_open()
    try:
        return await work(storage)
    finally:
        await storage.async_close()


def _listing(users: list[Any]) -> str:
    lines = []
    for user in users:
        grants = "(all cameras)" if user.role == "admin" else ", ".join(user.cameras) or "-"
        flag = " disabled" if user.disabled else ""
        lines.append(f"{user.name:24} {user.role:7} {grants}{flag}")
    return "\n".join(lines) or "No users yet."


def _login_name() -> str:
    """Who ran the command, for the audit row (containers may have no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def ask_role(ask: Callable[[str], str] = input) -> str:
    """The role, asked on a terminal until it is one of ROLES."""
    while True:
        answer = ask("Role: admin (everything) or viewer (only the cameras given)? ").strip()
        if answer.lower() in ROLES:
            return answer.lower()
        print(f"Please type {' or '.join(ROLES)}.")


def user_command(
    args: argparse.Namespace,
    data_dir: Path,
    cameras: Collection[str],
    read_password: Callable[[], str],
) -> str:
    """Run one `user` action; returns what to print."""
    action = args.user_command
    if action == "add":
        if args.role is None:
            if not sys.stdin.isatty():
                raise UsersCliError(
                    "say what the user may do: --role admin (everything) or --role viewer "
                    "(only the cameras given with --camera ID)"
                )
            args.role = ask_role()
        unknown = [c for c in args.camera if c not in cameras]
        if unknown:
            raise UsersCliError(f"no camera {', '.join(unknown)} in the config")
        if args.role == "admin" and args.camera:
            raise UsersCliError("admins see every camera; --camera is for viewers")
    password = read_password() if action in ("add", "passwd") else ""
    actor = f"cli:{_login_name()}"

    async def run(storage: Storage) -> str:
        audit = AuditLog(storage)
        if action == "list":
            return _listing(await async_list_users(storage))
        if action == "add":
            await async_add_user(storage, args.name, password, args.role, args.camera)
            await audit.async_log(
                actor, "user.create", args.name, role=args.role, cameras=args.camera
            )
            if args.role == "viewer" and not args.camera:
                return (
                    f"User {args.name} (viewer) created. They see no camera yet: grant some "
                    "in the panel (System > Users), or add the user again with --camera ID."
                )
            return f"User {args.name} ({args.role}) created."
        if action == "passwd":
            ended = await async_set_password(storage, args.name, password)
            await audit.async_log(actor, "user.password_reset", args.name, sessions_ended=ended)
            return f"Password of {args.name} set; {ended} session(s) ended."
        await async_delete_user(storage, args.name)
        await audit.async_log(actor, "user.delete", args.name)
        return f"User {args.name} deleted."

    try:
        return asyncio.run(with_storage(data_dir, run))
    except UserError as exc:
        raise UsersCliError(str(exc)) from None
