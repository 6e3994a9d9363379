"""Built-in `email` notifier: a mail through your own SMTP server, with the snapshot attached."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import smtplib
import socket
import ssl
import threading
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from pydantic import Field, field_validator, model_validator

from hub import (
    Message,
    PermanentNotifyError,
    PluginOptions,
    TemporaryNotifyError,
    TypeSpec,
    hookimpl,
)

__version__ = "1.0.0"

_LOGGER = logging.getLogger(__name__)

ID_HEADER = "X-Camhub-Id"
SMTP_PORT = 587
SMTPS_PORT = 465


class EmailOptions(PluginOptions):
    """Options of an `email` notifier."""

    host: str = Field(description="SMTP server's host name or address, e.g. `smtp.lan`.")
    port: int | None = Field(
        None, ge=1, le=65535, description="SMTP port: 587 when not given, or 465 with `ssl`."
    )
    starttls: bool = Field(
        True, description="Switch to TLS with STARTTLS after connecting (ignored with `ssl`)."
    )
    ssl: bool = Field(
        False, description="Speak TLS from the start (implicit TLS, usually port 465)."
    )
    username: str | None = Field(None, description="Log in as this user; no login without it.")
    password: str | None = Field(
        None, repr=False, description="Password for `username`; best kept in secrets.yaml."
    )
    sender: str | None = Field(
        None, description="The From address; `camhub@<this machine's host name>` when not given."
    )
    to: list[str] = Field(min_length=1, description="Addresses the mail is sent to.")
    timeout: float = Field(
        20.0, gt=0.0, le=120.0, description="Seconds to wait for the server at each step."
    )
    verify_tls: bool = Field(
        True, description="Check the server's TLS certificate (false for a self-signed one)."
    )
    ca_file: str | None = Field(
        None,
        description="PEM file of the certificate authority (or self-signed certificate) "
        "to trust for the server, instead of the system's.",
    )
    subject_prefix: str = Field("[camhub] ", description="Put before each message's title.")
    rate_per_minute: int = Field(
        10, ge=1, le=600, description="Most notifications sent a minute (more wait their turn)."
    )

    @field_validator("sender", "to")
    @classmethod
    def _addresses(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is None:
            return None
        for address in [value] if isinstance(value, str) else value:
            try:
                Address(addr_spec=address)
            except Exception:
                raise ValueError(f"not an e-mail address: {address!r}") from None
            if "@" not in address:
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @model_validator(mode="after")
    def _login_pair(self) -> EmailOptions:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: give both or neither")
        return self

    @property
    def smtp_port(self) -> int:
        """The port to connect to."""
        return self.port or (SMTPS_PORT if self.ssl else SMTP_PORT)


def tls_context(options: EmailOptions) -> ssl.SSLContext:
    """The TLS context for `options` (reads `ca_file`: call it off the event loop)."""
    context = ssl.create_default_context(cafile=options.ca_file)
    if not options.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def html_body(message: Message) -> str:
    """The HTML alternative: the text, escaped, and a link to the clip if there is one."""
    paragraphs = [
        "<p>" + html.escape(part).replace("\n", "<br>\n") + "</p>"
        for part in message.body.split("\n\n")
    ]
    if message.clip_url:
        url = html.escape(message.clip_url, quote=True)
        paragraphs.append(f'<p><a href="{url}">Watch the clip</a></p>')
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(message.title)
        + "</title></head>\n<body>\n"
        + "\n".join(paragraphs)
        + "\n</body></html>\n"
    )


def build_mail(message: Message, sender: str, to: list[str], subject_prefix: str) -> EmailMessage:
    """The mail for `message`: text and HTML alternatives, `snapshot.jpg` attached."""
    mail = EmailMessage()
    mail["Subject"] = _one_line(subject_prefix + message.title)
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=True)
    # The same on every try, so a copy sent again after a crash can be recognised.
    mail["Message-ID"] = f"<{message.id}@camhub>"
    mail[ID_HEADER] = message.id
    mail["X-Priority"] = str(6 - max(1, min(5, message.priority)))
    text = message.body
    if message.clip_url:
        text += f"\n\nClip: {message.clip_url}"
    mail.set_content(text + "\n")
    mail.add_alternative(html_body(message), subtype="html")
    if message.snapshot_jpeg:
        mail.add_attachment(
            message.snapshot_jpeg, maintype="image", subtype="jpeg", filename="snapshot.jpg"
        )
    return mail


def _reply(code: int, text: bytes | str) -> str:
    reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {_one_line(reply)}"[:200]


def _by_code(code: int, what: str) -> Exception:
    """A 5xx reply will not change by trying again; anything else might."""
    if 500 <= code < 600:
        return PermanentNotifyError(what)
    return TemporaryNotifyError(what)


class EmailNotifier:
    """Sends each message as one mail, over a new SMTP connection in a worker thread."""

    def __init__(self, notifier_id: str, options: EmailOptions, context: ssl.SSLContext):
        self.notifier_id = notifier_id
        self.options = options
        self.rate_per_minute = options.rate_per_minute
        self.sender = options.sender or f"camhub@{socket.gethostname()}"
        self._context = context
        self._open: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        """The server, for error messages."""
        return f"smtp {self.options.host}:{self.options.smtp_port}"

    async def async_send(self, message: Message) -> None:
        """Mail the message; refusals with a 5xx code and a refused login are permanent."""
        mail = build_mail(message, self.sender, self.options.to, self.options.subject_prefix)
        await asyncio.to_thread(self._send, mail)

    def _send(self, mail: EmailMessage) -> None:
        try:
            self._deliver(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentNotifyError(
                f"{self.where}: login as {self.options.username!r} refused: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            refused = ", ".join(
                f"{address} ({_reply(code, text)})"
                for address, (code, text) in exc.recipients.items()
            )
            error = f"{self.where}: every recipient refused: {refused}"
            raise _by_code(min(codes), error) from None
        except smtplib.SMTPSenderRefused as exc:
            raise _by_code(
                exc.smtp_code,
                f"{self.where}: sender {exc.sender!s} refused: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}",
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(
                exc.smtp_code, f"{self.where}: {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            # No STARTTLS or no AUTH offered: the configuration does not fit the server.
            raise PermanentNotifyError(f"{self.where}: {exc}") from None
        except ssl.SSLCertVerificationError as exc:
            raise PermanentNotifyError(
                f"{self.where}: TLS certificate not trusted ({exc.verify_message}); "
                "set ca_file, or verify_tls: false"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused or dropped connections, timeouts, unknown host, TLS hiccups.
            raise TemporaryNotifyError(f"{self.where}: {type(exc).__name__}: {exc}") from None

    def _deliver(self, mail: EmailMessage) -> None:
        options = self.options
        smtp: smtplib.SMTP
        if options.ssl:
            smtp = smtplib.SMTP_SSL(timeout=options.timeout, context=self._context)
        else:
            smtp = smtplib.SMTP(timeout=options.timeout)
        # Connected after registering, so that `async_close` can cut off a silent server;
        # `_host` is the name TLS checks the certificate against (set by __init__ normally).
        smtp._host = options.host  # type: ignore[attr-defined]
        with self._lock:
            self._open.add(smtp)
        try:
            smtp.connect(options.host, options.smtp_port)
            if options.starttls and not options.ssl:
                smtp.starttls(context=self._context)
            if options.username is not None:
                smtp.login(options.username, options.password or "")
            refused = smtp.send_message(mail, from_addr=self.sender, to_addrs=options.to)
            if refused:
                # Delivered to the others: trying again would send them a second copy.
                _LOGGER.warning(
                    "notifiers.%s: %s refused some recipients: %s",
                    self.notifier_id,
                    self.where,
                    ", ".join(f"{a} ({_reply(c, t)})" for a, (c, t) in refused.items()),
                )
            # The mail is accepted: a rude goodbye does not change that.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        finally:
            with self._lock:
                self._open.discard(smtp)
            smtp.close()

    async def async_close(self) -> None:
        """Cut off mails being sent, so that a stop does not wait for a slow server."""
        with self._lock:
            sockets = [smtp.sock for smtp in self._open if smtp.sock is not None]
        for sock in sockets:
            # shutdown (not close) wakes a thread blocked reading the socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _create(hub: Any, notifier_id: str, options: EmailOptions) -> EmailNotifier:
    return EmailNotifier(notifier_id, options, tls_context(options))


@hookimpl
def notifier_types() -> list[TypeSpec]:
    """Offer the `email` notifier type."""
    return [
        TypeSpec(
            name="email",
            options=EmailOptions,
            create=_create,
            description="Send a mail (text, HTML and the snapshot) through an SMTP server.",
        )
    ]
