"""The case pages: /cases/{id} (the public summary for anyone; for members the timeline, the
growth chart, consent to the exact complaint text, their membership) and /me/cases (my cases and
what each needs of me). Members' personal data, the timeline's private parts and the complaint
text never reach anyone else."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chorus.accounts import service as accounts
from chorus.cases import service as cases
from chorus.cases.tables import Membership
from chorus.markdown import render_document
from tests.integration.authorization_support import represent
from tests.integration.test_complaints import png, regulator_id
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, assert_problem, text_of, verified_user

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT = "蓝月卡盟"
ORG = ("欧阳锋", "org-case@example.com", "BM-ORG-20261002", "组织者的私人陈述：付款后店铺失联。")
ANN = ("安妮", "ann-case@example.com", "BM-ANN-20261003", "安妮的私人陈述：客服把我拉黑了。")
OUT = ("路人甲", "out-case@example.com")
ANNOUNCEMENT = ("下周提交投诉", "请大家在周五前上传付款截图。")
FILING_NOTE, FILING_REF = "电话确认：已登记，编号见上。", "SAMR-2026-0042"
UPDATE_NOTE = "12315 客服说本周内转给属地市场监管局。"
PRIVATE = [ORG[0], ORG[1], ORG[2], ORG[3], ANN[0], ANN[1], ANN[2], ANN[3], ANNOUNCEMENT[0], ANNOUNCEMENT[1]]
PRIVATE += [FILING_NOTE, FILING_REF]


async def report(client: Any, who: dict[str, str], person: tuple[str, ...], amount: str, **extra: Any) -> int:
    r = await client.post(
        "/api/v1/reports",
        headers=who,
        json={
            "merchant": {"name": MERCHANT, "identifiers": [{"kind": "qq", "value": "55667788"}]},
            "loss": {"amount": amount, "currency": "CNY"},
            "incident_date": "2026-10-02",
            "order_refs": [person[2]],
            "statement": person[3],
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["case_id"])


async def build(client: Any, s: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": s["regulator"]}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def member_case(client: Any, mailbox: Any, worker: Any, *, filed: bool = True) -> dict[str, Any]:
    """The organizer (with evidence) and Ann (none yet) in one case; the organizer consented and
    built version 1, announced something, and (``filed``) filed it and recorded the regulator's
    answer by hand. Outsider: a verified user in no case."""
    s: dict[str, Any] = {
        "org": await verified_user(client, mailbox, worker, ORG[1], ORG[0]),
        "ann": await verified_user(client, mailbox, worker, ANN[1], ANN[0]),
        "out": await verified_user(client, mailbox, worker, OUT[1], OUT[0]),
        "regulator": await regulator_id(client),
    }
    s["case"] = await report(client, s["org"], ORG, "300.00")
    await report(client, s["ann"], ANN, "120.00", case_id=s["case"])
    r = await client.post(
        f"/api/v1/cases/{s['case']}/evidence",
        headers=s["org"],
        data={"kind": "payment_receipt", "description": "付款截图"},
        files={"file": ("r.png", png(1), "image/png")},
    )
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["org"], json={"consent": True})
    assert r.status_code == 200, r.text
    s["v1"] = await build(client, s)
    r = await client.post(
        f"/api/v1/cases/{s['case']}/announcements",
        headers=s["org"],
        json={"title": ANNOUNCEMENT[0], "body": ANNOUNCEMENT[1]},
    )
    assert r.status_code == 201, r.text
    if filed:  # 12315 expects a representative and the members' authorizations (issue 14 item 7)
        await represent(client, s["case"], s["org"], s["v1"]["id"], s["ann"])
        r = await client.post(
            f"/api/v1/cases/{s['case']}/filings", headers=s["org"], json={"complaint_id": s["v1"]["id"]}
        )
        assert r.status_code == 202, r.text
        r = await client.post(
            f"/api/v1/filings/{r.json()['id']}/events",
            headers=s["org"],
            json={"status": "received", "reference": FILING_REF, "note": FILING_NOTE},
        )
        assert r.status_code == 201, r.text
    return s


async def membership(client: Any, s: dict[str, Any], who: str = "ann") -> dict[str, Any]:
    r = await client.get(f"/api/v1/cases/{s['case']}/membership", headers=s[who])
    assert r.status_code == 200, r.text
    return dict(r.json())


def section(html: str, ident: str) -> str:
    """The page's part with this id, up to the next part (``<section id=`` / ``<div id=``)."""
    start = html.find(f'id="{ident}"')
    assert start >= 0, f"no #{ident} in the page"
    ends = [i for i in (html.find('<section id="', start), html.find('<div id="', start)) if i > 0]
    return html[start : min(ends, default=len(html))]


def forms_posting_to(page: Page, path: str) -> list[dict[str, str | None]]:
    return [f for f in page.forms if f.get("action") == path]


# --- what anyone sees ----------------------------------------------------------------------------


async def test_the_public_sees_the_summary_and_no_one_s_personal_data(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker)
    api = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    for who in (None, s["out"]):  # a visitor, and a signed-in person who is not a member
        await as_user(client, who)
        r = await client.get(f"/cases/{s['case']}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        words = text_of(r.text)
        assert MERCHANT in words and "2 人" in words and "¥420.00" in words
        assert api["status"] == "filing" and "正在投诉" in words  # the status in words
        assert "监管部门已登记" in words  # the filing's status, as the public API lists it
        if who is None:  # the way in for a member, right after its sentence (no space in Chinese)
            assert '登录后可以看到投诉进展和投诉书全文。<a href="/login?next=' in r.text
        for secret in PRIVATE:
            assert secret not in r.text, secret
        assert "complaint-text" not in r.text and "chart.svg" not in r.text
        page = Page(r.text)
        assert not forms_posting_to(page, f"/cases/{s['case']}/consent")
        assert not forms_posting_to(page, f"/cases/{s['case']}/membership")
        assert page.inline == 0 and page.style_attributes == 0
        # shareable: Open Graph says what it is, without anyone's name
        assert MERCHANT in page.meta["og:title"] and "2" in page.meta["og:description"]
        assert all(p not in page.meta["og:description"] for p in PRIVATE)
        assert "/report?name=" in r.text  # the way in for another victim
    # the member parts' own routes refuse outsiders
    await as_user(client, s["out"])
    r = await client.get(f"/cases/{s['case']}/chart.svg")
    assert r.status_code == 403 and "chart" not in r.headers["content-type"]
    await as_user(client, None)
    r = await client.get(f"/cases/{s['case']}/chart.svg")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert (await client.get("/cases/999999")).status_code == 404


async def test_an_outsider_cannot_write_a_membership_or_a_consent(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    await as_user(client, s["out"])
    token = csrf_of(Page((await client.get(f"/cases/{s['case']}")).text))
    r = await client.post(
        f"/cases/{s['case']}/membership",
        data={
            "loss.amount": "1.00",
            "loss.currency": "CNY",
            "incident_date": "2026-10-02",
            "_csrf_token": token,
        },
    )
    assert r.status_code == 403 and ANN[3] not in r.text
    r = await client.post(
        f"/cases/{s['case']}/consent",
        data={"consent": "true", "complaint_id": str(s["v1"]["id"]), "_csrf_token": token},
    )
    assert r.status_code == 403
    assert (await client.get(f"/api/v1/cases/{s['case']}")).json()["member_count"] == 2


# --- what a member sees ----------------------------------------------------------------------------


async def test_a_member_sees_what_needs_them_the_timeline_and_the_chart(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker)
    (filing,) = (await client.get(f"/api/v1/cases/{s['case']}")).json()["filings"]
    r = await client.post(
        f"/api/v1/filings/{filing['id']}/events",
        headers=s["org"],
        json={"note": UPDATE_NOTE, "reference": FILING_REF},
    )
    assert r.status_code == 201, r.text  # news without a new status, the same reference again
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    assert r.status_code == 200
    needs = text_of(section(r.text, "needs"))
    assert "阅读投诉书全文" in needs and "上传证据" in needs
    assert 'href="#consent"' in r.text and 'href="#evidence"' in r.text
    timeline = text_of(section(r.text, "timeline"))
    # newest first: the regulator's answer, the filing, the announcement, the version, the opening
    order = [UPDATE_NOTE, FILING_NOTE, "排队等待提交", ANNOUNCEMENT[0], "投诉书第 1 版", "案件创建"]
    positions = [timeline.index(x) for x in order]
    assert positions == sorted(positions), timeline
    assert FILING_REF in timeline and ANNOUNCEMENT[1] in timeline and "由组织者记录" in timeline
    # the reference is said where the regulator gave it, not again on each later entry
    assert timeline.count(FILING_REF) == 1 and timeline.index(FILING_REF) > timeline.index(UPDATE_NOTE)
    assert "监管部门已登记" in timeline and "案件状态变为：正在投诉" in timeline
    # a version is written for one regulator: the line names it
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    name = next(x["name"] for x in regulators if x["id"] == s["regulator"])
    assert f"组织者写好了致{name}的投诉书第 1 版" in timeline
    assert f"组织者记录了向{name}投诉的进展" in timeline  # the news, not its unchanged status again
    # the newest five lines are shown, the older ones one tap away
    shown, _, folded = section(r.text, "timeline").partition('<details class="timeline-earlier">')
    assert shown.count("<li ") == 5 and UPDATE_NOTE in shown and "案件创建" not in shown
    older = folded.count("<li ")
    assert older >= 2 and f"更早的进展（{older} 条）" in text_of(folded) and "案件创建" in folded
    assert f'src="/cases/{s["case"]}/chart.svg"' in r.text
    growth = text_of(section(r.text, "growth"))
    assert "¥420.00" in growth and "2" in growth  # the data table beside the chart
    # their own details, in the form; not the organizer's
    page = Page(r.text)
    assert page.field("loss.amount") == "120.00"
    assert re.search(r'value="CNY"[^>]*>人民币（CNY）</option>', r.text)  # Chinese brackets in Chinese
    assert ANN[2] in r.text and ANN[3] in r.text
    assert ORG[2] not in r.text and ORG[3] not in r.text and ORG[1] not in r.text
    assert f"/cases/{s['case']}/organize" not in r.text  # organizers only
    # the organizer: the link to organize the case
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}")
    assert f"/cases/{s['case']}/organize" in r.text
    # they agreed before there was a text: asked to confirm on the text; evidence they have
    assert "投诉书有了新版本" in text_of(section(r.text, "needs")) and 'href="#evidence"' not in r.text


async def test_the_growth_chart_is_an_svg_of_aggregates_with_no_script(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}/chart.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert "no-store" in r.headers["cache-control"]
    root = ET.fromstring(r.text)  # well-formed SVG
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "<script" not in r.text and "javascript" not in r.text.lower()
    assert "受害者人数" in r.text and "累计损失（CNY）" in r.text
    assert "420" in r.text  # the cumulative loss (300 + 120)
    for secret in PRIVATE:
        assert secret not in r.text, secret
    # the members' data endpoint of the API agrees: two members, 420.00 in all
    case = (await client.get(f"/api/v1/cases/{s['case']}")).json()
    assert case["member_count"] == 2 and case["total_loss"] == [{"amount": "420.00", "currency": "CNY"}]


async def test_the_growth_is_one_point_a_day_in_the_reader_s_time_zone(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """How the case grew: at the end of each day on which someone joined (in the reader's time
    zone), how many members and how much loss per currency it counted."""
    s = await member_case(client, mailbox, worker, filed=False)
    third = await report(client, s["out"], (*OUT, "BM-OUT-1", ""), "50.00", case_id=s["case"])
    assert third == s["case"]
    ann = await accounts.authenticate(s["ann"]["Authorization"].removeprefix("Bearer "))
    assert ann is not None
    rows = await Membership.select(Membership.id).where(Membership.case == s["case"]).order_by(Membership.id)
    joined = ["2026-10-01T10:00:00+00:00", "2026-10-01T17:00:00+00:00", "2026-10-03T09:00:00+00:00"]
    for row, at in zip(rows, joined, strict=True):
        await Membership.update({Membership.joined_at: datetime.fromisoformat(at)}).where(
            Membership.id == row["id"]
        )
    await Membership.update({Membership.loss_currency: "USD"}).where(Membership.id == rows[2]["id"])

    def points(growth: Any) -> list[tuple[str, int, list[tuple[str, str]]]]:
        return [
            (p.day.isoformat(), p.members, [(m.currency, m.amount) for m in p.losses]) for p in growth.points
        ]

    assert points(await cases.growth(s["case"], actor=ann)) == [
        ("2026-10-01", 2, [("CNY", "420.00")]),
        ("2026-10-03", 3, [("CNY", "420.00"), ("USD", "50.00")]),
    ]
    # 17:00 UTC is 01:00 the next day in Shanghai
    assert points(await cases.growth(s["case"], actor=ann, time_zone=ZoneInfo("Asia/Shanghai"))) == [
        ("2026-10-01", 1, [("CNY", "300.00")]),
        ("2026-10-02", 2, [("CNY", "420.00")]),
        ("2026-10-03", 3, [("CNY", "420.00"), ("USD", "50.00")]),
    ]


# --- my membership ---------------------------------------------------------------------------------


async def test_a_bad_amount_comes_back_on_its_field_and_nothing_changes(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    before = await membership(client, s)
    await as_user(client, s["ann"])
    token = csrf_of(Page((await client.get(f"/cases/{s['case']}")).text))
    form = {
        "loss.amount": "一百块",
        "loss.currency": "CNY",
        "incident_date": "2026-10-05",
        "order_refs": "BM-NEW-1\nBM-NEW-2",
        "statement": "改过的陈述",
        "_csrf_token": token,
    }
    r = await client.post(f"/cases/{s['case']}/membership", data=form)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    amount = next(i for i in page.inputs if i.get("name") == "loss.amount")
    assert amount["aria-invalid"] == "true" and amount["value"] == "一百块"  # what was typed stays
    assert re.search(r'id="f-loss-amount-error"[^>]*>金额不是有效的数字', r.text)
    assert 'id="form-error"' in r.text and "BM-NEW-2" in r.text
    assert await membership(client, s) == before  # nothing written
    # an empty date, an order number too long: each on its own field
    r = await client.post(
        f"/cases/{s['case']}/membership", data={**form, "loss.amount": "99.00", "incident_date": ""}
    )
    assert r.status_code == 422
    assert re.search(r'id="f-incident_date-error"[^>]*>请填写此项', r.text)
    r = await client.post(
        f"/cases/{s['case']}/membership",
        data={**form, "loss.amount": "99.00", "order_refs": "ok\n" + "x" * 101},
    )
    assert r.status_code == 422
    assert re.search(r'id="f-order_refs-error"[^>]*>2: 订单号不能为空', r.text)
    assert await membership(client, s) == before
    # a good edit: saved, back on the page with a notice
    r = await client.post(f"/cases/{s['case']}/membership", data={**form, "loss.amount": "150.50"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{s['case']}#membership"
    after = await membership(client, s)
    assert after["loss"] == {"amount": "150.50", "currency": "CNY"}
    assert after["incident_date"] == "2026-10-05" and after["order_refs"] == ["BM-NEW-1", "BM-NEW-2"]
    assert after["statement"] == "改过的陈述"
    r = await client.get(f"/cases/{s['case']}")
    assert "您的资料已保存" in r.text and Page(r.text).field("loss.amount") == "150.50"


# --- consent -----------------------------------------------------------------------------------------


async def test_consent_shows_the_member_view_of_version_n_and_consents_to_n(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    v1 = s["v1"]
    mine = (await client.get(f"/api/v1/complaints/{v1['id']}", headers=s["ann"])).json()
    assert mine["view"] == "member"
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{s['case']}")
    consent = section(r.text, "consent")
    # the exact text the API gives Ann, rendered as the printable page renders it, in full
    assert render_document(mine["markdown"])[0] in consent
    # Ann has not agreed yet, so she is not named; the organizer is, masked in her view
    assert ORG[3] not in consent and ORG[0] not in consent and ORG[1] not in consent
    assert f"{ORG[0][0]}\\*" in consent or f"{ORG[0][0]}*" in consent
    assert v1["sha256"] in consent
    page = Page(r.text)
    assert len(forms_posting_to(page, f"/cases/{s['case']}/consent")) == 1
    assert page.field("complaint_id") == str(v1["id"])
    # an unticked box: refused on the box, nothing recorded
    token = csrf_of(page)
    r = await client.post(
        f"/cases/{s['case']}/consent", data={"complaint_id": str(v1["id"]), "_csrf_token": token}
    )
    assert r.status_code == 422 and re.search(r'id="f-consent-error"[^>]*>请勾选', r.text)
    assert (await membership(client, s))["consented_at"] is None
    r = await client.post(
        f"/cases/{s['case']}/consent",
        data={"consent": "true", "complaint_id": str(v1["id"]), "_csrf_token": token},
    )
    assert r.status_code == 303
    m = await membership(client, s)
    assert (
        m["consented_at"]
        and m["consented_complaint_id"] == v1["id"]
        and m["consented_sha256"] == v1["sha256"]
    )
    r = await client.get(f"/cases/{s['case']}")
    assert "已记录：您同意" in r.text and "您已于" in text_of(section(r.text, "consent"))
    page = Page(r.text)
    assert page.field("complaint_id") is None  # nothing left to agree to
    assert '<details class="complaint-fold">' in section(r.text, "consent")  # the text, folded away
    assert "阅读投诉书全文" not in text_of(section(r.text, "needs"))
    # withdrawing
    r = await client.post(f"/cases/{s['case']}/consent", data={"consent": "false", "_csrf_token": token})
    assert r.status_code == 303
    m = await membership(client, s)
    assert m["consented_at"] is None and m["consented_complaint_id"] is None
    assert "已撤回您的同意" in (await client.get(f"/cases/{s['case']}")).text


async def test_a_version_built_while_reading_refuses_the_consent(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    await as_user(client, s["ann"])
    page = Page((await client.get(f"/cases/{s['case']}")).text)
    shown = page.field("complaint_id")
    assert shown == str(s["v1"]["id"])
    await as_user(client, None)
    await report(client, s["out"], ("路人甲", "", "BM-OUT-1", "路人的陈述"), "10.00", case_id=s["case"])
    v2 = await build(client, s)  # the new member changes the text: version 2
    await as_user(client, s["ann"])  # back in Ann's browser, the form she had open sent now
    token = csrf_of(Page((await client.get("/me/cases")).text))
    r = await client.post(
        f"/cases/{s['case']}/consent", data={"consent": "true", "complaint_id": shown, "_csrf_token": token}
    )
    assert r.status_code == 409
    assert "您的同意没有记录" in r.text and 'id="form-error"' in r.text
    assert Page(r.text).field("complaint_id") == str(v2["id"])  # the new text, to read and decide
    assert "第 2 版" in section(r.text, "consent")
    assert (await membership(client, s))["consented_at"] is None
    # the API refuses the same way when told which version was read
    r = await client.post(
        f"/api/v1/cases/{s['case']}/consent",
        headers=s["ann"],
        json={"consent": True, "complaint_id": s["v1"]["id"]},
    )
    assert_problem(r, 409, "complaint_version_changed")
    assert (await membership(client, s))["consented_at"] is None


# --- my cases ----------------------------------------------------------------------------------------


async def test_my_cases_says_what_needs_me(client: Any, mailbox: Any, worker: Any) -> None:
    s = await member_case(client, mailbox, worker, filed=False)
    await as_user(client, None)
    r = await client.get("/me/cases")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/me/cases"
    r = await client.get("/me")  # as people type it
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/me"
    await as_user(client, s["out"])
    r = await client.get("/me")
    assert r.status_code == 302 and r.headers["location"] == "/me/cases"
    r = await client.get("/me/cases")
    assert r.status_code == 200 and "您还没有加入任何案件" in r.text
    assert 'href="/"' in r.text and 'href="/report"' in r.text
    await as_user(client, s["ann"])
    r = await client.get("/me/cases")
    words = text_of(r.text)
    assert MERCHANT in words and "正在征集受害者" in words and "¥120.00" in words and "2 人" in words
    assert f'href="/cases/{s["case"]}#consent"' in r.text and f'href="/cases/{s["case"]}#evidence"' in r.text
    assert "有 1 个案件需要您处理" in words
    # the next step of her path to a refund, one tap from its form
    link = re.search(rf'<a href="/cases/{s["case"]}#ladder-next">([^<]*)</a>', r.text)
    assert link and link.group(1) == "你的退款之路，下一步：先向商家书面要求退款"
    # consent given, evidence uploaded: nothing needed any more
    r = await client.post(
        f"/api/v1/cases/{s['case']}/consent",
        headers=s["ann"],
        json={"consent": True, "complaint_id": s["v1"]["id"]},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/cases/{s['case']}/evidence",
        headers=s["ann"],
        data={"kind": "payment_receipt", "description": "安妮的截图"},
        files={"file": ("a.png", png(2), "image/png")},
    )
    assert r.status_code == 201, r.text
    await as_user(client, s["ann"])
    r = await client.get("/me/cases")
    assert "#consent" not in r.text and "#evidence" not in r.text
    assert "目前没有需要您做的事" in text_of(r.text)
    # the merchant step recorded as done: the next one is named
    r = await client.put(
        f"/api/v1/cases/{s['case']}/ladder/cn-merchant", headers=s["ann"], json={"state": "done"}
    )
    assert r.status_code == 200, r.text
    words = text_of((await client.get("/me/cases")).text)
    assert "你的退款之路，下一步：" in words and "先向商家书面要求退款" not in words
    # the organizer's card says so
    await as_user(client, s["org"])
    assert "组织者" in text_of((await client.get("/me/cases")).text)


async def test_the_case_page_in_english(client: Any, mailbox: Any, worker: Any) -> None:
    s = await member_case(client, mailbox, worker)
    await as_user(client, s["ann"])
    r = await client.put("/api/v1/me/preferences", headers=s["ann"], json={"locale": "en"})
    assert r.status_code == 200, r.text
    r = await client.get(f"/cases/{s['case']}")
    page = Page(r.text)
    assert page.lang == "en" and "What needs you now" in r.text and "complaint under way" in r.text
    assert "CN¥420.00" in r.text and "received by the regulator" in r.text
    assert re.search(r'value="CNY"[^>]*>Chinese Yuan \(CNY\)</option>', r.text)
    ladder = text_of(r.text.split('<section id="ladder"', 1)[1].split("</section>", 1)[0])
    assert "Your next step: Ask the merchant for a refund in writing" in ladder
    assert "(from the regulator registry): decides whether to accept: 7 working days" in r.text
    assert "Basis: 《中华人民共和国民法典》 第一百八十八条 (not checked against the official text)" in ladder
    r = await client.get("/me/cases")
    assert Page(r.text).lang == "en" and "My cases" in r.text
    assert "1 of your cases needs you." in text_of(r.text)  # the singular, in English
    assert "Your path to a refund, next step: Ask the merchant for a refund in writing" in text_of(r.text)
