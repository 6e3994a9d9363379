"""Refusals the core raises, with a kind that front ends map to their own answers.

The core knows no HTTP: an error says *what kind* of refusal it is (the request is
invalid, names nothing, clashes with the current state, a device failed), and the web
layer picks the status code, the CLI its exit message. Nobody matches on message text.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from hub.config.issues import Issue


class ErrorKind(enum.Enum):
    """Why the core refused a request."""

    INVALID = "invalid"
    """What was sent is malformed or breaks a rule."""
    NOT_FOUND = "not_found"
    """It names something that does not exist."""
    CONFLICT = "conflict"
    """It clashes with the current state: an id already taken, a change made meanwhile."""
    DEVICE_FAILED = "device_failed"
    """A device it needed answered with an error, or with nothing usable."""
    DEVICE_TIMEOUT = "device_timeout"
    """A device it needed did not answer in time."""


class HubError(Exception):
    """A request the core refused: `message` for the user, `kind` for the front end, and
    `issues` locating each problem with what was sent (may be empty)."""

    kind: ErrorKind = ErrorKind.INVALID
    """The default kind of a subclass; an instance may be given another."""

    def __init__(
        self, message: str, kind: ErrorKind | None = None, issues: Sequence[Issue] = ()
    ) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.issues = list(issues)

    def __str__(self) -> str:
        return self.message
