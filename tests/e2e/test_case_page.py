"""The case pages in a real browser: /me/cases (empty, and with a case that needs its member) and
/cases/{id} (public, and for a member on a phone: edit the loss, read the complaint text and
consent to it), in zh-CN and en."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from typing import Any

from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import LiveApp, User, login_browser, look, report, verified_user, watch_of
from tests.integration.cases_support import ident, report_body


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (20, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def seeded_case(app: LiveApp) -> dict[str, Any]:
    """An organizer (with evidence, consented, version 1 built and filed, an announcement and the
    regulator's answer recorded) and Ann, a plain member who has done nothing yet."""
    suffix = secrets.token_hex(3)
    merchant = f"蓝月卡盟{suffix}"
    qq = str(10_000_000 + secrets.randbelow(89_999_999))
    org = verified_user(app, name="欧阳锋")
    ann = verified_user(app, name="安妮")
    case_id = report(
        app,
        org,
        report_body(
            merchant, [ident("qq", qq)], amount="300.00", order_refs=["BM-ORG-1"], statement="付款后失联。"
        ),
    )["case_id"]
    report(
        app,
        ann,
        report_body(
            merchant,
            [ident("qq", qq)],
            amount="120.00",
            case_id=case_id,
            order_refs=["BM-ANN-7"],
            statement="客服收款后把我拉黑了。",
        ),
    )
    with app.api() as api:
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=org.headers,
                data={"kind": "payment_receipt", "description": "付款截图"},
                files={"file": ("r.png", png(), "image/png")},
            ),
            201,
        )
        ok(api.post(f"/api/v1/cases/{case_id}/consent", headers=org.headers, json={"consent": True}))
        regulators = ok(api.get("/api/v1/regulators"))["items"]
        regulator = next(r["id"] for r in regulators if r["template_kind"] == "samr")
        v1 = ok(
            api.post(
                f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": regulator}
            ),
            201,
        )
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/announcements",
                headers=org.headers,
                json={"title": "本周五提交投诉", "body": "请大家**周四前**上传付款截图。"},
            ),
            201,
        )
        # the organizer is the case's representative: 12315 expects one (issue 14 item 7)
        ok(api.post(f"/api/v1/cases/{case_id}/representative/candidacy", headers=org.headers), 201)
        org_id = ok(api.get("/api/v1/me", headers=org.headers))["id"]
        vote = {"candidate_id": org_id}
        ok(api.put(f"/api/v1/cases/{case_id}/representative/vote", headers=org.headers, json=vote))
        filing = ok(
            api.post(
                f"/api/v1/cases/{case_id}/filings", headers=org.headers, json={"complaint_id": v1["id"]}
            ),
            202,
        )
        ok(
            api.post(
                f"/api/v1/filings/{filing['id']}/events",
                headers=org.headers,
                json={"status": "received", "reference": "SAMR-2026-0042", "note": "电话确认：已登记。"},
            ),
            201,
        )
    return {"case": case_id, "merchant": merchant, "org": org, "ann": ann, "v1": v1}


def in_english(app: LiveApp, user: User) -> None:
    with app.api() as api:
        ok(api.put("/api/v1/me/preferences", headers=user.headers, json={"locale": "en"}))


def test_my_cases_empty_then_with_a_case(
    page: Page, live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    newcomer = verified_user(live_app, name="李雷")
    login_browser(page.context, live_app, newcomer)
    page.goto("/me/cases")
    expect(page.get_by_role("heading", level=1)).to_have_text("我的案件")
    expect(page.get_by_role("button", name="查一查商家")).to_be_visible()
    look(page, "me-cases-empty")
    in_english(live_app, newcomer)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("My cases")
    look(page, "me-cases-empty-en")

    s = seeded_case(live_app)
    other = new_context()
    login_browser(other, live_app, s["ann"])
    mine = other.new_page()
    mine.goto("/me/cases")
    expect(mine.get_by_role("link", name=s["merchant"]).first).to_be_visible()
    expect(mine.get_by_role("link", name="阅读投诉书全文，决定是否同意署名")).to_be_visible()
    look(mine, "me-cases")
    in_english(live_app, s["ann"])
    mine.reload()
    expect(
        mine.get_by_role("link", name="Read the complaint and decide whether to be named in it")
    ).to_be_visible()
    look(mine, "me-cases-en")


def test_the_public_case_page(
    page: Page, live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    s = seeded_case(live_app)
    page.goto(f"/cases/{s['case']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(s["merchant"])
    expect(page.get_by_role("button", name="举报并加入")).to_be_visible()
    expect(page.locator("#consent")).to_have_count(0)
    assert "安妮" not in page.content() and "客服收款后把我拉黑了" not in page.content()
    look(page, "case-public")
    visitor = new_context(locale="en").new_page()
    visitor.goto(f"/cases/{s['case']}")
    expect(visitor.get_by_role("button", name="Report and join")).to_be_visible()
    look(visitor, "case-public-en")


def test_a_member_edits_their_loss_and_consents_to_the_text_on_a_phone(page: Page, live_app: LiveApp) -> None:
    s = seeded_case(live_app)
    login_browser(page.context, live_app, s["ann"])
    shown = page.goto(f"/cases/{s['case']}")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    expect(page.get_by_role("button", name="退出")).to_be_visible()  # signed in
    expect(page.locator("#needs")).to_contain_text("阅读投诉书全文")
    expect(page.locator("#timeline")).to_contain_text("电话确认：已登记。")
    expect(page.locator("#growth img")).to_be_visible()
    # none of her evidence yet: on the phone the upload form comes before the chart and the text
    upload, chart = page.locator("#ev-upload").bounding_box(), page.locator("#growth").bounding_box()
    consent = page.locator("#consent").bounding_box()
    assert upload and chart and consent and upload["y"] < chart["y"] < consent["y"], (upload, chart)
    assert upload["y"] < 2 * 844, upload  # within her first two screens, not four down
    look(page, "case-member")

    # the loss: a typo first, refused on its field, then the right amount
    page.get_by_label("损失金额").fill("150,50元")
    page.get_by_role("button", name="保存我的资料").click()
    expect(page.locator("#f-loss-amount-error")).to_be_visible()
    expected = [p for p in watch_of(page).take() if "status of 422" not in p]  # the form's answer
    assert not expected, expected
    look(page, "case-member-loss-error")
    page.get_by_label("损失金额").fill("150.50")
    page.get_by_role("button", name="保存我的资料").click()
    expect(page.get_by_role("status")).to_contain_text("您的资料已保存")
    expect(page.get_by_label("损失金额")).to_have_value("150.50")

    # the complaint text, in full, then the consent to exactly that version
    text = page.locator("article.complaint-text")
    expect(text).to_be_visible()
    expect(text).to_contain_text(s["merchant"])
    page.get_by_label("我已阅读上面的第 1 版全文，同意在其中署名").check()
    page.get_by_role("button", name="同意以第 1 版署名").click()
    expect(page.get_by_role("status")).to_contain_text("已记录：您同意在投诉书中署名")
    expect(page.locator("#consent")).to_contain_text("您已于")
    with live_app.api() as api:
        mine = ok(api.get(f"/api/v1/cases/{s['case']}/membership", headers=s["ann"].headers))
    assert mine["loss"] == {"amount": "150.50", "currency": "CNY"}
    assert mine["consented_complaint_id"] == s["v1"]["id"] and mine["consented_sha256"] == s["v1"]["sha256"]
    look(page, "case-member-consented")

    in_english(live_app, s["ann"])
    page.reload()
    expect(page.get_by_role("heading", name="What needs you now")).to_be_visible()
    look(page, "case-member-en")


def build(api: Any, s: dict[str, Any], regulator_id: int) -> dict[str, Any]:
    """The organizer builds the case's next complaint version to this regulator."""
    made: dict[str, Any] = ok(
        api.post(
            f"/api/v1/cases/{s['case']}/complaints",
            headers=s["org"].headers,
            json={"regulator_id": regulator_id},
        ),
        201,
    )
    return made


def test_a_case_filed_with_two_regulators_asks_for_each_text_on_a_phone(
    page: Page, live_app: LiveApp
) -> None:
    s = seeded_case(live_app)
    with live_app.api() as api:  # the organizers also write to the consumer association
        regulators = ok(api.get("/api/v1/regulators"))["items"]
        association = next(r for r in regulators if r["template_kind"] == "consumer_association")
        samr = next(r for r in regulators if r["template_kind"] == "samr")  # version 1's
        c1 = build(api, s, association["id"])
    login_browser(page.context, live_app, s["ann"])
    page.goto(f"/cases/{s['case']}")
    consent = page.locator("#consent")
    expect(consent).to_contain_text("本案向 2 个监管部门投诉")
    expect(page.locator("article.complaint-text")).to_have_count(2)  # both texts
    expect(page.get_by_role("heading", name=f"致{association['name']}的投诉书：第 1 版")).to_be_visible()
    expect(page.get_by_role("article", name=f"致{association['name']}的投诉书第 1 版全文")).to_be_visible()
    # the 12315 text repeats the one above but for a few lines: those lines, its full text folded
    samr_text = page.get_by_role("article", name=f"致{samr['name']}的投诉书第 1 版全文")
    expect(samr_text).to_be_hidden()
    differs = page.locator(f"#consent-changes-{s['v1']['id']}")
    expect(differs).to_contain_text(f"这一份与上面致{association['name']}的第 1 版大部分相同")
    expect(differs.locator("ins").filter(has_text="收件单位")).to_contain_text(samr["name"])
    look(page, "case-member-two-regulators")
    page.get_by_text(f"阅读致{samr['name']}的第 1 版全文").click()
    expect(samr_text).to_be_visible()
    page.get_by_label("我已阅读上面 2 份投诉书的全文，同意在其中署名").check()
    page.get_by_role("button", name="同意在这 2 份投诉书中署名").click()
    expect(page.get_by_role("status")).to_contain_text("已记录：您同意在投诉书中署名")
    expect(consent).to_contain_text("您已同意在下面 2 份投诉书中署名")
    expect(page.locator("details.complaint-fold")).to_have_count(2)  # folded away, each
    expect(page.locator("#needs")).not_to_contain_text("阅读投诉书全文")
    with live_app.api() as api:
        mine = ok(api.get(f"/api/v1/cases/{s['case']}/membership", headers=s["ann"].headers))
    assert mine["consented_complaint_ids"] == sorted([s["v1"]["id"], c1["id"]])
    look(page, "case-member-two-regulators-agreed")

    # she adds to her statement, a new 12315 version is built: she reads what changed for her
    added = "补充：对方还冒充客服要求再付一次款。"
    with live_app.api() as api:
        ok(
            api.patch(
                f"/api/v1/cases/{s['case']}/membership", headers=s["ann"].headers, json={"statement": added}
            )
        )
        v2 = build(api, s, samr["id"])
    page.reload()
    changes = page.locator(f"#consent-changes-{v2['id']}")
    expect(changes).to_contain_text("与您同意过的第 1 版相比")
    expect(changes.locator("ins")).to_contain_text([added])
    expect(page.get_by_text(f"阅读致{samr['name']}的第 2 版全文")).to_be_visible()  # one tap away
    look(page, "case-member-changes")
    page.get_by_label("我已阅读上面致").check()
    page.get_by_role("button", name="同意以第 2 版署名").click()
    expect(consent).to_contain_text("您已同意在下面 2 份投诉书中署名")
