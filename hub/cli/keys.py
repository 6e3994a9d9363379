"""`camhub keys init|rotate|status`: the owner keys that encrypt footage at rest.

Passphrases are asked on the terminal, or read one per line from stdin when it
is not a terminal (current passphrase first, then the new one). Key creation
and rotation are written to the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from hub.core import DB_FILENAME, FOOTAGE_DIRNAME, prepare_data_dir
from hub.footage.keyring import KEYS_DIRNAME, EncryptionMode, Keyring, KeyringError
from hub.footage.store import FootageStore
from hub.security.audit import AuditLog
from hub.storage import Storage


class KeysError(Exception):
    """A keys command failed; the message is shown as is."""


def add_keys_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `keys` and its actions to the CLI's sub-commands."""
    keys = commands.add_parser("keys", parents=[common], help="encryption keys of the footage")
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    actions.add_parser(
        "init", parents=[common], help="create the key storage.encryption.mode needs"
    )
    actions.add_parser(
        "rotate",
        parents=[common],
        help="new key; re-wrap every file's key (footage is not re-encrypted)",
    )
    status = actions.add_parser("status", parents=[common], help="mode, keys, lock state")
    status.add_argument("--json", action="store_true", help="machine-readable output")


def read_secret(prompt: str, confirm: bool = False) -> str:
    """A passphrase from the terminal (twice if `confirm`), else one line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again: ") != first:
            raise KeysError("the passphrases differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _audit(data_dir: Path, action: str, target: str, **details: Any) -> None:
    async def write() -> None:
        prepare_data_dir(data_dir)
        storage = Storage(data_dir / DB_FILENAME)
        await storage.async_open()
        try:
            await AuditLog(storage).async_log(f"cli:{getpass.getuser()}", action, target, **details)
        finally:
            await storage.async_close()

    asyncio.run(write())


def _store(data_dir: Path, mode: EncryptionMode) -> FootageStore:
    return FootageStore(data_dir / FOOTAGE_DIRNAME, Keyring(data_dir / KEYS_DIRNAME, mode))


def keys_command(args: argparse.Namespace, data_dir: Path, mode: EncryptionMode) -> int:
    """Run one `keys` action against the data dir."""
    store = _store(data_dir, mode)
    keyring = store.keyring
    try:
        if args.keys_command == "status":
            status = keyring.status()
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                print(f"mode: {status['mode']}   locked: {status['locked']}")
                for key in status["keys"]:
                    mark = "*" if key["id"] == status["current_key"] else " "
                    print(f"{mark} {key['id']}  {key['kind']}")
            return 0
        if mode == "off":
            raise KeysError("storage.encryption.mode is off: set it to key or sealed first")
        if args.keys_command == "init":
            if keyring.current() is not None:
                raise KeysError("a key for this mode exists already; use `camhub keys rotate`")
            passphrase = read_secret("New passphrase: ", True) if mode == "sealed" else None
            key = keyring.create_key(passphrase)
            _audit(data_dir, "keys.create", key.key_id.hex(), kind=key.kind)
            print(f"Created {key.kind} key {key.key_id.hex()} in {keyring.keys_dir}")
            return 0
        return _rotate(store, mode, data_dir)
    except KeyringError as exc:
        raise KeysError(str(exc)) from None


def _rotate(store: FootageStore, mode: EncryptionMode, data_dir: Path) -> int:
    keyring = store.keyring
    # A running hub would go on wrapping new files with a key this is about to delete.
    lock = keyring.exclusive()
    try:
        return _rotate_held(store, mode, data_dir)
    finally:
        os.close(lock)


def _rotate_held(store: FootageStore, mode: EncryptionMode, data_dir: Path) -> int:
    keyring = store.keyring
    if any(k.kind == "sealed" for k in keyring.owner_keys()):
        keyring.unlock(read_secret("Current passphrase: "))
    passphrase = read_secret("New passphrase: ", True) if mode == "sealed" else None
    report = store.rotate_keys(passphrase)
    current = keyring.current()
    _audit(data_dir, "keys.rotate", current.key_id.hex() if current else "", **report)
    print(
        f"New {mode} key {current.key_id.hex() if current else '?'}: "
        f"{report['rewrapped']} file(s) re-wrapped, {report['failed']} failed, "
        f"{report['plaintext']} plaintext file(s) left as they are, "
        f"{report['keys_removed']} old key(s) removed"
    )
    return 1 if report["failed"] else 0
