"""The first page journey: someone registers, opens the link of the verification e-mail in
their browser, presses the button that confirms it (opening the link alone changes nothing: mail
scanners open links), and is told their address is verified; the account can then log in as
verified. A damaged link is refused in words on the page, and verifies nothing."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.harness import LiveApp, api_login, look, register, verification_link, watch_of


def test_the_mailed_link_verifies_the_address_in_the_browser(page: Page, live_app: LiveApp) -> None:
    user = register(live_app, name="王小明")
    link = verification_link(live_app, user)
    assert link.startswith(live_app.base + "/verify?"), link  # the mail points at this server

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("确认您的邮箱")
    with live_app.api() as api:  # opening the link verified nothing yet
        me = api.get("/api/v1/me", headers=api_login(live_app, user).headers).json()
    assert me["email_verified"] is False
    page.get_by_role("button", name="确认我的邮箱").click()
    expect(page.get_by_role("status")).to_contain_text("邮箱已验证")
    assert "token=" not in page.url  # the token does not linger in the address bar or history
    look(page, "verify-done")

    with live_app.api() as api:
        me = api.get("/api/v1/me", headers=api_login(live_app, user).headers).json()
    assert me["email_verified"] is True


def test_a_damaged_link_is_refused_in_words_and_verifies_nothing(page: Page, live_app: LiveApp) -> None:
    user = register(live_app)
    link = verification_link(live_app, user)

    page.goto(link[:-4] + "xxxx")
    page.get_by_role("button", name="确认我的邮箱").click()
    expect(page.get_by_role("alert").filter(has_text="链接无效")).to_be_visible()
    text = page.locator("main").inner_text()
    assert "{" not in text and "Traceback" not in text  # words, not raw JSON or a stack trace
    # the refusal (422) is logged by the browser as a failed resource load: expected here
    refused = [p for p in watch_of(page).take() if "status of 422" not in p]
    assert not refused, refused
    look(page, "verify-refused")

    with live_app.api() as api:
        me = api.get("/api/v1/me", headers=api_login(live_app, user).headers).json()
    assert me["email_verified"] is False
