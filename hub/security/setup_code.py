"""The one-time code that first-run setup asks for, so only whoever started the hub makes the admin.

The hub listens on the LAN from its first start. Without this, anyone on the network
who opened the panel before its owner could create the administrator. The code is
printed where only the person who ran `camhub run` sees it (its terminal and log), as
Jupyter and Plex do, and it is good until the first user exists.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable

_LOGGER = logging.getLogger(__name__)

# No 0/O, 1/I/L, 5/S, 8/B: read off a terminal and typed on a phone, it must not be misread.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY234679"
GROUPS, GROUP_LENGTH = 3, 4
"""12 characters of 26: about 56 bits, far beyond guessing through the throttle below."""
MAX_WRONG = 5
"""Wrong codes allowed before further tries wait LOCK_SECONDS."""
LOCK_SECONDS = 30.0


class SetupCodeError(Exception):
    """The code given is wrong, or tries are paused; the message says which."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


def new_code() -> str:
    """A fresh code, `XXXX-XXXX-XXXX`."""
    groups = ("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))
    return "-".join(groups)


def normalise(text: str) -> str:
    """What the person typed, without spaces or dashes, upper case (phones capitalise freely)."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


class SetupCode:
    """Issues the code once, checks tries against it and forgets it once it has been used."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._code: str | None = None
        self._wrong = 0
        self._locked_until = 0.0

    @property
    def issued(self) -> str | None:
        """The current code, or None while none was issued."""
        return self._code

    def issue(self) -> str:
        """The code, made (and logged, so it is in the hub's log too) on first call."""
        if self._code is None:
            self._code = new_code()
            _LOGGER.warning(
                "First-run setup code: %s (the panel asks for it to create the administrator)",
                self._code,
            )
        return self._code

    def check(self, given: str) -> None:
        """Raise SetupCodeError unless `given` is the code; five wrong tries pause the next."""
        now = self._clock()
        if now < self._locked_until:
            wait = self._locked_until - now
            raise SetupCodeError(
                f"too many wrong setup codes; try again in {int(wait) + 1} s", retry_after=wait
            )
        expected = normalise(self.issue())
        if hmac.compare_digest(normalise(given).encode(), expected.encode()):
            self._wrong = 0
            return
        self._wrong += 1
        if self._wrong >= MAX_WRONG:
            self._wrong = 0
            self._locked_until = now + LOCK_SECONDS
        raise SetupCodeError(
            "wrong setup code: it is printed in the terminal (and the log) of `camhub run`"
        )

    def used(self) -> None:
        """The first admin exists: the code is spent."""
        self._code = None
        self._wrong = 0
