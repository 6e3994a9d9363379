"""Keep secrets out of logs and API answers: known secret values and URL passwords."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "***"
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):(?P<pw>[^@/\s]*)@")


def redact_url(url: str) -> str:
    """Hide the password in `scheme://user:password@host`, keeping the user for diagnosis."""
    return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}:{REDACTED}@", url)


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
