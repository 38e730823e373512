"""The account pages in a real browser, as a newcomer walks them: register, follow the mailed
link and confirm, log in (with a wrong password first), log out; a forgotten password reset by
the mailed link, which then works no more. Every page, error states included, passes ``look``
in zh-CN and in English."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import (
    LiveApp,
    User,
    first_link,
    look,
    unique_email,
    verification_link,
    verified_user,
    watch_of,
)
from tests.support import PASSWORD

NEW_PASSWORD = "a brand new passphrase"


def expect_refusals(page: Page, *statuses: int) -> None:
    """The browser logs a form's 4xx answer as a failed load: expected here, nothing else. (The
    console line may arrive after the page shows: given a few seconds to arrive.)"""
    expected = tuple(f"status of {s}" for s in statuses)
    watch, deadline = watch_of(page), time.monotonic() + 10
    while time.monotonic() < deadline and not any(e in p for p in watch.problems for e in expected):
        page.wait_for_timeout(50)
    others = [p for p in watch_of(page).take() if not any(e in p for e in expected)]
    assert not others, others


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_register_confirm_log_in_and_out(page: Page, live_app: LiveApp) -> None:
    email = unique_email("lilei")
    page.goto("/")
    page.get_by_role("link", name="注册").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("注册")
    look(page, "register")

    page.get_by_label("称呼").fill("李雷")
    page.get_by_label("电子邮箱").fill("li lei at example")
    page.get_by_label("密码").fill("short")
    page.get_by_role("button", name="注册").click()
    expect(page.locator("#f-password-error")).to_have_text("太短了：至少 10 个字符。")
    expect(page.locator("#f-email-error")).to_be_visible()
    expect(page.locator("#form-error")).to_be_focused()  # the keyboard is taken to the errors
    expect(page.get_by_label("称呼")).to_have_value("李雷")  # what was typed stays
    expect_refusals(page, 422)
    look(page, "register-errors")

    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    expect(page.get_by_role("status")).to_contain_text("账户已创建")
    look(page, "check-mail")

    user = User(email, PASSWORD, "李雷")
    page.goto(verification_link(live_app, user))
    expect(page.get_by_role("heading", level=1)).to_have_text("确认您的邮箱")
    look(page, "verify-confirm")
    page.get_by_role("button", name="确认我的邮箱").click()
    assert path_of(page) == "/login" and "token=" not in page.url
    expect(page.get_by_role("status")).to_contain_text("邮箱已验证")
    look(page, "login-after-verify")

    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill("not my password")
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.locator("#form-error")).to_have_text("邮箱或密码不正确。")
    expect(page.get_by_label("电子邮箱")).to_have_value(email)
    expect(page.get_by_label("密码")).to_have_value("")  # a password is never sent back
    expect_refusals(page, 401)
    look(page, "login-wrong")

    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("登录成功")
    assert path_of(page) == "/"
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "chorus_session")
    with live_app.api() as api:
        me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {session}"}).json()
    assert me["email"] == email and me["email_verified"] is True

    page.get_by_role("button", name="退出").click()  # the header's logout button
    expect(page.get_by_role("status")).to_contain_text("您已退出登录")
    expect(page.get_by_role("navigation").get_by_role("link", name="登录")).to_be_visible()
    look(page, "logged-out")
    with live_app.api() as api:  # the session is revoked, not only forgotten by the browser
        assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {session}"}).status_code == 401


def test_login_goes_back_to_the_page_that_asked_for_it(page: Page, live_app: LiveApp) -> None:
    user = verified_user(live_app, name="韩梅梅")
    page.goto("/me/cases")  # needs an account: sent to log in first
    assert path_of(page) == "/login"
    page.get_by_label("电子邮箱").fill(user.email)
    page.get_by_label("密码").fill(user.password)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("登录成功")
    assert path_of(page) == "/me/cases"


def test_password_reset_by_the_mailed_link(page: Page, live_app: LiveApp) -> None:
    user = verified_user(live_app, name="王芳")  # one mail so far: the verification
    page.goto("/login")
    page.get_by_role("link", name="忘记密码？").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("忘记密码")
    look(page, "forgot")

    page.get_by_label("电子邮箱").fill(user.email)
    page.get_by_role("button", name="发送重设链接").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    expect(page.get_by_role("main")).to_contain_text("如果这个邮箱注册过")
    look(page, "forgot-sent")

    link = first_link(live_app.wait_for_mail(user.email, count=2), "/password/reset?token=")
    assert link.startswith(live_app.base + "/password/reset?"), link
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("设置新密码")
    look(page, "reset")

    page.get_by_label("新密码").fill("short")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.locator("#f-password-error")).to_have_text("太短了：至少 10 个字符。")
    expect_refusals(page, 422)
    look(page, "reset-errors")

    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("status")).to_contain_text("密码已更新")
    assert path_of(page) == "/login"
    with live_app.api() as api:  # the sessions of before are over
        assert api.get("/api/v1/me", headers=user.headers).status_code == 401

    page.get_by_label("电子邮箱").fill(user.email)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("登录成功")

    page.goto(link)  # the link works once
    page.get_by_label("新密码").fill("yet another passphrase")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("alert").filter(has_text="链接无效")).to_be_visible()
    expect(page.get_by_role("button", name="发送重设链接")).to_be_visible()  # ask again right there
    expect_refusals(page, 422)
    look(page, "reset-used")


def test_every_account_page_in_english(live_app: LiveApp, new_context: Callable[..., BrowserContext]) -> None:
    page = new_context(locale="en").new_page()
    english = re.compile(r"^[^\u4e00-\u9fff]*$")

    def shows(heading: str, name: str) -> None:
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("main")).to_have_text(english)
        look(page, name)

    page.goto("/register")
    shows("Create an account", "register-en")
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#f-display_name-error")).to_have_text("Please fill this in.")
    expect(page.locator("#f-email-error")).to_have_text("Please fill this in.")  # not "invalid"
    expect_refusals(page, 422)
    shows("Create an account", "register-errors-en")

    page.goto("/verify")
    shows("Check your mailbox", "check-mail-en")
    page.goto("/verify?token=not-a-real-token")
    shows("Confirm your e-mail address", "verify-confirm-en")
    page.get_by_role("button", name="Confirm my address").click()
    expect(page.get_by_role("alert").filter(has_text="does not work")).to_be_visible()
    expect_refusals(page, 422)
    shows("This link does not work", "verify-refused-en")

    page.goto("/login")
    shows("Log in", "login-en")
    page.get_by_label("E-mail address").fill(unique_email("nobody"))
    page.get_by_label("Password").fill("whatever it is")
    page.get_by_role("main").get_by_role("button", name="Log in").click()
    expect(page.locator("#form-error")).to_contain_text("password")
    expect_refusals(page, 401)
    shows("Log in", "login-wrong-en")

    page.goto("/password/forgot")
    shows("Forgot your password", "forgot-en")
    page.get_by_label("E-mail address").fill(unique_email("nobody"))
    page.get_by_role("button", name="Send me the link").click()
    shows("Check your mailbox", "forgot-sent-en")

    page.goto("/password/reset?token=not-a-real-token")
    shows("Choose a new password", "reset-en")
    page.get_by_label("New password").fill("a long enough passphrase")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("alert").filter(has_text="does not work")).to_be_visible()
    expect_refusals(page, 422)
    shows("This link does not work", "reset-refused-en")
