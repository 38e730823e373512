"""Regulators' replies read into a proposed status (issue 14 item 2): an e-mail reply or a
protocol-v1 message is stored on the filing's timeline as a proposal — the status is unchanged —
and an organizer confirms or corrects it with an update (POST /api/v1/filings/{id}/events)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.test_filing_channels import (
    filing_of,
    hand_over,
    mailed,
    quick,
    reply_to,
    submitted,
)
from tests.regulator_standin import Standin
from tests.support import assert_problem, run_jobs

pytestmark = pytest.mark.usefixtures("clean")


async def poll(redis_pool: Any, settings: Any, minutes: int) -> None:
    """One run of the status sweep, ``minutes`` from now (past the regulator's minimum interval)."""
    at = datetime.now(UTC) + timedelta(minutes=minutes)
    await redis_pool.enqueue_job("poll_filings", at=at.isoformat(), _job_id=f"test-poll:{minutes}")
    await run_jobs(redis_pool, quick(settings), relay=False)


def proposals(filing: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in filing["events"] if e["proposed_status"] is not None]


async def update(client: Any, headers: dict[str, str], filing_id: int, **body: Any) -> Any:
    return await client.post(f"/api/v1/filings/{filing_id}/events", headers=headers, json=body)


async def test_a_refusal_by_mail_is_proposed_and_moves_the_filing_only_once_confirmed(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    body = "您好：\n经审查，您的投诉不符合受理条件，本局决定不予受理。\n\n某市市场监督管理局"
    raw = reply_to(s["reply_address"], "Re: 投诉受理告知", body, "<no1@amr.example.gov.cn>")
    assert (await hand_over(client, settings, raw)).status_code == 202
    got = await filing_of(client, s["ann"], s["filing"])  # a plain member sees it too
    (proposal,) = proposals(got)
    assert proposal["proposed_status"] == "rejected" and proposal["phrase"] in (
        "不符合受理条件",
        "决定不予受理",
    )
    assert 0.5 <= proposal["confidence"] <= 1 and proposal["source"] == "regulator"
    assert got["status"] == "submitted" and proposal["status"] == "submitted"  # only a proposal

    r = await update(client, s["ann"], s["filing"], confirms_event_id=proposal["id"], note="确认")
    assert_problem(r, 403)  # plain members do not decide
    r = await update(
        client, s["org"], s["filing"], confirms_event_id=proposal["id"], note="电话核实，确不予受理"
    )
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "rejected"
    assert got["events"][-1]["confirms_event_id"] == proposal["id"]
    assert got["events"][-1]["source"] == "organizer" and got["events"][-1]["status"] == "rejected"
    # answered once: a second confirmation is refused, nothing written
    again = await update(client, s["org"], s["filing"], confirms_event_id=proposal["id"], note="again")
    assert_problem(again, 409, "filing_proposal_answered")
    assert len((await filing_of(client, s["org"], s["filing"]))["events"]) == len(got["events"])


async def test_an_acceptance_by_mail_corrected_by_an_organizer_moves_to_the_correction(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    raw = reply_to(
        s["reply_address"], "受理告知", "您的投诉已受理，受理编号 AMR-77。", "<a1@amr.example.gov.cn>"
    )
    assert (await hand_over(client, settings, raw)).status_code == 202
    (proposal,) = proposals(await filing_of(client, s["org"], s["filing"]))
    assert proposal["proposed_status"] == "accepted" and proposal["phrase"] == "已受理"
    # the organizer called: it was only received so far
    r = await update(
        client,
        s["org"],
        s["filing"],
        confirms_event_id=proposal["id"],
        status="received",
        note="电话：尚在审查",
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "received" and r.json()["events"][-1]["confirms_event_id"] == proposal["id"]


async def test_a_confirmation_naming_no_proposal_or_an_invalid_move_writes_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    raw = reply_to(s["reply_address"], "告知", "本案已办结。", "<d1@amr.example.gov.cn>")
    assert (await hand_over(client, settings, raw)).status_code == 202
    before = await filing_of(client, s["org"], s["filing"])
    (proposal,) = proposals(before)
    assert proposal["proposed_status"] == "resolved"
    plain = before["events"][0]["id"]  # the queued event: no proposal
    for bad, status, code in (
        (plain, 404, "filing_proposal_not_found"),
        (proposal["id"] + 1000, 404, "filing_proposal_not_found"),
        (0, 422, None),
        ("x", 422, None),
    ):
        r = await update(client, s["org"], s["filing"], confirms_event_id=bad, note="n")
        assert r.status_code == status, r.text
        if code:
            assert_problem(r, status, code)
    # confirmed into a move the status machine refuses (resolved from submitted would skip the
    # regulator's acceptance: allowed; a withdrawn filing cannot be confirmed anything)
    r = await update(client, s["org"], s["filing"], status="withdrawn", note="撤回")
    assert r.status_code == 201, r.text
    r = await update(client, s["org"], s["filing"], confirms_event_id=proposal["id"], note="n")
    assert_problem(r, 409, "filing_transition_invalid")
    after = await filing_of(client, s["org"], s["filing"])
    assert after["status"] == "withdrawn" and len(after["events"]) == len(before["events"]) + 1


async def test_a_reply_from_another_sender_is_proposed_less_surely(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    raw = reply_to(s["reply_address"], "告知", "经审查，决定不予受理。", "<o1@x>")
    raw = raw.replace(b"complaints@amr.example.gov.cn", b"someone@elsewhere.example.com", 1)
    assert (await hand_over(client, settings, raw)).status_code == 202
    (proposal,) = proposals(await filing_of(client, s["org"], s["filing"]))
    assert proposal["proposed_status"] == "rejected" and proposal["confidence"] < 0.5
    assert proposal["source"] == "email"


async def test_a_regulators_message_proposes_once_and_the_status_stays_the_servers(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await submitted(client, mailbox, worker, settings, redis_pool, gateway)
    gateway.set_status("REG-0001", "accepted", "已受理。请于5个工作日内补充材料。")
    await poll(redis_pool, settings, 10)
    got = await filing_of(client, s["org"], s["filing"])
    assert got["status"] == "accepted"
    (asked,) = proposals(got)  # on the move itself: no second event
    assert asked["status"] == "accepted" and asked["proposed_status"] == "needs_info"
    assert asked["phrase"] == "补充材料"
    await poll(redis_pool, settings, 20)  # the same answer again: nothing new
    assert len((await filing_of(client, s["org"], s["filing"]))["events"]) == len(got["events"])

    gateway.set_status("REG-0001", "accepted", "经调解，双方达成调解协议，本案已办结。")
    await poll(redis_pool, settings, 30)
    await poll(redis_pool, settings, 40)
    got = await filing_of(client, s["org"], s["filing"])
    assert got["status"] == "accepted"  # the server's status; the words only propose
    assert [p["proposed_status"] for p in proposals(got)] == ["needs_info", "resolved"]
    done = proposals(got)[-1]
    r = await update(client, s["org"], s["filing"], confirms_event_id=done["id"], note="已收到退款")
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "resolved"
