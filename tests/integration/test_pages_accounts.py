"""The account pages over HTTP, as a browser without JavaScript uses them, against the real
database, Redis, arq worker and SMTP server: register, the mailed verification link, log in
(``next``), log out, a forgotten password reset by the mailed link; and every refusal, in words
next to its field, writing nothing."""

from __future__ import annotations

import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from chorus.web.auth import SESSION_COOKIE
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import PASSWORD, body_of, login, register, row_counts, text_of, token_from

pytestmark = pytest.mark.usefixtures("clean")

NEW_PASSWORD = "a brand new passphrase"
PUBLIC_URL = "http://chorus.example.com"  # CHORUS_PUBLIC_URL of the test run


# --- what a person sees ----------------------------------------------------------------------


def field_error(r: Any, field: str) -> str | None:
    """The message shown under a field (``None``: the field is not marked)."""
    found = re.search(rf'id="f-{field}-error" class="field-error">([^<]*)<', r.text)
    return html.unescape(found.group(1)) if found else None


def form_error(r: Any) -> str | None:
    """The message above the form."""
    found = re.search(r'id="form-error"[^>]*>(.*?)</div>', r.text, re.S)
    return text_of(found.group(1)) if found else None


def flash(r: Any) -> str | None:
    found = re.search(r'class="notice notice-ok" role="status">(.*?)</div>', r.text, re.S)
    return text_of(found.group(1)) if found else None


def alerts(r: Any) -> str:
    """The error notices of the page (a refused link), as words."""
    return " ".join(text_of(m) for m in re.findall(r'notice-error" role="alert">(.*?)</div>', r.text, re.S))


def login_next(r: Any) -> str:
    """Where the login form goes on to (its hidden ``next``; the language switch has one too)."""
    found = re.search(r'action="/login".*?name="next" value="([^"]*)"', r.text, re.S)
    assert found, r.text
    return html.unescape(found.group(1))


async def open_form(client: Any, path: str, **headers: str) -> tuple[Any, str]:
    """GET a page with a form: the answer and its CSRF field's value."""
    r = await client.get(path, headers=headers)
    assert r.status_code == 200, r.text
    return r, csrf_of(Page(r.text))


async def submit(
    client: Any, path: str, data: dict[str, str], *, action: str | None = None, **headers: str
) -> Any:
    """POST a form (urlencoded) as a browser does from the page of ``path`` (to ``action``,
    by default the page's own path)."""
    _, token = await open_form(client, path, **headers)
    return await client.post(action or path, data={**data, "_csrf_token": token}, headers=headers)


async def follow(client: Any, r: Any, **headers: str) -> Any:
    """The page a 303 sends the browser to."""
    assert r.status_code == 303, r.text
    return await client.get(r.headers["location"], headers=headers)


async def me(client: Any, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """The account as the API shows it to its owner (logs in through the API)."""
    jar = dict(client.cookies)
    headers = await login(client, email, password)
    r = await client.get("/api/v1/me", headers=headers)
    client.cookies.clear()
    client.cookies.update(jar)
    assert r.status_code == 200, r.text
    return dict(r.json())


def path_of(link: str) -> str:
    assert link.startswith(PUBLIC_URL + "/"), link  # the mail points at this site
    return link[len(PUBLIC_URL) :]


def link_in(msg: Any, path: str) -> str:
    found = re.search(rf"https?://\S+{re.escape(path)}\?token=[A-Za-z0-9._\-]+", body_of(msg))
    assert found, body_of(msg)
    return found.group(0)


def aged(token: str, settings: Any, salt: str, seconds: int) -> str:
    """``token`` signed again as if mailed ``seconds`` ago."""

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    _, payload = URLSafeTimedSerializer(settings.signing_key(), salt=salt).loads_unsafe(token)
    return URLSafeTimedSerializer(settings.signing_key(), salt=salt, signer=PastSigner).dumps(payload)


async def page_register(client: Any, email: str, *, name: str = "王小明", **headers: str) -> Any:
    return await submit(
        client, "/register", {"display_name": name, "email": email, "password": PASSWORD}, **headers
    )


# --- register and verify ---------------------------------------------------------------------


async def test_register_follow_the_mailed_link_confirm_and_log_in(
    client: Any, mailbox: Any, worker: Any
) -> None:
    r = await page_register(client, "lei@example.com", name="李雷")
    assert r.status_code == 303 and r.headers["location"] == "/verify"
    check = await follow(client, r)
    assert "请查收邮件" in check.text and "账户已创建" in (flash(check) or "")
    assert any(f.get("action") == "/verify/resend" for f in Page(check.text).forms)  # resend form

    await worker()
    (msg,) = mailbox.to("lei@example.com")
    link = link_in(msg, "/verify")

    # opening the link changes nothing (mail scanners open links): a button posts the token
    opened = await client.get(path_of(link))
    assert opened.status_code == 200 and "确认您的邮箱" in opened.text
    page = Page(opened.text)
    (confirm,) = [f for f in page.forms if f.get("action") == "/verify"]
    assert (confirm.get("method") or "").lower() == "post"
    assert page.field("token") == token_from(msg)
    assert page.meta.get("referrer") == "no-referrer"  # the token goes nowhere else
    assert (await me(client, "lei@example.com"))["email_verified"] is False

    r = await client.post("/verify", data={"token": token_from(msg), "_csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    shown = await follow(client, r)
    assert "邮箱已验证" in (flash(shown) or "") and "登录" in shown.text
    assert (await me(client, "lei@example.com"))["email_verified"] is True

    # the same link again: explained, with the resend form
    again = await submit(client, "/verify?token=" + token_from(msg), {"token": token_from(msg)})
    assert again.status_code == 422 and "已经用过" in alerts(again)
    assert any(f.get("action") == "/verify/resend" for f in Page(again.text).forms)


def next_in(link: str, path: str) -> str:
    """The ``next`` a link to ``path`` carries."""
    parts = urlsplit(html.unescape(link))
    assert parts.path == path, link
    (going,) = parse_qs(parts.query)["next"]
    return going


def form_next(r: Any, action: str) -> str:
    """Where the account form posting to ``action`` goes on to (its hidden ``next``)."""
    found = re.search(rf'action="{action}".*?name="next" value="([^"]*)"', r.text, re.S)
    assert found, r.text
    return html.unescape(found.group(1))


async def test_a_newcomer_on_the_way_to_report_gets_there_after_registering(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """A victim taps "我也被骗了，加入投诉" (/report?name=…) without an account: the login page
    says why it is there, its register link, the mailed link and the login after it all lead on
    to the report form with the shop's name, not to the home page."""
    r = await client.get("/report", params={"name": "星辰卡盟"})
    assert r.status_code == 303
    shown = await follow(client, r)
    going = login_next(shown)  # the path as the browser asked for it (percent-encoded)
    assert unquote(going) == "/report?name=星辰卡盟"
    assert "登录后会接着打开你刚才要去的页面" in text_of(shown.text)
    assert '还没有账户？<a href="/register?next=' in shown.text
    account = shown.text.split('<section class="account">', 1)[1]
    (register_link,) = re.findall(r'href="(/register[^"]*)"', account)
    assert next_in(register_link, "/register") == going

    form, token = await open_form(client, html.unescape(register_link))
    assert form_next(form, "/register") == going
    data = {"display_name": "新人", "email": "new@example.com", "password": PASSWORD}
    r = await client.post("/register", data={**data, "next": going, "_csrf_token": token})
    assert r.status_code == 303 and next_in(r.headers["location"], "/verify") == going
    check = await follow(client, r)
    assert form_next(check, "/verify/resend") == going  # a new link asked for leads there too
    assert "小时内有效。确认邮箱之后" in check.text
    account = check.text.split('<section class="account">', 1)[1]
    (login_link,) = re.findall(r'href="(/login[^"]*)"', account)
    assert next_in(login_link, "/login") == going

    await worker()
    (msg,) = mailbox.to("new@example.com")
    link = re.search(r"https?://\S+/verify\?\S+", body_of(msg))
    assert link and next_in(path_of(link.group(0)), "/verify") == going
    opened = await client.get(path_of(link.group(0)))
    assert form_next(opened, "/verify") == going
    token = csrf_of(Page(opened.text))
    r = await client.post("/verify", data={"token": token_from(msg), "next": going, "_csrf_token": token})
    assert r.status_code == 303 and next_in(r.headers["location"], "/login") == going
    shown = await follow(client, r)
    assert login_next(shown) == going and "邮箱已验证" in (flash(shown) or "")
    login_form = {"email": "new@example.com", "password": PASSWORD, "next": going}
    r = await client.post("/login", data={**login_form, "_csrf_token": csrf_of(Page(shown.text))})
    assert r.status_code == 303 and r.headers["location"] == going
    form = await follow(client, r)
    assert form.status_code == 200 and Page(form.text).field("merchant.name") == "星辰卡盟"


async def test_a_next_of_another_site_is_dropped_on_the_way_through_registering(
    client: Any, mailbox: Any, worker: Any
) -> None:
    form, token = await open_form(client, "/register?next=https://evil.example/x")
    assert form_next(form, "/register") == "/" and 'href="/login"' in form.text
    data = {"display_name": "新人", "email": "new@example.com", "password": PASSWORD}
    r = await client.post("/register", data={**data, "next": "//evil.example", "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/verify"
    await worker()
    (msg,) = mailbox.to("new@example.com")
    assert "next=" not in body_of(msg) and "evil" not in body_of(msg)
    # a refused registration keeps where they were going
    r = await client.post("/register", data={**data, "next": "/report", "_csrf_token": token})
    assert r.status_code == 409 and form_next(r, "/register") == "/report"


async def test_the_account_speaks_the_language_of_the_page_it_was_made_on(
    client: Any, mailbox: Any, worker: Any
) -> None:
    r = await page_register(client, "ann@example.com", name="Ann", **{"Accept-Language": "en"})
    check = await follow(client, r, **{"Accept-Language": "en"})
    assert "Check your mailbox" in check.text and "Your account is ready" in (flash(check) or "")
    await worker()
    (msg,) = mailbox.to("ann@example.com")
    assert "Chorus" in str(msg["Subject"])
    assert re.search(r"[\u4e00-\u9fff]", str(msg["Subject"])) is None  # the English mail
    assert (await me(client, "ann@example.com"))["locale"] == "en"


async def test_a_signed_in_person_confirming_carries_on_signed_in(
    client: Any, mailbox: Any, worker: Any
) -> None:
    await register(client, "bo@example.com", name="Bo")
    await worker()
    (msg,) = mailbox.to("bo@example.com")
    r = await submit(client, "/login", {"email": "bo@example.com", "password": PASSWORD})
    assert r.status_code == 303  # unverified accounts may log in
    r = await submit(client, path_of(link_in(msg, "/verify")), {"token": token_from(msg)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "现在您可以举报商家" in (flash(await follow(client, r)) or "")


async def test_a_bad_or_expired_link_is_explained_and_verifies_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    await register(client, "cat@example.com", name="Cat")
    await worker()
    (msg,) = mailbox.to("cat@example.com")
    token = token_from(msg)
    before = await row_counts()

    old = aged(token, settings, "verify-email", (settings.verify_token_hours + 1) * 3600)
    r = await submit(client, "/verify?token=x", {"token": old})
    assert (
        r.status_code == 422
        and "已经过期" in alerts(r)
        and f"{settings.verify_token_hours} 小时" in alerts(r)
    )
    for bad in (token[:-4] + "xxxx", "garbage", ""):
        r = await submit(client, "/verify?token=x", {"token": bad})
        assert r.status_code == 422 and "链接无效" in alerts(r), bad
        assert "Traceback" not in r.text and "{" not in alerts(r)
    assert await row_counts() == before
    assert (await me(client, "cat@example.com"))["email_verified"] is False

    # the resend form on that page: a new mail, whose link works
    r = await submit(client, "/verify", {"email": "cat@example.com"}, action="/verify/resend")
    assert r.status_code == 303 and r.headers["location"] == "/verify"
    assert "重新发送" in (flash(await follow(client, r)) or "")
    await worker()
    assert len(mailbox.to("cat@example.com")) == 2
    fresh = token_from(mailbox.to("cat@example.com")[1])
    r = await submit(client, "/verify?token=" + fresh, {"token": fresh})
    assert r.status_code == 303
    assert (await me(client, "cat@example.com"))["email_verified"] is True


async def test_resend_answers_alike_for_unknown_addresses_and_sends_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    r = await submit(client, "/verify", {"email": "nobody@example.com"}, action="/verify/resend")
    assert r.status_code == 303 and r.headers["location"] == "/verify"
    await worker()
    assert mailbox.to("nobody@example.com") == []
    r = await submit(client, "/verify", {"email": ""}, action="/verify/resend")
    assert r.status_code == 422 and field_error(r, "email") == "请填写此项。"


async def test_register_refusals_are_shown_next_to_their_fields_and_write_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    await register(client, "taken@example.com", name="Taken")
    await worker()
    mailbox.clear()
    before = await row_counts()

    r = await submit(
        client, "/register", {"display_name": "", "email": "not-an-address", "password": "short"}
    )
    assert r.status_code == 422
    assert field_error(r, "display_name") == "请填写此项。"
    assert field_error(r, "email") == "请输入有效的电子邮箱地址。"
    assert field_error(r, "password") == "太短了：至少 10 个字符。"  # a weak password, in words
    assert form_error(r) and "short" not in r.text.split("<main", 1)[1]  # the password is not echoed
    assert 'value="not-an-address"' in r.text  # what was typed stays

    r = await submit(
        client, "/register", {"display_name": "又一个", "email": "Taken@Example.com", "password": PASSWORD}
    )
    assert r.status_code == 409
    assert field_error(r, "email") == "该邮箱地址已被注册。"
    assert 'href="/login"' in r.text and 'href="/password/forgot"' in r.text  # the ways on
    assert PASSWORD not in r.text

    r = await submit(client, "/register", {"email": "", "password": "x"}, **{"Accept-Language": "en"})
    assert r.status_code == 422
    assert field_error(r, "display_name") == field_error(r, "email") == "Please fill this in."
    assert field_error(r, "password") == "Too short: at least 10 characters."

    assert await row_counts() == before
    await worker()
    assert mailbox.messages == []


# --- log in and out --------------------------------------------------------------------------


async def test_login_goes_on_to_next_with_the_apis_session_and_logout_revokes_it(
    client: Any, mailbox: Any, worker: Any
) -> None:
    await register(client, "dan@example.com", name="Dan")
    opened, token = await open_form(client, "/login?next=/me/cases%3Ftab%3D2")
    assert login_next(opened) == "/me/cases?tab=2"

    r = await client.post(
        "/login",
        data={
            "email": "Dan@Example.com ",
            "password": PASSWORD,
            "next": "/me/cases?tab=2",
            "_csrf_token": token,
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/me/cases?tab=2"
    session = client.cookies.get(SESSION_COOKIE)
    assert session and "httponly" in r.headers["set-cookie"].lower()
    bearer = {"Authorization": f"Bearer {session}"}  # the same token the API's login hands out
    assert (await client.get("/api/v1/me", headers=bearer)).json()["email"] == "dan@example.com"

    home = await client.get("/")
    assert "登录成功" in (flash(home) or "")
    page = Page(home.text)
    (logout,) = [f for f in page.forms if f.get("action") == "/logout"]  # the header's button
    assert (logout.get("method") or "").lower() == "post"
    assert (await client.get("/login?next=/me/cases")).headers["location"] == "/me/cases"  # signed in

    # a logout without the page's token (another site's form) is refused; the session lives
    r = await client.post("/logout", data={})
    assert r.status_code == 403
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 200

    r = await client.post("/logout", data={"_csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.cookies.get(SESSION_COOKIE) is None
    assert "已退出登录" in (flash(await client.get("/")) or "")
    client.cookies.clear()
    assert (await client.get("/api/v1/me", headers=bearer)).status_code == 401  # revoked, not forgotten


@pytest.mark.parametrize(
    "target", ["https://evil.example/x", "//evil.example/x", "/\\evil.example", "/login?next=/x", "/logout"]
)
async def test_login_never_goes_on_to_another_site_or_back_to_itself(
    client: Any, mailbox: Any, worker: Any, target: str
) -> None:
    await register(client, "eve@example.com", name="Eve")
    r = await submit(client, "/login", {"email": "eve@example.com", "password": PASSWORD, "next": target})
    assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.mark.parametrize(
    ("here", "link"),
    [
        ("/merchants?q=%E6%98%9F", "/login?next=/merchants%3Fq%3D%25E6%2598%259F"),  # back here
        ("/", "/login"),
        ("/login?next=/me/cases", "/login?next=/me/cases"),  # the page's own next, not itself
        ("/register?next=/report", "/login?next=/report"),
        ("/login?next=/login%3Fnext%3D/x", "/login"),
        ("/password/forgot", "/login"),
    ],
)
async def test_the_headers_login_link_comes_back_here_and_never_to_a_login_page(
    client: Any, here: str, link: str
) -> None:
    r = await client.get(here)
    assert r.status_code == 200, r.text
    found = re.search(r'<a href="(/login[^"]*)"', r.text)  # the header's, first on the page
    assert found and html.unescape(found[1]) == link


async def test_a_wrong_password_and_an_unknown_address_are_answered_alike(client: Any) -> None:
    await register(client, "fay@example.com", name="Fay")
    before = await row_counts()
    wrong = await submit(
        client,
        "/login?next=/me/cases",
        {"email": "fay@example.com", "password": "not it at all", "next": "/me/cases"},
    )
    unknown = await submit(client, "/login", {"email": "nobody@example.com", "password": "not it at all"})
    assert wrong.status_code == unknown.status_code == 401
    assert form_error(wrong) == form_error(unknown) == "邮箱或密码不正确。"
    assert 'value="fay@example.com"' in wrong.text and "not it at all" not in wrong.text
    assert login_next(wrong) == "/me/cases"  # still going on there after a retry
    assert SESSION_COOKIE not in client.cookies
    assert await row_counts() == before

    empty = await submit(client, "/login", {"email": "", "password": ""})
    assert empty.status_code == 422
    assert field_error(empty, "email") == field_error(empty, "password") == "请填写此项。"


async def test_too_many_failed_logins_are_answered_in_words_with_when_to_retry(
    client: Any, settings: Any
) -> None:
    await register(client, "gus@example.com", name="Gus")
    limit = int(settings.auth_account_rate_limit.split("/")[0])
    for _ in range(limit):
        r = await submit(client, "/login", {"email": "gus@example.com", "password": "not it at all"})
        assert r.status_code == 401
    r = await submit(client, "/login", {"email": "gus@example.com", "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "登录失败的次数太多" in (form_error(r) or "") and "分钟后再试" in (form_error(r) or "")
    assert 'value="gus@example.com"' in r.text and SESSION_COOKIE not in client.cookies


async def test_account_forms_posted_from_another_site_are_refused(client: Any) -> None:
    await register(client, "hal@example.com", name="Hal")
    before = await row_counts()
    for path, data in (
        ("/login", {"email": "hal@example.com", "password": PASSWORD}),
        ("/register", {"display_name": "X", "email": "x@example.com", "password": PASSWORD}),
        ("/verify", {"token": "abc"}),
        ("/verify/resend", {"email": "hal@example.com"}),
        ("/password/forgot", {"email": "hal@example.com"}),
        ("/password/reset", {"token": "abc", "password": NEW_PASSWORD}),
    ):
        for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
            r = await client.post(path, data=data, headers=headers)
            assert r.status_code == 403, (path, headers, r.status_code)
            assert r.headers["content-type"].startswith("text/html")  # a page in words
    assert SESSION_COOKIE not in client.cookies
    assert await row_counts() == before


# --- a forgotten password --------------------------------------------------------------------


async def test_forgot_then_reset_by_the_mailed_link(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "ida@example.com", name="Ida")
    await worker()
    mailbox.clear()
    phone = await login(client, "ida@example.com")  # a session elsewhere
    laptop = await login(client, "ida@example.com")

    r = await submit(client, "/password/forgot", {"email": "Ida@Example.com"})
    assert r.status_code == 303 and r.headers["location"] == "/password/forgot?sent=1"
    sent = await follow(client, r)
    assert "如果这个邮箱注册过" in sent.text
    await worker()
    (msg,) = mailbox.to("ida@example.com")
    link = link_in(msg, "/password/reset")
    assert link.startswith(PUBLIC_URL + "/password/reset?token=")  # the e-mail's link is this page

    opened = await client.get(path_of(link))  # opening it changes nothing
    assert opened.status_code == 200 and "设置新密码" in opened.text
    page = Page(opened.text)
    assert page.field("token") == token_from(msg) and page.meta.get("referrer") == "no-referrer"
    assert (await client.get("/api/v1/me", headers=phone)).status_code == 200

    before = await row_counts()
    r = await client.post(
        "/password/reset", data={"token": token_from(msg), "password": "short", "_csrf_token": csrf_of(page)}
    )
    assert r.status_code == 422 and field_error(r, "password") == "太短了：至少 10 个字符。"
    assert Page(r.text).field("token") == token_from(msg)  # the form still carries the link's token
    assert await row_counts() == before and (await client.get("/api/v1/me", headers=phone)).status_code == 200

    r = await client.post(
        "/password/reset",
        data={"token": token_from(msg), "password": NEW_PASSWORD, "_csrf_token": csrf_of(page)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "密码已更新" in (flash(await follow(client, r)) or "")
    client.cookies.clear()
    for old in (phone, laptop):
        assert (await client.get("/api/v1/me", headers=old)).status_code == 401  # every session ended

    r = await submit(client, "/login", {"email": "ida@example.com", "password": PASSWORD})
    assert r.status_code == 401
    r = await submit(client, "/login", {"email": "ida@example.com", "password": NEW_PASSWORD})
    assert r.status_code == 303 and client.cookies.get(SESSION_COOKIE)

    # the link works once
    client.cookies.clear()
    r = await submit(client, path_of(link), {"token": token_from(msg), "password": "yet another passphrase"})
    assert r.status_code == 422 and "已经用过" in alerts(r)
    assert any(f.get("action") == "/password/forgot" for f in Page(r.text).forms)  # ask again, right there
    assert (await me(client, "ida@example.com", NEW_PASSWORD))["email"] == "ida@example.com"


async def test_forgot_answers_alike_for_any_address(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "jo@example.com", name="Jo")
    await worker()
    mailbox.clear()
    known = await submit(client, "/password/forgot", {"email": "jo@example.com"})
    unknown = await submit(client, "/password/forgot", {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    await worker()
    assert len(mailbox.to("jo@example.com")) == 1 and mailbox.to("nobody@example.com") == []

    before = await row_counts()
    r = await submit(client, "/password/forgot", {"email": ""})
    assert r.status_code == 422 and field_error(r, "email") == "请填写此项。"
    assert await row_counts() == before


async def test_a_bad_expired_or_missing_reset_link_is_explained(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    await register(client, "kim@example.com", name="Kim")
    await worker()
    mailbox.clear()
    await submit(client, "/password/forgot", {"email": "kim@example.com"})
    await worker()
    token = token_from(mailbox.to("kim@example.com")[0])
    before = await row_counts()

    old = aged(token, settings, "password-reset", (settings.password_reset_minutes + 1) * 60)
    r = await submit(client, "/password/reset?token=x", {"token": old, "password": NEW_PASSWORD})
    assert r.status_code == 422 and "已经过期" in alerts(r)
    assert f"{settings.password_reset_minutes} 分钟" in alerts(r)
    for bad in (token[:-4] + "xxxx", "garbage"):
        r = await submit(client, "/password/reset?token=x", {"token": bad, "password": NEW_PASSWORD})
        assert r.status_code == 422 and "链接无效" in alerts(r), bad
    missing = await client.get("/password/reset")
    assert missing.status_code == 200 and "链接无效" in alerts(missing)
    assert await row_counts() == before
    r = await submit(client, "/login", {"email": "kim@example.com", "password": PASSWORD})
    assert r.status_code == 303  # the old password still works


async def test_every_account_page_in_english(client: Any) -> None:
    en = {"Accept-Language": "en"}
    for path, words in (
        ("/register", "Create an account"),
        ("/verify", "Check your mailbox"),
        ("/verify?token=abc", "Confirm your e-mail address"),
        ("/login", "Log in"),
        ("/password/forgot", "Forgot your password"),
        ("/password/forgot?sent=1", "If an account exists for that address"),
        ("/password/reset?token=abc", "Choose a new password"),
        ("/password/reset", "This password link does not work"),
    ):
        r = await client.get(path, headers=en)
        assert r.status_code == 200 and words in r.text, path
        page = Page(r.text)
        assert page.lang == "en" and page.inline == 0 and page.style_attributes == 0, path
        assert not re.search(r"[\u4e00-\u9fff]", text_of(r.text.split("<main", 1)[1])), path
