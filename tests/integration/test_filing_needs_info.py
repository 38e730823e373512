"""A regulator asks for more material (补充材料): an organizer records it by hand
(``POST /api/v1/filings/{id}/events {status: "needs_info", note}``); members are told by
e-mail, in their language, that the organizers will say what to add; the filing shows it and its
deadline is paused (never overdue meanwhile); once the material is supplied it goes back where it
was, or on, and the days it waited move the deadline later. Moves the status machine refuses are
answered as for any other status and write nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from chorus.filings.deadlines import add_working_days, local_date
from chorus.filings.tables import Filing, FilingEvent
from chorus.notifications.tables import InboxEntry
from tests.integration.filing_support import age
from tests.integration.notify_support import drain
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.integration.test_filing_channels import filing_of, poll
from tests.integration.test_filing_channels import submitted as sent_over_http
from tests.integration.test_filings import build, file, filed_v1
from tests.regulator_standin import Standin
from tests.support import assert_problem, body_of

pytestmark = pytest.mark.usefixtures("clean")

NOTE = "12315 来电：请补充聊天记录截图和付款凭证原件。"
ASKS_ZH = ("监管部门要求补充材料", "组织者会告诉你需要补充什么")
ASKS_EN = ("the regulator asks for more information", "The organizers will tell you what to add")


async def reached(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, *, status: str = "received"
) -> tuple[dict[str, Any], int]:
    """A seeded case (the organizer and Ann consented; Bob reads English) whose version 1 was
    filed by hand with 12315 and has reached it (``status``); jobs run, mailbox emptied."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    r = await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=s["bob"])
    assert r.status_code == 200, r.text
    v1 = await build(client, s, await regulator_id(client))
    r = await file(client, s, v1["id"])
    assert r.status_code == 202, r.text
    filing_id = int(r.json()["id"])
    for step in ("submitted", status):
        await record(client, s, filing_id, step, "网上提交" if step == "submitted" else "已收到回执")
    await drain(worker)
    mailbox.clear()
    return s, filing_id


async def record(
    client: Any, s: dict[str, Any], filing_id: int, status: str, note: str = NOTE
) -> dict[str, Any]:
    """The organizer records a status the machine allows (201)."""
    r = await client.post(
        f"/api/v1/filings/{filing_id}/events", headers=s["org"], json={"status": status, "note": note}
    )
    assert r.status_code == 201, r.text
    got: dict[str, Any] = r.json()
    return got


async def asked(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, *, status: str = "received"
) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """``reached``, then the organizer records that the regulator asks for more material (the
    jobs run: members are told). Returns the case, the filing and the filing before the request."""
    s, filing_id = await reached(client, mailbox, worker, redis_pool, settings, status=status)
    before = await filing_of(client, s["ann"], filing_id)
    await record(client, s, filing_id, "needs_info")
    await drain(worker)
    return s, filing_id, before


def told(mailbox: Any, address: str, words: str) -> list[EmailMessage]:
    return [m for m in mailbox.to(address) if words in str(m["Subject"])]


async def test_the_filing_shows_the_regulator_asks_for_more_information(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, before = await asked(client, mailbox, worker, redis_pool, settings)
    got = await filing_of(client, s["ann"], filing_id)
    assert got["status"] == "needs_info"
    last = got["events"][-1]
    assert (last["status"], last["source"], last["note"]) == ("needs_info", "organizer", NOTE)
    # the acceptance clock is paused: the deadline stays until the material is supplied
    assert got["deadline"] == before["deadline"] is not None and got["overdue"] is False
    assert got["deadline_paused"] is True and before["deadline_paused"] is False
    assert got["deadline_for"] == "acceptance" and got["days_used"] == before["days_used"] == 0
    # the case's public page shows it too
    case = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    assert [f["status"] for f in case["filings"]] == ["needs_info"]


async def test_members_are_emailed_in_their_language_that_material_is_asked_for(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, _ = await asked(client, mailbox, worker, redis_pool, settings)
    for address, (status, what_next) in (
        ("ann@example.com", ASKS_ZH),
        ("org@example.com", ASKS_ZH),
        ("bob@example.com", ASKS_EN),  # he did not consent: still a member, still told
    ):
        (mail,) = told(mailbox, address, status)
        text = body_of(mail)
        assert status in text and what_next in text, address
        assert NOTE not in text  # what to add comes from the organizers, not in this message
    assert told(mailbox, "out@example.com", ASKS_ZH[0]) == []  # not a member
    inbox = (await client.get("/api/v1/notifications", headers=s["bob"])).json()["items"]
    newest = next(n for n in inbox if n["kind"] == "case.filing_status")  # newest first
    assert (newest["data"]["filing_id"], newest["data"]["status"]) == (filing_id, "needs_info")


async def test_once_the_material_is_supplied_the_filing_goes_back_where_it_was(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, before = await asked(client, mailbox, worker, redis_pool, settings)
    got = await record(client, s, filing_id, "received", "已按要求补充材料")
    assert got["status"] == "received"
    # the same acceptance clock, resumed: supplied the day it was asked, nothing moves
    assert got["deadline"] == before["deadline"] and got["deadline_paused"] is False


async def test_accepted_after_the_material_starts_the_conclusion_clock(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, _ = await asked(client, mailbox, worker, redis_pool, settings)
    got = await record(client, s, filing_id, "accepted", "补充材料后已受理")
    today = local_date(datetime.now(UTC), "CN")
    assert got["status"] == "accepted" and got["deadline_paused"] is False
    assert got["deadline"] == (today + timedelta(days=60)).isoformat()  # 60 days since 2026-04-15


async def test_moves_the_machine_refuses_write_nothing(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, _ = await asked(client, mailbox, worker, redis_pool, settings, status="accepted")
    url = f"/api/v1/filings/{filing_id}/events"
    events, inbox = int(await FilingEvent.count()), int(await InboxEntry.count())
    # asked once accepted: it goes back to "accepted" or on, never back to "received"
    for status in ("received", "submitted", "failed", "queued"):
        r = await client.post(url, headers=s["org"], json={"status": status, "note": "x"})
        assert_problem(r, 409, "filing_transition_invalid")
    assert_problem(await client.post(url, headers=s["org"], json={"status": "needs_more", "note": "x"}), 422)
    assert_problem(await client.post(url, headers=s["org"], json={"status": "needs_info"}), 422)
    assert_problem(
        await client.post(url, headers=s["ann"], json={"status": "accepted", "note": "x"}),
        403,
        "organizers_only",
    )
    await drain(worker)
    assert int(await FilingEvent.count()) == events and int(await InboxEntry.count()) == inbox
    assert (await filing_of(client, s["ann"], filing_id))["status"] == "needs_info"


async def test_a_filing_the_regulator_has_not_reached_cannot_need_information(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s, _, _, filing_id = await filed_v1(client, mailbox, worker)
    url = f"/api/v1/filings/{filing_id}/events"
    for status in (None, "submitted"):  # queued, then submitted: nobody has read it yet
        if status is not None:
            await record(client, s, filing_id, status, "网上提交")
        events = int(await FilingEvent.count())
        r = await client.post(url, headers=s["org"], json={"status": "needs_info", "note": NOTE})
        assert_problem(r, 409, "filing_transition_invalid")
        assert int(await FilingEvent.count()) == events
    assert (await filing_of(client, s["ann"], filing_id))["status"] == "submitted"


async def test_a_poll_still_answering_received_does_not_undo_the_request(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await sent_over_http(client, mailbox, worker, settings, redis_pool, gateway)  # "received"
    await record(client, s, s["filing"], "needs_info")
    events = len((await filing_of(client, s["ann"], s["filing"]))["events"])
    await poll(redis_pool, settings)  # protocol v1 cannot say the material arrived: no news
    got = await filing_of(client, s["ann"], s["filing"])
    assert got["status"] == "needs_info" and len(got["events"]) == events
    gateway.set_status("REG-0001", "accepted", "补充材料后已受理")  # news: it moved on
    # time passes: the regulator's minimum interval between two polls of a filing is over
    await Filing.update({Filing.next_poll_at: None}).where(Filing.id == s["filing"])
    await poll(redis_pool, settings)
    got = await filing_of(client, s["ann"], s["filing"])
    assert got["status"] == "accepted" and got["events"][-1]["source"] == "regulator"


async def test_waiting_for_material_is_never_overdue_and_the_wait_moves_the_deadline(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s, filing_id, _ = await asked(client, mailbox, worker, redis_pool, settings)
    today = local_date(datetime.now(UTC), "CN")
    # it reached the regulator and was asked for material a month ago: paused since, not late
    await age(filing_id, 30)
    got = await filing_of(client, s["ann"], filing_id)
    assert got["deadline"] < today.isoformat() and got["deadline_paused"] is True
    assert got["overdue"] is False and got["next_step"] is None
    await redis_pool.enqueue_job("flag_overdue_filings")
    await drain(worker)
    inbox = (await client.get("/api/v1/notifications", headers=s["org"])).json()["items"]
    assert [n for n in inbox if n["kind"] == "filing.overdue"] == []
    # supplied today: the month waited does not count, the 7 working days start again from today
    got = await record(client, s, filing_id, "received", "已按要求补充材料")
    assert got["deadline"] == add_working_days(today, 7, "CN").isoformat()
    assert (got["deadline_paused"], got["overdue"], got["days_used"]) == (False, False, 0)


async def test_rows_recorded_under_the_old_name_are_renamed_by_the_migration(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    """Before issue 14 the status was called ``needs_information``: a development database's
    filings, events and timeline rows that hold it read as ``needs_info`` once migrated."""
    import importlib

    from chorus.cases.tables import CaseEvent

    s, filing_id, _ = await asked(client, mailbox, worker, redis_pool, settings)
    old = "needs_information"
    await Filing.update({Filing.status: old}).where(Filing.id == filing_id)
    await FilingEvent.update({FilingEvent.status: old}).where(FilingEvent.status == "needs_info")
    await CaseEvent.update({CaseEvent.data: {"filing_id": filing_id, "status": old}}).where(
        CaseEvent.kind == "filing_status"
    )
    migration = importlib.import_module("migrations.chorus_2026_12_01t19_15_03_000000")
    for step in (await migration.forwards()).raw:
        await step()
    got = await filing_of(client, s["ann"], filing_id)
    assert got["status"] == "needs_info" and got["events"][-1]["status"] == "needs_info"
    case = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    assert [f["status"] for f in case["filings"]] == ["needs_info"]
    timeline = await CaseEvent.select(CaseEvent.data).where(CaseEvent.kind == "filing_status")
    assert timeline and all('"needs_information"' not in str(r["data"]) for r in timeline)
