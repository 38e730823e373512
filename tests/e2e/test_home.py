"""The home page (the merchant check) in a real browser, zh-CN first, and the language switch
every page carries: it changes the page's language, is remembered by the browser, and for a
signed-in person on the account (another browser of theirs opens in that language)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import LiveApp, login_browser, look, verified_user


def switch_language(page: Page, code: str) -> None:
    """Choose ``code`` in the header's language switch and send it (a plain form; a script may
    send it on change instead of the button)."""
    page.locator("#language-select").select_option(code)
    button = page.locator("form.language-switch button[type=submit]")
    if button.is_visible():
        button.click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def test_home_page_passes_look_in_both_languages(page: Page) -> None:
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("searchbox").or_(page.get_by_role("textbox")).first).to_be_visible()
    look(page, "home")

    switch_language(page, "en")
    assert urlsplit(page.url).path == "/"  # back on the page it was sent from
    look(page, "home-en")

    page.goto("/")  # remembered by this browser
    expect(page.locator("html")).to_have_attribute("lang", "en")
    switch_language(page, "zh-CN")
    look(page, "home-zh-again")


def test_the_language_chosen_signed_in_follows_the_account(
    page: Page, live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    user = verified_user(live_app, name="韩梅梅")
    login_browser(page.context, live_app, user)
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    switch_language(page, "en")

    with live_app.api() as api:
        assert api.get("/api/v1/me", headers=user.headers).json()["locale"] == "en"
    other = new_context()  # another browser of theirs: zh-CN, no language cookie
    login_browser(other, live_app, user)
    elsewhere = other.new_page()
    elsewhere.goto("/")
    expect(elsewhere.locator("html")).to_have_attribute("lang", "en")
