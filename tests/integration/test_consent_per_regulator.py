"""A case filed with two regulators has a latest complaint version for each, and a member agrees
to each text on its own: through the API (``complaint_id``) and on the case page (one form for
the versions they have not agreed to yet). The organizers' pages count each version's own
agreements; a new version of one regulator's complaint asks again for that one only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from chorus.complaints import cache as complaint_cache
from chorus.complaints.tables import Complaint
from tests.integration.test_complaints import regulator_id
from tests.integration.test_pages_case import ANN, ORG, build, member_case, membership, section
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, assert_problem, text_of

pytestmark = pytest.mark.usefixtures("clean")

ADDED = "补充：对方还冒充客服要求再付一次款。"


async def two_regulators(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """The case of ``member_case`` (the organizer agreed before any text; version 1 to 12315),
    and version 1 to a consumer association built after it."""
    s = await member_case(client, mailbox, worker, filed=False)
    s["samr"] = s["regulator"]
    s["ca"] = await regulator_id(client, "consumer_association")
    s["regulator"] = s["ca"]
    s["c1"] = await build(client, s)
    s["regulator"] = s["samr"]
    items = (await client.get("/api/v1/regulators")).json()["items"]
    s["names"] = {r["id"]: r["name"] for r in items}
    return s


async def agree(client: Any, s: dict[str, Any], who: str, complaint_id: int | None = None) -> Any:
    body: dict[str, Any] = {"consent": True}
    if complaint_id is not None:
        body["complaint_id"] = complaint_id
    return await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s[who], json=body)


async def test_each_regulator_s_latest_version_is_agreed_to_on_its_own(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await two_regulators(client, mailbox, worker)
    v1, c1 = s["v1"], s["c1"]
    # Ann read the 12315 version: it is still the latest of its regulator, though not of the case
    r = await agree(client, s, "ann", v1["id"])
    assert r.status_code == 200, r.text
    assert r.json()["consented_complaint_ids"] == [v1["id"]]
    assert (r.json()["consented_complaint_id"], r.json()["consented_sha256"]) == (v1["id"], v1["sha256"])
    # then the consumer association's: both agreements are kept
    r = await agree(client, s, "ann", c1["id"])
    assert r.json()["consented_complaint_ids"] == [v1["id"], c1["id"]]
    assert (r.json()["consented_complaint_id"], r.json()["consented_sha256"]) == (c1["id"], c1["sha256"])

    # a second 12315 version: agreeing to the first one now is refused, and nothing changes
    v2 = await build(client, s)
    assert_problem(await agree(client, s, "ann", v1["id"]), 409, "complaint_version_changed")
    assert_problem(await agree(client, s, "ann", 999999), 409, "complaint_version_changed")
    mine = await membership(client, s)
    assert mine["consented_complaint_ids"] == [v1["id"], c1["id"]]
    assert mine["consented_complaint_id"] == c1["id"]
    # the organizers see which versions each member agreed to
    r = await client.get(f"/api/v1/cases/{s['case']}/members", headers=s["org"])
    rows = {m["display_name"]: m for m in r.json()["items"]}
    assert rows["安妮"]["consented_complaint_ids"] == [v1["id"], c1["id"]]
    assert rows["欧阳锋"]["consented_complaint_ids"] == []  # agreed before any text
    # without complaint_id, a consent agrees to the latest version of each regulator
    r = await agree(client, s, "org")
    assert r.json()["consented_complaint_ids"] == [c1["id"], v2["id"]]
    # withdrawing leaves no agreement at all
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["ann"], json={"consent": False})
    assert r.status_code == 200
    assert (r.json()["consented_at"], r.json()["consented_complaint_ids"]) == (None, [])
    assert r.json()["consented_complaint_id"] is None
    # agreeing again starts afresh: the old 12315 version is not counted again
    r = await agree(client, s, "ann", c1["id"])
    assert r.json()["consented_complaint_ids"] == [c1["id"]]


async def test_the_case_page_asks_for_each_text_and_the_organizers_count_each(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await two_regulators(client, mailbox, worker)
    v1, c1 = s["v1"], s["c1"]
    samr, ca = s["names"][s["samr"]], s["names"][s["ca"]]
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    consent = section(r.text, "consent")
    assert "本案向 2 个监管部门投诉" in text_of(consent)
    assert consent.count('<article class="complaint-text"') == 2  # both texts
    assert f"致{samr}的投诉书第 1 版全文" in consent and f"致{ca}的投诉书第 1 版全文" in consent
    # the newest (the consumer association's) in full; the 12315 text, mostly the same, as how it
    # differs from that one, its full text one tap away
    first, second = consent.split(f'id="consent-version-{v1["id"]}"', 1)
    assert f'id="consent-version-{c1["id"]}"' in first and '<details class="complaint-fold">' not in first
    assert "<ins>" not in first
    differs = second.split('<details class="complaint-fold">', 1)[0]
    assert f"这一份与上面致{ca}的第 1 版大部分相同" in text_of(differs)
    marked = r"<{tag}><span class=\"visually-hidden\">{word}：</span>• 收件单位："  # as read: no "- "
    assert re.search(marked.format(tag="ins", word="新增") + re.escape(samr), differs)
    assert re.search(marked.format(tag="del", word="删除") + re.escape(ca), differs)
    assert f"阅读致{samr}的第 1 版全文" in text_of(second)
    assert consent.count('<details class="complaint-fold">') == 1
    page = Page(r.text)
    shown = [i.get("value") for i in page.inputs if i.get("name") == "complaint_id"]
    assert shown == [str(c1["id"]), str(v1["id"])]  # newest first
    assert "我已阅读上面 2 份投诉书的全文，同意在其中署名" in text_of(consent)
    assert "阅读投诉书全文，决定是否同意署名" in text_of(section(r.text, "needs"))

    token = csrf_of(page)
    r = await client.post(
        f"/cases/{s['case']}/consent",
        content=f"consent=true&complaint_id={c1['id']}&complaint_id={v1['id']}&_csrf_token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 303, r.text
    assert (await membership(client, s))["consented_complaint_ids"] == [v1["id"], c1["id"]]
    r = await client.get(f"/cases/{s['case']}")
    consent = section(r.text, "consent")
    assert "您已同意在下面 2 份投诉书中署名" in text_of(consent)
    # each says it is agreed, right after its sentence: no space after a Chinese full stop
    assert consent.count("。<strong>您已同意这一份</strong>") == 2
    assert Page(r.text).field("complaint_id") is None  # nothing left to agree to
    assert consent.count('<details class="complaint-fold">') == 2
    assert "阅读投诉书全文" not in text_of(section(r.text, "needs"))

    # Ann adds to her statement and a new 12315 version is built: she is asked about that one
    # only, shown what changed since the version 1 she agreed to (as she reads it), the new
    # text in full one click away
    r = await client.patch(
        f"/api/v1/cases/{s['case']}/membership", headers=s["ann"], json={"statement": ADDED}
    )
    assert r.status_code == 200, r.text
    v2 = await build(client, s)
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    consent = section(r.text, "consent")
    assert "有一份投诉书出了新版本" in text_of(consent)
    changes = consent.split(f'id="consent-changes-{v2["id"]}"', 1)[1].split(
        '<details class="complaint-fold">', 1
    )[0]
    assert "与您同意过的第 1 版相比，第 2 版在您能看到的文字里新增" in text_of(changes)
    # her line as she reads it, without the block quote's ">" of the Markdown
    assert re.search(rf"<ins><span class=\"visually-hidden\">新增：</span>{ADDED}</ins>", changes)
    assert ORG[3] not in consent  # the organizer's statement: redacted in her view, in the diff too
    assert f"阅读致{samr}的第 2 版全文" in text_of(consent)
    diff = await client.get(
        f"/api/v1/complaints/{v2['id']}/diff", headers=s["ann"], params={"against": v1["id"]}
    )
    assert diff.status_code == 200 and diff.json()["view"] == "member"
    assert any(line.startswith("+") and ADDED in line for line in diff.json()["diff"].splitlines())
    assert ORG[3] not in diff.json()["diff"]
    full = await client.get(
        f"/api/v1/complaints/{v2['id']}/diff", headers=s["org"], params={"against": v1["id"]}
    )
    assert full.json()["view"] == "full"
    assert_problem(
        await client.get(
            f"/api/v1/complaints/{v2['id']}/diff", headers=s["out"], params={"against": v1["id"]}
        ),
        403,
    )
    page = Page(r.text)
    assert [i.get("value") for i in page.inputs if i.get("name") == "complaint_id"] == [str(v2["id"])]
    assert f"我已阅读上面致{samr}的第 2 版全文，同意在其中署名" in text_of(consent)
    assert f'id="consent-version-{c1["id"]}" data-agreed="true"' in consent
    assert f'id="consent-version-{v2["id"]}" data-agreed="false"' in consent
    assert "投诉书有了新版本：请阅读后再次确认是否同意署名" in text_of(section(r.text, "needs"))
    mine = await client.get("/me/cases")
    assert "投诉书有了新版本" in text_of(mine.text)

    # the organizers: each latest version with its own count, each member's agreement per regulator
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/complaints")
    words = text_of(r.text)
    assert f"最新的是第 2 版（{samr}）：0 / 2 位成员已同意这一版" in words
    assert f"最新的是第 1 版（{ca}）：1 / 2 位成员已同意这一版" in words
    assert r.text.count('class="cv-tag"') == 2  # "latest" on one version of each regulator
    r = await client.get(f"/cases/{s['case']}/organize")
    ann_row = next(row for row in r.text.split("<tr ") if "安妮" in row)
    lines = [text_of(line).strip() for line in ann_row.split('<span class="consent-line">')[1:]]
    assert lines[0].startswith("已同意第 1 版，还没有看过最新版") and samr in lines[0]  # 12315: v2 is new
    assert lines[1].startswith("已同意第 1 版（最新版）") and ca in lines[1]
    # the CSV a regulator asks for: every version each member agreed to, newest first
    r = await client.get(f"/cases/{s['case']}/organize/members.csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    ann_csv = next(row for row in rows if row[1] == "安妮")
    assert ann_csv[-1] == f"第 1 版，{ca}; 第 1 版，{samr}"
    # the reminder is for the latest version of a regulator, even when another is newer
    r = await client.get(f"/cases/{s['case']}/organize/complaints/{c1['id']}")
    assert "只能就致这个监管部门的最新一版提醒成员" not in text_of(r.text)
    r = await client.get(f"/cases/{s['case']}/organize/complaints/{v1['id']}")
    assert "这不是致这个监管部门的最新一版" in text_of(r.text)

    # the form Ann had open before version 2 (versions 1 of both) is refused, and nothing changes
    await as_user(client, s["ann"])
    token = csrf_of(Page((await client.get("/me/cases")).text))
    r = await client.post(
        f"/cases/{s['case']}/consent",
        content=f"consent=true&complaint_id={c1['id']}&complaint_id={v1['id']}&_csrf_token={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 409 and "您的同意没有记录" in r.text
    assert (await membership(client, s))["consented_complaint_ids"] == [v1["id"], c1["id"]]
    # the box left unticked: nothing recorded either
    r = await client.post(
        f"/cases/{s['case']}/consent", data={"complaint_id": str(v2["id"]), "_csrf_token": token}
    )
    assert r.status_code == 422 and "请勾选这一项" in r.text
    r = await client.post(
        f"/cases/{s['case']}/consent",
        data={"consent": "true", "complaint_id": str(v2["id"]), "_csrf_token": token},
    )
    assert r.status_code == 303
    assert (await membership(client, s))["consented_complaint_ids"] == [v1["id"], c1["id"], v2["id"]]


async def test_a_new_version_after_one_without_a_member_view_is_shown_in_full(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Versions built before member views existed cannot be compared as a member reads them:
    the new version's text is shown in full, as it would be to a member who never agreed."""
    s = await member_case(client, mailbox, worker, filed=False)
    r = await client.post(
        f"/api/v1/cases/{s['case']}/consent",
        headers=s["ann"],
        json={"consent": True, "complaint_id": s["v1"]["id"]},
    )
    assert r.status_code == 200, r.text
    await Complaint.update({Complaint.member_view: None}).where(Complaint.id == s["v1"]["id"])
    v2 = await build(client, s)
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    assert r.status_code == 200
    consent = section(r.text, "consent")
    assert f'id="consent-changes-{v2["id"]}"' not in consent and "阅读第 2 版全文" not in text_of(consent)
    assert consent.count('<article class="complaint-text"') == 1  # in full, not folded
    assert '<details class="complaint-fold">' not in consent
    assert Page(r.text).field("complaint_id") == str(v2["id"])


async def test_a_text_to_a_regulator_added_later_shows_what_differs_from_the_one_agreed_to(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Ann agreed to the 12315 text; then the organizers write to a consumer association too.
    She is shown how the new text differs from the one she agreed to, its full text folded,
    and agrees to it with the one form."""
    s = await member_case(client, mailbox, worker, filed=False)
    r = await agree(client, s, "ann", s["v1"]["id"])
    assert r.status_code == 200, r.text
    samr = s["regulator"]
    s["regulator"] = await regulator_id(client, "consumer_association")
    c1 = await build(client, s)
    names = {r["id"]: r["name"] for r in (await client.get("/api/v1/regulators")).json()["items"]}
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    assert r.status_code == 200
    consent = section(r.text, "consent")
    assert "多了一份致另一个监管部门的投诉书" in text_of(consent)
    differs = consent.split(f'id="consent-changes-{c1["id"]}"', 1)[1].split(
        '<details class="complaint-fold">', 1
    )[0]
    assert f"这一份与您已同意的致{names[samr]}的第 1 版大部分相同" in text_of(differs)
    assert f'<ins><span class="visually-hidden">新增：</span>• 收件单位：{names[s["regulator"]]}' in differs
    assert consent.count('<details class="complaint-fold">') == 2  # both texts folded
    assert f"阅读致{names[s['regulator']]}的第 1 版全文" in text_of(consent)
    page = Page(r.text)
    assert page.field("complaint_id") == str(c1["id"])
    r = await client.post(
        f"/cases/{s['case']}/consent",
        data={"consent": "true", "complaint_id": str(c1["id"]), "_csrf_token": csrf_of(page)},
    )
    assert r.status_code == 303, r.text
    assert (await membership(client, s))["consented_complaint_ids"] == [s["v1"]["id"], c1["id"]]


async def test_a_text_too_long_for_the_page_is_linked_and_its_changes_are_those_all_members_read(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case of hundreds of members has a complaint of megabytes: the case page says how long
    it is and links to the member's own printable page instead of carrying it, and what changed
    since the version she agreed to is compared as every member who is not named reads it (one
    comparison for the crowd), which the page says. Shorter texts are as before."""
    s = await member_case(client, mailbox, worker, filed=False)
    r = await agree(client, s, "ann", s["v1"]["id"])
    assert r.status_code == 200, r.text
    r = await client.patch(
        f"/api/v1/cases/{s['case']}/membership", headers=s["ann"], json={"statement": ADDED}
    )
    assert r.status_code == 200, r.text
    v2 = await build(client, s)
    mine = (await client.get(f"/api/v1/complaints/{v2['id']}", headers=s["ann"])).json()
    assert mine["view"] == "member" and ADDED in mine["markdown"]

    monkeypatch.setattr(complaint_cache, "INLINE_AT_MOST", 200)  # a text of 250 members, in short
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    assert r.status_code == 200
    consent = section(r.text, "consent")
    assert '<article class="complaint-text"' not in consent
    said = re.search(r"这份投诉书全文共 ([\d,]+) 个字符，太长，不在本页显示。", text_of(consent))
    full = (await client.get(f"/api/v1/complaints/{v2['id']}", headers=s["org"])).json()
    assert said is not None and int(said.group(1).replace(",", "")) == len(full["markdown"])  # as filed
    assert (
        f'<a href="/api/v1/complaints/{v2["id"]}/html">在单独的页面阅读第 2 版全文（可打印）</a>' in consent
    )
    printable = await client.get(f"/api/v1/complaints/{v2['id']}/html")
    assert printable.status_code == 200 and ADDED in printable.text and ORG[3] not in printable.text
    changes = consent.split(f'id="consent-changes-{v2["id"]}"', 1)[1].split(
        '<details class="complaint-fold">', 1
    )[0]
    assert "全文很长，以下变化按未署名成员看到的文本列出" in text_of(changes)
    assert "<ins>" in changes  # the version's own number and date changed, as everyone reads it
    assert ADDED not in changes and ANN[0] not in changes  # her own pieces: hidden in that text
    assert Page(r.text).field("complaint_id") == str(v2["id"])  # and she can still agree
    # the organizer reads the full text: on its page too, said so
    await as_user(client, s["org"])
    consent = section((await client.get(f"/cases/{s['case']}")).text, "consent")
    assert '<article class="complaint-text"' not in consent and "全文很长" not in text_of(consent)
    assert f'<a href="/api/v1/complaints/{v2["id"]}/html">' in consent
    assert "这是完整文本，与提交给监管部门的一字不差。" in text_of(consent)
    await as_user(client, s["ann"])

    monkeypatch.undo()  # the limit as shipped: this text is short
    r = await client.get(f"/cases/{s['case']}")
    consent = section(r.text, "consent")
    assert consent.count('<article class="complaint-text"') == 1 and "complaint-too-long" not in consent
    assert "全文很长" not in text_of(consent)
    assert re.search(rf"<ins><span class=\"visually-hidden\">新增：</span>{ADDED}</ins>", consent)
