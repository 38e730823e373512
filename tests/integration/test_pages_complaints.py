"""The organizer console's complaint versions and announcements (chorus.complaints.pages,
chorus.notifications.pages.announcements): an organizer builds a version for a regulator of the
registry, sees it listed with who agreed to it, reads its whole text, sees what changed after a
member edited their statement, reminds the members who have not agreed (once a day: a second
reminder is refused in words), downloads it; writes an announcement previewed through the
sanitizer and posted to every member. Refusals are said in words and write nothing; plain
members and outsiders get the 403 page, visitors the login page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chorus.accounts.schemas import UserRead
from chorus.complaints import cache as complaint_cache
from chorus.notifications import service as notifications
from chorus.notifications.tables import NotifyEvent
from tests.integration.notify_support import drain
from tests.integration.test_complaints import regulator_id
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, text_of, verified_user

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT = "星河数码"
ORG = ("欧阳锋", "org-cv@example.com", "组织者的陈述：付款后店铺失联。")
ANN = ("安妮", "ann-cv@example.com", "安妮的陈述：客服收款后把我拉黑了。")
BOB = ("鲍勃", "bob-cv@example.com", "鲍勃的陈述：订单一直显示待发货。")
OUT = ("路人甲", "out-cv@example.com")
NEW_STATEMENT = "安妮补充：对方还冒充平台客服索要验证码。"


# --- helpers ---------------------------------------------------------------------------------------


def part(html: str, ident: str) -> str:
    """The element with this id up to the next element with an id at a section's level."""
    start = html.find(f'id="{ident}"')
    assert start >= 0, f"no #{ident} in the page"
    ends = [i for i in (html.find("<section", start), html.find('<div class="cv-group"', start + 1)) if i > 0]
    return html[start : min(ends, default=len(html))]


async def token(client: Any, path: str) -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(Page(r.text))


async def inbox(client: Any, who: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/notifications", headers=who)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def versions(client: Any, s: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.get(f"/api/v1/cases/{s['case']}/complaints", headers=s["org"])
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def a_case(client: Any, mailbox: Any, worker: Any, *, consent: bool = True) -> dict[str, Any]:
    """The organizer (who agreed to be named before any text existed: ``consent``), Ann and Bob
    (members who have not agreed yet) in one case; Out is verified and in no case."""
    s: dict[str, Any] = {
        "org": await verified_user(client, mailbox, worker, ORG[1], ORG[0]),
        "ann": await verified_user(client, mailbox, worker, ANN[1], ANN[0]),
        "bob": await verified_user(client, mailbox, worker, BOB[1], BOB[0]),
        "out": await verified_user(client, mailbox, worker, OUT[1], OUT[0]),
        "regulator": await regulator_id(client),
    }
    items = (await client.get("/api/v1/regulators")).json()["items"]
    s["regulator_name"] = next(r["name"] for r in items if r["id"] == s["regulator"])
    for who, person, amount in (("org", ORG, "300.00"), ("ann", ANN, "120.00"), ("bob", BOB, "80.00")):
        body = {
            "merchant": {"name": MERCHANT, "identifiers": [{"kind": "qq", "value": "66778899"}]},
            "loss": {"amount": amount, "currency": "CNY"},
            "incident_date": "2026-10-02",
            "statement": person[2],
            **({"case_id": s["case"]} if "case" in s else {}),
        }
        r = await client.post("/api/v1/reports", headers=s[who], json=body)
        assert r.status_code == 201, r.text
        s["case"] = r.json()["case_id"]
    if consent:
        r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["org"], json={"consent": True})
        assert r.status_code == 200, r.text
    s["base"] = f"/cases/{s['case']}/organize/complaints"
    mailbox.clear()
    return s


async def build_in_page(client: Any, s: dict[str, Any], worker: Any) -> int:
    """The organizer presses "build" on the versions page: the new version's id."""
    await as_user(client, s["org"])
    csrf = await token(client, s["base"])
    r = await client.post(s["base"], data={"regulator_id": str(s["regulator"]), "_csrf_token": csrf})
    assert r.status_code == 303, r.text
    found = re.fullmatch(rf"{s['base']}/(\d+)", r.headers["location"])
    assert found, r.headers["location"]
    await worker()  # the printable page is rendered ahead by a job
    return int(found[1])


async def consent(client: Any, s: dict[str, Any], who: str) -> None:
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s[who], json={"consent": True})
    assert r.status_code == 200, r.text


# --- building, listing, reading -----------------------------------------------------------------


async def test_an_organizer_builds_a_version_sees_it_listed_and_reads_it(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    await as_user(client, s["org"])
    r = await client.get(s["base"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    words = text_of(r.text)
    assert "还没有生成过投诉书" in words and "现在有 1 位成员同意署名（共 3 位）" in words
    page = Page(r.text)
    assert page.inline == 0 and page.style_attributes == 0
    (select,) = [i for i in page.inputs if i.get("name") == "regulator_id"]
    assert select["tag"] == "select" and f'value="{s["regulator"]}"' in r.text
    assert s["regulator_name"] in r.text
    assert 'aria-current="page"' in r.text and f'href="{s["base"]}" aria-current="page"' in r.text

    v1 = await build_in_page(client, s, worker)
    r = await client.get(f"{s['base']}/{v1}")
    assert r.status_code == 200
    assert "第 1 版已生成" in text_of(r.text)  # the notice after the redirect, once
    facts = text_of(part(r.text, "version-title"))
    assert "草稿（还没有提交）" in facts and "署名成员 1 位" in facts
    (brief,) = await versions(client, s)
    assert brief["id"] == v1 and brief["sha256"] in r.text
    # the whole text as the regulator reads it, in the console's layout (no frame, no script)
    text = text_of(part(r.text, "text"))
    assert ORG[2] in text and ORG[0] in text
    assert ANN[2] not in text and BOB[2] not in text  # not agreed: not named
    assert "<iframe" not in r.text and Page(r.text).inline == 0 and Page(r.text).style_attributes == 0
    # who agreed: the organizer agreed before there was a text; Ann and Bob not at all
    assert "0 / 3 位成员读过并同意了这一版的全文" in text_of(r.text)
    assert ORG[0] in text_of(part(r.text, "consents-other")) and "在还没有投诉书时同意的" in r.text
    none = text_of(part(r.text, "consents-none"))
    assert ANN[0] in none and BOB[0] in none and "还没有同意（2 位）" in none
    # the downloads are the API's own routes, and they answer the organizer's browser
    page_link, bundle_link = f"/api/v1/complaints/{v1}/html", f"/api/v1/complaints/{v1}/bundle"
    assert f'href="{page_link}"' in r.text and f'href="{bundle_link}"' in r.text
    printable = await client.get(page_link)
    assert printable.status_code == 200 and ORG[2] in printable.text
    bundle = await client.get(bundle_link)
    assert bundle.status_code == 200 and bundle.content[:2] == b"PK"
    assert "这是本案的第一版" in text_of(part(r.text, "changes"))

    # the list: the version, its regulator, draft, and no one agreed to this exact text yet
    r = await client.get(s["base"])
    row = text_of(part(r.text, f"version-{v1}"))
    assert "第 1 版" in row and "最新" in row and s["regulator_name"] in row
    assert "草稿（还没有提交）" in row and "0 / 3 位" in row
    assert "最新的是第 1 版" in text_of(r.text)
    # Ann agrees (to version 1): the list and the version page count her
    await consent(client, s, "ann")
    r = await client.get(s["base"])
    assert "1 / 3 位" in text_of(part(r.text, f"version-{v1}"))
    r = await client.get(f"{s['base']}/{v1}")
    assert ANN[0] in text_of(part(r.text, "consents-agreed"))
    assert ANN[0] not in text_of(part(r.text, "consents-none"))


async def test_a_text_too_long_for_the_page_is_linked_to_its_printable_page(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version of a case of hundreds of members is megabytes of text: its page says how long
    it is and links to the printable page, where the organizer reads it whole."""
    s = await a_case(client, mailbox, worker)
    await as_user(client, s["org"])
    v1 = await build_in_page(client, s, worker)
    monkeypatch.setattr(complaint_cache, "INLINE_AT_MOST", 200)
    r = await client.get(f"{s['base']}/{v1}")
    assert r.status_code == 200
    text = part(r.text, "text")
    assert '<article class="cv-complaint"' not in text and ORG[2] not in text and "目录" not in text_of(text)
    full = (await client.get(f"/api/v1/complaints/{v1}")).json()["markdown"]
    said = re.search(r"全文共 ([\d,]+) 个字符，太长，不在本页显示。", text_of(text))
    assert said is not None and int(said.group(1).replace(",", "")) == len(full)
    assert f'<a href="/api/v1/complaints/{v1}/html">在可打印的页面阅读全文</a>' in text
    printable = await client.get(f"/api/v1/complaints/{v1}/html")
    assert printable.status_code == 200 and ORG[2] in printable.text
    assert "0 / 3 位成员读过并同意了这一版的全文" in text_of(r.text)  # the rest of the page as before
    monkeypatch.undo()
    text = part((await client.get(f"{s['base']}/{v1}")).text, "text")
    assert '<article class="cv-complaint"' in text and ORG[2] in text_of(text)


async def test_a_build_refused_says_why_on_the_form_and_builds_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker, consent=False)
    await as_user(client, s["org"])
    csrf = await token(client, s["base"])
    assert "还没有成员同意署名，所以还不能生成投诉书" in text_of((await client.get(s["base"])).text)
    # no regulator chosen: on its field
    r = await client.post(s["base"], data={"regulator_id": "", "_csrf_token": csrf})
    assert r.status_code == 422
    assert 'id="f-regulator_id-error"' in r.text and "请填写" in text_of(r.text)
    # a regulator that is not in the registry
    r = await client.post(s["base"], data={"regulator_id": "987654", "_csrf_token": csrf})
    assert r.status_code == 404 and 'id="f-regulator_id-error"' in r.text
    # nobody agreed to be named yet: 409 in words, above the form
    r = await client.post(s["base"], data={"regulator_id": str(s["regulator"]), "_csrf_token": csrf})
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert "还没有任何成员同意在联合投诉中具名（共 3 名成员）" in text_of(r.text)
    assert f'value="{s["regulator"]}" selected' in r.text  # the choice kept
    assert await versions(client, s) == []
    # without the form's token: refused, nothing built
    r = await client.post(s["base"], data={"regulator_id": str(s["regulator"])})
    assert r.status_code == 403 and await versions(client, s) == []


async def test_the_diff_shows_what_a_member_changed_marked_in_words(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    await consent(client, s, "ann")  # Ann is named, with her statement
    v1 = await build_in_page(client, s, worker)
    await consent(client, s, "bob")  # Bob agrees to the text of version 1
    r = await client.patch(
        f"/api/v1/cases/{s['case']}/membership", headers=s["ann"], json={"statement": NEW_STATEMENT}
    )
    assert r.status_code == 200, r.text
    v2 = await build_in_page(client, s, worker)
    # the new version's page links to its changes against version 1
    r = await client.get(f"{s['base']}/{v2}")
    assert f'href="{s["base"]}/{v2}/diff"' in r.text
    assert "与第 1 版" in text_of(part(r.text, "changes"))
    # Bob agreed to version 1, Ann before there was a text: neither to this one
    other = text_of(part(r.text, "consents-other"))
    assert f"{BOB[0]} 同意的是第 1 版（{s['regulator_name']}）" in other
    assert f"{ANN[0]} 在还没有投诉书时同意的" in other
    r = await client.get(f"{s['base']}/{v2}/diff")
    assert r.status_code == 200
    words = text_of(r.text)
    assert "从第 1 版" in words and "到第 2 版" in words
    added = re.findall(r'<div class="cv-line cv-add">(.*?)</div>', r.text)
    removed = re.findall(r'<div class="cv-line cv-del">(.*?)</div>', r.text)
    assert any(NEW_STATEMENT in text_of(x) for x in added), added
    assert any(ANN[2] in text_of(x) for x in removed), removed
    # marked by a sign and a word for screen readers, not by colour alone
    assert all("<ins>" in x and "新增：" in x and ">+</span>" in x for x in added)
    assert all("<del>" in x and "删除：" in x and ">−</span>" in x for x in removed)
    assert re.search(r"新增 \d+ 行，删除 \d+ 行", words)
    assert not any(ORG[2] in text_of(x) for x in added + removed)  # unchanged: context at most
    # compared the other way round, by choice; a version of no case here is a 404 page
    r = await client.get(f"{s['base']}/{v1}/diff", params={"against": v2})
    assert r.status_code == 200
    assert any(NEW_STATEMENT in text_of(x) for x in re.findall(r'cv-del">(.*?)</div>', r.text))
    assert (await client.get(f"{s['base']}/{v2}/diff", params={"against": 999999})).status_code == 404
    assert (await client.get(f"{s['base']}/{v2}/diff", params={"against": v2})).status_code == 404
    # the first version has nothing to compare with
    r = await client.get(f"{s['base']}/{v1}/diff")
    assert r.status_code == 200 and "第 1 版是本案的第一版" in text_of(r.text)


async def test_a_version_of_another_case_is_not_found_here(client: Any, mailbox: Any, worker: Any) -> None:
    s = await a_case(client, mailbox, worker)
    v1 = await build_in_page(client, s, worker)
    # Out opens a case of their own: their console does not show the other case's version
    r = await client.post(
        "/api/v1/reports",
        headers=s["out"],
        json={
            "merchant": {"name": "另一家店", "identifiers": [{"kind": "qq", "value": "11223344"}]},
            "loss": {"amount": "10.00", "currency": "CNY"},
            "incident_date": "2026-10-02",
        },
    )
    other = r.json()["case_id"]
    await as_user(client, s["out"])
    for path in (f"/cases/{other}/organize/complaints/{v1}", f"/cases/{other}/organize/complaints/{v1}/diff"):
        r = await client.get(path)
        assert r.status_code in (403, 404) and ORG[2] not in r.text, path


# --- consents and the reminder -------------------------------------------------------------------


async def test_the_reminder_goes_only_to_those_who_have_not_agreed_and_not_twice_a_day(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    v1 = await build_in_page(client, s, worker)
    await consent(client, s, "ann")  # Ann agreed to version 1; Bob has not; the organizer sends it
    await drain(worker)
    mailbox.clear()
    before = {who: len(await inbox(client, s[who])) for who in ("org", "ann", "bob")}
    await as_user(client, s["org"])
    r = await client.get(f"{s['base']}/{v1}")
    remind = text_of(part(r.text, "remind"))
    assert "还没有同意这一版的 1 位成员" in remind
    csrf = csrf_of(Page(r.text))
    r = await client.post(f"{s['base']}/{v1}/remind", data={"_csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{s['base']}/{v1}#remind"
    # the notice is in the reminder's box, where the browser lands
    assert "已提醒 1 位成员" in text_of(part((await client.get(r.headers["location"])).text, "remind"))
    await drain(worker)  # the fan-out, then the e-mail it queued
    after = {who: await inbox(client, s[who]) for who in ("org", "ann", "bob")}
    assert len(after["ann"]) == before["ann"] and len(after["org"]) == before["org"]
    (asked,) = [n for n in after["bob"] if n["kind"] == "case.consent_requested"]
    assert asked["case_id"] == s["case"] and asked["data"]["complaint_id"] == v1
    assert asked["data"]["reason"] == "reminder" and asked["data"]["version"] == 1
    (mail,) = mailbox.to(BOB[1])
    assert "第 1 版等待你的同意" in mail["Subject"]
    assert not mailbox.to(ANN[1]) and not mailbox.to(ORG[1])
    # the inbox page says it in words
    await as_user(client, s["bob"])
    assert "第 1 版等待你的同意" in text_of((await client.get("/notifications")).text)

    # the page says when, and offers no second reminder within the day
    await as_user(client, s["org"])
    r = await client.get(f"{s['base']}/{v1}")
    remind = part(r.text, "remind")
    assert "上次提醒" in text_of(remind) and "24 小时内只能提醒一次" in text_of(remind)
    assert f'action="{s["base"]}/{v1}/remind"' not in r.text
    # a second reminder posted anyway (an old tab): refused in words, nobody told again
    r = await client.post(f"{s['base']}/{v1}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 409 and 'id="form-error"' in r.text
    assert "24 小时内已经提醒过一次" in text_of(r.text) and "小时后再提醒" in text_of(r.text)
    await worker()
    assert len([n for n in await inbox(client, s["bob"]) if n["kind"] == "case.consent_requested"]) == 1
    assert len(mailbox.to(BOB[1])) == 1


async def test_reminders_are_for_the_latest_version_and_someone_to_remind(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    v1 = await build_in_page(client, s, worker)
    v2 = await build_in_page(client, s, worker)
    await as_user(client, s["org"])
    r = await client.get(f"{s['base']}/{v1}")
    words = text_of(r.text)
    assert "这不是致这个监管部门的最新一版" in words and "只能就致这个监管部门的最新一版提醒成员" in words
    assert f'href="{s["base"]}/{v2}"' in r.text
    r = await client.post(f"{s['base']}/{v1}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 409 and "第 1 版已经不是致这个监管部门的最新投诉书" in text_of(r.text)
    # everyone else agrees to version 2: no one is left to remind
    await consent(client, s, "ann")
    await consent(client, s, "bob")
    r = await client.get(f"{s['base']}/{v2}")
    assert "除你以外，所有成员都已同意这一版" in text_of(r.text)
    r = await client.post(f"{s['base']}/{v2}/remind", data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 409 and "不需要再提醒" in text_of(r.text)
    assert not await NotifyEvent.select().where(NotifyEvent.source.like("consent-reminder:%"))


async def test_a_day_later_the_members_may_be_reminded_again(client: Any, mailbox: Any, worker: Any) -> None:
    """The service's rule (``notifications.remind_consent``): one reminder per version within 24 hours."""
    s = await a_case(client, mailbox, worker)
    v1 = await build_in_page(client, s, worker)
    me = UserRead.model_validate((await client.get("/api/v1/me", headers=s["org"])).json())
    first = await notifications.remind_consent(v1, actor=me)
    assert first.members == 2  # Ann and Bob, not the organizer
    soon = datetime.now(UTC) + timedelta(hours=23)
    with pytest.raises(Exception, match="consent_reminder_too_soon"):
        await notifications.remind_consent(v1, actor=me, now=soon)
    later = await notifications.remind_consent(v1, actor=me, now=datetime.now(UTC) + timedelta(hours=25))
    assert later.members == 2
    await worker()
    asked = [n for n in await inbox(client, s["bob"]) if n["kind"] == "case.consent_requested"]
    assert len(asked) == 2
    # a plain member may not remind anyone
    ann = UserRead.model_validate((await client.get("/api/v1/me", headers=s["ann"])).json())
    with pytest.raises(Exception, match="organizers_only"):
        await notifications.remind_consent(v1, actor=ann, now=datetime.now(UTC) + timedelta(days=3))


# --- announcements -------------------------------------------------------------------------------


async def test_an_announcement_is_previewed_sanitized_and_reaches_every_member(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    path = f"/cases/{s['case']}/organize/announcements"
    await as_user(client, s["org"])
    r = await client.get(path)
    assert r.status_code == 200 and "还没有发布过公告" in text_of(r.text)
    assert "发布给全体 3 位成员" in text_of(r.text)
    csrf = csrf_of(Page(r.text))
    hostile = "请**周五前**上传截图。<script>alert(1)</script> [点我](javascript:alert(2))"
    # htmx: the fragment alone, through the sanitizer
    r = await client.post(
        f"{path}/preview",
        data={"title": "提交前的准备", "body": hostile, "_csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert "<strong>周五前</strong>" in r.text and "提交前的准备" in r.text
    assert "<script" not in r.text and "javascript:" not in r.text
    # without JavaScript: the whole form again, with the preview and what was typed; nothing posted
    r = await client.post(
        path, data={"title": "提交前的准备", "body": hostile, "_action": "preview", "_csrf_token": csrf}
    )
    assert r.status_code == 200 and "<strong>周五前</strong>" in part(r.text, "announcement-preview")
    assert "alert(1)</script>" not in r.text.replace("&lt;script&gt;alert(1)&lt;/script&gt;", "")
    assert Page(r.text).field("title") == "提交前的准备"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text  # the text as typed, in the box
    announced = await client.get(f"/api/v1/cases/{s['case']}/announcements", headers=s["org"])
    assert announced.json()["items"] == []
    # an empty title: on its field, nothing posted
    r = await client.post(path, data={"title": " ", "body": "正文", "_csrf_token": csrf})
    assert r.status_code == 422 and 'id="f-title-error"' in r.text and "请填写" in text_of(r.text)
    assert Page(r.text).field("title") is not None and "正文" in r.text
    announced = await client.get(f"/api/v1/cases/{s['case']}/announcements", headers=s["org"])
    assert announced.json()["items"] == []
    # posted: every member hears of it, and the page lists it
    r = await client.post(path, data={"title": "提交前的准备", "body": hostile, "_csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == path
    assert "公告已发布，3 位成员会收到通知" in text_of((await client.get(path)).text)
    await drain(worker)
    for who in ("ann", "bob"):
        (n,) = [n for n in await inbox(client, s[who]) if n["kind"] == "case.announcement"]
        assert n["data"]["title"] == "提交前的准备"
    assert mailbox.to(ANN[1]) and mailbox.to(BOB[1])
    assert not [n for n in await inbox(client, s["out"]) if n["kind"] == "case.announcement"]
    await as_user(client, s["org"])
    r = await client.get(path)
    listed = part(r.text, "past")
    assert "提交前的准备" in listed and "<strong>周五前</strong>" in listed and "<script" not in listed


# --- who may ---------------------------------------------------------------------------------------


async def test_plain_members_and_outsiders_get_the_403_page_and_change_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    v1 = await build_in_page(client, s, worker)
    base = s["base"]
    ann_path = f"/cases/{s['case']}/organize/announcements"
    gets = [base, f"{base}/{v1}", f"{base}/{v1}/diff", ann_path]
    for who in ("ann", "out"):
        await as_user(client, s[who])
        csrf = await token(client, f"/cases/{s['case']}")
        for path in gets:
            r = await client.get(path)
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/html"), (who, path)
            assert ORG[2] not in r.text and ORG[1] not in r.text, (who, path)
        posts = [
            (base, {"regulator_id": str(s["regulator"])}),
            (f"{base}/{v1}/remind", {}),
            (ann_path, {"title": "假公告", "body": "假正文"}),
            (f"{ann_path}/preview", {"title": "假公告", "body": "**假正文**"}),
        ]
        for path, data in posts:
            r = await client.post(path, data={**data, "_csrf_token": csrf})
            assert r.status_code == 403, (who, path, r.status_code)
            assert "<strong>假正文</strong>" not in r.text
    assert len(await versions(client, s)) == 1
    r = await client.get(f"/api/v1/cases/{s['case']}/announcements", headers=s["org"])
    assert r.json()["items"] == []
    assert not await NotifyEvent.select().where(NotifyEvent.source.like("consent-reminder:%"))
    # a visitor: to the login page and back
    await as_user(client, None)
    for path in gets:
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/cases/"), path
