"""Keep secrets out of logs and API answers: known secret values and URL passwords."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "***"
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+")
# What follows a login's `@`: a host name or address, an optional port, then the path,
# query or fragment (or nothing).
_HOST = re.compile(r"(?:\[[0-9a-fA-F:.]+(?:%[^\]]*)?\]|[^\s/?#@:\[\]]+)(?::\d*)?(?=[/?#]|$)")


@dataclass(frozen=True)
class UrlLogin:
    """Where a URL's `user:password@` is, and what it says (as written, not decoded)."""

    start: int
    """Index of the user name (just after `scheme://`)."""
    end: int
    """Index of the `@` that ends the login."""
    username: str
    password: str | None

    @property
    def password_start(self) -> int:
        """Index of the password (meaningful only when there is one)."""
        return self.start + len(self.username) + 1


def find_login(url: str) -> UrlLogin | None:
    """The login in `scheme://user:password@host...`, or None.

    Passwords hold `@`, `/`, `:`, `#` and `?` unencoded often enough that the login is
    taken to end at the *last* `@` followed by a host (and a port, path or nothing), and
    the user name at the first `:`; a user name never holds `/`, `?` or `#`. So a path
    with an `@` after a login must have it written `%40`.
    """
    scheme = _URL.match(url)
    if scheme is None:
        return None
    start = url.index("://") + 3
    at = url.rfind("@", start)
    while at >= 0:
        username, colon, password = url[start:at].partition(":")
        if _HOST.match(url, at + 1) and not any(c in username for c in "/?#"):
            return UrlLogin(start, at, username, password if colon else None)
        at = url.rfind("@", start, at)
    return None


def redact_url(text: str) -> str:
    """Hide the password of every URL in `text` (`scheme://user:***@host`), keeping the
    user for diagnosis; nothing of a password is left, whatever characters it holds."""

    def hide(match: re.Match[str]) -> str:
        url = match.group(0)
        login = find_login(url)
        if login is None or login.password is None:
            return url
        return f"{url[: login.password_start]}{REDACTED}{url[login.end :]}"

    return _URL.sub(hide, text)


class Redactor:
    """Replaces every registered secret value, and URL passwords, in a text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Register more secret values (config reloads, tokens created at run time)."""
        self._secrets.update(s for s in secrets if s)
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        return redact_url(text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of each record."""

    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redactor(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks quote exception text (often a URL); format once, redacted.
            record.exc_text = self.redactor(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
