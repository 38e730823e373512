"""The foundation of the web UI: the page layout in the reader's language, the language switch
(cookie, and on the account), the security headers of pages, the static files under /static/,
HTML error pages (problem+json still for /api/), and CSRF for forms without JavaScript."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from chorus.web.auth import SESSION_COOKIE
from chorus.web.middleware import PAGE_CSP
from tests.support import PASSWORD, assert_problem, register, verified_user


class Page(HTMLParser):
    """What a test looks at in a page: <html lang>, links, scripts, styles, forms, inline code."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.lang = ""
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.inline = 0
        self.style_attributes = 0
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "style" in a:
            self.style_attributes += 1
        if any(k.startswith("on") for k in a):
            self.inline += 1
        if tag == "html":
            self.lang = a.get("lang") or ""
        elif tag == "script":
            if a.get("src"):
                self.scripts.append(str(a["src"]))
            else:
                self.inline += 1
        elif tag == "style":
            self.inline += 1
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(str(a["href"]))
        elif tag == "form":
            self.forms.append(a)
        elif tag in ("input", "select", "textarea"):
            self.inputs.append({"tag": tag, **a})
        elif tag == "meta" and (a.get("property") or a.get("name")):
            self.meta[str(a.get("property") or a.get("name"))] = str(a.get("content"))
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def field(self, name: str) -> str | None:
        for i in self.inputs:
            if i.get("name") == name:
                return i.get("value")
        return None


def csrf_of(page: Page) -> str:
    token = page.field("_csrf_token")
    assert token, "the page has no CSRF field"
    return token


async def test_home_in_chinese_by_default(client: Any) -> None:
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert page.lang == "zh-CN"
    assert "查一查这个商家" in r.text and "付款之前" in r.text
    assert "查商家" in r.text and "登录" in r.text  # the nav, signed out
    # the merchant check: a GET form to /merchants with one labelled box named q
    (check,) = [f for f in page.forms if f.get("action") == "/merchants"]
    assert (check.get("method") or "get").lower() == "get"
    (q,) = [i for i in page.inputs if i.get("name") == "q"]
    assert re.search(rf'<label for="{q["id"]}">商家名称[^<]+', r.text)
    # the language switch: a form on every page, working without JavaScript
    assert any(f.get("action") == "/locale" for f in page.forms)
    assert page.meta["og:title"].startswith("Chorus") and page.meta["og:url"].endswith("/")
    assert page.meta["viewport"].startswith("width=device-width")


async def test_home_follows_accept_language(client: Any) -> None:
    r = await client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert Page(r.text).lang == "en" and "Check a merchant" in r.text


async def test_language_switch_sets_a_cookie_and_returns_to_the_page(client: Any) -> None:
    await client.get("/")
    r = await client.post("/locale", data={"locale": "en", "next": "/?q=1"})
    assert r.status_code == 303 and r.headers["location"] == "/?q=1"
    r = await client.get("/")
    assert Page(r.text).lang == "en" and "Check a merchant" in r.text
    # the cookie beats Accept-Language
    r = await client.get("/", headers={"Accept-Language": "zh-CN"})
    assert Page(r.text).lang == "en"
    r = await client.post("/locale", data={"locale": "zh-CN", "next": "/"})
    assert Page((await client.get("/")).text).lang == "zh-CN"


async def test_language_switch_never_redirects_off_site(client: Any) -> None:
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", ""):
        r = await client.post("/locale", data={"locale": "en", "next": evil})
        assert r.status_code == 303 and r.headers["location"] == "/", evil


async def test_language_is_stored_on_the_account(client: Any, mailbox: Any, worker: Any) -> None:
    bearer = await verified_user(client, mailbox, worker, "lang@example.com")
    token = bearer["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token)
    home = Page((await client.get("/")).text)
    assert home.lang == "zh-CN"
    r = await client.post("/locale", data={"locale": "en", "next": "/", "_csrf_token": csrf_of(home)})
    assert r.status_code == 303, r.text
    me = await client.get("/api/v1/me/preferences", headers=bearer)
    assert me.json()["locale"] == "en"
    # another browser (no language cookie, Chinese Accept-Language) shows the account's choice
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    r = await client.get("/", headers={"Accept-Language": "zh-CN"})
    assert Page(r.text).lang == "en" and "Log out" in r.text


async def test_pages_carry_the_strict_csp(client: Any) -> None:
    r = await client.get("/")
    assert r.headers["content-security-policy"] == PAGE_CSP
    page = Page(r.text)
    assert page.inline == 0 and page.style_attributes == 0, "inline script or style on a page"
    assert r.headers["x-frame-options"] == "DENY"
    for ref in [*page.scripts, *page.styles]:
        assert ref.startswith("/static/"), ref
        served = await client.get(ref)
        assert served.status_code == 200, ref
    assert "/static/vendor/htmx.org/htmx.min.js" in page.scripts
    assert "/static/vendor/picocss/pico.min.css" in page.styles
    assert page.meta["htmx-config"] and '"includeIndicatorStyles": false' in page.meta["htmx-config"]


async def test_static_files_live_under_static(client: Any) -> None:
    js = await client.get("/static/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "x-csrftoken" in js.text or "csrfHeader" in js.text
    vendor = await client.get("/static/vendor/htmx.org/htmx.min.js")
    assert vendor.status_code == 200 and "max-age=" in vendor.headers["cache-control"]
    assert (await client.get("/static/vendor/picocss/LICENSE.md")).status_code == 200
    assert (await client.get("/index.html")).status_code == 404  # the old landing page is gone
    assert (await client.get("/verify")).status_code == 200  # the mailed link still lands


async def test_unknown_page_is_an_html_404_in_the_readers_language(client: Any) -> None:
    r = await client.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert page.lang == "zh-CN" and "找不到这个页面" in r.text
    assert r.headers["content-security-policy"] == PAGE_CSP
    r = await client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert Page(r.text).lang == "en" and "This page does not exist" in r.text
    # the API keeps problem+json
    assert_problem(await client.get("/api/v1/no-such-thing"), 404, "not_found")


async def test_a_page_form_post_needs_its_csrf_token(client: Any, mailbox: Any, worker: Any) -> None:
    bearer = await verified_user(client, mailbox, worker, "csrf@example.com")
    client.cookies.set(SESSION_COOKIE, bearer["Authorization"].removeprefix("Bearer "))
    token = csrf_of(Page((await client.get("/")).text))
    # without the token: refused with a page that says what to do
    r = await client.post("/locale", data={"locale": "en", "next": "/"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "表单已过期" in r.text
    assert (await client.get("/api/v1/me/preferences", headers=bearer)).json()["locale"] == "zh-CN"
    # a token another site made up (it cannot read ours) is refused too
    r = await client.post("/locale", data={"locale": "en", "next": "/", "_csrf_token": "0" * 128})
    assert r.status_code == 403
    # a cross-site form post is refused even with a well-formed token
    r = await client.post(
        "/locale",
        data={"locale": "en", "next": "/", "_csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert (await client.get("/api/v1/me/preferences", headers=bearer)).json()["locale"] == "zh-CN"
    # with it: done
    r = await client.post("/locale", data={"locale": "en", "next": "/", "_csrf_token": token})
    assert r.status_code == 303
    assert (await client.get("/api/v1/me/preferences", headers=bearer)).json()["locale"] == "en"


async def test_signed_out_page_shows_login_and_register(client: Any) -> None:
    await register(client, "nobody@example.com")
    r = await client.get("/")
    assert "/login?next=" in r.text and 'href="/register"' in r.text and PASSWORD not in r.text
