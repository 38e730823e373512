"""Outgoing e-mail: SMTP when configured, otherwise .eml files under var/outbox/ (development)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.header import Header, decode_header, make_header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

import aiosmtplib
import structlog

from chorus.settings import Settings

log = structlog.get_logger(__name__)


def compose(
    *,
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    idempotency_key: str,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A UTF-8 message (plain text, and an HTML alternative when ``html`` is given); the
    Message-ID is derived from the idempotency key, so a message sent twice is recognizably
    the same one."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "chorus.localhost"
    msg["Message-ID"] = make_msgid(idstring=_safe_id(idempotency_key), domain=domain)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


# long headers (List-Unsubscribe's signed link) stay on one line (RFC 5322 allows 998 characters)
_UNFOLDED = compat32.clone(max_line_length=None)


def compose_bulk(
    *,
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    html: str,
    idempotency_key: str,
    headers: Mapping[str, str] | None = None,
) -> Message:
    """The same message as :func:`compose` with an HTML alternative, built with the stdlib's
    ``email.mime`` classes: about a fifth of the CPU of ``EmailMessage``'s header parsing, which
    matters at ten thousand notifications."""
    msg = MIMEMultipart("alternative", policy=_UNFOLDED)
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8").encode()
    msg["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "chorus.localhost"
    msg["Message-ID"] = make_msgid(idstring=_safe_id(idempotency_key), domain=domain)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.attach(MIMEText(body, "plain", "utf-8", policy=_UNFOLDED))
    msg.attach(MIMEText(html, "html", "utf-8", policy=_UNFOLDED))
    return msg


def _safe_id(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in key)[:100]


def _smtp_options(settings: Settings) -> dict[str, Any]:
    """How to reach the SMTP server, for one message or a session of many."""
    return {
        "hostname": settings.smtp_host,
        "port": settings.smtp_port,
        "username": settings.smtp_user,
        "password": settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        "use_tls": settings.smtp_tls == "tls",
        "start_tls": settings.smtp_tls == "starttls",
        "timeout": 30,
    }


async def send(message: EmailMessage, settings: Settings) -> None:
    """Deliver one message. Raises aiosmtplib.SMTPException / OSError on failure."""
    if settings.smtp_host:
        await aiosmtplib.send(message, **_smtp_options(settings))
        log.info("mail.sent", transport="smtp", message_id=message["Message-ID"])
        return
    path = await asyncio.to_thread(_write_eml, message, settings)
    log.info("mail.written", transport="file", path=str(path))


class Connection:
    """One SMTP session reused for many messages (or the .eml folder without SMTP settings)."""

    def __init__(self, settings: Settings, client: aiosmtplib.SMTP | None) -> None:
        self.settings = settings
        self.client = client

    async def send(self, message: Message) -> None:
        """Deliver one message over this session. Raises ``aiosmtplib.SMTPRecipientsRefused``
        (the server refused the recipient: ``permanent_refusal`` tells a 5xx), another
        ``aiosmtplib.SMTPException`` or ``OSError``."""
        if self.client is None:
            await asyncio.to_thread(_write_eml, message, self.settings)
            return
        if not self.client.is_connected:
            await self.client.connect()
        if isinstance(message, EmailMessage):
            await self.client.send_message(message)
            return
        # flattened under the message's own policy (aiosmtplib would refold long headers)
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message)
        sender = parseaddr(str(message["From"]))[1]
        await self.client.sendmail(sender, [str(message["To"])], buffer.getvalue())


@asynccontextmanager
async def connection(settings: Settings) -> AsyncIterator[Connection]:
    """``async with connection(settings) as conn: await conn.send(m)`` — one SMTP connection
    (and login) for a whole batch instead of one per message."""
    if not settings.smtp_host:
        yield Connection(settings, None)
        return
    client = aiosmtplib.SMTP(**_smtp_options(settings))
    await client.connect()
    try:
        yield Connection(settings, client)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()


def permanent_refusal(exc: BaseException) -> bool:
    """The server refused the recipient for good (a 5xx answer to RCPT TO): the address bounces."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    return isinstance(exc, aiosmtplib.SMTPRecipientRefused) and exc.code >= 500


def permanent_failure(exc: BaseException) -> bool:
    """A 5xx answer to the message itself: sending it again will not help."""
    return isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500


def readable(message: Message) -> str:
    """The message as a person reads it: To, Subject and the plain text, decoded (an .eml's
    UTF-8 parts are base64: opened in an editor, its links cannot be seen, let alone followed)."""
    subject = str(make_header(decode_header(str(message["Subject"]))))
    body = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain" and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                body = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
            break
    return f"To: {message['To']}\nSubject: {subject}\n\n{body}"


def _write_eml(message: Message, settings: Settings) -> object:
    """The message as an .eml file (for a mail program), and beside it a .txt copy to read in any
    editor (development: the newcomer's verification link is in it)."""
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = settings.outbox_dir / f"{stamp}-{_safe_id(str(message['Message-ID']).strip('<>'))}.eml"
    text = path.with_suffix(".txt")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(readable(message), encoding="utf-8")
    tmp.replace(text)
    tmp.write_bytes(message.as_bytes())
    tmp.replace(path)
    return path
