"""Filing a complaint version over HTTP: what it freezes, what refuses it (with nothing written),
the manual status updates organizers record, and who may see and do what."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chorus.complaints.tables import Complaint
from chorus.evidence.tables import Evidence
from chorus.filings.tables import Filing, FilingEvent
from chorus.notifications.tables import InboxEntry
from tests.integration.authorization_support import represent
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.support import assert_problem

pytestmark = pytest.mark.usefixtures("clean")


async def own_evidence(client: Any, case_id: int, headers: dict[str, str]) -> dict[str, Any]:
    items = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=headers)).json()["items"]
    (mine,) = [i for i in items if i["uploaded_by_me"]]
    return dict(mine)


async def build(client: Any, s: dict[str, Any], reg: int) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": reg}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def file(client: Any, s: dict[str, Any], complaint_id: int, who: str = "org") -> Any:
    if who == "org":  # the channel expects a representative and the members' authorizations
        members = [s[m] for m in ("ann", "bob") if m in s]
        await represent(client, s["case"], s["org"], complaint_id, *members)
    return await client.post(
        f"/api/v1/cases/{s['case']}/filings", headers=s[who], json={"complaint_id": complaint_id}
    )


async def written() -> dict[str, int]:
    return {
        "filings": int(await Filing.count()),
        "events": int(await FilingEvent.count()),
        "filed": int(await Complaint.count().where(Complaint.filed_at.is_not_null())),
        "frozen": int(await Evidence.count().where(Evidence.frozen_at.is_not_null())),
    }


async def filed_v1(client: Any, mailbox: Any, worker: Any) -> tuple[dict[str, Any], int, dict[str, Any], int]:
    """A seeded case whose organizer and Ann consented, version 1 built and filed (by hand):
    the case, the regulator, the version and the filing's id."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await regulator_id(client)
    v1 = await build(client, s, reg)
    r = await file(client, s, v1["id"])
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "queued"
    return s, reg, v1, int(r.json()["id"])


async def test_filing_freezes_the_version_and_the_evidence_it_cites(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s, _, v1, _ = await filed_v1(client, mailbox, worker)
    got = (await client.get(f"/api/v1/complaints/{v1['id']}", headers=s["ann"])).json()
    assert got["filed"] is True
    # Ann's receipt is in the filed version: it can no longer be withdrawn
    ann_ev = await own_evidence(client, s["case"], s["ann"])
    assert ann_ev["frozen"] is True
    assert_problem(
        await client.delete(f"/api/v1/evidence/{ann_ev['id']}", headers=s["ann"]), 409, "evidence_frozen"
    )
    assert (await Evidence.select(Evidence.withdrawn_at).where(Evidence.id == ann_ev["id"]).first()) == {
        "withdrawn_at": None
    }
    # Bob never consented: his receipt is not in the version and stays his to withdraw
    bob_ev = await own_evidence(client, s["case"], s["bob"])
    assert bob_ev["frozen"] is False
    assert (await client.delete(f"/api/v1/evidence/{bob_ev['id']}", headers=s["bob"])).status_code == 204


async def test_the_public_case_page_lists_the_filing(client: Any, mailbox: Any, worker: Any) -> None:
    s, _, _, filing_id = await filed_v1(client, mailbox, worker)
    case = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    assert case["status"] == "filing"
    assert [(f["id"], f["status"]) for f in case["filings"]] == [(filing_id, "queued")]
    assert "12315" in case["filings"][0]["regulator"]
    assert "filing_queued" in [e["kind"] for e in case["timeline"]]


async def test_members_read_the_filing_and_others_do_not(client: Any, mailbox: Any, worker: Any) -> None:
    s, _, _, filing_id = await filed_v1(client, mailbox, worker)
    filing = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["bob"])).json()
    assert filing["status"] == "queued" and filing["complaint_version"] == 1
    assert filing["overdue"] is False and filing["reference"] is None
    assert [(e["status"], e["source"]) for e in filing["events"]] == [("queued", "organizer")]
    assert_problem(await client.get(f"/api/v1/filings/{filing_id}", headers=s["out"]), 403)
    assert_problem(await client.get(f"/api/v1/filings/{filing_id}"), 401)
    assert_problem(await client.get("/api/v1/filings/999999", headers=s["org"]), 404, "filing_not_found")
    # a manual filing sends nothing by machine: no bundle was stored for it
    assert_problem(
        await client.get(f"/api/v1/filings/{filing_id}/bundle", headers=s["bob"]),
        404,
        "filing_bundle_missing",
    )


async def test_a_later_version_leaves_the_filed_one_as_it_was(client: Any, mailbox: Any, worker: Any) -> None:
    s, reg, v1, _ = await filed_v1(client, mailbox, worker)
    r = await client.patch(
        f"/api/v1/cases/{s['case']}/membership", headers=s["ann"], json={"statement": "补充：客服已拉黑我。"}
    )
    assert r.status_code == 200, r.text
    v2 = await build(client, s, reg)
    assert v2["version"] == 2 and v2["sha256"] != v1["sha256"]
    again = (await client.get(f"/api/v1/complaints/{v1['id']}", headers=s["org"])).json()
    assert again["sha256"] == v1["sha256"] and again["markdown"] == v1["markdown"] and again["filed"] is True
    assert (await client.get(f"/api/v1/complaints/{v2['id']}", headers=s["org"])).json()["filed"] is False
    # members list the versions (newest first, no text); others do not
    listed = (await client.get(f"/api/v1/cases/{s['case']}/complaints", headers=s["bob"])).json()["items"]
    assert [(c["id"], c["version"], c["filed"], c["named_members"]) for c in listed] == [
        (v2["id"], 2, False, 2),
        (v1["id"], 1, True, 2),
    ]
    assert "markdown" not in listed[0] and "12315" in listed[0]["regulator"]["name"]
    assert_problem(await client.get(f"/api/v1/cases/{s['case']}/complaints", headers=s["out"]), 403)
    assert_problem(await client.get(f"/api/v1/cases/{s['case']}/complaints"), 401)
    assert_problem(await client.get("/api/v1/cases/999999/complaints", headers=s["org"]), 404)
    diff = (
        await client.get(f"/api/v1/complaints/{v2['id']}/diff?against={v1['id']}", headers=s["org"])
    ).json()["diff"]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("客服已拉黑我" in line for line in added), diff


async def test_refusals_write_nothing(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann", "bob")
    reg = await regulator_id(client)
    v1 = await build(client, s, reg)
    url = f"/api/v1/cases/{s['case']}/filings"
    before = await written()

    assert_problem(await client.post(url, json={"complaint_id": v1["id"]}), 401)
    assert_problem(await file(client, s, v1["id"], who="ann"), 403, "organizers_only")
    assert_problem(await file(client, s, v1["id"], who="out"), 403, "not_a_member")
    assert_problem(
        await client.post("/api/v1/cases/999999/filings", headers=s["org"], json={"complaint_id": v1["id"]}),
        404,
    )
    problem = assert_problem(await file(client, s, 999999), 404, "complaint_not_found")
    assert problem["errors"][0]["field"] == "complaint_id"
    assert_problem(await client.post(url, headers=s["org"], json={}), 422)
    assert_problem(await client.post(url, headers=s["org"], json={"complaint_id": "first"}), 422)

    # a complaint of another case
    other = await seeded_case_elsewhere(client, s)
    assert_problem(await file(client, s, other), 404, "complaint_not_found")

    # an older version while a newer one exists
    v2 = await build(client, s, reg)
    problem = assert_problem(await file(client, s, v1["id"]), 409, "complaint_outdated")
    assert "2" in problem["detail"]

    # someone named in it withdrew consent since
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["bob"], json={"consent": False})
    assert r.status_code == 200
    assert_problem(await file(client, s, v2["id"]), 409, "consent_withdrawn")
    v3 = await build(client, s, reg)

    # evidence it cites was withdrawn after the build
    ann_ev = await own_evidence(client, s["case"], s["ann"])
    assert (await client.delete(f"/api/v1/evidence/{ann_ev['id']}", headers=s["ann"])).status_code == 204
    assert_problem(await file(client, s, v3["id"]), 409, "evidence_changed")
    assert await written() == before  # not one row of the refused filings, nothing frozen

    # with a fresh version it goes out; a second live filing to the same regulator does not
    v4 = await build(client, s, reg)
    assert (await file(client, s, v4["id"])).status_code == 202
    after_first = await written()
    assert_problem(await file(client, s, v4["id"]), 409, "filing_active")
    assert await written() == after_first

    # a closed case files nothing more
    r = await client.post(f"/api/v1/cases/{s['case']}/status", headers=s["org"], json={"status": "closed"})
    assert r.status_code == 200, r.text
    other_reg = await regulator_id(client, "police")
    closed_v = await build(client, s, other_reg)  # a version for the record can still be built
    assert_problem(await file(client, s, closed_v["id"]), 409, "case_closed_filing")
    assert await written() == after_first


async def seeded_case_elsewhere(client: Any, s: dict[str, Any]) -> int:
    """A complaint of a second case, organized by Bob (a complaint id that is not this case's)."""
    r = await client.post(
        "/api/v1/reports",
        headers=s["bob"],
        json={
            "merchant": {"name": "别家小店", "identifiers": [{"kind": "qq", "value": "99001122"}]},
            "incident_date": "2026-10-05",
            "loss": {"amount": "10.00", "currency": "CNY"},
        },
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert case_id != s["case"]
    r = await client.post(f"/api/v1/cases/{case_id}/consent", headers=s["bob"], json={"consent": True})
    assert r.status_code == 200
    reg = await regulator_id(client)
    r = await client.post(f"/api/v1/cases/{case_id}/complaints", headers=s["bob"], json={"regulator_id": reg})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def submitted(client: Any, mailbox: Any, worker: Any) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A filing the organizer recorded as submitted (with the regulator's reference) and noted
    once more: the case, version 1 and the filing's events URL."""
    s, _, v1, filing_id = await filed_v1(client, mailbox, worker)
    url = f"/api/v1/filings/{filing_id}/events"
    r = await client.post(
        url,
        headers=s["org"],
        json={"status": "submitted", "reference": " SAMR-2026-0042 ", "note": "已在线提交"},
    )
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["status"] == "submitted" and got["reference"] == "SAMR-2026-0042"
    assert [(e["status"], e["source"], e["note"]) for e in got["events"]] == [
        ("queued", "organizer", ""),
        ("submitted", "organizer", "已在线提交"),
    ]
    # a note alone keeps the status
    r = await client.post(url, headers=s["org"], json={"note": "电话确认已收到材料"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "submitted" and len(r.json()["events"]) == 3
    return s, v1, url


async def test_organizers_record_manual_updates(client: Any, mailbox: Any, worker: Any) -> None:
    s, _, url = await submitted(client, mailbox, worker)
    filing = (await client.get(url.removesuffix("/events"), headers=s["bob"])).json()
    assert (filing["status"], filing["reference"]) == ("submitted", "SAMR-2026-0042")
    assert [e["note"] for e in filing["events"]] == ["", "已在线提交", "电话确认已收到材料"]


async def test_refused_updates_write_nothing(client: Any, mailbox: Any, worker: Any) -> None:
    s, _, url = await submitted(client, mailbox, worker)
    before = int(await FilingEvent.count())
    assert_problem(await client.post(url, json={"note": "x"}), 401)
    assert_problem(await client.post(url, headers=s["ann"], json={"note": "x"}), 403, "organizers_only")
    assert_problem(await client.post(url, headers=s["out"], json={"note": "x"}), 403)
    assert_problem(
        await client.post("/api/v1/filings/999999/events", headers=s["org"], json={"note": "x"}), 404
    )
    assert_problem(await client.post(url, headers=s["org"], json={"status": "accepted"}), 422)  # no note
    assert_problem(await client.post(url, headers=s["org"], json={"note": "   "}), 422, "note_required")
    assert_problem(await client.post(url, headers=s["org"], json={"note": "x", "reference": " "}), 422)
    assert_problem(await client.post(url, headers=s["org"], json={"note": "x", "status": "banana"}), 422)
    assert_problem(await client.post(url, headers=s["org"], json={"note": "x" * 4001}), 422)
    # backwards, or a status only the worker may set
    assert_problem(
        await client.post(url, headers=s["org"], json={"note": "x", "status": "queued"}),
        409,
        "filing_transition_invalid",
    )
    assert_problem(
        await client.post(url, headers=s["org"], json={"note": "x", "status": "failed"}),
        409,
        "filing_transition_invalid",
    )
    assert int(await FilingEvent.count()) == before
    assert (await client.get(url.removesuffix("/events"), headers=s["org"])).json()["status"] == "submitted"


async def test_an_ended_filing_moves_no_more_and_members_heard_each_step(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    from tests.support import run_jobs

    s, v1, url = await submitted(client, mailbox, worker)
    # forward (skipping steps is fine), then an end
    got = (await client.post(url, headers=s["org"], json={"note": "已受理", "status": "accepted"})).json()
    assert got["status"] == "accepted"
    got = (await client.post(url, headers=s["org"], json={"note": "商家已退款", "status": "resolved"})).json()
    assert got["status"] == "resolved"
    assert_problem(
        await client.post(url, headers=s["org"], json={"note": "x", "status": "in_mediation"}),
        409,
        "filing_transition_invalid",
    )
    # members hear of every status change in their inbox
    await run_jobs(redis_pool, settings)
    inbox = (await client.get("/api/v1/notifications", headers=s["bob"])).json()["items"]
    statuses = [n["data"]["status"] for n in inbox if n["kind"] == "case.filing_status"]
    assert sorted(statuses) == ["accepted", "resolved", "submitted"]
    assert await InboxEntry.count().where(InboxEntry.kind == "case.filing_status") == 3 * 3

    # the filing ended: the same regulator can be filed with again
    assert (await file(client, s, v1["id"])).status_code == 202


async def test_two_organizers_filing_at_once_give_one_filing(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await regulator_id(client)
    v1 = await build(client, s, reg)
    # promote Ann so that two organizers race
    ann_id = (await client.get("/api/v1/me", headers=s["ann"])).json()["id"]
    r = await client.post(f"/api/v1/cases/{s['case']}/organizers", headers=s["org"], json={"user_id": ann_id})
    assert r.status_code == 200, r.text
    answers = await asyncio.gather(*(file(client, s, v1["id"], who) for who in ("org", "ann", "org", "ann")))
    codes = sorted(a.status_code for a in answers)
    assert codes == [202, 409, 409, 409], [a.text for a in answers]
    assert await Filing.count() == 1 and await FilingEvent.count() == 1


async def test_deadlines_in_working_days_and_overdue_reminders(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from chorus.filings.deadlines import add_working_days, local_date
    from tests.integration.filing_support import age
    from tests.support import run_jobs

    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    # 全国12315平台, under the rules of 2026-04-15: 7 working days to accept, 60 days to conclude
    reg = await regulator_id(client)
    v1 = await build(client, s, reg)
    filing_id = (await file(client, s, v1["id"])).json()["id"]
    url = f"/api/v1/filings/{filing_id}/events"
    got = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["ann"])).json()
    assert got["deadline"] is None and got["overdue"] is False  # queued: nothing is owed yet

    today = local_date(datetime.now(UTC), "CN")
    got = (await client.post(url, headers=s["org"], json={"status": "submitted", "note": "网上提交"})).json()
    assert got["deadline"] == add_working_days(today, 7, "CN").isoformat() and got["overdue"] is False
    got = (await client.post(url, headers=s["org"], json={"status": "received", "note": "已收到回执"})).json()
    assert got["deadline"] == add_working_days(today, 7, "CN").isoformat()  # the clock already ran

    # time passes: it reached the regulator a month ago, and the acceptance deadline passed
    await age(filing_id, 30)
    got = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["ann"])).json()
    assert (
        got["overdue"] is True
        and got["deadline"] == add_working_days(today - timedelta(30), 7, "CN").isoformat()
    )
    for _ in range(2):  # the hourly job, twice: one reminder per organizer and deadline
        await redis_pool.enqueue_job("flag_overdue_filings")
        await run_jobs(redis_pool, settings, relay=False)
    reminders = [
        n
        for n in (await client.get("/api/v1/notifications", headers=s["org"])).json()["items"]
        if n["kind"] == "filing.overdue"
    ]
    assert len(reminders) == 1
    assert (
        reminders[0]["data"]["next_step"] == "ask_acceptance"
        and reminders[0]["data"]["filing_id"] == filing_id
    )
    assert reminders[0]["data"]["regulator"] == got["regulator"]["name"]  # the message names it
    assert await InboxEntry.count().where(InboxEntry.kind == "filing.overdue") == 1  # organizers only

    # accepted: a new clock, the conclusion's (calendar days)
    got = (await client.post(url, headers=s["org"], json={"status": "accepted", "note": "已受理"})).json()
    assert got["deadline"] == (today + timedelta(days=60)).isoformat() and got["overdue"] is False
    assert got["deadline_for"] == "conclusion" and got["time_limit"]["unit"] == "calendar_days"
    # ended (after its conclusion deadline passed): never overdue again, nobody reminded
    await age(filing_id, 100)
    assert (await client.get(f"/api/v1/filings/{filing_id}", headers=s["ann"])).json()["overdue"] is True
    await client.post(url, headers=s["org"], json={"status": "closed", "note": "机构终止调解"})
    got = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["ann"])).json()
    assert got["overdue"] is False
    await redis_pool.enqueue_job("flag_overdue_filings")
    await run_jobs(redis_pool, settings, relay=False)
    assert await InboxEntry.count().where(InboxEntry.kind == "filing.overdue") == 1


async def test_a_deadline_passes_at_midnight_where_the_regulator_is(
    client: Any, mailbox: Any, worker: Any
) -> None:
    from datetime import UTC, date, datetime

    from chorus.filings import service as filings
    from tests.integration.filing_support import redate

    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    v1 = await build(client, s, await regulator_id(client))
    filing_id = (await file(client, s, v1["id"])).json()["id"]
    r = await client.post(
        f"/api/v1/filings/{filing_id}/events", headers=s["org"], json={"status": "submitted", "note": "寄出"}
    )
    assert r.status_code == 201
    await redate(filing_id, date(2026, 11, 16))  # sent on Monday: 7 working days to Wednesday the 25th
    # 18:00 in Beijing on the deadline day: still in time
    assert await filings.flag_overdue(now=datetime(2026, 11, 25, 10, 0, tzinfo=UTC)) == 0
    # 01:30 in Beijing the next day, though still Nov 25 in UTC: late
    assert await filings.flag_overdue(now=datetime(2026, 11, 25, 17, 30, tzinfo=UTC)) == 1
    assert await filings.flag_overdue(now=datetime(2026, 11, 26, 9, 0, tzinfo=UTC)) == 0  # told once


async def test_a_merged_case_keeps_its_filings_within_reach(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from tests.integration.cases_support import staff

    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    v1 = await build(client, s, await regulator_id(client))
    filing_id = (await file(client, s, v1["id"])).json()["id"]
    other_complaint = await seeded_case_elsewhere(client, s)  # Bob's case against another shop
    other_case = (await client.get(f"/api/v1/complaints/{other_complaint}", headers=s["bob"])).json()[
        "case_id"
    ]
    source = (await client.get(f"/api/v1/cases/{s['case']}")).json()["merchant"]["id"]
    target = (await client.get(f"/api/v1/cases/{other_case}")).json()["merchant"]["id"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    r = await client.post(
        "/api/v1/moderation/merchants/merge",
        json={"source_id": source, "target_id": target},
        headers=moderator.headers,
    )
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/cases/{s['case']}")).json()["merged_into"] == other_case

    # the members went to the surviving case; the filing they made is still theirs to follow
    assert (await client.get(f"/api/v1/filings/{filing_id}", headers=s["ann"])).status_code == 200
    assert (await client.get(f"/api/v1/complaints/{v1['id']}", headers=s["ann"])).status_code == 200
    listed = (await client.get(f"/api/v1/cases/{s['case']}/complaints", headers=s["ann"])).json()["items"]
    assert [c["id"] for c in listed] == [v1["id"]]
    r = await client.post(
        f"/api/v1/filings/{filing_id}/events", headers=s["org"], json={"status": "received", "note": "回执"}
    )
    assert r.status_code == 201, r.text
    assert_problem(
        await client.post(f"/api/v1/filings/{filing_id}/events", headers=s["ann"], json={"note": "x"}),
        403,
        "organizers_only",
    )
    assert_problem(await client.get(f"/api/v1/filings/{filing_id}", headers=s["out"]), 403)
    # the surviving case's public page lists it
    filings = (await client.get(f"/api/v1/cases/{other_case}")).json()["filings"]
    assert [(f["id"], f["status"]) for f in filings] == [(filing_id, "received")]
