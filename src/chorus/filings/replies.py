"""Regulators' e-mail replies (pure): the reply address a filing is sent with, and reading a reply.

The address is ``filing-<id>-<issued>-<signature>@<CHORUS_INBOUND_DOMAIN>``: ``issued`` is the
day it was made (days since 1970-01-01, UTC) and the signature (an HMAC of both under the secret
key) keeps anyone from attaching mail to a filing by guessing its id. An address expires
(:func:`expired`): it is good while its filing is live and for a margin of days after it ended,
and never for a filing created after the address was issued (a database restored or reset,
reusing ids).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

NOTE_CHARS = 4000
SENDER_CHARS = 320
_LOCAL = re.compile(r"filing-([0-9]{1,18})-([0-9]{1,7})-([0-9a-f]{16})", re.IGNORECASE)
_EPOCH = date(1970, 1, 1)
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def _signature(filing_id: int, issued: int, key: str) -> str:
    message = f"filing-reply:{filing_id}:{issued}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]


def reply_address(filing_id: int, domain: str, key: str, *, today: date | None = None) -> str:
    """The Reply-To of a filing's mail, issued ``today`` (UTC)."""
    issued = ((today or datetime.now(UTC).date()) - _EPOCH).days
    return f"filing-{filing_id}-{issued}-{_signature(filing_id, issued, key)}@{domain}"


@dataclass(frozen=True)
class Address:
    """A reply address of ours whose signature holds."""

    filing_id: int
    issued: date


def filing_of(address: str, domain: str, key: str) -> Address | None:
    """The filing a reply address stands for (and when it was issued), if it is one of ours and
    its signature holds. Whether it is still good is :func:`expired`'s question."""
    local, _, host = address.strip().rpartition("@")
    if host.lower() != domain.lower():
        return None
    match = _LOCAL.fullmatch(local)
    if match is None:
        return None
    filing_id, issued = int(match.group(1)), int(match.group(2))
    if not hmac.compare_digest(match.group(3).lower(), _signature(filing_id, issued, key)):
        return None
    return Address(filing_id, _EPOCH + timedelta(days=issued))


def looks_ours(address: str, domain: str) -> bool:
    """Is this the form of one of our reply addresses (whatever its signature says)? A message to
    such an address whose signature fails is kept as ``bad_signature``, not as mail for no one."""
    local, _, host = address.strip().rpartition("@")
    return host.lower() == domain.lower() and _LOCAL.fullmatch(local) is not None


def expired(
    address: Address, *, created: datetime, ended: datetime | None, now: datetime, margin_days: int
) -> bool:
    """Is a (signed) reply address no longer good? It is good while its filing is live
    (``ended`` None) and for ``margin_days`` after it ended; an address issued before its
    filing was created belongs to another filing that had the same id."""
    if address.issued < created.astimezone(UTC).date():
        return True
    return ended is not None and now > ended + timedelta(days=margin_days)


def sender_address(sender: str) -> str:
    """The e-mail address in a From header (``"X" <a@b>`` → ``a@b``), lower-cased; "" if none."""
    _, addr = parseaddr(sender)
    return addr.strip().lower() if "@" in addr else ""


# Mailbox providers anyone can sign up with: a regulator using one is recognized by its exact
# address only, never by the domain.
SHARED_MAIL_DOMAINS = frozenset(
    {
        "qq.com",
        "foxmail.com",
        "163.com",
        "126.com",
        "yeah.net",
        "sina.com",
        "sina.cn",
        "sohu.com",
        "aliyun.com",
        "139.com",
        "189.cn",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
    }
)


def from_regulator(sender: str, regulator_address: str) -> bool:
    """Does a reply's From name the regulator: its own address, or an address at its own domain
    (or a subdomain of it; not for shared mailbox providers)? As the mail server handed it over:
    that server must check senders (SPF/DKIM/DMARC) for this to mean more than the message claims."""
    addr = sender_address(sender)
    regulator = regulator_address.strip().lower()
    regulator_domain = regulator.rpartition("@")[2]
    if not addr or "@" not in regulator:
        return False
    if addr == regulator:
        return True
    domain = addr.rpartition("@")[2]
    if regulator_domain in SHARED_MAIL_DOMAINS:
        return False
    return domain == regulator_domain or domain.endswith("." + regulator_domain)


@dataclass(frozen=True)
class Attached:
    """A file attached to a message: the name its sender gave (never trusted) and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Reply:
    message_id: str
    sender: str
    subject: str
    text: str  # the plain-text body (or the HTML one stripped of tags), shortened
    recipients: tuple[str, ...]
    attachments: tuple[Attached, ...] = ()


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


def _attachments(message: EmailMessage) -> tuple[Attached, ...]:
    found: list[Attached] = []
    for part in message.iter_attachments():
        try:
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else part.as_bytes()  # a forwarded message
        except (LookupError, ValueError, TypeError):
            continue
        name = "".join(c for c in (part.get_filename() or "") if c.isprintable())[:255]
        if content:
            found.append(Attached(name, content))
    return tuple(found)


def parse(raw: bytes, *, need_recipients: bool = True) -> Reply:
    """Read an RFC 822 message; ``Unreadable`` when it has no headers worth the name (or, when
    ``need_recipients``, no recipient to match a filing by)."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except (LookupError, ValueError, TypeError) as exc:
        raise Unreadable("not a message") from exc
    if not isinstance(message, EmailMessage) or not message.keys():
        raise Unreadable("no headers")
    recipients = tuple(
        addr
        for _, addr in getaddresses([str(v) for h in _RECIPIENT_HEADERS for v in message.get_all(h, [])])
        if addr
    )
    if not recipients and need_recipients:
        raise Unreadable("no recipient")
    subject = " ".join(str(message.get("Subject", "")).split())
    text = _text_of(message)
    note = f"{subject}\n\n{text}".strip() if text else subject
    return Reply(
        message_id=str(message.get("Message-ID", "")).strip(),
        sender=" ".join(str(message.get("From", "")).split())[:SENDER_CHARS],
        subject=subject,
        text=note[:NOTE_CHARS],
        recipients=recipients,
        attachments=_attachments(message),
    )
