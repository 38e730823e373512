"""The two reminders through the API, as the console's buttons send them: organizers remind the
members who have not agreed to the latest version of a regulator's complaint
(``/api/v1/complaints/{id}/consent-reminders``) and those with no evidence
(``/api/v1/cases/{id}/evidence-reminders``), and list what was sent. Each refusal is a problem
answer with its code, and tells no one (no one left to remind of evidence:
test_evidence_reminder.py, beside the page's answer)."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.notifications.tables import NotifyEvent
from tests.integration.notify_support import drain
from tests.integration.test_complaints import upload
from tests.integration.test_pages_complaints import a_case, consent, inbox
from tests.support import assert_problem

pytestmark = pytest.mark.usefixtures("clean")


async def build(client: Any, s: dict[str, Any]) -> int:
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": s["regulator"]}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def reminders_sent(prefix: str) -> int:
    return len(await NotifyEvent.select(NotifyEvent.id).where(NotifyEvent.source.like(prefix + "%")))


async def asked(client: Any, who: dict[str, str], kind: str) -> list[dict[str, Any]]:
    return [n for n in await inbox(client, who) if n["kind"] == kind]


async def test_organizers_remind_members_to_agree_to_the_latest_version(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    v1 = await build(client, s)
    path = f"/api/v1/complaints/{v1}/consent-reminders"
    r = await client.get(path, headers=s["org"])
    assert r.status_code == 200 and r.json() == {"items": []}
    await consent(client, s, "ann")
    # Ann agreed and the organizer sends it: Bob alone is reminded
    r = await client.post(path, headers=s["org"])
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["complaint_id"] == v1 and sent["members"] == 1 and sent["next_at"] > sent["sent_at"]
    await drain(worker)
    (note,) = await asked(client, s["bob"], "case.consent_requested")
    assert note["data"]["complaint_id"] == v1 and note["data"]["reason"] == "reminder"
    assert not await asked(client, s["ann"], "case.consent_requested")
    r = await client.get(path, headers=s["org"])
    assert r.status_code == 200 and r.json() == {"items": [sent]}

    # within the day: refused, nobody told again
    assert_problem(await client.post(path, headers=s["org"]), 409, "consent_reminder_too_soon")
    # a member may neither send nor list; an unknown version does not exist
    for who, code in (("ann", "organizers_only"), ("out", "not_a_member")):
        assert_problem(await client.post(path, headers=s[who]), 403, code)
        assert_problem(await client.get(path, headers=s[who]), 403, code)
    assert_problem(
        await client.post(f"/api/v1/complaints/{v1 + 1000}/consent-reminders", headers=s["org"]),
        404,
        "complaint_not_found",
    )
    r = await client.post(path)
    assert r.status_code == 401
    assert await reminders_sent("consent-reminder:") == 1

    # a newer version: the old one may no longer be reminded of; when everyone else agrees to
    # the new one, no one is left to remind
    v2 = await build(client, s)
    assert_problem(await client.post(path, headers=s["org"]), 409, "complaint_not_latest")
    await consent(client, s, "ann")
    await consent(client, s, "bob")
    assert_problem(
        await client.post(f"/api/v1/complaints/{v2}/consent-reminders", headers=s["org"]),
        409,
        "consent_reminder_nobody",
    )
    assert await reminders_sent("consent-reminder:") == 1
    await drain(worker)
    assert len(await asked(client, s["bob"], "case.consent_requested")) == 1


async def test_organizers_remind_members_without_evidence(client: Any, mailbox: Any, worker: Any) -> None:
    s = await a_case(client, mailbox, worker)
    await upload(client, s["case"], s["ann"], "payment_receipt", "付款截图", seed=1)
    path = f"/api/v1/cases/{s['case']}/evidence-reminders"
    r = await client.post(path, headers=s["org"])
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["case_id"] == s["case"] and sent["members"] == 1  # Bob: not Ann, nor the organizer
    await drain(worker)
    assert len(await asked(client, s["bob"], "case.evidence_requested")) == 1
    assert not await asked(client, s["ann"], "case.evidence_requested")
    assert (await client.get(path, headers=s["org"])).json() == {"items": [sent]}
    assert_problem(await client.post(path, headers=s["org"]), 409, "evidence_reminder_too_soon")
    for who, code in (("bob", "organizers_only"), ("out", "not_a_member")):
        assert_problem(await client.post(path, headers=s[who]), 403, code)
        assert_problem(await client.get(path, headers=s[who]), 403, code)
    assert await reminders_sent("evidence-reminder:") == 1
    await drain(worker)
    assert len(await asked(client, s["bob"], "case.evidence_requested")) == 1
