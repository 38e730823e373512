"""Member notifications by e-mail over real SMTP (aiosmtpd) and real arq workers: every member
told once in their language, one-click unsubscribe without login, a 550 stops e-mail to an
address until the member confirms it, failures shown to admins, preferences validated,
announcements, the inbox."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chorus import db
from chorus.notifications import service as notifications
from chorus.notifications.tables import Delivery, InboxEntry, NotifyEvent, Preferences
from tests.integration.cases_support import (
    Person,
    fields_of,
    get_ok,
    ident,
    person,
    report,
    report_body,
    staff,
)
from tests.integration.notify_support import drain, seed_members, smtp_sink
from tests.support import assert_problem, body_of, run_jobs


async def _case(client: Any, mailbox: Any, worker: Any) -> tuple[Person, Person, int]:
    """An organizer (zh-CN) and a member who prefers English, in one case."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    r = await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=bob.headers)
    assert r.status_code == 200, r.text
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "2876543210")]))
    await drain(worker)
    mailbox.clear()
    return org, bob, case_id


async def test_status_change_reaches_every_member_by_email_in_their_language(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "closed"}, headers=org.headers)
    assert r.status_code == 200, r.text
    await drain(worker)

    (zh,) = mailbox.to("org@example.com")
    (en,) = mailbox.to("bob@example.com")
    assert zh["Subject"] == f"案件 #{case_id} 已结案"
    assert en["Subject"] == f"Case #{case_id} was closed"
    assert "Hello Bob," in body_of(en) and "组织者" not in body_of(en)  # nobody else's name
    html = en.get_body(preferencelist=("html",))
    assert html is not None and "<p>Hello Bob,</p>" in html.get_content()
    for msg in (zh, en):
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert re.fullmatch(
            r"<https?://\S+/api/v1/notifications/unsubscribe\?token=\S+>", msg["List-Unsubscribe"]
        )
    kinds = [n["kind"] for n in (await get_ok(client, "/api/v1/notifications", bob.headers))["items"]]
    assert kinds == ["case.closed"]


async def test_unsubscribe_link_works_without_login_and_refuses_a_tampered_signature(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
    await drain(worker)
    (msg,) = mailbox.to("bob@example.com")
    link = msg["List-Unsubscribe"].strip("<>")
    token = parse_qs(urlsplit(link).query)["token"][0]
    url = f"/api/v1/notifications/unsubscribe?token={token}"

    # a changed signature, or the token of another user spliced with this signature: refused, nothing changes
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await client.post(
        f"/api/v1/notifications/unsubscribe?token={tampered}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_problem(r, 422, "notify_link_invalid")
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "immediate"

    # the page a click opens changes nothing; the one-click POST (no cookie, no bearer) does
    page = await client.get(url)
    assert page.status_code == 200 and "<form" in page.text
    # readable on a phone, and it says what the button does before it is pressed (zh-CN default)
    assert 'name="viewport"' in page.text and "站内消息照常保留" in page.text
    assert 'href="/static/css/app.css"' in page.text  # the site's layout (test_pages_notifications.py)
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "immediate"
    r = await client.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"email": "off"}
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "off"

    mailbox.clear()
    await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "gathering"}, headers=org.headers)
    await drain(worker)
    assert mailbox.to("bob@example.com") == []  # unsubscribed: no e-mail
    assert len(mailbox.to("org@example.com")) == 1
    bob_inbox = await get_ok(client, "/api/v1/notifications", bob.headers)
    assert bob_inbox["unread"] == 2  # the inbox still gets everything


async def test_a_550_stops_email_to_that_address_until_the_member_confirms_it(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    admin = await staff(client, settings, "admin@example.com", "admin")
    with smtp_sink(refuse={"bob@example.com"}) as sink:
        refusing = settings.model_copy(update={"smtp_port": sink.port})

        async def run() -> int:
            return await run_jobs(redis_pool, refusing)

        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
        await drain(run)
        assert sink.recipients() == ["org@example.com"]
        prefs = await get_ok(client, "/api/v1/me/preferences", bob.headers)
        assert prefs["email_bouncing"] is True
        inbox = await get_ok(client, "/api/v1/notifications", bob.headers)
        assert "account.email_bouncing" in [n["kind"] for n in inbox["items"]]
        failures = (await get_ok(client, "/api/v1/admin/notifications/failures", admin.headers))["items"]
        assert [(f["user_id"], f["channel"], f["address"]) for f in failures] == [
            (bob.id, "email", "bob@example.com")
        ]
        assert "550" in failures[0]["error"]
        assert_problem(await client.get("/api/v1/admin/notifications/failures", headers=bob.headers), 403)

        # the next event: no attempt at all to the bouncing address
        sink.refuse.clear()
        await client.post(
            f"/api/v1/cases/{case_id}/status", json={"status": "gathering"}, headers=org.headers
        )
        await drain(run)
        assert sink.recipients() == ["org@example.com", "org@example.com"]
        skipped = await Delivery.count().where(
            (Delivery.user == bob.id)
            & (Delivery.status == "skipped")
            & (Delivery.last_error == "address_bouncing")
        )
        assert skipped == 1

        # the member asks for a confirmation link, follows it: e-mail resumes
        r = await client.post("/api/v1/me/email/confirm", headers=bob.headers)
        assert r.status_code == 202, r.text
        await drain(run)
        (confirm,) = sink.to("bob@example.com")
        # the mailed link is a page (a person opens it in a browser), not the API's JSON
        link = re.search(r"https?://\S+/notifications/confirm-email\?token=\S+", body_of(confirm))
        assert link is not None and "/api/" not in link.group(0)
        parts = urlsplit(link.group(0))
        token = parse_qs(parts.query)["token"][0]
        r = await client.get(f"{parts.path}?{parts.query}")  # what a mail scanner's GET does: nothing
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "确认我的邮箱" in r.text and f'value="{token}"' in r.text
        assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email_bouncing"] is True
        # a damaged link: refused in words on the page, nothing changed
        r = await client.post("/notifications/confirm-email", data={"token": f"{token}x"})
        assert r.status_code == 422 and "链接无效" in r.text and "{" not in r.text.split("<main", 1)[1]
        assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email_bouncing"] is True
        # the page's button confirms the address
        r = await client.post("/notifications/confirm-email", data={"token": token})
        assert r.status_code == 200 and "通知邮件已恢复" in r.text, r.text
        assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email_bouncing"] is False
        # API clients keep their route (JSON), bad links refused as problem+json
        assert_problem(await client.get(f"/api/v1/notifications/confirm-email?token={token}x"), 422)
        r = await client.get(f"/api/v1/notifications/confirm-email?token={token}")
        assert r.status_code == 200 and r.json()["email_bouncing"] is False
        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
        await drain(run)
        assert len(sink.to("bob@example.com")) == 2


async def test_transient_smtp_failures_are_retried_and_never_dropped(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    fast = settings.model_copy(update={"notify_retry_seconds": 0.05})
    down = fast.model_copy(update={"smtp_port": 1})  # nothing listens: connection refused

    async def run_down() -> int:
        return await run_jobs(redis_pool, down)

    await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
    # each try fails to connect; the job is retried with backoff until the deliveries run out of tries
    await drain(run_down)
    rows = await Delivery.select(Delivery.status, Delivery.attempts).where(
        (Delivery.channel == "email") & (Delivery.event.kind == "case.status_changed")
    )
    assert rows and all(r["status"] == "failed" and r["attempts"] == fast.notify_attempts for r in rows)
    assert mailbox.to("bob@example.com") == []
    failures = await notifications.failures()
    assert {f.user_id for f in failures.items} == {org.id, bob.id}  # visible to admins, not dropped
    assert len(rows) == 2


async def test_preferences_refuse_unknown_values_naming_the_field(
    client: Any, mailbox: Any, worker: Any
) -> None:
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    before = await get_ok(client, "/api/v1/me/preferences", bob.headers)
    assert before == {
        "email": "immediate",
        "locale": "zh-CN",
        "time_zone": "Asia/Shanghai",
        "webhook_url": None,
        "webhook_active": False,
        "email_bouncing": False,
        "webhook_secret": None,
    }
    for body, field in (
        ({"email": "weekly"}, "email"),
        ({"locale": "fr"}, "locale"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"email": None}, "email"),
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"colour": "blue"}, "colour"),
    ):
        r = await client.put(
            "/api/v1/me/preferences", json={**body, "locale": body.get("locale", "en")}, headers=bob.headers
        )
        problem = assert_problem(r, 422)
        assert field in fields_of(problem), (body, problem)
    assert await get_ok(client, "/api/v1/me/preferences", bob.headers) == before  # nothing half-written
    assert await Preferences.count() == 0

    r = await client.put(
        "/api/v1/me/preferences",
        json={"email": "digest", "locale": "en", "time_zone": "America/New_York"},
        headers=bob.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json() | {"webhook_secret": None} == before | {
        "email": "digest",
        "locale": "en",
        "time_zone": "America/New_York",
    }
    assert (await get_ok(client, "/api/v1/me", bob.headers))["locale"] == "en"
    assert_problem(await client.get("/api/v1/me/preferences"), 401)


async def test_announcements_reach_members_sanitized_and_only_organizers_post(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    outsider = await person(client, mailbox, worker, "eve@example.com", "Eve")
    mailbox.clear()
    url = f"/api/v1/cases/{case_id}/announcements"
    body = {
        "title": "  12315 已受理  ",
        "body": "**好消息**<script>alert(1)</script> [详情](javascript:alert(1))",
    }
    assert_problem(await client.post(url, json=body, headers=bob.headers), 403)
    assert_problem(await client.post(url, json=body, headers=outsider.headers), 403)
    problem = assert_problem(
        await client.post(url, json={"title": "", "body": "x"}, headers=org.headers), 422
    )
    assert "title" in fields_of(problem)
    assert await NotifyEvent.count().where(NotifyEvent.kind == "case.announcement") == 0

    r = await client.post(url, json=body, headers=org.headers)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["title"] == "12315 已受理"
    assert "<strong>好消息</strong>" in made["body_html"]
    assert "<script" not in made["body_html"] and "javascript:" not in made["body_html"]
    await drain(worker)

    listed = await get_ok(client, url, bob.headers)
    assert [a["id"] for a in listed["items"]] == [made["id"]]
    assert_problem(await client.get(url, headers=outsider.headers), 403)
    (en,) = mailbox.to("bob@example.com")
    assert en["Subject"] == f"Announcement in case #{case_id}: 12315 已受理"
    html = en.get_body(preferencelist=("html",)).get_content()
    assert "<strong>好消息</strong>" in html and "<script" not in html
    assert len(mailbox.to("org@example.com")) == 1
    note = (await get_ok(client, "/api/v1/notifications", bob.headers))["items"][0]
    assert note["kind"] == "case.announcement" and "body" not in note["data"]


async def test_inbox_unread_count_mark_one_and_mark_all(client: Any, mailbox: Any, worker: Any) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    for status in ("filing", "gathering", "filing"):
        await client.post(f"/api/v1/cases/{case_id}/status", json={"status": status}, headers=org.headers)
    await drain(worker)
    inbox = await get_ok(client, "/api/v1/notifications", bob.headers)
    assert inbox["unread"] == 3
    r = await client.post(f"/api/v1/notifications/{inbox['items'][0]['id']}/read", headers=bob.headers)
    assert r.status_code == 204
    assert (await get_ok(client, "/api/v1/notifications", bob.headers))["unread"] == 2
    assert (await get_ok(client, "/api/v1/notifications", org.headers))["unread"] >= 3  # others' untouched
    r = await client.post("/api/v1/notifications/read-all", headers=bob.headers)
    assert r.status_code == 204
    assert (await get_ok(client, "/api/v1/notifications", bob.headers))["unread"] == 0
    assert (await get_ok(client, "/api/v1/notifications", org.headers))["unread"] >= 3
    assert_problem(await client.post("/api/v1/notifications/read-all"), 401)


async def test_a_thousand_members_get_exactly_one_email_each_when_the_jobs_run_twice(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "2876543210")])))["case_id"]
    await seed_members(case_id, 999)
    await drain(worker)
    with smtp_sink() as sink:
        async with db.transaction():
            event_id = await notifications.record(
                kind="case.filing_status",
                case_id=case_id,
                data={"filing_id": 1, "regulator_id": 1, "status": "accepted"},
                source="test:accepted",
                audience="members",
            )
        assert event_id is not None
        small = settings.model_copy(update={"notify_batch_size": 100, "smtp_port": sink.port})

        async def run() -> int:
            return await run_jobs(redis_pool, small)

        # the fan-out delivered twice (arq may), and every batch job twice
        await redis_pool.enqueue_job("notify_fan_out", event_id=event_id, _job_id="again-1")
        await drain(run)
        assert len(sink.sessions) == 10  # one SMTP connection per batch of 100
        await redis_pool.enqueue_job("notify_fan_out", event_id=event_id, _job_id="again-2")
        await NotifyEvent.update({NotifyEvent.fanned_out_at: None}).where(NotifyEvent.id == event_id)
        for batch in range(10):
            await redis_pool.enqueue_job(
                "notify_send", event_id=event_id, channel="email", batch=batch, _job_id=f"again-send-{batch}"
            )
        await drain(run)

        recipients = sink.recipients()
        assert len(recipients) == 1000
        assert len(set(recipients)) == 1000
        assert len(sink.sessions) == 10  # the repeated jobs found nothing to send
    assert await InboxEntry.count().where(InboxEntry.event == event_id) == 1000
    assert await Delivery.count().where((Delivery.event == event_id) & (Delivery.status == "sent")) == 1000


async def test_the_new_organizer_is_told_and_nobody_else(client: Any, mailbox: Any, worker: Any) -> None:
    org, bob, case_id = await _case(client, mailbox, worker)
    r = await client.post(
        f"/api/v1/cases/{case_id}/organizers", json={"user_id": bob.id}, headers=org.headers
    )
    assert r.status_code in (200, 201), r.text
    await drain(worker)
    (msg,) = mailbox.to("bob@example.com")
    assert msg["Subject"] == f"You are now an organizer of case #{case_id}"
    assert mailbox.to("org@example.com") == []
    kinds = [n["kind"] for n in (await get_ok(client, "/api/v1/notifications", bob.headers))["items"]]
    assert kinds[0] == "case.organizer_added"


async def test_organizers_hear_that_evidence_was_withdrawn_without_who(
    client: Any, mailbox: Any, worker: Any
) -> None:
    from tests.integration.test_evidence import png, upload

    org, bob, case_id = await _case(client, mailbox, worker)
    r = await upload(client, case_id, bob.headers, png())
    assert r.status_code == 201, r.text
    evidence_id = r.json()["id"]
    r = await client.delete(f"/api/v1/evidence/{evidence_id}", headers=bob.headers)
    assert r.status_code == 204, r.text
    await drain(worker)
    (msg,) = mailbox.to("org@example.com")
    assert msg["Subject"] == f"案件 #{case_id} 有一份证据被撤回"
    assert "Bob" not in body_of(msg) and "bob@example.com" not in body_of(msg)
    assert mailbox.to("bob@example.com") == []  # plain members are not told
    note = (await get_ok(client, "/api/v1/notifications", org.headers))["items"][0]
    assert note == note | {
        "kind": "evidence.withdrawn",
        "case_id": case_id,
        "data": {"evidence_id": evidence_id},
    }


async def test_the_unsubscribe_page_works_in_a_browser_signed_in_to_chorus(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The page's button posts a plain form: a browser that also holds a Chorus session cookie
    (and so no CSRF header) must not be refused; the signed link is the authority."""
    from chorus.web.auth import SESSION_COOKIE
    from tests.support import PASSWORD

    org, bob, case_id = await _case(client, mailbox, worker)
    await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "filing"}, headers=org.headers)
    await drain(worker)
    (msg,) = mailbox.to("bob@example.com")
    token = parse_qs(urlsplit(msg["List-Unsubscribe"].strip("<>")).query)["token"][0]
    login = await client.post("/api/v1/auth/login", json={"email": "bob@example.com", "password": PASSWORD})
    assert login.status_code == 200, login.text
    session = login.cookies[SESSION_COOKIE]
    client.cookies.clear()
    r = await client.post(
        f"/api/v1/notifications/unsubscribe?token={token}",
        content=b"List-Unsubscribe=One-Click",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{SESSION_COOKIE}={session}",
        },
    )
    assert r.status_code == 200, r.text
    assert (await get_ok(client, "/api/v1/me/preferences", bob.headers))["email"] == "off"
    # a session-authenticated API write without the CSRF header is still refused
    r = await client.post("/api/v1/notifications/read-all", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
    assert r.status_code == 403
