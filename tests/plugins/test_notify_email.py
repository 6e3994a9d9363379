"""The `email` notifier against a real SMTP server (aiosmtpd): content, login, TLS, outbox."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from hub.notify.message import Message, PermanentNotifyError, TemporaryNotifyError
from plugins.email_notifier import EmailNotifier, EmailOptions, tls_context
from tests.conftest import free_port
from tests.helpers import self_signed_certificate, wait_for_row, wait_until

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER = "me"
PASSWORD = "s3cret-smtp"
JPEG = b"\xff\xd8\xff\xe0 not really a picture \x00\x01\x02\xff\xd9"


class Inbox:
    """An aiosmtpd handler that keeps every mail it receives, parsed."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        raw = envelope.original_content.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.mails.append(parsed)
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False: aiosmtpd answers a refusal with "535 ... credentials invalid".
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 and a free port; `start(**smtp_options)`."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self, **smtp_options: Any) -> SmtpServer:
        smtp_options.setdefault("authenticator", authenticator)
        smtp_options.setdefault("auth_require_tls", False)
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **smtp_options
        )
        self.controller.start()
        return self

    def options(self, **extra: Any) -> EmailOptions:
        base: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "starttls": False,
            "to": ["me@example.lan"],
            "sender": "camhub@example.lan",
            "timeout": 5,
        }
        return EmailOptions.model_validate(base | extra)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


async def send(options: EmailOptions, message: Message) -> None:
    notifier = EmailNotifier("mail", options, await asyncio.to_thread(tls_context, options))
    try:
        await notifier.async_send(message)
    finally:
        await notifier.async_close()


async def test_plain_mail_has_subject_text_html_and_a_stable_message_id(smtp):
    smtp.start()
    message = Message(
        "Person at the door", "Front door, 21:04\n<b>not bold</b> & co", clip_url="http://c/1"
    )

    await send(smtp.options(), message)

    [mail] = smtp.inbox.mails
    assert mail["Subject"] == "[camhub] Person at the door"
    assert mail["From"] == "camhub@example.lan" and mail["To"] == "me@example.lan"
    assert mail["Message-ID"] == f"<{message.id}@camhub>"
    assert mail["X-Camhub-Id"] == message.id
    assert smtp.inbox.envelopes[0].rcpt_tos == ["me@example.lan"]
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert "Front door, 21:04\n<b>not bold</b> & co" in text.get_content()
    assert "http://c/1" in text.get_content()
    assert "&lt;b&gt;not bold&lt;/b&gt; &amp; co" in html.get_content()
    assert "<b>" not in html.get_content()
    assert list(mail.iter_attachments()) == []


async def test_snapshot_arrives_as_an_identical_jpeg_attachment(smtp):
    smtp.start()
    message = Message("Car in the drive", "Drive, 07:12", snapshot_jpeg=JPEG)

    await send(smtp.options(subject_prefix=""), message)

    [mail] = smtp.inbox.mails
    assert mail["Subject"] == "Car in the drive"
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_filename() == "snapshot.jpg"
    assert attachment.get_content() == JPEG
    assert mail.get_body(("html",)) is not None


async def test_login_with_the_right_password_is_accepted(smtp):
    smtp.start(auth_required=True)

    await send(smtp.options(username=USER, password=PASSWORD), Message("t", "b"))

    assert len(smtp.inbox.mails) == 1


async def test_a_wrong_password_is_a_permanent_failure_that_does_not_show_it(smtp):
    smtp.start(auth_required=True)

    with pytest.raises(PermanentNotifyError) as failure:
        await send(smtp.options(username=USER, password="wrong-pw"), Message("t", "b"))

    assert "login as 'me' refused" in str(failure.value) and "535" in str(failure.value)
    assert "wrong-pw" not in str(failure.value)
    assert smtp.inbox.mails == []


async def test_a_server_that_is_down_is_a_temporary_failure(smtp):
    with pytest.raises(TemporaryNotifyError, match="ConnectionRefusedError"):
        await send(smtp.options(), Message("t", "b"))


async def test_closing_cuts_off_a_send_to_a_server_that_never_answers():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # no greeting: a client waits for its timeout
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    options = EmailOptions(host="127.0.0.1", port=port, to=["me@example.lan"], timeout=60)
    notifier = EmailNotifier("mail", options, tls_context(options))
    try:
        sending = asyncio.ensure_future(notifier.async_send(Message("t", "b")))
        # The send's socket is open (it waits for the greeting): what closing must cut.
        await wait_until(lambda: any(s.sock for s in notifier._open), 10, "the connection")
        await notifier.async_close()
        # Cut off now, not at its 60 s timeout.
        with pytest.raises(TemporaryNotifyError):
            await asyncio.wait_for(sending, 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
async def test_tls_with_a_self_signed_certificate_trusted_through_ca_file(smtp, tmp_path, mode):
    cert_file, key_file = self_signed_certificate(tmp_path, "smtp")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    if mode == "starttls":
        # aiosmtpd's default: AUTH only once the connection is encrypted.
        smtp.start(tls_context=server_tls, require_starttls=True, auth_require_tls=True)
        tls = {"starttls": True}
    else:
        # aiosmtpd does not count implicit TLS as TLS for AUTH, hence auth_require_tls=False.
        smtp.start(ssl_context=server_tls)
        tls = {"ssl": True}
    login = {"username": USER, "password": PASSWORD}

    # Not trusted without the certificate: a configuration error, not worth retrying.
    with pytest.raises(PermanentNotifyError, match="certificate not trusted"):
        await send(smtp.options(**tls, **login), Message("t", "b"))

    await send(smtp.options(**tls, **login, ca_file=str(cert_file)), Message("over TLS", "b"))
    await send(smtp.options(**tls, **login, verify_tls=False), Message("unchecked", "b"))

    assert [m["Subject"] for m in smtp.inbox.mails] == ["[camhub] over TLS", "[camhub] unchecked"]


def test_options_need_a_recipient_and_login_pairs_and_pick_the_port():
    with pytest.raises(ValueError, match="at least 1"):
        EmailOptions(host="smtp.lan", to=[])
    with pytest.raises(ValueError, match="not an e-mail address"):
        EmailOptions(host="smtp.lan", to=["me at home"])
    with pytest.raises(ValueError, match="give both or neither"):
        EmailOptions(host="smtp.lan", to=["me@example.lan"], username="me")
    assert EmailOptions(host="smtp.lan", to=["a@b.lan"]).smtp_port == 587
    assert EmailOptions(host="smtp.lan", to=["a@b.lan"], ssl=True).smtp_port == 465
    assert EmailOptions(host="smtp.lan", to=["a@b.lan"], port=2525, ssl=True).smtp_port == 2525
    assert "s3cret" not in repr(
        EmailOptions(host="h", to=["a@b.lan"], username="u", password="s3cret")
    )


async def test_through_the_outbox_the_mail_is_delivered_and_logged(smtp, make_hub):
    smtp.start(auth_required=True)
    config = (
        "notifiers:\n  mail:\n    type: email\n    host: 127.0.0.1\n"
        f"    port: {smtp.port}\n    starttls: false\n"
        "    username: me\n    password: !secret smtp_pw\n    to: [me@example.lan]\n"
    )
    hub = make_hub(config, secrets=f"smtp_pw: {PASSWORD}\n")
    await hub.async_start()
    try:
        assert hub.problems == []
        message = Message("Person at the door", "Front door", snapshot_jpeg=JPEG)
        assert await hub.outbox.async_enqueue("mail", message) == message.id

        row = await wait_for_row(hub, message.id, "delivered")

        assert row["attempts"] == 1
        [mail] = smtp.inbox.mails
        assert mail["Message-ID"] == f"<{message.id}@camhub>"
        assert [a.get_content() for a in mail.iter_attachments()] == [JPEG]
    finally:
        await hub.async_stop()
