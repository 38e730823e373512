"""The organizer files and follows a complaint in the browser (issue 13, item 5 and the organizer's
path of its tests): two members report, the organizer consents and builds a version for a regulator
with an HTTP channel (protocol v1: the stand-in of tests/regulator_standin.py on a real socket),
files it with one click through the confirmation, the live worker sends it and later records the
regulator's ``accepted`` (its poll), the timeline shows it (htmx, no reload), and the member's inbox
gets it; the regulator's message read as mediation is confirmed by the organizer in one click. A
filing by the organizer's own hand (a manual regulator) stays queued; a passed deadline shows the
next step. look() on every state in zh-CN, and in English through a second organizer."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from chorus.i18n import t
from tests.e2e.harness import (
    LiveApp,
    User,
    api_login,
    login_browser,
    look,
    register,
    report,
    unique_email,
    verification_link,
    verified_user,
)
from tests.integration.cases_support import ident, report_body
from tests.regulator_standin import KEY_ENV, Standin
from tests.support import PASSWORD
from tests.toolkit import REPO, chorus_command


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (200, 60, 40)).save(buf, "PNG")
    return buf.getvalue()


def admin(app: LiveApp) -> User:
    """An admin made as an operator makes one (``chorus create-admin``), logged in."""
    user = User(unique_email("admin"), PASSWORD, "管理员")
    done = subprocess.run(
        chorus_command("create-admin", "--email", user.email, "--password", PASSWORD, "--name", "管理员"),
        env=os.environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return api_login(app, user)


def english_user(app: LiveApp, name: str) -> User:
    user = register(app, name=name, locale="en")
    token = re.search(r"[?&]token=([A-Za-z0-9._\-]+)", verification_link(app, user))
    assert token
    with app.api() as api:
        ok(api.post("/api/v1/auth/verify", json={"token": token.group(1)}))
    return api_login(app, user)


def enqueue(job: str, **kwargs: Any) -> None:
    """Put a job on the live worker's queue now, as its cron would at its minute (from a thread
    with its own event loop: the test thread's belongs to Playwright)."""
    from arq.connections import create_pool

    from tests.conftest import REDIS_URL
    from workers.settings import redis_settings

    async def go() -> None:
        pool = await create_pool(redis_settings(REDIS_URL))
        try:
            await pool.enqueue_job(job, **kwargs)
        finally:
            await pool.aclose()

    thread = threading.Thread(target=asyncio.run, args=(go(),))
    thread.start()
    thread.join(60)


# Time passes: the filing's events moved months back, as the deadline tests do (its deadlines are
# read from its events' days; the database written directly), by a process of its own on this
# run's database.
_AGE_FILING = """
import asyncio, sys
from datetime import timedelta
from chorus import db
from chorus.filings.tables import FilingEvent
from chorus.settings import get_settings

async def main() -> None:
    async with db.connected(get_settings()):
        back = timedelta(days=int(sys.argv[2]))
        rows = await FilingEvent.select(FilingEvent.id, FilingEvent.at).where(
            FilingEvent.filing == int(sys.argv[1])
        )
        for e in rows:
            await FilingEvent.update({FilingEvent.at: e["at"] - back}).where(FilingEvent.id == e["id"])

asyncio.run(main())
"""


def deadline_passed(filing_id: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _AGE_FILING, str(filing_id), "120"],
        env=os.environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def the_case(app: LiveApp, gateway: Standin) -> dict[str, Any]:
    """The organizer (a receipt, consented) and Ann, who reported the same shop; Bob, an organizer
    reading in English; versions built for a regulator served by the stand-in (HTTP, protocol v1)
    and for the seeded 12315 platform (filed by hand)."""
    suffix = secrets.token_hex(3)
    merchant = f"极光数码{suffix}"
    qq = str(10_000_000 + secrets.randbelow(89_999_999))
    org = verified_user(app, name="欧阳锋")
    ann = verified_user(app, name="安妮")
    bob = english_user(app, "Bob")
    case_id = report(
        app, org, report_body(merchant, [ident("qq", qq)], amount="300.00", statement="付款后失联。")
    )["case_id"]
    report(app, ann, report_body(merchant, [ident("qq", qq)], amount="120.00", case_id=case_id))
    report(app, bob, report_body(merchant, [ident("qq", qq)], amount="40.00", case_id=case_id))
    boss = admin(app)
    with app.api() as api:
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=org.headers,
                data={"kind": "payment_receipt", "description": "付款截图"},
                files={"file": ("r.png", png(), "image/png")},
            ),
            201,
        )
        ok(api.post(f"/api/v1/cases/{case_id}/consent", headers=org.headers, json={"consent": True}))
        # the organizer is the case's representative: 12315 (the manual regulator) expects one
        ok(api.post(f"/api/v1/cases/{case_id}/representative/candidacy", headers=org.headers), 201)
        org_id = ok(api.get("/api/v1/me", headers=org.headers))["id"]
        vote = {"candidate_id": org_id}
        ok(api.put(f"/api/v1/cases/{case_id}/representative/vote", headers=org.headers, json=vote))
        me = ok(api.get("/api/v1/me", headers=bob.headers))
        ok(api.post(f"/api/v1/cases/{case_id}/organizers", headers=org.headers, json={"user_id": me["id"]}))
        regulator = ok(
            api.post(
                "/api/v1/regulators",
                headers=boss.headers,
                json={
                    "name": f"某市市场监督管理局（接口）{suffix}",
                    "jurisdiction": "某市",
                    "channel": "http",
                    "address": gateway.base_url,
                    "credentials_env": KEY_ENV,
                    "accept_working_days": 7,
                    "finish_working_days": 45,
                },
            ),
            201,
        )
        by_hand = next(
            r["id"] for r in ok(api.get("/api/v1/regulators"))["items"] if r["template_kind"] == "samr"
        )
        versions = {}
        for key, reg in (("http", regulator["id"]), ("manual", by_hand)):
            versions[key] = ok(
                api.post(
                    f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": reg}
                ),
                201,
            )
    return {
        "case": case_id,
        "org": org,
        "ann": ann,
        "bob": bob,
        "regulator": regulator,
        "versions": versions,
        "base": f"/cases/{case_id}/organize/filings",
    }


def reload(card: Locator) -> None:
    """The filing's reload link, as someone without JavaScript (or impatient) uses it."""
    with card.page.expect_navigation():
        card.get_by_role("link", name="刷新").click()


def reload_until(card: Locator, text: str, app: LiveApp, seconds: int = 60) -> None:
    """Reload (the link) until the filing shows ``text``: the live worker's work takes a moment."""
    for _ in range(seconds):
        reload(card)
        if text in card.inner_text():
            return
        card.page.wait_for_timeout(1000)
    raise AssertionError(f"the filing never showed {text!r}: " + app.log_tail())


def test_the_organizer_files_and_follows_a_complaint(
    page: Page, live_app: LiveApp, gateway: Standin, new_context: Callable[..., BrowserContext]
) -> None:
    s = the_case(live_app, gateway)
    login_browser(page.context, live_app, s["org"])
    english = new_context(locale="en").new_page()
    login_browser(english.context, live_app, s["bob"])

    def both(name: str) -> None:
        """The state as the organizer sees it (zh-CN), and as Bob sees it (English)."""
        look(page, name)
        english.goto(s["base"])
        expect(english.get_by_role("heading", level=2, name="Filings")).to_be_visible()
        look(english, f"{name}-en")

    # nothing filed yet: each regulator's latest version, with what it would send
    page.goto(s["base"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("极光数码")
    expect(page.get_by_text("还没有提交过投诉")).to_be_visible()
    http_plan = page.locator(f"#plan-{s['versions']['http']['id']}")
    expect(http_plan).to_contain_text("代表 3 位受害者（其中 1 位署名），附 1 份证据")
    both("organize-filings-none")

    # the 12315 platform takes no automatic filings: filed by the organizer's hand, it waits
    page.locator(f"#plan-{s['versions']['manual']['id']}").get_by_role("button").click()
    expect(page.get_by_text("Chorus 只记录“已提交”这件事，不会发送任何东西")).to_be_visible()
    page.get_by_role("button", name="确认提交").click()
    expect(page.get_by_text("已记录。请你自己把投诉书交给该机构")).to_be_visible()
    expect(page.get_by_text("等你亲自提交")).to_be_visible()
    both("organize-filings-queued")

    # one click on the HTTP regulator's version, then the confirmation says what goes where
    http_plan.get_by_role("button", name="提交第 1 版…").click()
    expect(page.get_by_role("heading", level=2, name="确认提交")).to_be_visible()
    expect(page.locator("#confirm-how")).to_contain_text(f"协议 v1）发送到 {gateway.base_url}")
    expect(page.get_by_text("3 位；其中 1 位同意署名")).to_be_visible()
    look(page, "organize-filings-confirm")
    page.get_by_role("button", name="确认提交").click()
    expect(page.get_by_text("已提交到发送队列")).to_be_visible()
    filing_id = int(page.url.rsplit("#filing-", 1)[1])
    card = page.locator(f"#filing-{filing_id}")

    # the live worker sends it; the stand-in answers "received" with its reference
    reload_until(card, "监管部门已登记", live_app)
    reference = gateway.answers[str(filing_id)][1]["reference"]
    expect(card.locator(".filing-reference")).to_have_text(reference)
    expect(card.locator(".filing-facts")).to_contain_text("监管部门已登记")
    expect(card.locator(".filing-event-regulator")).to_contain_text("来自监管部门")
    expect(card.locator(".filing-event-worker")).to_contain_text("Chorus 自动记录")

    # the regulator accepts; the worker's poll (its cron, run now) records it, and the page
    # shows it without a reload: htmx asks for the filing's news every CHORUS_LIVE_REFRESH_SECONDS
    # (2 for this live app, tests/e2e/conftest.py; 30 by default)
    expect(card.locator("[data-filing-live]")).to_have_attribute("hx-trigger", "every 2s")
    gateway.set_status(reference, "accepted", "已受理，转调解中心处理")
    # the sweep as the regulator's poll interval later: a clock tick of the worker's cron that
    # ran late (a busy worker) may have asked already, before the answer changed
    later = datetime.now(UTC) + timedelta(seconds=s["regulator"]["min_poll_seconds"] + 60)
    enqueue("poll_filings", at=later.isoformat())
    newest = card.locator(".filing-event").first
    expect(newest).to_contain_text("状态：已受理", timeout=75_000)
    expect(newest).to_contain_text("来自监管部门")
    expect(newest).to_contain_text("已受理，转调解中心处理")
    # its message reads as mediation too: proposed, for an organizer to confirm or correct
    proposal = newest.locator(".filing-proposal")
    expect(proposal).to_contain_text("这封回复看起来是说：“调解中”")
    both("organize-filings-timeline")

    # the member's inbox has the accepted, naming the regulator (the case has two)
    member = new_context().new_page()
    login_browser(member.context, live_app, s["ann"])
    member.goto("/notifications")
    accepted = f"案件 #{s['case']} 向{s['regulator']['name']}的投诉：已受理"
    expect(member.get_by_text(accepted).first).to_be_visible()

    # the organizer confirms the reading in one click (its note filled in): now it is mediation
    proposal.get_by_role("button", name="记录").click()
    expect(page.get_by_text("进展已记录")).to_be_visible()
    card = page.locator(f"#filing-{filing_id}")
    expect(card.locator(".filing-facts")).to_contain_text("调解中")
    expect(card.locator(".filing-proposal")).to_contain_text("组织者已确认：调解中")
    newest = card.locator(".filing-event").first
    expect(newest).to_contain_text("组织者记录")
    expect(newest).to_contain_text("状态：调解中")

    # an update by hand, a note with no new status, shown as the organizer's
    card.locator("summary", has_text="记录进展").click()
    card.get_by_label("发生了什么").fill("电话确认：调解中心下周约谈商家。")
    card.locator(".filing-action form").first.get_by_role("button", name="记录").click()
    expect(page.get_by_text("进展已记录")).to_be_visible()
    newest = page.locator(f"#filing-{filing_id} .filing-event").first
    expect(newest).to_contain_text("备注")
    expect(newest).to_contain_text("组织者记录")
    expect(newest).to_contain_text("电话确认：调解中心下周约谈商家。")

    # time passes beyond the conclusion deadline: the page says what to do next
    deadline_passed(filing_id)
    page.reload()
    overdue = page.locator(f"#filing-{filing_id} .filing-overdue")
    expect(overdue).to_contain_text("已超过期限")
    expect(overdue).to_contain_text(t("filing.next_step.ask_result", "zh-CN"))
    both("organize-filings-overdue")
