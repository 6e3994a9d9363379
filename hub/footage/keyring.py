"""Owner keys that wrap per-file footage keys: a master key file, or a sealed key pair.

`key` mode: a random 256-bit master key in `<data>/keys/<id>.json` (0600). It only
stops someone who copies the footage files without the keys folder; anyone with
the whole data dir (or the SD card) can read the footage.

`sealed` mode: an X25519 key pair. New file keys are wrapped to the public key
(ephemeral X25519 + HKDF-SHA256 + AES-256-GCM), so the hub records without being
able to read back. The private key is stored encrypted under a passphrase
(scrypt + AES-256-GCM) and is decrypted only into memory when an admin unlocks;
it is never written in the clear and is forgotten on restart.

Several keys can coexist during a rotation; a file's header names its key.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from hub.footage.encryption import KEY_ID_SIZE, KEY_SIZE, NONCE_SIZE

EncryptionMode = Literal["off", "key", "sealed"]
KEYS_DIRNAME = "keys"
IN_USE_FILENAME = "in-use.lock"
SCRYPT_N = 2**15  # ~32 MiB and ~0.1 s on a Pi 4: slow for guessing, fine for an unlock
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSPHRASE = 8
_HKDF_INFO = b"camhub footage file key v1"
_RAW = serialization.Encoding.Raw
_RAW_PRIVATE = serialization.PrivateFormat.Raw
_RAW_PUBLIC = serialization.PublicFormat.Raw
_NO_ENCRYPTION = serialization.NoEncryption()


class KeyringError(Exception):
    """A key operation failed; the message says why in one sentence."""


class FootageLocked(KeyringError):
    """Sealed footage cannot be read until an admin unlocks it with the passphrase."""


class WrongPassphrase(KeyringError):
    """The passphrase does not open the sealed key."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _scrypt(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_SIZE, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _wrap_aad(key_id: bytes, file_id: bytes) -> bytes:
    # Binds a wrapped key to its owner key and its file: a header moved elsewhere fails.
    return b"camhub-wrap" + key_id + file_id


@dataclass
class OwnerKey:
    """One key on disk: a master key (`key`) or a sealed key pair (`sealed`)."""

    kind: Literal["key", "sealed"]
    key_id: bytes
    created: float
    secret: bytes | None = None
    """The master key (`key`) or the private key once unlocked (`sealed`; memory only)."""
    public: bytes | None = None
    sealed_private: dict[str, Any] | None = None

    def wrap(self, file_key: bytes, file_id: bytes) -> bytes:
        """The file key wrapped for this owner key."""
        aad = _wrap_aad(self.key_id, file_id)
        nonce = os.urandom(NONCE_SIZE)
        if self.kind == "key":
            assert self.secret is not None
            return nonce + AESGCM(self.secret).encrypt(nonce, file_key, aad)
        assert self.public is not None
        ephemeral = X25519PrivateKey.generate()
        epk = ephemeral.public_key().public_bytes(_RAW, _RAW_PUBLIC)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self.public))
        kek = self._kek(shared, epk)
        return epk + nonce + AESGCM(kek).encrypt(nonce, file_key, aad)

    def unwrap(self, wrapped: bytes, file_id: bytes) -> bytes:
        """The file key; raises FootageLocked or KeyringError."""
        if self.secret is None:
            raise FootageLocked("footage is sealed: an admin must unlock it with the passphrase")
        aad = _wrap_aad(self.key_id, file_id)
        try:
            if self.kind == "key":
                nonce, body = wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:]
                return AESGCM(self.secret).decrypt(nonce, body, aad)
            epk, nonce, body = (
                wrapped[:32],
                wrapped[32 : 32 + NONCE_SIZE],
                wrapped[32 + NONCE_SIZE :],
            )
            shared = X25519PrivateKey.from_private_bytes(self.secret).exchange(
                X25519PublicKey.from_public_bytes(epk)
            )
            return AESGCM(self._kek(shared, epk)).decrypt(nonce, body, aad)
        except (InvalidTag, ValueError):
            raise KeyringError("a file key does not unwrap: header damaged or wrong key") from None

    def _kek(self, shared: bytes, epk: bytes) -> bytes:
        assert self.public is not None
        return HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_SIZE,
            salt=None,
            info=_HKDF_INFO + epk + self.public,
        ).derive(shared)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "id": self.key_id.hex(), "created": self.created}
        if self.kind == "key":
            assert self.secret is not None
            data["key"] = _b64(self.secret)
        else:
            assert self.public is not None
            data["public"] = _b64(self.public)
            data["private"] = self.sealed_private
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OwnerKey:
        kind = data["kind"]
        if kind == "key":
            return cls(
                "key", bytes.fromhex(data["id"]), float(data["created"]), _unb64(data["key"])
            )
        if kind == "sealed":
            return cls(
                "sealed",
                bytes.fromhex(data["id"]),
                float(data["created"]),
                public=_unb64(data["public"]),
                sealed_private=dict(data["private"]),
            )
        raise KeyringError(f"unknown key kind {kind!r}")

    def open_private(self, passphrase: str) -> bytes:
        """Decrypt the sealed private key with the passphrase (not kept)."""
        sealed = self.sealed_private
        assert sealed is not None
        kek = _scrypt(passphrase, _unb64(sealed["salt"]), sealed["n"], sealed["r"], sealed["p"])
        blob = _unb64(sealed["blob"])
        try:
            return AESGCM(kek).decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], self.key_id)
        except InvalidTag:
            raise WrongPassphrase("wrong passphrase") from None


def _seal_private(private: bytes, key_id: bytes, passphrase: str) -> dict[str, Any]:
    salt = os.urandom(16)
    kek = _scrypt(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    nonce = os.urandom(NONCE_SIZE)
    blob = nonce + AESGCM(kek).encrypt(nonce, private, key_id)
    return {"kdf": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt),
            "blob": _b64(blob)}  # fmt: skip


class Keyring:
    """The owner keys in `<data>/keys`: wraps new file keys, unwraps old ones, locks/unlocks."""

    def __init__(self, keys_dir: Path, mode: EncryptionMode = "off"):
        self.keys_dir = keys_dir
        self.mode: EncryptionMode = mode
        self._keys: dict[bytes, OwnerKey] = {}
        self._loaded = False
        self._lock = threading.Lock()
        self._held: int | None = None  # fd of the in-use lock file while a hub runs

    # ---------------------------------------------------------- in use

    def _lock_file(self) -> int:
        self.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return os.open(self.keys_dir / IN_USE_FILENAME, os.O_RDWR | os.O_CREAT, 0o600)

    def hold(self) -> None:
        """Mark the keys as in use by a running hub (shared lock, gone with the process)."""
        if self._held is None and (self.mode != "off" or self.keys_dir.is_dir()):
            fd = self._lock_file()
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._held = fd

    def release(self) -> None:
        """The hub stopped: the keys are no longer in use."""
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def exclusive(self) -> int:
        """An exclusive lock for a command that must not run beside a hub (rotation)."""
        fd = self._lock_file()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise KeyringError(
                "a hub is running on this data dir: stop it first, or rotate from the "
                "running hub (POST /api/storage/rotate)"
            ) from None
        return fd

    # ---------------------------------------------------------- loading

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            if self.keys_dir.is_dir():
                for path in sorted(self.keys_dir.glob("*.json")):
                    try:
                        key = OwnerKey.from_json(json.loads(path.read_text(encoding="utf-8")))
                    except (OSError, ValueError, KeyError) as exc:
                        raise KeyringError(f"key file {path} is unreadable: {exc}") from None
                    self._keys[key.key_id] = key
            self._loaded = True

    def owner_keys(self) -> list[OwnerKey]:
        """All owner keys, oldest first."""
        self._load()
        return sorted(self._keys.values(), key=lambda k: k.created)

    def current(self) -> OwnerKey | None:
        """The newest key of the kind the mode asks for (what new files are wrapped with)."""
        if self.mode == "off":
            return None
        matching = [k for k in self.owner_keys() if k.kind == self.mode]
        return matching[-1] if matching else None

    def ensure_ready(self) -> None:
        """Called at start: `key` mode makes its master key once; `sealed` needs `keys init`.
        The keys are held (in use) until `release()`."""
        self.hold()
        if self.mode == "key" and self.current() is None:
            self._save(OwnerKey("key", os.urandom(KEY_ID_SIZE), time.time(), os.urandom(KEY_SIZE)))
        if self.mode == "sealed" and self.current() is None:
            raise KeyringError(
                "storage.encryption.mode is sealed but there is no sealed key yet: "
                "run `camhub keys init` to create one with a passphrase"
            )

    def _save(self, key: OwnerKey) -> None:
        self.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.keys_dir / f"{key.key_id.hex()}.json"
        temp = path.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(key.to_json(), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        self._load()
        self._keys[key.key_id] = key

    # ---------------------------------------------------------- keys

    def create_key(self, passphrase: str | None = None) -> OwnerKey:
        """A new key of the mode's kind becomes current (`sealed` needs a passphrase)."""
        key_id = os.urandom(KEY_ID_SIZE)
        if self.mode == "key":
            key = OwnerKey("key", key_id, time.time(), os.urandom(KEY_SIZE))
        elif self.mode == "sealed":
            if not passphrase or len(passphrase) < MIN_PASSPHRASE:
                # It is all that stands between a stolen disk and the footage.
                raise KeyringError(
                    f"a sealed key needs a passphrase of {MIN_PASSPHRASE}+ characters"
                )
            private = X25519PrivateKey.generate()
            raw_private = private.private_bytes(_RAW, _RAW_PRIVATE, _NO_ENCRYPTION)
            key = OwnerKey(
                "sealed",
                key_id,
                time.time(),
                public=private.public_key().public_bytes(_RAW, _RAW_PUBLIC),
                sealed_private=_seal_private(raw_private, key_id, passphrase),
                # Whoever made it knows the passphrase: open in this process (memory only).
                secret=raw_private,
            )
        else:
            raise KeyringError("storage.encryption.mode is off: no key to create")
        self._save(key)
        return key

    def forget(self, key_id: bytes) -> None:
        """Delete an old key (after no file uses it any more)."""
        self._load()
        self._keys.pop(key_id, None)
        (self.keys_dir / f"{key_id.hex()}.json").unlink(missing_ok=True)

    # ---------------------------------------------------------- lock state

    @property
    def locked(self) -> bool:
        """True while a sealed key has not been unlocked (its footage cannot be read)."""
        return any(k.kind == "sealed" and k.secret is None for k in self.owner_keys())

    def unlock(self, passphrase: str) -> int:
        """Open every sealed key this passphrase fits; returns how many. WrongPassphrase if none."""
        opened = 0
        for key in self.owner_keys():
            if key.kind != "sealed":
                continue
            if key.secret is not None:
                opened += 1
                continue
            try:
                key.secret = key.open_private(passphrase)
            except WrongPassphrase:
                continue
            opened += 1
        if not opened:
            raise WrongPassphrase("wrong passphrase")
        return opened

    def lock(self) -> None:
        """Forget every unlocked private key."""
        for key in self.owner_keys():
            if key.kind == "sealed":
                key.secret = None

    # ---------------------------------------------------------- file keys

    def wrap(self, file_key: bytes, file_id: bytes) -> tuple[bytes, bytes]:
        """(key id, wrapped) of a new file key under the current key."""
        key = self.current()
        if key is None:
            raise KeyringError("no owner key to encrypt footage with")
        return key.key_id, key.wrap(file_key, file_id)

    def unwrap(self, key_id: bytes, wrapped: bytes, file_id: bytes) -> bytes:
        """A file's key; FootageLocked while sealed, KeyringError if the key is gone."""
        self._load()
        key = self._keys.get(key_id)
        if key is None:
            raise KeyringError(f"the key {key_id.hex()} this file was encrypted with is missing")
        return key.unwrap(wrapped, file_id)

    def status(self) -> dict[str, Any]:
        """What `/api/storage/encryption` and `camhub keys status` show (no secrets)."""
        current = self.current()
        return {
            "mode": self.mode,
            "locked": self.locked,
            "current_key": current.key_id.hex() if current else None,
            "keys": [
                {"id": k.key_id.hex(), "kind": k.kind, "created": k.created,
                 "unlocked": k.secret is not None}
                for k in self.owner_keys()
            ],
        }  # fmt: skip
