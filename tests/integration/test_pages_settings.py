"""The settings pages over HTTP, as a browser without JavaScript uses them, against the real
database, Redis, arq worker and SMTP server: notification preferences saved (an unknown value
refused on its field, nothing changed), a webhook whose secret is shown once, a bouncing address
confirmed again by the mailed link's request; the password changed (a wrong one said in words
and counted as the API counts it; other sessions end); leaving a case (its only organizer told
why not); deleting the account (a wrong password deletes nothing; then signed out, and the
account logs in no more)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chorus.notifications.tables import Preferences
from chorus.web.auth import SESSION_COOKIE
from tests.integration.cases_support import Person, get_ok, ident, person, report, report_body
from tests.integration.notify_support import drain, smtp_sink
from tests.integration.test_pages_accounts import field_error, flash, follow, form_error
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.integration.test_pages_notifications import sign_in
from tests.support import PASSWORD, assert_problem, body_of, row_counts, run_jobs, text_of

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT, QQ = "星辰卡盟", "2876543210"
NEW_PASSWORD = "a brand new passphrase"


async def post_form(client: Any, page_path: str, action: str, data: dict[str, str]) -> Any:
    """Open ``page_path`` in the signed-in browser and post one of its forms to ``action``."""
    r = await client.get(page_path)
    assert r.status_code == 200, r.text
    return await client.post(action, data={**data, "_csrf_token": csrf_of(Page(r.text))})


def checked(html: str, name: str) -> str | None:
    """The value of the checked radio button ``name``."""
    found = re.search(rf'name="{name}" value="([^"]+)"\s+aria-describedby="[^"]+"\s*checked', html)
    return found.group(1) if found else None


def selected(html: str, name: str) -> tuple[str | None, list[str]]:
    """The selected option of the form's select ``name`` (not the header's language switch) and
    all its options' values, in order."""
    found = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, html
    options = re.findall(r'<option value="([^"]+)"', found.group(1))
    chosen = re.search(r'<option value="([^"]+)" selected>', found.group(1))
    return (chosen.group(1) if chosen else None), options


async def prefs(client: Any, who: Person) -> dict[str, Any]:
    out: dict[str, Any] = await get_ok(client, "/api/v1/me/preferences", who.headers)
    return out


async def a_case(client: Any, mailbox: Any, worker: Any) -> tuple[Person, Person, int]:
    """An organizer and Bob (a member) in one case."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    case_id = (await report(client, org, report_body(MERCHANT, [ident("qq", QQ)])))["case_id"]
    await report(client, bob, report_body(MERCHANT, [ident("qq", QQ)]))
    await drain(worker)
    return org, bob, case_id


async def test_preferences_are_saved_and_unknown_values_refused_on_their_field(
    client: Any, mailbox: Any, worker: Any
) -> None:
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    before = await prefs(client, bob)
    sign_in(client, bob)
    r = await client.get("/settings")
    assert r.status_code == 200 and Page(r.text).lang == "zh-CN"
    assert checked(r.text, "email") == "immediate"
    assert selected(r.text, "locale")[0] == "zh-CN"
    zone, zones = selected(r.text, "time_zone")
    assert zone == "Asia/Shanghai" and zones[0] == "Asia/Shanghai" and "Europe/London" in zones
    assert "上海（UTC+08:00）" in r.text
    assert 'value="None"' not in r.text  # no webhook yet: an empty box

    # unknown values: refused on their fields, in words; nothing changes
    rows = await row_counts()
    r = await post_form(
        client, "/settings", "/settings", {"email": "weekly", "locale": "fr", "time_zone": "UTC"}
    )
    assert r.status_code == 422
    assert (
        field_error(r, "email") == "请从列表中选择一项。"
        and field_error(r, "locale") == "请从列表中选择一项。"
    )
    assert form_error(r) == "有几项需要修改，请看下面标出的地方。"
    r = await post_form(
        client,
        "/settings",
        "/settings",
        {"email": "digest", "locale": "en", "time_zone": "Mars/Olympus_Mons"},
    )
    assert r.status_code == 422
    assert field_error(r, "time_zone") == "未知的时区：请使用 IANA 名称，例如 Asia/Shanghai。"
    assert checked(r.text, "email") == "digest"  # what was chosen stays chosen
    assert await prefs(client, bob) == before and await row_counts() == rows

    # saved: the page comes back in the chosen language, the API shows the same
    r = await post_form(
        client, "/settings", "/settings", {"email": "digest", "locale": "en", "time_zone": "Europe/London"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/settings"
    r = await follow(client, r)
    assert Page(r.text).lang == "en" and flash(r) == "Saved."
    assert checked(r.text, "email") == "digest" and selected(r.text, "time_zone")[0] == "Europe/London"
    assert "London (UTC+" in r.text
    after = await prefs(client, bob)
    assert (after["email"], after["locale"], after["time_zone"]) == ("digest", "en", "Europe/London")

    # a webhook: a refused address on its field, nothing set
    r = await post_form(
        client, "/settings", "/settings/webhook", {"webhook_url": "ftp://hooks.example.com/x"}
    )
    assert r.status_code == 422 and "webhook" in (field_error(r, "webhook_url") or "").lower()
    assert (await prefs(client, bob))["webhook_url"] is None
    r = await post_form(client, "/settings", "/settings/webhook", {"webhook_url": ""})
    assert r.status_code == 422 and field_error(r, "webhook_url") == "Please fill this in."

    # set: its secret shown on this answer, once
    hook = "http://127.0.0.1:9/chorus-hook"
    r = await post_form(client, "/settings", "/settings/webhook", {"webhook_url": hook})
    assert r.status_code == 200, r.text
    shown = re.search(r'<code class="secret">([^<]+)</code>', r.text)
    assert shown and "shown only this once" in text_of(r.text)
    stored = await Preferences.select(Preferences.webhook_secret).where(Preferences.user == bob.id).first()
    assert stored and stored["webhook_secret"] == shown.group(1)
    assert (await prefs(client, bob))["webhook_url"] == hook
    r = await client.get("/settings")
    assert shown.group(1) not in r.text and hook in r.text and "Active" in r.text

    r = await post_form(client, "/settings", "/settings/webhook/remove", {})
    r = await follow(client, r)
    assert flash(r) == "The webhook is removed." and hook not in r.text
    assert (await prefs(client, bob))["webhook_url"] is None


async def test_a_bouncing_address_is_shown_with_the_confirm_again_action(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    sign_in(client, bob)
    assert "发往您邮箱的邮件被退回了" not in (await client.get("/settings")).text
    with smtp_sink(refuse={bob.email}) as sink:
        refusing = settings.model_copy(update={"smtp_port": sink.port})

        async def run() -> int:
            return await run_jobs(redis_pool, refusing)

        r = await client.post(
            f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers
        )
        assert r.status_code == 200, r.text
        await drain(run)
        assert (await prefs(client, bob))["email_bouncing"] is True

        r = await client.get("/settings")
        assert "发往您邮箱的邮件被退回了" in r.text and bob.email in text_of(r.text)
        sink.refuse.clear()
        r = await post_form(client, "/settings", "/settings/email/confirm", {})
        r = await follow(client, r)
        assert flash(r) == "确认邮件已发出，请打开其中的链接。"
        await drain(run)
        (confirm,) = sink.to(bob.email)
        assert "/notifications/confirm-email?token=" in body_of(confirm)
        assert "/api/v1/" not in body_of(confirm)  # every link a page


async def test_the_password_is_changed_with_the_current_one_and_other_sessions_end(
    client: Any, mailbox: Any, worker: Any
) -> None:
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    phone = (await client.post("/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD})).json()
    other = {"Authorization": f"Bearer {phone['token']}"}
    sign_in(client, bob)

    r = await post_form(
        client, "/settings", "/settings/password", {"current_password": "not it", "password": NEW_PASSWORD}
    )
    assert r.status_code == 403
    assert field_error(r, "current_password") == "密码不正确。"
    assert "not it" not in r.text and NEW_PASSWORD not in r.text  # passwords are never echoed
    r = await post_form(
        client, "/settings", "/settings/password", {"current_password": PASSWORD, "password": "short"}
    )
    assert r.status_code == 422 and field_error(r, "password") == "太短了：至少 10 个字符。"
    assert (await client.get("/api/v1/me", headers=other)).status_code == 200  # nothing changed

    r = await post_form(
        client, "/settings", "/settings/password", {"current_password": PASSWORD, "password": NEW_PASSWORD}
    )
    assert r.status_code == 303
    r = await follow(client, r)
    assert flash(r) == "密码已修改。其他设备和浏览器上的登录都已退出。"
    assert_problem(await client.get("/api/v1/me", headers=other), 401)  # the other session ended
    assert (await client.get("/settings")).status_code == 200  # this one lives on
    client.cookies.clear()
    r = await client.post("/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert_problem(r, 401)
    r = await client.post("/api/v1/auth/login", json={"email": bob.email, "password": NEW_PASSWORD})
    assert r.status_code == 200


async def test_wrong_passwords_count_as_failed_logins_and_are_then_refused_in_words(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    sign_in(client, bob)
    limit = int(settings.auth_account_rate_limit.split("/")[0])
    for _ in range(limit):
        r = await post_form(
            client, "/settings", "/settings/password", {"current_password": "guess", "password": NEW_PASSWORD}
        )
        assert r.status_code == 403
    # even the right password is refused for a while now, said in words with when to come back
    r = await post_form(
        client, "/settings", "/settings/password", {"current_password": PASSWORD, "password": NEW_PASSWORD}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert re.fullmatch(r"密码输错的次数太多了。为了保护您的账户，请在 \d+ 分钟后再试。", form_error(r) or "")
    r = await post_form(client, "/settings/delete", "/settings/delete", {"password": PASSWORD})
    assert r.status_code == 429 and "密码输错的次数太多了" in (form_error(r) or "")
    client.cookies.clear()  # the API's login counts the same failures
    r = await client.post("/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD})
    assert r.status_code == 429


async def test_leaving_a_case_after_reading_what_stays_and_its_only_organizer_told_why_not(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    eve = await person(client, mailbox, worker, "eve@example.com", "Eve")

    # the organizer: the case is listed; leaving it is refused in words, nothing changes
    sign_in(client, org)
    r = await client.get("/settings")
    assert f'href="/settings/cases/{case_id}/leave"' in r.text and MERCHANT in r.text
    r = await client.get(f"/settings/cases/{case_id}/leave")
    assert r.status_code == 200
    words = text_of(r.text)
    assert "已经提交给监管部门的投诉保持提交时的样子" in words and "您是这个案件的组织者" in words
    rows = await row_counts()
    r = await post_form(client, f"/settings/cases/{case_id}/leave", f"/settings/cases/{case_id}/leave", {})
    assert r.status_code == 409
    assert form_error(r) == f"您是案件 {case_id} 唯一的组织者：请先将另一位成员设为组织者，再退出。"
    assert "请先在案件里把另一位成员设为组织者" in text_of(r.text)
    assert await row_counts() == rows

    # a member leaves: back on the settings with a notice, the case no longer theirs
    sign_in(client, bob)
    r = await post_form(client, f"/settings/cases/{case_id}/leave", f"/settings/cases/{case_id}/leave", {})
    assert r.status_code == 303
    r = await follow(client, r)
    assert flash(r) == f"您已退出案件 #{case_id}。" and f"/settings/cases/{case_id}/leave" not in r.text
    assert (await get_ok(client, "/api/v1/me/cases", bob.headers))["items"] == []
    assert (await get_ok(client, f"/api/v1/cases/{case_id}"))["member_count"] == 1
    r = await client.get(f"/settings/cases/{case_id}/leave")
    assert r.status_code == 404

    # someone not in the case: 404, nothing changes
    sign_in(client, eve)
    rows = await row_counts()
    r = await post_form(client, "/settings", f"/settings/cases/{case_id}/leave", {})
    assert r.status_code == 404 and await row_counts() == rows


async def test_deleting_the_account_explains_first_refuses_a_wrong_password_and_then_logs_out(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    sign_in(client, bob)
    r = await client.get("/settings/delete")
    assert r.status_code == 200
    words = text_of(r.text)
    # before confirming: what a filed complaint keeps, what is deleted (README's words)
    assert "Chorus 会原样保留" in words and "除非该监管部门需要完整信息，否则会打码" in words
    assert "您会退出所有案件（1 个）" in words and "这个账户再也无法登录" in words
    assert "可以用同一个邮箱重新注册" in words

    rows = await row_counts()
    r = await post_form(client, "/settings/delete", "/settings/delete", {"password": "not my password"})
    assert r.status_code == 403 and field_error(r, "password") == "密码不正确。"
    r = await post_form(client, "/settings/delete", "/settings/delete", {"password": ""})
    assert r.status_code == 422 and field_error(r, "password") == "请填写此项。"
    assert await row_counts() == rows
    assert (await client.get("/settings")).status_code == 200  # still signed in

    # the case's only organizer (Bob is still in it): refused in words, nothing deleted
    sign_in(client, org)
    r = await client.get("/settings/delete")
    assert "您是下面这些案件的组织者" in text_of(r.text)
    r = await post_form(client, "/settings/delete", "/settings/delete", {"password": PASSWORD})
    assert (
        r.status_code == 409
        and form_error(r) == f"您是案件 {case_id} 唯一的组织者：请先将另一位成员设为组织者，再退出。"
    )
    assert await row_counts() == rows

    # the right password: signed out on the goodbye page; the account logs in no more
    sign_in(client, bob)
    r = await post_form(client, "/settings/delete", "/settings/delete", {"password": PASSWORD})
    assert r.status_code == 303 and r.headers["location"] == "/goodbye"
    assert re.search(rf"{SESSION_COOKIE}=\"?\"?;.*(Max-Age=0|expires=)", r.headers["set-cookie"], re.I)
    r = await follow(client, r)
    assert r.status_code == 200 and flash(r) == "您的账户已删除。"
    assert "已经提交给监管部门的投诉按提交时的样子保留" in text_of(r.text)
    assert 'href="/login' in r.text and 'action="/logout"' not in r.text  # signed out
    client.cookies.clear()
    assert_problem(
        await client.post("/api/v1/auth/login", json={"email": bob.email, "password": PASSWORD}), 401
    )
    assert_problem(await client.get("/api/v1/me", headers=bob.headers), 401)
    assert (await get_ok(client, f"/api/v1/cases/{case_id}"))["member_count"] == 1
    # the goodbye page says so only right after a deletion (its notice shown once)
    r = await client.get("/goodbye")
    assert r.status_code == 303 and r.headers["location"] == "/"
