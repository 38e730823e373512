"""The organizer console's complaint versions and announcements in a real browser: an organizer
on a phone builds the first version, reads it, builds a second after a member edited their
statement and sees the change marked, reminds the members who have not agreed; then writes an
announcement, sees it previewed as they type, and posts it to every member. Every page (empty
and with data) through look(), in zh-CN and en."""

from __future__ import annotations

import secrets
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.harness import LiveApp, User, login_browser, look, report, verified_user
from tests.integration.cases_support import ident, report_body

NEW_STATEMENT = "补充：对方还冒充平台客服，让我把验证码发给他。"


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def a_case(app: LiveApp, *, locale: str = "zh-CN") -> dict[str, Any]:
    """The organizer and Ann agreed to be named (before any text); Bob has not."""
    suffix = secrets.token_hex(3)
    merchant = f"星河数码{suffix}"
    qq = str(10_000_000 + secrets.randbelow(89_999_999))
    org = verified_user(app, name="欧阳锋" if locale == "zh-CN" else "Olivia Organizer")
    ann = verified_user(app, name="安妮" if locale == "zh-CN" else "Ann Member")
    bob = verified_user(app, name="鲍勃" if locale == "zh-CN" else "Bob Member")
    case_id = None
    for who, amount, statement in (
        (org, "300.00", "付款后店铺失联。"),
        (ann, "120.00", "客服收款后把我拉黑了。"),
        (bob, "80.00", "订单一直显示待发货。"),
    ):
        extra = {"case_id": case_id} if case_id else {}
        body = report_body(merchant, [ident("qq", qq)], amount=amount, statement=statement, **extra)
        case_id = report(app, who, body)["case_id"]
    with app.api() as api:
        for who in (org, ann):
            ok(api.post(f"/api/v1/cases/{case_id}/consent", headers=who.headers, json={"consent": True}))
        if locale != "zh-CN":
            ok(api.put("/api/v1/me/preferences", headers=org.headers, json={"locale": locale}))
    return {"case": case_id, "merchant": merchant, "org": org, "ann": ann, "bob": bob}


def edit_statement(app: LiveApp, who: User, case_id: int, statement: str) -> None:
    with app.api() as api:
        change = {"statement": statement}
        ok(api.patch(f"/api/v1/cases/{case_id}/membership", headers=who.headers, json=change))


def test_an_organizer_builds_compares_and_reminds_then_announces(page: Page, live_app: LiveApp) -> None:
    s = a_case(live_app)
    login_browser(page.context, live_app, s["org"])
    shown = page.goto(f"/cases/{s['case']}/organize/complaints")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    nav = page.get_by_role("navigation", name="工作台各部分")
    expect(nav.get_by_role("link", name="投诉书")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("还没有生成过投诉书")).to_be_visible()
    expect(page.get_by_text("现在有 2 位成员同意署名（共 3 位）")).to_be_visible()
    look(page, "organize-complaints-empty")

    # build version 1: the page of the new version, its text, who agreed
    page.get_by_label("提交给哪个监管部门").select_option(index=0)
    page.get_by_role("button", name="生成新版本").click()
    expect(page.get_by_role("heading", level=2, name="第 1 版", exact=False).first).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("第 1 版已生成")
    text = page.get_by_role("article", name="第 1 版全文")
    expect(text).to_contain_text("客服收款后把我拉黑了。")
    expect(page.locator("#consents-none")).to_contain_text("鲍勃")
    look(page, "organize-complaint-version")

    # Ann edits her statement; version 2 shows the change, marked in words
    edit_statement(live_app, s["ann"], s["case"], NEW_STATEMENT)
    page.get_by_role("link", name="所有版本").click()
    page.get_by_role("button", name="生成新版本").click()
    expect(page.get_by_role("status")).to_contain_text("第 2 版已生成")
    page.get_by_role("link", name="与第 1 版", exact=False).click()
    expect(page.get_by_role("heading", level=2)).to_have_text("第 2 版改了什么")
    added = page.locator(".cv-add ins", has_text=NEW_STATEMENT)
    expect(added).to_have_count(1)
    expect(added).to_contain_text("新增：")  # the word a screen reader reads
    expect(page.locator(".cv-del del", has_text="客服收款后把我拉黑了。")).to_have_count(1)
    look(page, "organize-complaint-diff")

    # the list: two versions, the newest first
    page.get_by_role("navigation", name="工作台各部分").get_by_role("link", name="投诉书").click()
    rows = page.locator(".cv-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("第 2 版")
    expect(rows.first).to_contain_text("最新")
    look(page, "organize-complaints-list")

    # remind those who have not agreed to version 2 (Ann, Bob); a second time is not offered
    rows.first.get_by_role("link", name="第 2 版").click()
    page.get_by_role("button", name="提醒这 2 位成员").click()
    expect(page.get_by_role("status")).to_contain_text("已提醒 2 位成员")
    expect(page.locator("#remind")).to_contain_text("24 小时内只能提醒一次")
    expect(page.get_by_role("button", name="提醒这 2 位成员")).to_have_count(0)
    look(page, "organize-complaint-reminded")
    live_app.wait_for_mail(s["bob"].email, count=1)  # the reminder (no other mail went to Bob)

    # announcements: empty, previewed as one types, posted, listed
    page.get_by_role("navigation", name="工作台各部分").get_by_role("link", name="公告").click()
    expect(page.get_by_text("还没有发布过公告")).to_be_visible()
    look(page, "organize-announcements-empty")
    page.get_by_label("标题").fill("周五前请同意投诉书第 2 版")
    body = "请大家**周四前**在案件页面阅读全文。<script>alert(1)</script>\n\n- 看全文\n- 点同意"
    page.get_by_label("正文").fill(body)
    preview = page.locator("#announcement-preview")
    expect(preview.locator("strong")).to_have_text("周四前")  # htmx, without a page load
    expect(preview.locator("script")).to_have_count(0)
    page.get_by_role("button", name="预览").click()
    expect(preview.locator("li")).to_have_count(2)
    look(page, "organize-announcements-preview")
    page.get_by_role("button", name="发布给全体 3 位成员").click()
    expect(page.get_by_role("status")).to_contain_text("公告已发布，3 位成员会收到通知")
    posted = page.locator(".an-list .an-item").first
    expect(posted).to_contain_text("周五前请同意投诉书第 2 版")
    expect(posted.locator("strong")).to_have_text("周四前")
    look(page, "organize-announcements-list")
    # the members' notifications are the worker's job, after the page said so
    with live_app.api() as api:
        live_app.wait_for(
            "Ann's announcement notification",
            lambda: any(
                n["kind"] == "case.announcement"
                for n in ok(api.get("/api/v1/notifications", headers=s["ann"].headers))["items"]
            ),
        )


def test_the_console_pages_in_english(page: Page, live_app: LiveApp) -> None:
    s = a_case(live_app, locale="en")
    login_browser(page.context, live_app, s["org"])
    page.goto(f"/cases/{s['case']}/organize/complaints")
    expect(page.get_by_text("No complaint has been built yet")).to_be_visible()
    look(page, "organize-complaints-empty-en")
    page.get_by_role("button", name="Build a new version").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 is built")
    expect(page.get_by_role("button", name="Send the reminder (2)")).to_be_visible()
    look(page, "organize-complaint-version-en")
    edit_statement(live_app, s["ann"], s["case"], "She also asked for my verification code.")
    page.get_by_role("link", name="All versions").click()
    page.get_by_role("button", name="Build a new version").click()
    page.get_by_role("link", name="What changed since version 1", exact=False).click()
    expect(page.locator(".cv-add ins", has_text="verification code")).to_contain_text("Added:")
    look(page, "organize-complaint-diff-en")
    page.get_by_role("link", name="Back to version 2").click()
    page.get_by_role("link", name="All versions").click()
    expect(page.locator(".cv-table tbody tr")).to_have_count(2)
    look(page, "organize-complaints-list-en")
    page.get_by_role("navigation").get_by_role("link", name="Announcements").click()
    expect(page.get_by_text("No announcement has been posted yet")).to_be_visible()
    look(page, "organize-announcements-empty-en")
    page.get_by_label("Title").fill("Please agree to version 2 by Friday")
    page.get_by_label("Text").fill("Read the **whole text** on the case page, then agree.")
    expect(page.locator("#announcement-preview strong")).to_have_text("whole text")
    page.get_by_role("button", name="Post to all 3 members").click()
    expect(page.get_by_role("status")).to_contain_text("The announcement is posted")
    look(page, "organize-announcements-list-en")
