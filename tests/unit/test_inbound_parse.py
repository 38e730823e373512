"""Reading inbound mail for the quarantine (pure): which addresses look like our reply addresses
(a failing signature on one is ``bad_signature``, not mail for no one), a message's attachments,
and a message without a recipient (unreadable for matching, readable once an admin assigns it)."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

import pytest

from chorus.filings import replies

DOMAIN, KEY = "replies.chorus.example.com", "k" * 32


def test_our_address_form_is_recognized_whatever_its_signature() -> None:
    good = replies.reply_address(12, DOMAIN, KEY, today=date(2026, 12, 1))
    forged = good[: good.index("@") - 16] + "0" * 16 + good[good.index("@") :]
    assert replies.looks_ours(good, DOMAIN) and replies.filing_of(good, DOMAIN, KEY) is not None
    assert replies.looks_ours(forged, DOMAIN) and replies.filing_of(forged, DOMAIN, KEY) is None
    assert replies.looks_ours(forged.upper(), DOMAIN)
    for other in ("someone@example.com", f"filing-12@{DOMAIN}", good.replace(DOMAIN, "example.com"), ""):
        assert not replies.looks_ours(other, DOMAIN), other


def _message(to: str | None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "complaints@amr.example.gov.cn"
    if to:
        msg["To"] = to
    msg["Subject"] = "受理告知"
    msg.set_content("您的投诉已受理。")
    return msg


def test_attachments_are_read_with_their_names_and_bytes() -> None:
    msg = _message("a@example.com")
    msg.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="通知书.pdf")
    msg.add_attachment("纯文本附件", subtype="plain", filename="note.txt")
    reply = replies.parse(msg.as_bytes())
    assert [(a.filename, a.content) for a in reply.attachments] == [
        ("通知书.pdf", b"%PDF-1.4 x"),
        ("note.txt", "纯文本附件\n".encode()),
    ]
    assert "已受理" in reply.text and "纯文本附件" not in reply.text  # the body, not the attachment


def test_a_message_without_a_recipient_is_unreadable_for_matching_only() -> None:
    raw = _message(None).as_bytes()
    with pytest.raises(replies.Unreadable):
        replies.parse(raw)
    assert replies.parse(raw, need_recipients=False).text.startswith("受理告知")
    with pytest.raises(replies.Unreadable):
        replies.parse(b"\x00\x01 not a message", need_recipients=False)
