"""Outgoing e-mail: SMTP when configured, otherwise .eml files under var/outbox/ (development)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import structlog

from chorus.settings import Settings

log = structlog.get_logger(__name__)


def compose(*, settings: Settings, to: str, subject: str, body: str, idempotency_key: str) -> EmailMessage:
    """A plain-text UTF-8 message; the Message-ID is derived from the idempotency key."""
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">") or "chorus.localhost"
    msg["Message-ID"] = make_msgid(idstring=_safe_id(idempotency_key), domain=domain)
    msg.set_content(body, charset="utf-8")
    return msg


def _safe_id(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in key)[:100]


async def send(message: EmailMessage, settings: Settings) -> None:
    """Deliver one message. Raises aiosmtplib.SMTPException / OSError on failure."""
    if settings.smtp_host:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=settings.smtp_tls == "tls",
            start_tls=settings.smtp_tls == "starttls",
            timeout=30,
        )
        log.info("mail.sent", transport="smtp", message_id=message["Message-ID"])
        return
    path = await asyncio.to_thread(_write_eml, message, settings)
    log.info("mail.written", transport="file", path=str(path))


def _write_eml(message: EmailMessage, settings: Settings) -> object:
    settings.outbox_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = settings.outbox_dir / f"{stamp}-{_safe_id(str(message['Message-ID']).strip('<>'))}.eml"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(message.as_bytes())
    tmp.replace(path)
    return path
