"""The foundation of the web UI: the page layout in the reader's language, the language switch
(cookie, and on the account), the security headers of pages, the static files under /static/,
HTML error pages (problem+json still for /api/), and CSRF for forms without JavaScript."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader
from litestar import Request, get, post
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from pydantic import BaseModel, Field, ValidationError

from chorus.errors import Conflict, DomainError
from chorus.web.auth import SESSION_COOKIE
from chorus.web.guards import requires_login, requires_verified
from chorus.web.middleware import PAGE_CSP
from chorus.web.pages import Formats, FormData, form_error, page, page_router, parse_form, redirect, safe_next
from tests.support import PASSWORD, assert_problem, http_client, register, text_of, verified_user


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
    htmx = json.loads(page.meta["htmx-config"])
    assert htmx["includeIndicatorStyles"] is False and htmx["allowEval"] is False
    # a swap never sets a style attribute, which the CSP would refuse (htmx settles "style" by default)
    assert "style" not in htmx["attributesToSettle"] and "class" in htmx["attributesToSettle"]


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


async def test_an_error_page_knows_who_is_signed_in(client: Any, mailbox: Any, worker: Any) -> None:
    """A mistyped address matches no page, a case that does not exist is refused before its page
    asks who is reading: the error page still shows a signed-in member their own menu and
    language, not "登录" as if they had been signed out."""
    bearer = await verified_user(client, mailbox, worker, "lost@example.com")
    r = await client.put("/api/v1/me/preferences", headers=bearer, json={"locale": "en"})
    assert r.status_code == 200, r.text
    client.cookies.set(SESSION_COOKIE, bearer["Authorization"].removeprefix("Bearer "))
    for path in ("/no/such/page", "/cases/999999"):
        r = await client.get(path)
        assert r.status_code == 404 and Page(r.text).lang == "en", path
        assert 'action="/logout"' in r.text and 'href="/me/cases"' in r.text, path
        assert 'href="/login' not in r.text and 'href="/register"' not in r.text, path
    # a session that is no longer valid: the page signed out, as before
    client.cookies.set(SESSION_COOKIE, "not-a-session")
    r = await client.get("/no/such/page")
    assert r.status_code == 404 and 'href="/login' in r.text and 'action="/logout"' not in r.text


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
    # the home page: the login link needs no way back (other pages': test_pages_accounts.py)
    assert 'href="/login"' in r.text and 'href="/register"' in r.text and PASSWORD not in r.text


# --- the page helpers, through small pages of the test's own ---------------------------------


class Thing(BaseModel):
    name: str = Field(min_length=2, max_length=10)
    amount: int = Field(gt=0)
    note: str | None = None


@get("/_t/form")
async def form_page(request: Request[Any, Any, Any]) -> Template:
    return await page(request, "_t_form.html")


@post("/_t/form")
async def form_post(request: Request[Any, Any, Any], data: FormData) -> Template | Redirect:
    try:
        thing = parse_form(Thing, data)
        if thing.name == "taken":
            raise Conflict("already_member")
    except (ValidationError, DomainError) as exc:
        return await form_error(request, "_t_form.html", exc, values=data)
    return redirect(request, "/_t/form", flash="page.flash.saved")


@get("/_t/private", guards=[requires_login])
async def private_page(request: Request[Any, Any, Any]) -> Template:
    return await page(request, "_t_form.html")


@get("/_t/verified", guards=[requires_verified])
async def verified_page(request: Request[Any, Any, Any]) -> Template:
    return await page(request, "_t_form.html")


@get("/_t/boom")
async def boom(request: Request[Any, Any, Any]) -> Template:
    raise RuntimeError("secret internals /srv/chorus/app.py line 12")


@get("/_t/busy")
async def busy(request: Request[Any, Any, Any], after: FromQuery[int]) -> Template:
    raise TooManyRequestsException(headers={"Retry-After": str(after)})


@post("/_t/upload", request_max_body_size=None)
async def upload(request: Request[Any, Any, Any]) -> Template:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return await page(request, "_t_form.html", uploaded=size)


FORM_TEMPLATE = """{% extends "base.html" %}
{% import "_forms.html" as forms with context %}
{% block main %}
<form method="post" action="/_t/form">{{ forms.csrf() }}{{ forms.form_errors() }}
{{ forms.text("name", "Name", required=true) }}{{ forms.number("amount", "Amount") }}
{{ forms.textarea("note", "Note") }}{{ forms.password("password", "Password") }}
<button>Go</button></form>
<form method="post" enctype="multipart/form-data" action="{{ forms.upload_action('/_t/upload') }}">
{{ forms.file("file", "File") }}<button>Up</button></form>
<p id="fmt">{{ money(1288, "CNY") }}|{{ date(when) if when is defined else "" }}</p>
{% if uploaded is defined %}<p id="uploaded">{{ uploaded }}</p>{% endif %}
{% endblock %}"""


@pytest.fixture
async def tclient(clean: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """The app with the test's pages added (as a domain adds its page_routers), their template
    served from memory before the package's."""
    import chorus.app
    from chorus.web import pages

    env = pages.environment()
    own = DictLoader({"_t_form.html": FORM_TEMPLATE})
    monkeypatch.setattr(env, "loader", ChoiceLoader([own, env.loader]))
    original = chorus.app.page_routers
    extra = page_router(form_page, form_post, private_page, verified_page, boom, busy, upload)
    monkeypatch.setattr(chorus.app, "page_routers", lambda: [*original(), extra])
    # settings of its own: an app built now, with these pages (tests.toolkit keeps one app for
    # the run's settings)
    async with http_client(settings.model_copy()) as c:
        yield c


async def signed_in(client: Any, mailbox: Any, worker: Any, email: str) -> dict[str, str]:
    bearer = await verified_user(client, mailbox, worker, email)
    client.cookies.set(SESSION_COOKIE, bearer["Authorization"].removeprefix("Bearer "))
    return bearer


async def test_a_form_comes_back_with_its_errors_next_to_the_fields(
    tclient: Any, mailbox: Any, worker: Any
) -> None:
    await signed_in(tclient, mailbox, worker, "form@example.com")
    token = csrf_of(Page((await tclient.get("/_t/form")).text))
    r = await tclient.post(
        "/_t/form", data={"name": "x", "amount": "zero", "password": "hunter2hunter2", "_csrf_token": token}
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    name = next(i for i in page.inputs if i.get("name") == "name")
    assert name["aria-invalid"] == "true" and name["value"] == "x"  # what was typed stays
    assert "f-name-error" in (name.get("aria-describedby") or "")
    assert re.search(r'id="f-name-error" class="field-error">太短了：至少 2 个字符。', r.text)
    assert re.search(r'id="f-amount-error" class="field-error">格式不对', r.text)
    assert "hunter2hunter2" not in r.text  # a password is never sent back
    assert "有几项需要修改" in r.text
    # a use case's refusal: its own status, its words above the form
    r = await tclient.post("/_t/form", data={"name": "taken", "amount": "3", "_csrf_token": token})
    assert r.status_code == 409 and "您已经加入了这个案件" in r.text, r.text[-800:]
    # success: 303 to the page, which shows the notice once
    r = await tclient.post("/_t/form", data={"name": "fine", "amount": "3", "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/_t/form"
    shown = await tclient.get("/_t/form")
    assert "已保存。" in shown.text and 'role="status"' in shown.text
    assert "已保存。" not in (await tclient.get("/_t/form")).text  # once


async def test_a_page_needing_login_sends_to_login_and_back(tclient: Any) -> None:
    r = await tclient.get("/_t/private?x=1&y=2")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/_t/private%3Fx%3D1%26y%3D2"


async def test_an_unverified_user_is_told_to_verify(tclient: Any) -> None:
    await register(tclient, "unverified@example.com")
    login = await tclient.post(
        "/api/v1/auth/login", json={"email": "unverified@example.com", "password": PASSWORD}
    )
    assert SESSION_COOKIE in tclient.cookies, login.text
    r = await tclient.get("/_t/verified")
    assert r.status_code == 403 and "请先验证您的邮箱" in r.text
    assert (await tclient.get("/_t/private")).status_code == 200


@pytest.mark.parametrize(
    ("after", "locale", "said"),
    [
        (1, "en", "Please try again in 1 second."),
        (30, "en", "Please try again in 30 seconds."),
        (1, "zh-CN", "请在 1 秒后再试。"),
    ],
)
async def test_too_many_requests_says_when_to_try_again(
    tclient: Any, after: int, locale: str, said: str
) -> None:
    r = await tclient.get(f"/_t/busy?after={after}", headers={"Accept-Language": locale})
    assert r.status_code == 429 and r.headers["retry-after"] == str(after)
    assert said in text_of(r.text)


async def test_a_crash_is_a_page_without_internals(tclient: Any) -> None:
    r = await tclient.get("/_t/boom", headers={"Accept-Language": "en"})
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in r.text and "Reference:" in r.text
    assert "RuntimeError" not in r.text and "/srv/chorus" not in r.text and "Traceback" not in r.text
    assert r.headers["x-request-id"] in r.text


async def test_a_multipart_page_form_carries_its_token_in_the_action(
    tclient: Any, mailbox: Any, worker: Any
) -> None:
    await signed_in(tclient, mailbox, worker, "upload@example.com")
    page = Page((await tclient.get("/_t/form")).text)
    token = csrf_of(page)
    (action,) = [f["action"] for f in page.forms if f.get("enctype") == "multipart/form-data"]
    assert action == f"/_t/upload?_csrf_token={token}"
    files = {"file": ("a.txt", b"x" * 5000, "text/plain")}
    refused = await tclient.post("/_t/upload", files=files)
    assert refused.status_code == 403 and "表单已过期" in refused.text
    forged = await tclient.post(f"/_t/upload?_csrf_token={'0' * 128}", files=files)
    assert forged.status_code == 403
    ok = await tclient.post(action, files=files)
    assert ok.status_code == 200 and int(re.search(r'id="uploaded">(\d+)<', ok.text)[1]) > 5000
    # htmx (and fetch) send the header instead
    ok = await tclient.post("/_t/upload", files=files, headers={"x-csrftoken": token})
    assert ok.status_code == 200
    # the JSON API's rules are unchanged: no token in a query string there
    api = await tclient.post(f"/api/v1/notifications/read-all?_csrf_token={token}")
    assert_problem(api, 403, "csrf")


def test_money_and_dates_in_the_readers_language() -> None:
    zh, en = Formats("zh-CN"), Formats("en", "America/New_York")
    assert zh.money(Decimal("1288.5"), "CNY") == "¥1,288.50"
    assert en.money(Decimal("1288.5"), "CNY") == "CN¥1,288.50"
    moment = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
    assert zh.date(date(2026, 3, 5)) == "2026年3月5日"
    assert en.date(date(2026, 3, 5)) == "March 5, 2026"
    assert en.date(moment) == "March 4, 2026"  # still the 4th in New York
    assert "10:30" in zh.datetime(moment)  # Asia/Shanghai
    assert "9:30" in en.datetime(moment) and "PM" in en.datetime(moment)


def test_safe_next_keeps_only_paths_of_this_site() -> None:
    assert safe_next("/cases/3?tab=evidence") == "/cases/3?tab=evidence"
    for bad in ("//evil.example", "https://evil.example/", "/\\evil", "evil", "/a\nb", None, ""):
        assert safe_next(bad) == "/", bad
