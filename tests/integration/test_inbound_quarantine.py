"""Inbound mail kept, never dropped (issue 14 item 3): a message that matches no filing, names one
of our reply addresses with a bad or an expired signature, or cannot be read is accepted (202: the
mail server must not retry it) and kept in a quarantine only admins read; an admin assigns it to a
filing (recorded there as a matched reply: timeline event, proposed status, attachments) or
discards it (the row stays, its text and raw bytes go). A reply's attachments are stored like
evidence (sniffed, in the blob store, within CHORUS_UPLOAD_MAX_BYTES), shown and served to the
case's organizers and admins only; one too large sends the whole reply to the quarantine with no
blob written."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chorus.audit.tables import AuditEntry
from chorus.evidence.stores import store_for
from chorus.filings import replies
from chorus.filings.tables import Filing, FilingAttachment, FilingEvent, InboundQuarantine
from tests.integration.cases_support import person, staff
from tests.integration.test_filing_channels import REGULATOR_MAIL, filing_of, hand_over, mailed
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, assert_problem, http_client, text_of

pytestmark = pytest.mark.usefixtures("clean")
Q = "/api/v1/admin/inbound/quarantine"


def png(seed: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 12), (seed, 80, 150)).save(buf, "PNG")
    return buf.getvalue()


def mail(
    to: str, body: str, message_id: str, *, files: tuple[tuple[str, bytes], ...] = (), subject: str = "答复"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = REGULATOR_MAIL
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    for name, content in files:
        msg.add_attachment(content, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


async def events(filing_id: int) -> int:
    return await FilingEvent.count().where(FilingEvent.filing == filing_id)


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


async def test_each_kind_of_bad_mail_is_kept_for_admins_who_may_discard_it(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    admin = await staff(client, settings, "admin@example.com", "admin")
    filing_id, address = s["filing"], s["reply_address"]
    before = await events(filing_id)
    row = await Filing.select(Filing.created_at).where(Filing.id == filing_id).first()
    assert row is not None
    domain, key = settings.inbound_domain, settings.signing_key()
    stale = replies.reply_address(filing_id, domain, key, today=row["created_at"].date() - timedelta(days=1))
    forged = address[: address.index("@") - 16] + "0" * 16 + address[address.index("@") :]
    sent = {
        "unmatched": mail("someone@example.com", "您好，请问进展？", "<u1@x>"),
        "bad_signature": mail(forged, "已受理。", "<b1@x>"),
        "expired": mail(stale, "已受理。", "<e1@x>"),
        "unreadable": b"\x00\x01 not a message at all",
    }
    ids = {}
    for reason, raw in sent.items():
        r = await hand_over(client, settings, raw)
        assert r.status_code == 202, r.text
        assert r.json()["reason"] == reason and r.json()["filing_id"] is None
        ids[reason] = r.json()["quarantine_id"]
    # the mail server hands one over again: the same item, not a second one
    again = await hand_over(client, settings, sent["unmatched"])
    assert again.status_code == 202 and again.json()["quarantine_id"] == ids["unmatched"]
    assert await events(filing_id) == before  # nothing on the filing

    listed = await client.get(Q, headers=admin.headers)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["open"] == 4
    assert {i["id"]: i["reason"] for i in body["items"]} == {v: k for k, v in ids.items()}
    expired = (await client.get(f"{Q}/{ids['expired']}", headers=admin.headers)).json()
    assert expired["filing_hint"] == filing_id and expired["recipients"] == [stale]
    assert "已受理" in expired["text"] and expired["sender"] == REGULATOR_MAIL and expired["raw_available"]
    for reason, raw in sent.items():  # the raw message, byte for byte
        r = await client.get(f"{Q}/{ids[reason]}/raw", headers=admin.headers)
        assert r.status_code == 200 and r.content == raw
        assert r.headers["content-type"].startswith("message/rfc822")
        assert "attachment" in r.headers["content-disposition"]

    # organizers are volunteers of one case: no quarantine for them, nor for plain users
    item = ids["unmatched"]
    for who in (s["org"], s["ann"]):
        assert_problem(await client.get(Q, headers=who), 403)
        assert_problem(await client.get(f"{Q}/{item}", headers=who), 403)
        assert_problem(await client.get(f"{Q}/{item}/raw", headers=who), 403)
        assert_problem(
            await client.post(f"{Q}/{item}/assign", headers=who, json={"filing_id": filing_id}), 403
        )
        assert_problem(await client.post(f"{Q}/{item}/discard", headers=who, json={}), 403)
    assert_problem(await client.get(Q), 401)
    assert_problem(await client.get(f"{Q}/999999", headers=admin.headers), 404, "quarantine_not_found")
    assert await InboundQuarantine.count().where(InboundQuarantine.state == "open") == 4

    # an admin discards one: the row stays, its text and raw bytes go
    raw = mail("spam@example.com", "恭喜中奖，请点击链接", "<spam@x>", subject="中奖通知")
    item = (await hand_over(client, settings, raw)).json()["quarantine_id"]
    store = store_for(settings)
    assert await store.exists(sha(raw))

    assert_problem(await client.post(f"{Q}/999999/discard", headers=admin.headers, json={}), 404)
    r = await client.post(f"{Q}/{item}/discard", headers=admin.headers, json={"note": "垃圾邮件"})
    assert r.status_code == 200, r.text
    gone = r.json()
    assert gone["state"] == "discarded" and gone["resolved_by"] == admin.id and gone["note"] == "垃圾邮件"
    assert gone["text"] == "" and not gone["raw_available"]
    assert gone["subject"] == "中奖通知" and gone["sender"] == REGULATOR_MAIL  # who sent what, kept
    assert not await store.exists(sha(raw))
    assert_problem(await client.get(f"{Q}/{item}/raw", headers=admin.headers), 404, "quarantine_raw_deleted")
    assert_problem(await client.post(f"{Q}/{item}/discard", headers=admin.headers, json={}), 409)
    r = await client.post(f"{Q}/{item}/assign", headers=admin.headers, json={"filing_id": s["filing"]})
    assert_problem(r, 409, "quarantine_resolved")
    assert (await client.get(Q, headers=admin.headers, params={"state": "discarded"})).json()["items"][0][
        "id"
    ] == item
    assert "inbound.discarded" in [a["action"] for a in await AuditEntry.select(AuditEntry.action)]


async def test_an_assigned_message_becomes_a_reply_with_a_proposal_and_its_attachments(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    admin = await staff(client, settings, "admin@example.com", "admin")
    outsider = await person(client, mailbox, worker, "outsider@example.com", "路人")
    picture = png(7)
    raw = mail(
        "complaints-desk@example.com",  # the regulator answered the wrong address
        "您的投诉已受理，受理编号 AMR-9。",
        "<a1@amr.example.gov.cn>",
        files=(("受理通知书.png", picture),),
    )
    r = await hand_over(client, settings, raw)
    item = r.json()["quarantine_id"]
    before = await events(s["filing"])

    # refusals first: each writes nothing
    for bad, status, code in (
        ({"filing_id": 999999}, 404, "filing_not_found"),
        ({"filing_id": 0}, 422, None),
        ({}, 422, None),
    ):
        assert_problem(await client.post(f"{Q}/{item}/assign", headers=admin.headers, json=bad), status, code)
    assert_problem(
        await client.post(f"{Q}/999999/assign", headers=admin.headers, json={"filing_id": s["filing"]}),
        404,
        "quarantine_not_found",
    )
    assert await events(s["filing"]) == before and await FilingAttachment.count() == 0

    r = await client.post(f"{Q}/{item}/assign", headers=admin.headers, json={"filing_id": s["filing"]})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "assigned" and done["filing_id"] == s["filing"] and done["event_id"]
    assert done["resolved_by"] == admin.id and done["resolved_at"]
    # assigned twice: refused, nothing written
    again = await client.post(f"{Q}/{item}/assign", headers=admin.headers, json={"filing_id": s["filing"]})
    assert_problem(again, 409, "quarantine_resolved")
    assert_problem(await client.post(f"{Q}/{item}/discard", headers=admin.headers, json={}), 409)

    got = await filing_of(client, s["org"], s["filing"])
    (reply,) = [e for e in got["events"] if e["id"] == done["event_id"]]
    assert reply["proposed_status"] == "accepted" and reply["phrase"] == "已受理"
    assert got["status"] == "submitted"  # a proposal, for organizers to confirm
    assert "AMR-9" in reply["note"] and reply["source"] == "regulator"
    (attached,) = reply["attachments"]
    assert attached["media_type"] == "image/png" and attached["size"] == len(picture)
    assert attached["refused"] is None and attached["url"]
    download = await client.get(attached["url"], headers=s["org"])
    assert download.status_code == 200 and download.content == picture
    assert download.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(attached["url"], headers=admin.headers)).content == picture
    # a plain member sees the reply, not the file; neither they nor an outsider may fetch it
    as_member = await filing_of(client, s["ann"], s["filing"])
    assert [e["attachments"] for e in as_member["events"] if e["id"] == done["event_id"]] == [[]]
    assert_problem(await client.get(attached["url"], headers=s["ann"]), 403)
    assert_problem(await client.get(attached["url"], headers=outsider.headers), 403)
    assert_problem(await client.get(attached["url"]), 401)
    other = attached["url"].replace(f"/filings/{s['filing']}/", f"/filings/{s['filing'] + 1}/")
    assert_problem(await client.get(other, headers=s["org"]), 404, "filing_attachment_not_found")
    actions = [a["action"] for a in await AuditEntry.select(AuditEntry.action)]
    assert "inbound.assigned" in actions and "filing_attachment.downloaded" in actions

    # refused, nothing written: a message already on the filing, a filing ended past the margin.
    # The same message reached the filing directly and the quarantine by another address
    raw = mail(s["reply_address"], "请补充材料。", "<same@x>")
    assert (await hand_over(client, settings, raw)).json()["filing_id"] == s["filing"]
    copy = raw.replace(s["reply_address"].encode(), b"nobody@example.com")
    item = (await hand_over(client, settings, copy)).json()["quarantine_id"]
    before = await events(s["filing"])
    r = await client.post(f"{Q}/{item}/assign", headers=admin.headers, json={"filing_id": s["filing"]})
    assert_problem(r, 409, "quarantine_already_recorded")
    assert (await client.get(f"{Q}/{item}", headers=admin.headers)).json()["state"] == "open"
    assert await events(s["filing"]) == before

    # the filing ended 31 days ago (CHORUS_INBOUND_REPLY_DAYS is 30): closed to replies
    r = await client.post(
        f"/api/v1/filings/{s['filing']}/events", headers=s["org"], json={"status": "closed", "note": "结束"}
    )
    assert r.status_code == 201, r.text
    await FilingEvent.update({FilingEvent.at: FilingEvent.at - timedelta(days=31)}).where(
        (FilingEvent.filing == s["filing"]) & (FilingEvent.status == "closed")
    )
    before = await events(s["filing"])
    late = await hand_over(client, settings, mail("x@example.com", "迟到的回复", "<late@x>"))
    r = await client.post(
        f"{Q}/{late.json()['quarantine_id']}/assign", headers=admin.headers, json={"filing_id": s["filing"]}
    )
    assert_problem(r, 409, "quarantine_filing_closed")
    assert await events(s["filing"]) == before
    assert await InboundQuarantine.count().where(InboundQuarantine.state == "open") == 2


async def test_a_matched_reply_keeps_its_attachments_for_the_organizers(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    outsider = await person(client, mailbox, worker, "outsider@example.com", "路人")
    pdf = b"%PDF-1.4\n" + b"1 0 obj <<>> endobj\n" * 50 + b"%%EOF\n"
    raw = mail(s["reply_address"], "附件为受理通知书。", "<att@x>", files=(("通知书.pdf", pdf),))
    r = await hand_over(client, settings, raw)
    assert r.status_code == 202 and r.json()["filing_id"] == s["filing"], r.text
    got = await filing_of(client, s["org"], s["filing"])
    (reply,) = [e for e in got["events"] if e["attachments"]]
    (attached,) = reply["attachments"]
    assert attached["media_type"] == "application/pdf" and attached["filename"].endswith(".pdf")
    r = await client.get(attached["url"], headers=s["org"])
    assert r.status_code == 200 and r.content == pdf
    assert 'filename="' in r.headers["content-disposition"]
    assert_problem(await client.get(attached["url"], headers=s["bob"]), 403)  # a member, not an organizer
    assert_problem(await client.get(attached["url"], headers=outsider.headers), 403)
    assert await InboundQuarantine.count() == 0

    # the organizers' filings page shows it on the reply, with its link
    await as_user(client, s["org"])
    page = await client.get(f"/cases/{s['case']}/organize/filings")
    assert page.status_code == 200 and attached["url"] in page.text
    assert 'href="/admin' not in page.text  # no admin link for organizers
    client.cookies.clear()


async def test_an_oversized_attachment_quarantines_the_reply_without_writing_a_blob(
    mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    small = settings.model_copy(update={"upload_max_bytes": 64 * 1024})
    async with http_client(small) as client:
        s = await mailed(client, mailbox, worker, settings, redis_pool)
        admin = await staff(client, settings, "admin@example.com", "admin")
        fine, huge = png(3), b"%PDF-1.4\n" + b"0" * (200 * 1024)
        raw = mail(
            s["reply_address"], "已受理，附件见下。", "<big@x>", files=(("a.png", fine), ("b.pdf", huge))
        )
        before = await events(s["filing"])
        r = await hand_over(client, small, raw)
        assert r.status_code == 202, r.text
        assert r.json()["reason"] == "attachment_refused" and r.json()["filing_id"] is None
        item = r.json()["quarantine_id"]
        store = store_for(small)
        # nothing half-written: no event, no attachment row, neither attachment's bytes, no temp file
        assert await events(s["filing"]) == before and await FilingAttachment.count() == 0
        assert not await store.exists(sha(fine)) and not await store.exists(sha(huge))
        assert [p for p in Path(store.tmp_dir).iterdir()] == []
        detail = (await client.get(f"{Q}/{item}", headers=admin.headers)).json()
        assert detail["filing_hint"] == s["filing"] and detail["attachments"] == 2

        # the admin records it anyway: the reply, the picture, the PDF named as not kept
        r = await client.post(f"{Q}/{item}/assign", headers=admin.headers, json={"filing_id": s["filing"]})
        assert r.status_code == 200, r.text
        got = await filing_of(client, s["org"], s["filing"])
        (reply,) = [e for e in got["events"] if e["attachments"]]
        kept, refused = reply["attachments"]
        assert kept["media_type"] == "image/png" and kept["url"]
        assert refused["refused"] == "too_large" and refused["url"] is None and refused["filename"] == "b.pdf"
        assert not await store.exists(sha(huge))
        assert reply["proposed_status"] == "accepted"
        assert [p for p in Path(store.tmp_dir).iterdir()] == []


async def test_the_admin_console_lists_shows_assigns_and_discards(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    admin = await staff(client, settings, "admin@example.com", "admin")
    first = (await hand_over(client, settings, mail("a@example.com", "本局已受理。", "<p1@x>"))).json()
    second = (
        await hand_over(client, settings, mail("b@example.com", "广告", "<p2@x>", subject="广告"))
    ).json()

    await as_user(client, s["org"])  # an organizer: not theirs
    assert (await client.get("/admin/quarantine")).status_code == 403
    assert (await client.get(f"/admin/quarantine/{first['quarantine_id']}")).status_code == 403

    await as_user(client, admin)
    r = await client.get("/admin/quarantine")
    assert r.status_code == 200
    assert '<a href="/admin" aria-current="page">' in r.text  # the header's admin link, current
    text = text_of(r.text)
    assert "来信隔离区" in text and "待处理：2 封" in text and "不对应任何投诉提交" in text
    assert f'href="/admin/quarantine/{first["quarantine_id"]}"' in r.text
    r = await client.get(f"/admin/quarantine/{first['quarantine_id']}")
    assert r.status_code == 200 and "本局已受理" in text_of(r.text)
    assert f"/api/v1/admin/inbound/quarantine/{first['quarantine_id']}/raw" in r.text
    page = Page(r.text)

    # an unknown filing: refused on its field, nothing written
    url = f"/admin/quarantine/{first['quarantine_id']}/assign"
    r = await client.post(url, data={"filing_id": "999999", "_csrf_token": csrf_of(page)})
    assert r.status_code == 404 and re.search(r'id="f-filing_id-error"', r.text)
    r = await client.post(url, data={"filing_id": str(s["filing"]), "_csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/quarantine/{first['quarantine_id']}"
    shown = text_of((await client.get(r.headers["location"])).text)
    assert "邮件已记录到投诉提交" in shown and f"#{s['filing']}" in shown

    r = await client.post(
        f"/admin/quarantine/{second['quarantine_id']}/discard",
        data={"note": "广告", "_csrf_token": csrf_of(page)},
    )
    assert r.status_code == 303
    assert "邮件已丢弃" in text_of((await client.get("/admin/quarantine")).text)
    states = {
        r["id"]: r["state"]
        for r in await InboundQuarantine.select(InboundQuarantine.id, InboundQuarantine.state)
    }
    assert states == {first["quarantine_id"]: "assigned", second["quarantine_id"]: "discarded"}

    # one state at a time (?state=), on the page and in the API; an unknown one is refused by the API
    shown = (await client.get("/admin/quarantine?state=discarded")).text
    assert f'/admin/quarantine/{second["quarantine_id"]}"' in shown
    assert f'/admin/quarantine/{first["quarantine_id"]}"' not in shown
    listed = (await client.get(f"{Q}?state=assigned", headers=admin.headers)).json()
    assert [i["id"] for i in listed["items"]] == [first["quarantine_id"]] and listed["open"] == 0
    assert len((await client.get(Q, headers=admin.headers)).json()["items"]) == 2
    refused = assert_problem(await client.get(f"{Q}?state=lost", headers=admin.headers), 422)
    assert [e["field"] for e in refused["errors"]] == ["state"]  # the name sent, not the argument's
    client.cookies.clear()
