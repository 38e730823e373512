"""The inbox, the settings and the e-mail's unsubscribe pages in a real browser, as people use
them: on a phone, marking notifications read makes the header's badge go without a page load;
the e-mail mode and the language changed in the settings; an account deleted after the page
that says what a filed complaint keeps, which then cannot log in; the unsubscribe link of a real
notification e-mail ending on a page in words. Every page passes ``look`` in zh-CN and English."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import LiveApp, User, login_browser, look, report, verified_user
from tests.e2e.test_accounts import expect_refusals
from tests.integration.cases_support import ident, report_body

ORGANIZER_NAME, MEMBER_NAME = "欧阳锋", "李雷"


def a_case(app: LiveApp, member: User | None = None) -> tuple[User, User, int]:
    """An organizer's new case of a merchant of its own, and ``member`` (a new verified user if
    None) reporting the same QQ: one case of two."""
    org = verified_user(app, name=ORGANIZER_NAME)
    member = member or verified_user(app, name=MEMBER_NAME)
    name, qq = f"星辰卡盟{secrets.token_hex(2)}", str(2_000_000_000 + secrets.randbelow(99_999_999))
    case_id = int(report(app, org, report_body(name, [ident("qq", qq)]))["case_id"])
    assert report(app, member, report_body(name, [ident("qq", qq)]))["case_id"] == case_id
    return org, member, case_id


def announce(app: LiveApp, org: User, case_id: int, title: str) -> None:
    with app.api() as api:
        r = api.post(
            f"/api/v1/cases/{case_id}/announcements",
            json={"title": title, "body": "请大家在周五前上传付款截图。"},
            headers=org.headers,
        )
    assert r.status_code == 201, r.text


def wait_for_unread(app: LiveApp, user: User, count: int, timeout: float = 30) -> None:
    """Until the worker has put ``count`` unread notifications in ``user``'s inbox."""
    deadline = time.monotonic() + timeout
    with app.api() as api:
        while True:
            unread = api.get("/api/v1/notifications", headers=user.headers).json()["unread"]
            if unread >= count:
                return
            assert time.monotonic() < deadline, f"{unread} unread after {timeout} s; {app.log_tail()}"
            time.sleep(0.2)


def badge(page: Page) -> str:
    """What the header's badge says ("" when there is none)."""
    slot = page.locator("#unread-slot")
    return slot.inner_text().strip() if slot.count() else ""


def test_on_a_phone_marking_read_makes_the_badge_go_without_a_page_load(
    page: Page, live_app: LiveApp
) -> None:
    member = verified_user(live_app, name=MEMBER_NAME)
    login_browser(page.context, live_app, member)
    page.goto("/notifications")
    expect(page.get_by_role("heading", level=1)).to_have_text("通知")
    expect(page.get_by_role("heading", level=2)).to_have_text("还没有通知")
    assert badge(page) == ""
    look(page, "notifications-empty")

    org, _, case_id = a_case(live_app, member)
    announce(live_app, org, case_id, "12315 已受理")
    wait_for_unread(live_app, member, 1)  # one after the other: the inbox's order is theirs
    announce(live_app, org, case_id, "请补充证据")
    wait_for_unread(live_app, member, 2)
    page.goto("/notifications")
    items = page.locator(".inbox-item")
    expect(items).to_have_count(2)
    expect(items.first).to_contain_text(f"案件 #{case_id} 组织者公告：请补充证据")  # newest first
    expect(items.nth(1)).to_contain_text("12315 已受理")
    expect(page.locator("#unread-badge")).to_contain_text("2")
    look(page, "notifications-items")

    page.evaluate("window.stillTheSamePage = true")  # gone if the page were loaded again
    items.first.get_by_role("button", name=re.compile("^标为已读")).click()
    expect(items.first.get_by_role("button")).to_have_count(0)
    expect(page.locator("#unread-badge")).to_contain_text("1")
    expect(page.locator("#inbox-head")).to_contain_text("1 条未读")

    page.get_by_role("button", name="全部标为已读").click()
    expect(page.locator("#unread-badge")).to_have_count(0)  # the badge is gone
    expect(page.locator("#inbox-head")).to_have_text("全部已读。")
    expect(page.get_by_role("button", name=re.compile("标为已读"))).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    look(page, "notifications-all-read")
    with live_app.api() as api:
        assert api.get("/api/v1/notifications", headers=member.headers).json()["unread"] == 0


def test_the_settings_change_language_and_email_mode(page: Page, live_app: LiveApp) -> None:
    user = verified_user(live_app, name="韩梅梅")
    login_browser(page.context, live_app, user)
    page.goto("/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("设置")
    expect(page.get_by_label("每条通知都发邮件")).to_be_checked()
    expect(page.get_by_label("时区")).to_have_value("Asia/Shanghai")
    look(page, "settings")

    page.get_by_label("当前密码").fill("not my password")
    page.get_by_label("新密码").fill("a brand new passphrase")
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator("#f-current_password-error")).to_have_text("密码不正确。")
    expect(page.locator("#form-error")).to_be_focused()
    expect_refusals(page, 403)
    look(page, "settings-password-wrong")

    page.get_by_label("每天一封汇总邮件").check()
    page.get_by_label("语言（网页和邮件）").select_option("en")
    page.get_by_role("button", name="保存通知设置").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label("One summary e-mail a day")).to_be_checked()
    assert page.evaluate("document.documentElement.lang") == "en"
    look(page, "settings-saved-en")
    with live_app.api() as api:
        prefs = api.get("/api/v1/me/preferences", headers=user.headers).json()
    assert (prefs["email"], prefs["locale"]) == ("digest", "en")

    page.get_by_label("Webhook address").fill("ftp://hooks.example.com/chorus")
    page.get_by_role("button", name="Save webhook address").click()
    expect(page.locator("#f-webhook_url-error")).to_contain_text("webhook")
    expect_refusals(page, 422)
    look(page, "settings-webhook-refused-en")

    page.goto("/notifications")
    expect(page.get_by_role("heading", level=2)).to_have_text("No notifications yet")
    look(page, "notifications-empty-en")
    page.goto("/settings/delete")
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete your account")
    expect(page.get_by_role("main")).to_contain_text("Chorus keeps it exactly as filed")
    look(page, "delete-confirm-en")


def test_leaving_a_case_and_deleting_the_account(page: Page, live_app: LiveApp) -> None:
    _, member, case_id = a_case(live_app)
    login_browser(page.context, live_app, member)
    page.goto("/settings")
    page.get_by_role("link", name=re.compile("^退出…")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("退出案件：星辰卡盟")
    expect(page.get_by_role("main")).to_contain_text("已经提交给监管部门的投诉保持提交时的样子")
    look(page, "leave-confirm")
    page.get_by_role("button", name="取消").click()

    page.get_by_role("button", name="删除我的账户…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("删除您的账户")
    main = page.get_by_role("main")
    # before confirming: what a filed complaint keeps, and what is deleted
    expect(main.get_by_role("heading", name="已提交的投诉会保留什么")).to_be_visible()
    expect(main).to_contain_text("Chorus 会原样保留")
    expect(main).to_contain_text("除非该监管部门需要完整信息，否则会打码")
    expect(main.get_by_role("heading", name="会被删除的内容")).to_be_visible()
    expect(main).to_contain_text("您会退出所有案件（1 个）")
    look(page, "delete-confirm")

    page.get_by_label("输入密码以确认").fill("not my password")
    page.get_by_role("button", name="永久删除我的账户").click()
    expect(page.locator("#f-password-error")).to_have_text("密码不正确。")
    expect_refusals(page, 403)
    look(page, "delete-wrong-password")

    page.get_by_label("输入密码以确认").fill(member.password)
    page.get_by_role("button", name="永久删除我的账户").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("再见")
    expect(page.get_by_role("status")).to_have_text("您的账户已删除。")
    assert urlsplit(page.url).path == "/goodbye"
    expect(page.get_by_role("navigation").get_by_role("link", name="登录")).to_be_visible()  # signed out
    look(page, "goodbye")

    page.goto("/login")
    page.get_by_label("电子邮箱").fill(member.email)
    page.get_by_label("密码").fill(member.password)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.locator("#form-error")).to_have_text("邮箱或密码不正确。")
    expect_refusals(page, 401)
    with live_app.api() as api:
        assert api.get(f"/api/v1/cases/{case_id}").json()["member_count"] == 1


def unsubscribe_link(app: LiveApp) -> tuple[User, str]:
    """A member and the unsubscribe link of their first notification e-mail."""
    org, member, case_id = a_case(app)
    announce(app, org, case_id, "12315 已受理")
    msg = app.wait_for_mail(member.email, count=2)  # after the verification mail
    return member, msg["List-Unsubscribe"].strip("<>")


def test_the_unsubscribe_link_ends_on_a_page_in_words(page: Page, live_app: LiveApp) -> None:
    member, link = unsubscribe_link(live_app)
    assert link.startswith(live_app.base + "/api/v1/notifications/unsubscribe?token=")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("停止接收 Chorus 通知邮件")
    look(page, "unsubscribe")
    page.get_by_role("button", name="退订").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("已停止发送通知邮件")
    expect(page.get_by_role("status")).to_have_text("好的，Chorus 不会再给您发送通知邮件。")
    expect(page.get_by_role("main").get_by_role("button", name="打开通知设置")).to_be_visible()
    look(page, "unsubscribed")
    with live_app.api() as api:
        assert api.get("/api/v1/me/preferences", headers=member.headers).json()["email"] == "off"


def test_the_unsubscribe_pages_in_english(
    live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    _, link = unsubscribe_link(live_app)
    page = new_context(locale="en").new_page()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Stop notification e-mails from Chorus")
    look(page, "unsubscribe-en")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notification e-mails turned off")
    look(page, "unsubscribed-en")
    page.goto(link.replace("token=", "token=x"))
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("alert").filter(has_text="link")).to_be_visible()
    expect_refusals(page, 422)
    look(page, "unsubscribe-refused-en")
