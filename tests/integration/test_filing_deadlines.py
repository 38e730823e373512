"""Deadlines as organizers and admins see them (issue 14, items 4-6), over HTTP on a real database:
the rule in force the day the complaint reached the regulator (the 2026-04-15 change of China's
complaint rules), calendar-day limits, rules not yet checked against the official text shown as
such and corrected by an admin without a code change, a clock paused while the regulator waits
for material (across National Day 2026), provisional deadlines in a year whose holiday
arrangement is not published. Time passes by moving a filing's events back
(tests/integration/filing_support.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.filings import service as filings
from chorus.filings.deadlines import add_working_days, arranged_through, count_units
from chorus.regulators.tables import Regulator
from tests.integration.cases_support import staff
from tests.integration.filing_support import redate
from tests.integration.notify_support import drain
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import filing_of
from tests.integration.test_filings import build, file
from tests.support import assert_problem, body_of

pytestmark = pytest.mark.usefixtures("clean")

OLD_RULE = "《市场监督管理投诉举报处理暂行办法》"
NEW_RULE = "《市场监督管理投诉举报处理办法》"


async def regulators(client: Any) -> dict[str, dict[str, Any]]:
    """The registry as anyone reads it, by name."""
    items = (await client.get("/api/v1/regulators")).json()["items"]
    return {r["name"]: r for r in items}


async def samr(client: Any) -> list[int]:
    """The 12315 platform and the Guangdong bureau: both under the market-regulation rules."""
    found = await regulators(client)
    return [next(r["id"] for n, r in found.items() if key in n) for key in ("12315", "广东省")]


async def record(client: Any, s: dict[str, Any], filing_id: int, *statuses: str) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for status in statuses:
        r = await client.post(
            f"/api/v1/filings/{filing_id}/events", headers=s["org"], json={"status": status, "note": status}
        )
        assert r.status_code == 201, r.text
        got = r.json()
    return got


async def filed(
    client: Any, mailbox: Any, worker: Any, *regulator_ids: int
) -> tuple[dict[str, Any], list[int]]:
    """A seeded case (the organizer and Ann consented) whose version for each regulator was filed
    by hand (queued): the filings' ids, in that order."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    ids = []
    for reg in regulator_ids:
        v = await build(client, s, reg)
        r = await file(client, s, v["id"])
        assert r.status_code == 202, r.text
        ids.append(int(r.json()["id"]))
    return s, ids


async def test_a_complaint_received_before_the_new_rules_keeps_the_old_ones(
    client: Any, mailbox: Any, worker: Any
) -> None:
    # One case files a complaint through the 12315 channel once (a second bureau of that channel
    # is refused), so one filing is read as received on each day: queued on April 1, received on
    # April 14 (then 15), accepted on Monday April 20.
    twelve, _ = await samr(client)
    s, (filing_id,) = await filed(client, mailbox, worker, twelve)
    await record(client, s, filing_id, "received", "accepted")
    await redate(filing_id, date(2026, 4, 1), date(2026, 4, 14), date(2026, 4, 20))
    old = await filing_of(client, s["ann"], filing_id)
    assert old["deadline"] == add_working_days(date(2026, 4, 20), 45, "CN").isoformat()
    assert old["deadline_for"] == "conclusion" and old["overdue"] is True
    rule = old["time_limit"]
    assert rule["rule"].startswith(OLD_RULE) and rule["article"] == "第二十一条第一款第（五）项"
    assert (rule["limit"], rule["unit"], rule["valid_to"], rule["confirmed"]) == (
        45,
        "working_days",
        "2026-04-14",
        True,
    )
    # received a day later: the new rules, 60 calendar days, not confirmed against the official text
    await redate(filing_id, date(2026, 4, 1), date(2026, 4, 15), date(2026, 4, 20))
    new = await filing_of(client, s["ann"], filing_id)
    assert new["deadline"] == "2026-06-19"  # April 20 + 60 days
    rule = new["time_limit"]
    assert rule["rule"].startswith(NEW_RULE) and rule["article"] == "第二十三条第一款第（五）项"
    assert (rule["limit"], rule["unit"], rule["valid_from"], rule["confirmed"]) == (
        60,
        "calendar_days",
        "2026-04-15",
        False,
    )
    assert new["days_used"] > 60 and new["overdue"] is True and new["deadline_provisional"] is False


async def test_the_registry_shows_unconfirmed_rules_and_admins_correct_them(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    twelve, _ = await samr(client)
    listed = next(r for r in (await regulators(client)).values() if r["id"] == twelve)
    rules = listed["time_limits"]
    assert [(r["phase"], r["valid_from"], r["confirmed"]) for r in rules] == [
        ("acceptance", "2022-11-01", True),
        ("conclusion", "2022-11-01", True),
        ("acceptance", "2026-04-15", False),
        ("conclusion", "2026-04-15", False),
    ]
    assert all(r["source_url"].startswith("https://") and r["note"] for r in rules)
    assert rules[2]["article"] is None  # not found: never guessed
    assert "第十九条" not in listed["note"] and "第三十四条" not in listed["note"]  # the wrong citation

    s, (filing_id,) = await filed(client, mailbox, worker, twelve)
    await record(client, s, filing_id, "received", "accepted")
    await redate(filing_id, date(2026, 5, 4))  # received and accepted on May 4
    assert (await filing_of(client, s["ann"], filing_id))["deadline"] == "2026-07-03"

    admin = await staff(client, settings, "admin@example.com", "admin")
    url = f"/api/v1/regulators/{twelve}"
    before = dict(await Regulator.select().where(Regulator.id == twelve).first() or {})
    # refused, nothing written: overlapping rules, a period that ends before it starts, a bad unit
    overlapping = [*rules, {**rules[3], "valid_from": "2026-06-01"}]
    for bad in (
        overlapping,
        [{**rules[0], "valid_from": "2026-05-01", "valid_to": "2026-04-01"}],
        [{**rules[0], "unit": "weeks"}],
        [{**rules[0], "limit": 0}],
        [{**rules[0], "source_url": "javascript:alert(1)"}],
    ):
        r = await client.patch(url, json={"time_limits": bad}, headers=admin.headers)
        assert_problem(r, 422)
    member = await client.patch(url, json={"time_limits": []}, headers=s["ann"])
    assert member.status_code == 403
    assert dict(await Regulator.select().where(Regulator.id == twelve).first() or {}) == before

    # an admin checked the text and corrects the mediation limit (values here are the test's own)
    fixed = [*rules[:3], {**rules[3], "limit": 90, "confirmed": True, "note": "checked"}]
    r = await client.patch(url, json={"time_limits": fixed}, headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.json()["time_limits"][3]["confirmed"] is True and r.json()["time_limits"][3]["limit"] == 90
    # the filing follows at once: its deadline and the rule it shows
    got = await filing_of(client, s["ann"], filing_id)
    assert got["deadline"] == (date(2026, 5, 4) + timedelta(days=90)).isoformat()
    assert got["time_limit"]["confirmed"] is True
    entry = await AuditEntry.select(AuditEntry.data).where(AuditEntry.action == "regulator.updated").first()
    assert entry is not None and "time_limits" in str(entry["data"])
    # sending the same rules again changes nothing; null removes them (no deadline owed then)
    assert (await client.patch(url, json={"time_limits": fixed}, headers=admin.headers)).status_code == 200
    assert await AuditEntry.count().where(AuditEntry.action == "regulator.updated") == 1
    r = await client.patch(url, json={"time_limits": None}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["time_limits"] == []
    got = await filing_of(client, s["ann"], filing_id)
    assert got["deadline"] is None and got["time_limit"] is None and got["overdue"] is False


async def test_a_pause_across_national_day_counts_only_working_days(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any
) -> None:
    twelve, _ = await samr(client)
    s, (filing_id,) = await filed(client, mailbox, worker, twelve)
    await record(client, s, filing_id, "received", "needs_info")
    # received Monday Sep 28 2026, asked for material on Wednesday Sep 30, before the holiday
    await redate(filing_id, date(2026, 9, 28), date(2026, 9, 28), date(2026, 9, 30))
    waiting = await filing_of(client, s["ann"], filing_id)
    assert waiting["deadline"] == "2026-10-13" and waiting["deadline_paused"] is True
    assert (waiting["days_used"], waiting["overdue"]) == (2, False)  # paused since: not late
    assert await filings.flag_overdue() == 0
    # supplied on Friday Oct 9: National Day (Oct 1-7) is not counted, Oct 8 and 9 are
    await record(client, s, filing_id, "received")
    await redate(filing_id, date(2026, 9, 28), date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 9))
    back = await filing_of(client, s["ann"], filing_id)
    assert back["deadline"] == "2026-10-15" == add_working_days(date(2026, 10, 13), 2, "CN").isoformat()
    assert back["deadline_paused"] is False and back["overdue"] is True
    today = datetime.now(UTC).date()
    used = count_units(date(2026, 9, 28), today, "working_days", "CN") - 2
    assert back["days_used"] in (used, used + 1)  # (Beijing may already be a day ahead of UTC)
    # the reminder names the moved deadline
    assert await filings.flag_overdue() == 1
    await drain(worker)
    (mail,) = [m for m in mailbox.to("org@example.com") if "超过期限" in str(m["Subject"])]
    assert "2026-10-15" in body_of(mail) and "暂定" not in body_of(mail)


async def test_a_deadline_in_a_year_not_yet_arranged_is_provisional(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    year = arranged_through("CN")
    assert year is not None
    admin = await staff(client, settings, "admin@example.com", "admin")
    r = await client.post(
        "/api/v1/regulators",
        json={
            "name": "某市消费者权益保护委员会",
            "jurisdiction": "测试市",
            "channel": "manual",
            "address": "https://cpc.example.org/",
            "accept_working_days": 7,
            "finish_working_days": 45,
        },
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    s, (filing_id,) = await filed(client, mailbox, worker, int(r.json()["id"]))
    await record(client, s, filing_id, "received", "accepted")
    await redate(filing_id, date(year, 6, 1))
    got = await filing_of(client, s["ann"], filing_id)
    assert got["deadline_provisional"] is False and got["deadline"].startswith(str(year))
    # the regulator's own limit, typed without a citation: shown as not confirmed
    assert got["time_limit"] == {
        "rule": None,
        "article": None,
        "source_url": None,
        "limit": 45,
        "unit": "working_days",
        "valid_from": None,
        "valid_to": None,
        "confirmed": False,
    }
    # accepted on December 1: 45 working days reach into a year whose 调休 is not published
    await redate(filing_id, date(year, 12, 1))
    got = await filing_of(client, s["ann"], filing_id)
    assert got["deadline"] == add_working_days(date(year, 12, 1), 45, "CN").isoformat()
    assert got["deadline"].startswith(str(year + 1)) and got["deadline_provisional"] is True
    # once passed, the organizers' reminder says the date is provisional
    assert await filings.flag_overdue(now=datetime(year + 1, 3, 1, 4, tzinfo=UTC)) == 1
    await drain(worker)
    (mail,) = [m for m in mailbox.to("org@example.com") if "超过期限" in str(m["Subject"])]
    assert got["deadline"] in body_of(mail) and "这一日期是暂定的" in body_of(mail)


async def test_a_database_seeded_before_the_rules_is_corrected_by_migrate(client: Any) -> None:
    """A registry seeded before issue 14 cites 第十九条 / 第三十四条 and holds undated 7/45 working
    days: the migration replaces what the seed wrote (never an admin's own edit) and `chorus
    migrate`'s seeding gives the bureaus their dated rules."""
    import importlib

    from chorus.regulators.service import seed_defaults

    migration = importlib.import_module("migrations.chorus_2026_12_01t19_22_53_000000")
    for slug, (old, _) in migration.WRONG_NOTES.items():
        await Regulator.update(
            {
                Regulator.note: old if slug != "cn-gd-amr" else "管理员改过的说明",
                Regulator.accept_working_days: 7,
                Regulator.finish_working_days: 45,
                Regulator.time_limits: None,
            }
        ).where(Regulator.slug == slug)
    for step in (await migration.forwards()).raw:
        await step()
    await seed_defaults()
    rows = {
        r["slug"]: r
        for r in await Regulator.select().where(Regulator.slug.is_in(list(migration.WRONG_NOTES)))
    }
    national = rows["cn-12315"]
    assert national["note"] == migration.WRONG_NOTES["cn-12315"][1] and "第十四条" in national["note"]
    assert (national["accept_working_days"], national["finish_working_days"]) == (None, None)
    assert rows["cn-gd-amr"]["note"] == "管理员改过的说明"  # an admin's edit stays
    assert rows["cn-gd-amr"]["accept_working_days"] == 7
    listed = {r["name"]: r for r in (await client.get("/api/v1/regulators")).json()["items"]}
    assert all(len(r["time_limits"]) == 4 for n, r in listed.items() if "市场监督管理" in n or "12315" in n)
