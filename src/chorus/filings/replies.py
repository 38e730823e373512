"""Regulators' e-mail replies (pure): the reply address a filing is sent with, and reading a reply.

The address is ``filing-<id>-<signature>@<CHORUS_INBOUND_DOMAIN>``: the signature (an HMAC of
the id under the secret key) keeps anyone from attaching mail to a filing by guessing its id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

NOTE_CHARS = 4000
_LOCAL = re.compile(r"filing-([0-9]{1,18})-([0-9a-f]{16})", re.IGNORECASE)
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def _signature(filing_id: int, key: str) -> str:
    return hmac.new(key.encode(), f"filing-reply:{filing_id}".encode(), hashlib.sha256).hexdigest()[:16]


def reply_address(filing_id: int, domain: str, key: str) -> str:
    return f"filing-{filing_id}-{_signature(filing_id, key)}@{domain}"


def filing_of(address: str, domain: str, key: str) -> int | None:
    """The filing a reply address stands for, if it is one of ours and its signature holds."""
    local, _, host = address.strip().rpartition("@")
    if host.lower() != domain.lower():
        return None
    match = _LOCAL.fullmatch(local)
    if match is None:
        return None
    filing_id = int(match.group(1))
    if not hmac.compare_digest(match.group(2).lower(), _signature(filing_id, key)):
        return None
    return filing_id


@dataclass(frozen=True)
class Reply:
    message_id: str
    sender: str
    subject: str
    text: str  # the plain-text body (or the HTML one stripped of tags), shortened
    recipients: tuple[str, ...]


class Unreadable(ValueError):
    pass


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        content = re.sub(r"<[^>]*>", " ", content)
    return "\n".join(line.rstrip() for line in content.strip().splitlines())


def parse(raw: bytes) -> Reply:
    """Read an RFC 822 message; ``Unreadable`` when it has no headers worth the name."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise Unreadable("no headers")
    recipients = tuple(
        addr
        for _, addr in getaddresses([str(v) for h in _RECIPIENT_HEADERS for v in message.get_all(h, [])])
        if addr
    )
    if not recipients:
        raise Unreadable("no recipient")
    subject = " ".join(str(message.get("Subject", "")).split())
    text = _text_of(message)
    note = f"{subject}\n\n{text}".strip() if text else subject
    return Reply(
        message_id=str(message.get("Message-ID", "")).strip(),
        sender=str(message.get("From", "")).strip(),
        subject=subject,
        text=note[:NOTE_CHARS],
        recipients=recipients,
    )
