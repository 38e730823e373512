"""Reappearance (issue 16 item 2): a report whose payee account, card, phone, QQ, WeChat or USCC
was reported before, against a merchant whose case is closed or under another name, is answered
with warnings (the report's 201 and POST /api/v1/merchants/resolve: the earlier merchant's name,
case, member count, the kinds shared; counts only, no member's data); the earlier case's
organizers are told once (e-mail through the test SMTP server, inbox); a second merchant the
report ties is a merge proposal for a moderator; nothing is merged. A name alone or a shared
platform domain warns of nothing; each path's 4xx answers are unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chorus.notifications.tables import NotifyEvent
from tests.integration.cases_support import get_ok, ident, person, report, report_body, staff
from tests.integration.notify_support import drain
from tests.support import assert_problem, body_of

pytestmark = pytest.mark.usefixtures("clean")

RESOLVE = "/api/v1/merchants/resolve"
PROPOSALS = "/api/v1/moderation/merge-proposals"
LINKS = "/api/v1/moderation/link-proposals"


def today_in_china() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


async def close(client: Any, who: Any, case_id: int) -> None:
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "closed"}, headers=who.headers)
    assert r.status_code == 200, r.text


async def resolve(client: Any, name: str | None, identifiers: list[dict[str, str]]) -> dict[str, Any]:
    r = await client.post(RESOLVE, json={"name": name, "identifiers": identifiers})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_a_payee_account_of_a_closed_case_warns_the_reporter_and_tells_its_organizers(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob Wang")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    old = await report(client, alice, report_body("星辰卡盟", [ident("bank_card", "6222021234567890128")]))
    await report(client, bob, report_body("星辰卡盟", [ident("bank_card", "6222 0212 3456 7890 128")]))
    await close(client, alice, old["case_id"])
    await drain(worker)
    mailbox.clear()

    expected = {
        "code": "reappeared",
        "merchant_id": old["merchant_id"],
        "name": "星辰卡盟",
        "case_id": old["case_id"],
        "member_count": 2,
        "matched_on": ["bank_card"],
        "case_status": "closed",
        "first_reported": today_in_china(),
        "closed_on": today_in_china(),
    }
    card = [ident("bank_card", "6222021234567890128")]
    checked = await resolve(client, "月光卡铺", card)
    assert checked["warnings"] == [expected]

    new = await report(client, carol, report_body("月光卡铺", card, amount="80"))
    assert new["warnings"] == [expected]
    assert new["case_id"] != old["case_id"]
    for word in ("Alice", "Bob", "alice@example.com", "bob@example.com", "199"):
        assert word not in str(new["warnings"]) and word not in str(checked["warnings"])

    await drain(worker)
    await drain(worker)  # a job run twice tells them once
    (told,) = mailbox.to("alice@example.com")  # the old case's organizer
    assert told["Subject"] == f"案件 #{old['case_id']} 的商家又被举报了"
    text = body_of(told)
    assert "月光卡铺" in text and "银行卡" in text and f"#{new['case_id']}" in text
    assert "Carol" not in text and "carol@example.com" not in text
    assert mailbox.to("bob@example.com") == []  # a member, not an organizer
    inbox = await get_ok(client, "/api/v1/notifications", alice.headers)
    assert [n["kind"] for n in inbox["items"]].count("case.reappeared") == 1
    assert await NotifyEvent.count().where(NotifyEvent.kind == "case.reappeared") == 1

    # nothing merged, the old case stays closed, no merge proposal for one merchant; a moderator
    # gets a link proposal for the new name (reached by the card, not by the name)
    page = await get_ok(client, f"/api/v1/merchants/{old['merchant_id']}")
    assert page["merged_into"] is None
    case = await get_ok(client, f"/api/v1/cases/{old['case_id']}")
    assert case["status"] == "closed"
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    assert (await get_ok(client, PROPOSALS, moderator.headers))["items"] == []
    (link,) = (await get_ok(client, LINKS, moderator.headers))["items"]
    assert link["merchant"] == {"id": old["merchant_id"], "name": "星辰卡盟"}
    assert (link["name"], link["matched_on"], link["case_id"], link["status"]) == (
        "月光卡铺",
        ["bank_card"],
        new["case_id"],
        "open",
    )
    assert "6222" not in str(link)  # the kinds, never the card


async def test_a_phone_of_a_merchant_under_another_name_warns_and_is_a_proposal_nothing_merged(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    b = await report(client, bob, report_body("晨星游戏", [ident("phone", "13800138000")]))
    assert a["warnings"] == [] and b["warnings"] == []
    await drain(worker)
    mailbox.clear()

    both = [ident("qq", "12345678"), ident("phone", "+86 138 0013 8000")]
    c = await report(client, carol, report_body("星辰卡盟", both))
    assert c["merchant_id"] == a["merchant_id"] and c["case_id"] == a["case_id"]
    (warning,) = c["warnings"]  # not 星辰卡盟 itself: its case is open, under this name
    assert warning == {
        "code": "reappeared",
        "merchant_id": b["merchant_id"],
        "name": "晨星游戏",
        "case_id": b["case_id"],
        "member_count": 1,
        "matched_on": ["phone"],
        "case_status": "gathering",
        "first_reported": today_in_china(),
        "closed_on": None,
    }
    assert (await resolve(client, "星辰卡盟", both))["warnings"] == [warning]

    await drain(worker)
    (told,) = mailbox.to("bob@example.com")  # 晨星游戏's organizer
    assert told["Subject"] == f"案件 #{b['case_id']} 的商家又被举报了"
    assert "电话" in body_of(told) or "手机" in body_of(told)

    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = (await get_ok(client, PROPOSALS, moderator.headers))["items"]
    pair = {proposal["merchant_a"]["id"], proposal["merchant_b"]["id"]}
    assert pair == {a["merchant_id"], b["merchant_id"]}
    assert proposal["status"] == "open"
    for merchant in (a, b):
        page = await get_ok(client, f"/api/v1/merchants/{merchant['merchant_id']}")
        assert page["merged_into"] is None


async def test_a_name_alone_or_a_shared_platform_domain_warns_of_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    old = await report(
        client, alice, report_body("星辰卡盟", [ident("qq", "12345678"), ident("domain", "taobao.com")])
    )
    await close(client, alice, old["case_id"])
    await drain(worker)
    mailbox.clear()

    assert (await resolve(client, "星辰卡盟", []))["warnings"] == []
    assert (await resolve(client, "星辰卡盟", [ident("domain", "taobao.com")]))["warnings"] == []
    new = await report(
        client, carol, report_body("星辰卡盟", [ident("domain", "taobao.com"), ident("qq", "87654321")])
    )
    assert new["warnings"] == [] and new["merchant_id"] != old["merchant_id"]
    await drain(worker)
    assert mailbox.to("alice@example.com") == []


async def test_each_path_answers_its_4xx_as_before(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    old = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await close(client, alice, old["case_id"])

    r = await client.post(RESOLVE, json={"name": "x", "identifiers": [ident("qq", "12o45678")]})
    assert_problem(r, 422, "invalid_identifiers")
    r = await client.post(RESOLVE, json={"identifiers": "nope"})
    assert_problem(r, 422, "validation")
    r = await client.post(
        "/api/v1/reports",
        json=report_body("月光卡铺", [ident("qq", "12345678")], case_id=old["case_id"]),
        headers=alice.headers,
    )
    assert_problem(r, 409, "case_closed")
    r = await client.post(
        "/api/v1/reports", json=report_body("月光卡铺", [ident("qq", "12o45678")]), headers=alice.headers
    )
    assert_problem(r, 422, "invalid_identifiers")
    r = await client.post("/api/v1/reports", json=report_body("月光卡铺", [ident("qq", "12345678")]))
    assert r.status_code in (401, 403)
    again = await report(client, alice, report_body("月光卡铺", [ident("qq", "12345678")]))
    r = await client.post(
        "/api/v1/reports", json=report_body("月光卡铺", [ident("qq", "12345678")]), headers=alice.headers
    )
    assert_problem(r, 409, "already_member")
    assert again["warnings"][0]["case_id"] == old["case_id"]


async def test_the_report_page_says_where_the_account_was_reported_before_in_the_readers_words(
    client: Any, mailbox: Any, worker: Any
) -> None:
    from babel.dates import format_skeleton

    from tests.integration.test_pages_report import HTMX, signed_in
    from tests.support import text_of

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    old = await report(client, alice, report_body("星辰卡盟", [ident("alipay", "pay@example.com")]))
    await report(client, bob, report_body("星辰卡盟", [ident("alipay", "pay@example.com")]))
    await close(client, alice, old["case_id"])
    opened = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()

    await signed_in(client, carol)
    row = {"merchant.identifiers[0].kind": "alipay", "merchant.identifiers[0].value": "pay@example.com"}
    for locale, month, said in (
        (
            "zh-CN",
            format_skeleton("yMMMM", opened, locale="zh_Hans_CN"),
            "这个支付宝账号在 {m} 已以“星辰卡盟”的名义被举报过——2 位受害者",
        ),
        (
            "en",
            format_skeleton("yMMMM", opened, locale="en"),
            "This Alipay account was already reported under “星辰卡盟” in {m} — 2 victims",
        ),
    ):
        r = await client.put("/api/v1/me/preferences", json={"locale": locale}, headers=carol.headers)
        assert r.status_code == 200, r.text
        r = await client.post(
            "/report/identifier",
            data={**row, "merchant.name": "月光卡铺"},
            headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken"), "Accept-Language": locale},
        )
        assert r.status_code == 200, r.text
        text = text_of(r.text)
        assert said.format(m=month) in text, text
        assert "Alice" not in text and "Bob" not in text
    # a weak identifier on the page: no such line
    r = await client.post(
        "/report/identifier",
        data={
            "merchant.identifiers[0].kind": "domain",
            "merchant.identifiers[0].value": "taobao.com",
            "merchant.name": "星辰卡盟",
        },
        headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken")},
    )
    assert r.status_code == 200 and "reappeared" not in r.text


async def test_the_old_cases_notice_is_written_with_the_report_also_from_the_wizard(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The earlier case's organizers' notice is an outbox row of the report's own transaction
    (cases.service.report): a report through the wizard page, which never called the API route,
    tells them too, and the row is there the moment the report is, before any worker runs."""
    from chorus.jobs import OutboxRow
    from tests.integration.test_pages_report import form, signed_in

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    old = await report(client, alice, report_body("星辰卡盟", [ident("wechat", "xingchen_pay")]))
    await close(client, alice, old["case_id"])
    await drain(worker)
    mailbox.clear()

    csrf = await signed_in(client, carol)
    r = await client.post("/report", data=form(csrf, "月光卡铺", ("wechat", "xingchen_pay")))
    assert r.status_code == 303, r.text
    (mine,) = (await get_ok(client, "/api/v1/me/cases", carol.headers))["items"]
    assert mine["case_id"] != old["case_id"]
    notice = f"reappeared:{old['case_id']}:{mine['case_id']}"
    assert await OutboxRow.count().where(OutboxRow.job_id == notice) == 1

    await drain(worker)
    (told,) = mailbox.to("alice@example.com")
    assert told["Subject"] == f"案件 #{old['case_id']} 的商家又被举报了"
    assert "月光卡铺" in body_of(told) and "Carol" not in body_of(told)


async def test_a_refused_report_leaves_no_notice(client: Any, mailbox: Any, worker: Any) -> None:
    """A report refused (the same person again into the new case: 409) writes no second notice."""
    from chorus.jobs import OutboxRow

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    old = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await close(client, alice, old["case_id"])
    new = await report(client, carol, report_body("月光卡铺", [ident("qq", "12345678")]))
    notices = OutboxRow.job_id.like("reappeared:%")
    assert await OutboxRow.count().where(notices) == 1
    r = await client.post(
        "/api/v1/reports",
        json=report_body("月光卡铺", [ident("qq", "12345678")], case_id=new["case_id"]),
        headers=carol.headers,
    )
    assert_problem(r, 409, "already_member")
    assert await OutboxRow.count().where(notices) == 1


async def test_a_moderator_confirms_or_rejects_a_name_link_nothing_merged(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A report reaching a merchant by its QQ under another name is a link proposal: confirmed,
    the name stays on the public page; rejected, it leaves it. A report under a name the merchant
    already bears, or one reaching it by nothing strong, proposes nothing. Members and
    organizers cannot decide; a decided proposal answers 409, an unknown one 404."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    dave = await person(client, mailbox, worker, "dave@example.com", "Dave")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "12345678")]))  # its own name: none
    await report(client, carol, report_body("月光卡铺", [ident("qq", "12345678")]))
    await report(
        client, dave, report_body("银河游戏", [ident("wechat", "yinhe_pay"), ident("qq", "12345678")])
    )
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    links = (await get_ok(client, LINKS, moderator.headers))["items"]
    assert [(x["name"], x["merchant"]["id"]) for x in links] == [
        ("月光卡铺", a["merchant_id"]),
        ("银河游戏", a["merchant_id"]),
    ]
    moon, galaxy = links

    for who in (alice, carol):
        r = await client.post(f"{LINKS}/{moon['id']}/confirm", headers=who.headers)
        assert_problem(r, 403)
    r = await client.post(f"{LINKS}/{moon['id']}/confirm", headers=moderator.headers)
    assert r.status_code == 204, r.text
    r = await client.post(f"{LINKS}/{galaxy['id']}/reject", headers=moderator.headers)
    assert r.status_code == 204, r.text
    assert_problem(
        await client.post(f"{LINKS}/{moon['id']}/reject", headers=moderator.headers),
        409,
        "link_proposal_decided",
    )
    assert_problem(
        await client.post(f"{LINKS}/999999/confirm", headers=moderator.headers),
        404,
        "link_proposal_not_found",
    )

    page = await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}")
    assert "月光卡铺" in page["aliases"] and "银河游戏" not in page["aliases"]
    assert page["merged_into"] is None
    assert (await get_ok(client, LINKS, moderator.headers))["items"] == []
    decided = (await get_ok(client, LINKS, moderator.headers, status="confirmed"))["items"]
    assert [x["name"] for x in decided] == ["月光卡铺"]
    assert (await get_ok(client, PROPOSALS, moderator.headers))["items"] == []


async def test_the_moderation_page_lists_name_links_and_decides_them_without_javascript(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from chorus.web.auth import SESSION_COOKIE
    from tests.integration.test_pages_foundation import Page, csrf_of
    from tests.support import text_of

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    await report(client, alice, report_body("星辰卡盟", [ident("phone", "13800138000")]))
    await report(client, carol, report_body("月光卡铺", [ident("phone", "13800138000")]))
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (link,) = (await get_ok(client, LINKS, moderator.headers))["items"]

    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, moderator.headers["Authorization"].removeprefix("Bearer "))
    r = await client.get("/moderation")
    assert r.status_code == 200, r.text
    part = text_of(r.text.split('id="links"', 1)[1])
    assert "“月光卡铺”是“星辰卡盟”吗？" in part and "相同的标识：电话号码" in part
    assert "13800138000" not in r.text
    csrf = csrf_of(Page(r.text))
    r = await client.post(f"/moderation/links/{link['id']}/confirm", data={"_csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"].endswith("/moderation")
    r = await client.post(f"/moderation/links/{link['id']}/reject", data={"_csrf_token": csrf})
    assert r.status_code == 409 and 'id="link-error"' in r.text and "已经处理过了" in r.text
