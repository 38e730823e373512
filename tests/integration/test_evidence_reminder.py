"""The organizers' evidence page reminds the members who have no evidence yet to upload some
(``notifications.remind_evidence``): in their inbox and by e-mail, never the organizer who sends
it nor a member who uploaded, once per case and day; a withdrawn item counts as none. Refused in
words: a second reminder within the day, no one left to remind. Plain members may not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chorus.accounts.schemas import UserRead
from chorus.notifications import service as notifications
from chorus.notifications.tables import NotifyEvent
from tests.integration.notify_support import drain
from tests.integration.test_complaints import upload
from tests.integration.test_pages_complaints import ANN, BOB, ORG, a_case, inbox, part
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, assert_problem, text_of

pytestmark = pytest.mark.usefixtures("clean")

KIND = "case.evidence_requested"


async def asked(client: Any, who: dict[str, str]) -> list[dict[str, Any]]:
    return [n for n in await inbox(client, who) if n["kind"] == KIND]


async def test_the_reminder_goes_to_those_without_evidence_once_a_day(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    await upload(client, s["case"], s["ann"], "payment_receipt", "付款截图", seed=1)
    await drain(worker)
    mailbox.clear()
    page = f"/cases/{s['case']}/organize/evidence"
    await as_user(client, s["org"])
    r = await client.get(page)
    assert r.status_code == 200, r.text
    remind = text_of(part(r.text, "remind"))
    assert "还没有上传证据的 1 位成员（你自己除外）" in remind and "提醒这 1 位成员" in remind
    r = await client.post(f"{page}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 303 and r.headers["location"] == f"{page}#remind"
    assert "已提醒 1 位成员上传证据" in text_of(part((await client.get(page)).text, "remind"))
    await drain(worker)  # the fan-out, then the e-mail it queued
    (note,) = await asked(client, s["bob"])
    assert note["case_id"] == s["case"] and note["data"] == {"reason": "reminder"}
    assert not await asked(client, s["ann"]) and not await asked(client, s["org"])
    (mail,) = mailbox.to(BOB[1])
    assert mail["Subject"] == f"提醒：请为案件 #{s['case']} 上传证据"
    assert "你在案件 #" in mail.get_body(("plain",)).get_content()
    assert not mailbox.to(ANN[1]) and not mailbox.to(ORG[1])
    await as_user(client, s["bob"])
    assert "请为案件" in text_of((await client.get("/notifications")).text)

    # the page says when, and offers no second reminder within the day
    await as_user(client, s["org"])
    r = await client.get(page)
    remind = part(r.text, "remind")
    assert "上次提醒" in text_of(remind) and "24 小时内只能提醒一次" in text_of(remind)
    assert f'action="{page}/remind"' not in r.text
    # posted anyway (an old tab): refused in words, nobody told again
    r = await client.post(f"{page}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert "24 小时内已经提醒过一次" in text_of(r.text)
    await drain(worker)
    assert len(await asked(client, s["bob"])) == 1 and len(mailbox.to(BOB[1])) == 1


async def test_no_one_to_remind_once_every_other_member_has_evidence(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    await upload(client, s["case"], s["ann"], "payment_receipt", "付款截图", seed=1)
    await upload(client, s["case"], s["bob"], "chat_log", "聊天记录", seed=2)
    page = f"/cases/{s['case']}/organize/evidence"
    await as_user(client, s["org"])
    r = await client.get(page)
    assert 'id="remind"' not in r.text  # the organizer has none: they are not reminded themselves
    r = await client.post(f"{page}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 409 and "每位成员都已上传了证据，不需要再提醒" in text_of(r.text)
    # the API answers the same, and lists no reminder
    api = f"/api/v1/cases/{s['case']}/evidence-reminders"
    assert_problem(await client.post(api, headers=s["org"]), 409, "evidence_reminder_nobody")
    assert (await client.get(api, headers=s["org"])).json() == {"items": []}
    assert not await NotifyEvent.select().where(NotifyEvent.source.like("evidence-reminder:%"))
    # a plain member may not remind anyone, on the page or through the service
    await as_user(client, s["ann"])
    r = await client.post(f"{page}/remind", data={"_csrf_token": csrf_of(Page((await client.get("/")).text))})
    assert r.status_code == 403
    ann = UserRead.model_validate((await client.get("/api/v1/me", headers=s["ann"])).json())
    with pytest.raises(Exception, match="organizers_only"):
        await notifications.remind_evidence(s["case"], actor=ann)


async def test_a_day_later_the_members_may_be_reminded_again_and_withdrawn_evidence_is_none(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The service's rule: one reminder per case within 24 hours; a member whose only evidence
    was withdrawn has none and is reminded again."""
    s = await a_case(client, mailbox, worker)
    await upload(client, s["case"], s["ann"], "payment_receipt", "付款截图", seed=1)
    me = UserRead.model_validate((await client.get("/api/v1/me", headers=s["org"])).json())
    first = await notifications.remind_evidence(s["case"], actor=me)
    assert first.members == 1  # Bob: not Ann, who has some, nor the organizer
    with pytest.raises(Exception, match="evidence_reminder_too_soon"):
        await notifications.remind_evidence(s["case"], actor=me, now=datetime.now(UTC) + timedelta(hours=23))
    (item,) = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["ann"])).json()["items"]
    r = await client.delete(f"/api/v1/evidence/{item['id']}", headers=s["ann"])
    assert r.status_code == 204, r.text
    later = await notifications.remind_evidence(
        s["case"], actor=me, now=datetime.now(UTC) + timedelta(hours=25)
    )
    assert later.members == 2
    await drain(worker)
    assert len(await asked(client, s["bob"])) == 2 and len(await asked(client, s["ann"])) == 1
