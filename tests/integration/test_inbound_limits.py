"""Regulators' e-mail replies (issue 9, item 8): reply addresses expire (the filing's life plus
CHORUS_INBOUND_REPLY_DAYS), the route takes replies up to CHORUS_INBOUND_MAX_BYTES (not the app's
1 MiB), and each reply records its sender and whether that is the regulator."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from chorus.filings import replies
from chorus.filings.tables import Filing, FilingEvent
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import REGULATOR_MAIL, mail_regulator, quick
from tests.integration.test_filings import build, file
from tests.support import assert_problem, run_jobs

pytestmark = pytest.mark.usefixtures("clean")
URL = "/api/v1/inbound/email"


async def mailed(client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any) -> dict[str, Any]:
    """A case whose complaint went to an e-mail regulator: its filing and the Reply-To it carried."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    complaint = await build(client, s, await mail_regulator(client, settings))
    s["filing"] = (await file(client, s, complaint["id"])).json()["id"]
    await run_jobs(redis_pool, quick(settings))
    (sent,) = mailbox.to(REGULATOR_MAIL)
    s["reply_to"] = str(sent["Reply-To"])
    return s


def message(to: str, *, sender: str = REGULATOR_MAIL, body: str = "已受理。", attachment: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = "关于投诉的答复"
    msg["Message-ID"] = f"<{hashlib.sha256((to + sender + body).encode()).hexdigest()[:16]}-{attachment}@x>"
    msg.set_content(body)
    if attachment:
        msg.add_attachment(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * attachment,
            maintype="image",
            subtype="png",
            filename="a.png",
        )
    return msg.as_bytes()


def secret(settings: Any) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {settings.inbound_secret.get_secret_value()}",
        "Content-Type": "message/rfc822",
    }


async def replies_of(filing_id: int) -> list[dict[str, Any]]:
    return list(
        await FilingEvent.select()
        .where((FilingEvent.filing == filing_id) & FilingEvent.sender.is_not_null())
        .order_by(FilingEvent.id)
    )


async def test_replies_up_to_the_inbound_limit_are_taken_and_larger_ones_refused(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    assert settings.inbound_max_bytes == 10 * 1024 * 1024
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    big = message(s["reply_to"], body="附件为处理结果。", attachment=1536 * 1024)  # 2 MiB as base64
    assert 2 * 1024 * 1024 < len(big) < 3 * 1024 * 1024  # beyond the app-wide 1 MiB
    r = await client.post(URL, content=big, headers=secret(settings))
    assert r.status_code == 202, r.text
    (reply,) = await replies_of(s["filing"])
    assert "附件为处理结果" in reply["note"]

    over = message(s["reply_to"], body="太大了。", attachment=8 * 1024 * 1024)
    assert len(over) > settings.inbound_max_bytes
    assert_problem(await client.post(URL, content=over, headers=secret(settings)), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: cut off while streaming
        for i in range(0, len(over), 1024 * 1024):
            yield over[i : i + 1024 * 1024]

    assert_problem(await client.post(URL, content=chunks(), headers=secret(settings)), 413)
    assert len(await replies_of(s["filing"])) == 1  # nothing recorded of either


async def test_a_reply_address_expires_after_the_filing_ended_plus_the_margin(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    assert settings.inbound_reply_days == 30
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    # a filing years in the works: good while it is live
    await Filing.update({Filing.created_at: Filing.created_at - timedelta(days=400)}).where(
        Filing.id == s["filing"]
    )
    r = await client.post(URL, content=message(s["reply_to"], body="一"), headers=secret(settings))
    assert r.status_code == 202, r.text

    r = await client.post(
        f"/api/v1/filings/{s['filing']}/events",
        headers=s["org"],
        json={"status": "closed", "note": "已调解结案"},
    )
    assert r.status_code == 201, r.text
    # within the margin after its end: still taken
    r = await client.post(URL, content=message(s["reply_to"], body="二"), headers=secret(settings))
    assert r.status_code == 202, r.text
    assert len(await replies_of(s["filing"])) == 2

    # 31 days after the end: not recorded on the filing, kept in the quarantine as expired
    await FilingEvent.update({FilingEvent.at: FilingEvent.at - timedelta(days=31)}).where(
        (FilingEvent.filing == s["filing"]) & (FilingEvent.status == "closed")
    )
    before = await FilingEvent.count().where(FilingEvent.filing == s["filing"])
    r = await client.post(URL, content=message(s["reply_to"], body="三"), headers=secret(settings))
    assert r.status_code == 202 and r.json()["reason"] == "expired", r.text
    assert r.json()["filing_id"] is None
    assert await FilingEvent.count().where(FilingEvent.filing == s["filing"]) == before


async def test_an_address_from_before_its_filing_or_without_an_issue_day_is_refused(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    row = await Filing.select(Filing.created_at).where(Filing.id == s["filing"]).first()
    assert row is not None
    domain, key = settings.inbound_domain, settings.signing_key()
    # signed, but issued the day before this filing existed (a reset database reusing its id)
    stale = replies.reply_address(
        s["filing"], domain, key, today=row["created_at"].date() - timedelta(days=1)
    )
    r = await client.post(URL, content=message(stale), headers=secret(settings))
    assert r.status_code == 202 and r.json()["reason"] == "expired", r.text
    # the old form, signed without an issue day, never expires: it is not taken any more
    old_signature = hmac.new(key.encode(), f"filing-reply:{s['filing']}".encode(), hashlib.sha256).hexdigest()
    old = f"filing-{s['filing']}-{old_signature[:16]}@{domain}"
    r = await client.post(URL, content=message(old), headers=secret(settings))
    assert r.status_code == 202 and r.json()["reason"] == "unmatched", r.text
    assert await replies_of(s["filing"]) == []


async def test_each_reply_records_its_sender_and_whether_it_is_the_regulator(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    for sender, body in (
        (f'"某市市场监督管理局" <{REGULATOR_MAIL}>', "您的投诉已受理。"),
        ("officer.li@amr.example.gov.cn", "请补充材料。"),  # another address at the regulator's domain
        ("prankster@example.com", "投诉已驳回（假的）。"),
    ):
        r = await client.post(
            URL, content=message(s["reply_to"], sender=sender, body=body), headers=secret(settings)
        )
        assert r.status_code == 202, r.text

    def shown(events: list[dict[str, Any]]) -> list[tuple[str, bool | None, str | None]]:
        return [
            (e["source"], e["from_regulator"], e["sender"]) for e in events if e["from_regulator"] is not None
        ]

    as_organizer = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert shown(as_organizer["events"]) == [
        ("regulator", True, f"某市市场监督管理局 <{REGULATOR_MAIL}>"),
        ("regulator", True, "officer.li@amr.example.gov.cn"),
        ("email", False, "prankster@example.com"),
    ]
    # plain members see who it is when it is the regulator; anyone else's address stays hidden
    as_member = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()
    assert shown(as_member["events"]) == [
        ("regulator", True, f"某市市场监督管理局 <{REGULATOR_MAIL}>"),
        ("regulator", True, "officer.li@amr.example.gov.cn"),
        ("email", False, None),
    ]
    assert "prankster" not in str(as_member)
    assert "投诉已驳回（假的）" in as_member["events"][-1]["note"]
    assert as_member["status"] == "submitted"  # replies never move the status by themselves


async def test_a_reply_with_a_very_long_message_id_is_recorded_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    raw = message(s["reply_to"], body="编号很长。")
    raw = raw.replace(b"Message-ID: <", b"Message-ID: <" + b"m" * 600, 1)
    for _ in range(2):
        r = await client.post(URL, content=raw, headers=secret(settings))
        assert r.status_code == 202, r.text
    assert len(await replies_of(s["filing"])) == 1
