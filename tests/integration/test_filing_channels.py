"""Filings sent by the worker through a regulator's HTTP channel (protocol v1), against a stand-in
gateway on a real socket: one submission per filing whatever the retries, refusals shown to
organizers, status followed by polling."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from chorus.evidence.service import storage_for
from chorus.filings.tables import Filing
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filings import build, file
from tests.regulator_standin import KEY_ENV, Standin
from tests.support import PASSWORD, as_user, assert_problem, login, run_jobs, text_of

pytestmark = pytest.mark.usefixtures("clean")


async def add_regulator(client: Any, settings: Any, **fields: Any) -> int:
    """An admin adds a regulator (as an operator would, through the API)."""
    from chorus.accounts import service as accounts

    await accounts.create_admin(
        email="admin@example.com", password=PASSWORD, display_name="A", settings=settings
    )
    admin = await login(client, "admin@example.com")
    r = await client.post("/api/v1/regulators", headers=admin, json={"jurisdiction": "某市", **fields})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def http_regulator(client: Any, settings: Any, base_url: str) -> int:
    return await add_regulator(
        client,
        settings,
        name="某市市场监督管理局（接口）",
        channel="http",
        address=base_url,
        credentials_env=KEY_ENV,
        accept_working_days=7,
        finish_working_days=45,
    )


async def filed(client: Any, mailbox: Any, worker: Any, settings: Any, gateway: Standin) -> dict[str, Any]:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await http_regulator(client, settings, gateway.base_url)
    s["complaint"] = await build(client, s, reg)
    r = await file(client, s, s["complaint"]["id"])
    assert r.status_code == 202, r.text
    s["filing"] = r.json()["id"]
    return s


def quick(settings: Any, **changes: Any) -> Any:
    # Short waits between tries; the timeout leaves room for a loaded CI machine (a one-second
    # timeout fired on a healthy answer there and added a retry the test did not expect).
    return settings.model_copy(
        update={"filing_retry_seconds": 0.05, "filing_http_timeout_seconds": 5.0, **changes}
    )


async def submitted(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> dict[str, Any]:
    """A filing the worker has sent to the stand-in, which answered: ``filed`` plus the jobs run."""
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    return s


async def filing_of(client: Any, headers: dict[str, str], filing_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/filings/{filing_id}", headers=headers)
    assert r.status_code == 200, r.text
    got: dict[str, Any] = r.json()
    return got


async def poll(redis_pool: Any, settings: Any) -> None:
    """One run of the worker's poll of the regulators (as its cron does)."""
    await redis_pool.enqueue_job("poll_filings")
    await run_jobs(redis_pool, quick(settings), relay=False)


async def test_the_worker_files_once_and_the_regulator_receives_it(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    got = await filing_of(client, s["ann"], s["filing"])
    assert got["status"] == "received" and got["reference"] == "REG-0001"
    assert [(e["status"], e["source"]) for e in got["events"]] == [
        ("queued", "organizer"),
        ("submitted", "worker"),
        ("received", "regulator"),
    ]
    assert got["deadline"] is not None  # the acceptance clock runs
    (post,) = gateway.posts
    assert post["headers"]["idempotency-key"] == str(s["filing"])


async def test_the_regulator_is_sent_the_complaint_its_complainants_and_their_evidence(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    (post,) = gateway.posts
    body = post["body"]
    complaint = (await client.get(f"/api/v1/complaints/{s['complaint']['id']}", headers=s["org"])).json()
    assert body["body_markdown"] == complaint["markdown"] and "<h1" in body["body_html"]
    assert body["complainant_count"] == 3 and body["external_id"] == f"chorus-filing-{s['filing']}"
    assert body["total_loss"] == [
        {"amount": "420.00", "currency": "CNY"},
        {"amount": "40.00", "currency": "USD"},
    ]
    assert (
        body["merchant"]["name"] == "蓝月卡盟"
        and {"kind": "qq", "value": "55667788"} in body["merchant"]["identifiers"]
    )
    assert len(body["evidence"]) == 2  # the receipts of the two members who consented
    assert all(e["filename"].startswith("evidence/") and e["size"] > 0 for e in body["evidence"])


async def test_the_bundle_as_filed_is_kept_and_organizers_download_it(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    from chorus.evidence.manifest import verify_bundle

    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    (post,) = gateway.posts
    body = post["body"]
    # the bundle as filed is kept, and it is what the hash says
    row = await Filing.select(Filing.bundle_sha256).where(Filing.id == s["filing"]).first()
    assert row is not None and body["bundle_sha256"] == row["bundle_sha256"]
    blob = storage_for(settings).path_for(row["bundle_sha256"])  # type: ignore[attr-defined]
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == row["bundle_sha256"]
    # organizers download exactly that bundle, and it verifies offline (members get their own
    # member bundle: test_complaint_privacy.py)
    r = await client.get(f"/api/v1/filings/{s['filing']}/bundle", headers=s["org"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert hashlib.sha256(r.content).hexdigest() == body["bundle_sha256"]
    assert int(r.headers["content-length"]) == len(r.content)
    path = settings.var_dir / "filed.zip"
    path.write_bytes(r.content)
    assert verify_bundle(path).ok
    path.unlink()
    assert_problem(await client.get(f"/api/v1/filings/{s['filing']}/bundle", headers=s["out"]), 403)
    assert_problem(await client.get(f"/api/v1/filings/{s['filing']}/bundle"), 401)


async def test_a_rerun_of_the_submission_sends_nothing_twice(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    # the job again (a rerun after a crash)
    await redis_pool.enqueue_job("submit_filing", filing_id=s["filing"])
    await run_jobs(redis_pool, quick(settings), relay=False)
    assert len(gateway.posts) == 1


async def test_the_poll_records_the_regulators_new_status_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    gateway.set_status("REG-0001", "accepted", "已受理，转调解")
    await poll(redis_pool, settings)
    got = await filing_of(client, s["ann"], s["filing"])
    assert got["status"] == "accepted" and got["events"][-1]["source"] == "regulator"
    assert got["events"][-1]["note"] == "已受理，转调解"
    await poll(redis_pool, settings)  # nothing new: nothing recorded
    assert len((await filing_of(client, s["ann"], s["filing"]))["events"]) == 4


async def test_a_stale_status_from_the_regulator_does_not_move_the_filing_back(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    gateway.set_status("REG-0001", "accepted", "已受理，转调解")
    await poll(redis_pool, settings)
    gateway.set_status("REG-0001", "received")  # a stale or odd answer
    await poll(redis_pool, settings)
    got = await filing_of(client, s["ann"], s["filing"])
    assert got["status"] == "accepted" and len(got["events"]) == 4


async def test_server_errors_and_timeouts_are_retried_under_the_same_key(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [503, "slow", 502]
    gateway.slow_seconds = 10.0
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings, filing_http_timeout_seconds=3.0))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "received" and got["reference"] == "REG-0001"
    keys = {p["headers"]["idempotency-key"] for p in gateway.posts}
    assert len(gateway.posts) == 4 and keys == {str(s["filing"])}
    assert len(gateway.complaints) == 1  # filed once
    notes = [e["note"] for e in got["events"] if e["source"] == "worker"]
    assert notes[:3] == ["retry:1", "retry:2", "retry:3"]


async def test_a_refusal_fails_the_filing_with_the_servers_message(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [422]
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and got["message"] == "scripted answer 422"
    assert len(gateway.posts) == 1
    # ended: the organizers may file the same version again
    r = await file(client, s, s["complaint"]["id"])
    assert r.status_code == 202, r.text


async def test_a_server_that_stays_down_fails_the_filing_after_the_last_try(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [500, 500, 500, 500]
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings, filing_submit_attempts=3))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and "500" in got["message"]
    assert len(gateway.posts) == 3 and not gateway.complaints


async def test_a_missing_api_key_fails_without_sending(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)
    os.environ.pop(KEY_ENV)
    await run_jobs(redis_pool, quick(settings))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and KEY_ENV in got["message"]
    assert gateway.posts == []


REGULATOR_MAIL = "complaints@amr.example.gov.cn"


async def mail_regulator(client: Any, settings: Any) -> int:
    return await add_regulator(
        client, settings, name="某市市场监督管理局（邮箱）", channel="email", address=REGULATOR_MAIL
    )


def reply_to(to: str, subject: str, body: str, message_id: str) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = REGULATOR_MAIL
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


async def mailed(client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any) -> dict[str, Any]:
    """A filing sent by the worker to a regulator's mailbox: the case of ``seeded_case`` (the
    organizer and Ann consented, Bob did not), plus ``filing``, the ``sent`` message and its
    ``reply_address``."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await mail_regulator(client, settings)
    complaint = await build(client, s, reg)
    r = await file(client, s, complaint["id"])
    assert r.status_code == 202, r.text
    s["filing"] = r.json()["id"]
    await run_jobs(redis_pool, quick(settings))
    (s["sent"],) = mailbox.to(REGULATOR_MAIL)
    s["reply_address"] = str(s["sent"]["Reply-To"])
    return s


INBOUND = "/api/v1/inbound/email"


def inbound_auth(settings: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.inbound_secret.get_secret_value()}"}


def acceptance_reply(s: dict[str, Any]) -> bytes:
    body = "您的投诉已受理，受理编号 AMR-77。"
    return reply_to(s["reply_address"], "关于投诉的受理告知", body, "<r1@amr.example.gov.cn>")


async def hand_over(client: Any, settings: Any, raw: bytes, headers: dict[str, str] | None = None) -> Any:
    """The mail server hands a message to the inbound endpoint (authorized unless told otherwise)."""
    auth = inbound_auth(settings) if headers is None else headers
    return await client.post(INBOUND, content=raw, headers={**auth, "Content-Type": "message/rfc822"})


async def test_the_email_channel_sends_the_complaint_with_a_reply_address(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    sent, filing_id = s["sent"], s["filing"]
    assert "联合投诉" in sent["Subject"] and "蓝月卡盟" in sent["Subject"]
    assert s["reply_address"].startswith(f"filing-{filing_id}-") and s["reply_address"].endswith(
        "@replies.chorus.example.com"
    )
    names = {part.get_filename() for part in sent.iter_attachments()}
    assert names == {"complaint.md", "complaint.html"}
    text = sent.get_body(preferencelist=("plain",)).get_content()
    assert "蓝月卡盟" in text and "安妮" in text and "鲍勃" not in text  # Bob did not consent
    assert "就“蓝月卡盟”收款后不交付商品一事" in text  # the merchant, named in the cover letter
    assert "代 3 名投诉人（其中 2 名具名）" in text and "受害者" not in text  # complainants, to a regulator
    got = await filing_of(client, s["org"], filing_id)
    assert got["status"] == "submitted" and got["deadline"] is None  # no time limits on this one


async def test_a_rerun_of_the_email_submission_sends_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    await redis_pool.enqueue_job("submit_filing", filing_id=s["filing"])
    await run_jobs(redis_pool, quick(settings), relay=False)
    assert len(mailbox.to(REGULATOR_MAIL)) == 1


async def test_a_reply_handed_over_twice_is_recorded_once_for_people_to_read(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    raw = acceptance_reply(s)
    r = await hand_over(client, settings, raw)
    assert r.status_code == 202, r.text
    assert r.json()["filing_id"] == s["filing"] and r.json()["quarantine_id"] is None
    again = await hand_over(client, settings, raw)
    assert again.status_code == 202  # handed over twice: recorded once
    got = await filing_of(client, s["ann"], s["filing"])
    replies = [e for e in got["events"] if e["source"] == "regulator"]
    assert len(replies) == 1 and "关于投诉的受理告知" in replies[0]["note"] and "AMR-77" in replies[0]["note"]
    assert got["status"] == "submitted"  # a reply is read by people: organizers record what it means


async def test_members_are_told_the_regulator_replied(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    assert (await hand_over(client, settings, acceptance_reply(s))).status_code == 202
    await run_jobs(redis_pool, settings)
    inbox = (await client.get("/api/v1/notifications", headers=s["bob"])).json()["items"]
    assert [n["data"]["filing_id"] for n in inbox if n["kind"] == "case.filing_reply"] == [s["filing"]]
    filing = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["bob"])).json()
    (told,) = [n for n in inbox if n["kind"] == "case.filing_reply"]
    assert told["data"]["regulator"] == filing["regulator"]["name"]  # the message names it
    # the case page's timeline says it in words, the reply under it; and a mail to the reply
    # address from another sender says where it came from
    stranger = reply_to(s["reply_address"], "我也被骗了", "请问怎么加入？", "<x1@mail.example.net>")
    stranger = stranger.replace(REGULATOR_MAIL.encode(), b"someone@mail.example.net", 1)
    assert (await hand_over(client, settings, stranger)).status_code == 202
    await as_user(client, s["bob"])
    page = await client.get(f"/cases/{s['case']}")
    timeline = text_of(page.text[page.text.index('id="timeline"') : page.text.index('id="growth"')])
    name = filing["regulator"]["name"]
    assert f"{name}回复了" in timeline and "关于投诉的受理告知" in timeline and "AMR-77" in timeline
    assert f"收到一封关于向{name}投诉的邮件" in timeline and "来自一个不属于监管部门的邮箱地址" in timeline
    assert "page.case" not in timeline


async def test_the_inbound_endpoint_refuses_what_it_cannot_match_writing_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    filing_id, raw, secret = s["filing"], acceptance_reply(s), inbound_auth(settings)
    before = len((await filing_of(client, s["ann"], filing_id))["events"])
    forged = s["reply_address"].replace(f"filing-{filing_id}-", f"filing-{filing_id + 1}-")
    for body, headers, status, code in (
        (raw, {}, 401, None),
        (raw, {"Authorization": "Bearer wrong"}, 401, None),
        (raw + b"x" * settings.inbound_max_bytes, secret, 413, None),
    ):
        assert_problem(await hand_over(client, settings, body, headers), status, code)
    # what matches no filing is accepted and kept for admins (issue 14 item 3), never on a filing
    for body, reason in (
        (reply_to(forged, "x", "y", "<r2@x>"), "bad_signature"),
        (reply_to("someone@example.com", "x", "y", "<r3@x>"), "unmatched"),
        (b"\\x00\\x01 not a message", "unreadable"),
    ):
        r = await hand_over(client, settings, body)
        assert r.status_code == 202 and r.json()["reason"] == reason, r.text
    assert len((await filing_of(client, s["ann"], filing_id))["events"]) == before


async def test_the_inbound_endpoint_is_off_without_a_secret(settings: Any) -> None:
    from tests.support import http_client

    async with http_client(settings.model_copy(update={"inbound_secret": None})) as c:
        r = await c.post(
            "/api/v1/inbound/email", content=b"Subject: x\r\n\r\ny", headers={"Authorization": "Bearer x"}
        )
        assert_problem(r, 404, "inbound_disabled")
