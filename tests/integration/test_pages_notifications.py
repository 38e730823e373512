"""The inbox page and the e-mail's unsubscribe page over HTTP, against the real database, Redis,
arq worker and SMTP server: notifications made by real events (an organizer's announcement, a
status change) listed in words with their date, newest first; marking one or all read, as a
plain form and through htmx, changes the header's badge; someone else's notification is a 404
and changes nothing. The unsubscribe page's button lands on a page in words (e-mail off, the
way back), while a mail client's RFC 8058 one-click post keeps its JSON answer."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chorus.web.auth import SESSION_COOKIE
from tests.integration.cases_support import Person, get_ok, ident, person, report, report_body
from tests.integration.notify_support import drain
from tests.integration.test_pages_accounts import flash, follow
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import row_counts, text_of

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT, QQ = "星辰卡盟", "2876543210"
TITLE, BODY = "12315 已受理", "请大家在周五前上传付款截图。"
HTMX = {"HX-Request": "true"}


def sign_in(client: Any, who: Person) -> None:
    """The client becomes that person's browser (their session cookie), and no one else's."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, who.headers["Authorization"].removeprefix("Bearer "))


def badge(html: str) -> int:
    """The header's unread badge (0: none shown)."""
    found = re.search(r'id="unread-badge">(\d+)<', html)
    return int(found.group(1)) if found else 0


def items(html: str) -> list[dict[str, Any]]:
    """The inbox's notifications as shown: id, words, unread mark, date line, link, read button."""
    out = []
    for nid, body in re.findall(r'<li id="n-(\d+)" class="inbox-item[^"]*">(.*?)</li>', html, re.S):
        text = re.search(r'<p class="inbox-text">(.*?)</p>', body, re.S)
        meta = re.search(r'<p class="inbox-meta">(.*?)</p>', body, re.S)
        link = re.search(r'<a href="([^"]+)"', body)
        assert text and meta, body
        out.append(
            {
                "id": int(nid),
                "text": text_of(text.group(1)),
                "unread": "未读" in text_of(text.group(1)) or "Unread" in text_of(text.group(1)),
                "meta": text_of(meta.group(1)),
                "link": link.group(1) if link else None,
                "button": f'action="/notifications/{nid}/read"' in body,
            }
        )
    return out


async def a_case(client: Any, mailbox: Any, worker: Any) -> tuple[Person, Person, int]:
    """An organizer and Bob in one case, the queue drained and the mailbox emptied."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    case_id = (await report(client, org, report_body(MERCHANT, [ident("qq", QQ)])))["case_id"]
    await report(client, bob, report_body(MERCHANT, [ident("qq", QQ)]))
    await drain(worker)
    mailbox.clear()
    return org, bob, case_id


async def announce(client: Any, org: Person, case_id: int, title: str = TITLE) -> None:
    r = await client.post(
        f"/api/v1/cases/{case_id}/announcements", json={"title": title, "body": BODY}, headers=org.headers
    )
    assert r.status_code == 201, r.text


async def test_the_inbox_lists_real_notifications_in_words_and_marking_read_changes_the_badge(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    await announce(client, org, case_id)
    await drain(worker)  # one event after the other: the inbox's order is theirs
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
    assert r.status_code == 200, r.text
    await drain(worker)
    api = await get_ok(client, "/api/v1/notifications", bob.headers)
    assert [n["kind"] for n in api["items"]][:2] == ["case.status_changed", "case.announcement"]

    sign_in(client, bob)
    r = await client.get("/notifications")
    assert r.status_code == 200, r.text
    assert Page(r.text).lang == "zh-CN"
    shown = items(r.text)
    # newest first, each in words (the e-mail's subject line), with its date, marked unread
    assert [i["id"] for i in shown] == [n["id"] for n in api["items"]]
    assert shown[1]["text"] == f"未读 案件 #{case_id} 组织者公告：{TITLE}"
    assert all(i["unread"] and i["button"] for i in shown)
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", shown[0]["meta"]), shown[0]
    assert shown[0]["link"] == f"/cases/{case_id}"
    assert badge(r.text) == api["unread"] == len(shown)
    # the header's badge refreshes itself (htmx polls the badge alone, below)
    assert re.search(r'id="unread-slot" hx-get="/notifications/badge" hx-trigger="every 60s"', r.text)
    assert f"{api['unread']} 条未读" in text_of(r.text)
    assert BODY not in r.text  # the inbox keeps no announcement body (it is read on the case)

    # mark one read without JavaScript: back to the inbox, one fewer in the badge
    page = Page(r.text)
    first = shown[0]["id"]
    r = await client.post(f"/notifications/{first}/read", data={"_csrf_token": csrf_of(page)})
    r = await follow(client, r)
    assert badge(r.text) == api["unread"] - 1
    after = {i["id"]: i for i in items(r.text)}
    assert not after[first]["unread"] and not after[first]["button"]
    assert (await get_ok(client, "/api/v1/notifications", bob.headers))["unread"] == api["unread"] - 1

    # the header's badge alone, as htmx polls it
    r = await client.get("/notifications/badge")
    assert r.status_code == 200 and badge(r.text) == api["unread"] - 1
    assert "<html" not in r.text

    # htmx: the item comes back read, the badge out of band
    second = shown[1]["id"]
    r = await client.post(f"/notifications/{second}/read", data={"_csrf_token": csrf_of(page)}, headers=HTMX)
    assert r.status_code == 200, r.text
    assert "<html" not in r.text
    (item,) = items(r.text)
    assert item["id"] == second and not item["unread"]
    assert re.search(r'<span id="unread-slot" hx-swap-oob="innerHTML">', r.text)
    assert badge(r.text) == api["unread"] - 2

    # someone else's notification: 404 in words, nothing marked
    org_inbox = await get_ok(client, "/api/v1/notifications", org.headers)
    theirs = org_inbox["items"][0]["id"]
    r = await client.post(f"/notifications/{theirs}/read", data={"_csrf_token": csrf_of(page)})
    assert r.status_code == 404 and "找不到" in r.text
    assert (await get_ok(client, "/api/v1/notifications", org.headers))["unread"] == org_inbox["unread"]

    # mark all read (htmx): the list again, nothing unread, no badge
    r = await client.post("/notifications/read-all", data={"_csrf_token": csrf_of(page)}, headers=HTMX)
    assert r.status_code == 200, r.text
    assert all(not i["unread"] for i in items(r.text)) and badge(r.text) == 0
    assert "全部已读" in text_of(r.text) and 'action="/notifications/read-all"' not in r.text
    assert (await get_ok(client, "/api/v1/notifications", bob.headers))["unread"] == 0
    r = await client.get("/notifications")
    assert badge(r.text) == 0 and 'id="unread-slot"' in r.text  # the slot stays, for the next poll

    # a new event: the badge shows it on the next poll, and "mark all" without JavaScript
    await announce(client, org, case_id, "第二次公告")
    await drain(worker)
    assert badge((await client.get("/notifications/badge")).text) == 1
    r = await client.post("/notifications/read-all", data={"_csrf_token": csrf_of(page)})
    r = await follow(client, r)
    assert flash(r) == "所有通知都已标为已读。" and badge(r.text) == 0


async def test_an_empty_inbox_says_what_comes_there_and_the_badge_of_nobody_is_empty(
    client: Any, mailbox: Any, worker: Any
) -> None:
    eve = await person(client, mailbox, worker, "eve@example.com", "Eve")
    sign_in(client, eve)
    r = await client.get("/notifications")
    assert r.status_code == 200
    assert "还没有通知" in r.text and items(r.text) == [] and badge(r.text) == 0
    assert 'href="/me/cases"' in r.text
    r = await client.get("/notifications", headers={"Accept-Language": "en"})
    assert "No notifications yet" not in r.text  # the account's language (zh-CN) wins over the header

    client.cookies.clear()
    r = await client.get("/notifications/badge")
    assert r.status_code == 200 and r.text.strip() == ""  # a session that ended: no badge, no login page
    r = await client.get("/notifications")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/notifications"


async def unsubscribe_link(
    client: Any, org: Person, bob: Person, case_id: int, mailbox: Any, worker: Any
) -> str:
    """The path of the unsubscribe link of Bob's next notification e-mail."""
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
    assert r.status_code == 200, r.text
    await drain(worker)
    (msg,) = mailbox.to(bob.email)
    link = msg["List-Unsubscribe"].strip("<>")
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def test_the_unsubscribe_button_lands_on_a_page_in_words_and_one_click_still_answers_json(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    link = await unsubscribe_link(client, org, bob, case_id, mailbox, worker)
    token = parse_qs(urlsplit(link).query)["token"][0]

    # the mailed link: the site's own page (layout, language switch), a button, nothing changed yet
    client.cookies.clear()
    r = await client.get(link)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Page(r.text)
    assert page.lang == "zh-CN" and "/static/css/app.css" in page.styles and page.inline == 0
    assert "站内消息照常保留" in r.text
    (form,) = [f for f in page.forms if (f.get("action") or "").startswith("/notifications/unsubscribe")]
    assert form["action"] == f"/notifications/unsubscribe?token={token}"
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "immediate"

    # a damaged link: refused in words, with the way to the settings; nothing changes
    rows = await row_counts()
    r = await client.post(f"/notifications/unsubscribe?token={token[:-4]}AAAA", data={})
    assert r.status_code == 422 and "链接无效" in text_of(r.text) and 'href="/settings"' in r.text
    assert "{" not in text_of(r.text)  # words, not JSON
    assert await row_counts() == rows
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "immediate"

    # the button (no login): a page saying e-mail is off and where to turn it back on
    r = await client.post(form["action"] or "", data={})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    words = text_of(r.text)
    assert "Chorus 不会再给您发送通知邮件" in words and "设置" in words and 'href="/settings"' in r.text
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "off"

    # the same button in a signed-in browser (its session cookie rides along): the link decides
    r = await client.put("/api/v1/me/preferences", json={"email": "digest"}, headers=bob.headers)
    assert r.status_code == 200
    sign_in(client, bob)
    r = await client.post(form["action"] or "", data={}, headers={"Accept-Language": "en"})
    # in the account's language, whatever the browser asks for
    assert r.status_code == 200 and "Chorus 不会再给您发送通知邮件" in text_of(r.text)
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "off"

    # a mail client's RFC 8058 one-click post to the mailed address: JSON, as before
    client.cookies.clear()
    r = await client.put("/api/v1/me/preferences", json={"email": "immediate"}, headers=bob.headers)
    r = await client.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json() == {"email": "off"}
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "off"


async def test_the_unsubscribe_page_speaks_the_readers_language(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await a_case(client, mailbox, worker)
    link = await unsubscribe_link(client, org, bob, case_id, mailbox, worker)
    client.cookies.clear()
    r = await client.get(link, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert Page(r.text).lang == "en" and "Stop notification e-mails from Chorus" in r.text
    action = re.search(r'action="(/notifications/unsubscribe\?token=[^"]+)"', r.text)
    assert action
    r = await client.post(action.group(1), data={}, headers={"Accept-Language": "en"})
    assert "Chorus will send you no more notification e-mails" in text_of(r.text)
