"""Reports, group cases, memberships, organizers, case status and notifications over HTTP
(real database, Redis, arq worker and SMTP)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.cases.tables import CaseEvent, Membership
from chorus.notifications.tables import InboxEntry
from tests.integration.cases_support import (
    INCIDENT,
    TABLES,
    Person,
    fields_of,
    get_ok,
    ident,
    person,
    report,
    report_body,
    staff,
    unverified_person,
)
from tests.support import assert_problem, row_counts

pytestmark = pytest.mark.usefixtures("clean")

QQ = ident("qq", "12345678")
SHOP = "星辰卡盟"


async def open_case(client: Any, organizer: Person, **extra: Any) -> dict[str, Any]:
    return await report(client, organizer, report_body(SHOP, [QQ], **extra))


async def join(client: Any, who: Person, **extra: Any) -> dict[str, Any]:
    return await report(client, who, report_body("星辰", [ident("qq", "1234 5678")], **extra))


# --- POST /api/v1/reports ----------------------------------------------------------------------


async def test_anonymous_report_is_401_and_writes_nothing(client: Any) -> None:
    before = await row_counts(TABLES)
    assert_problem(await client.post("/api/v1/reports", json=report_body(SHOP, [QQ])), 401)
    assert await row_counts(TABLES) == before


async def test_unverified_user_cannot_report(client: Any) -> None:
    newbie = await unverified_person(client, "newbie@example.com")
    before = await row_counts(TABLES)
    r = await client.post("/api/v1/reports", json=report_body(SHOP, [QQ]), headers=newbie.headers)
    assert_problem(r, 403, "email_not_verified")
    assert await row_counts(TABLES) == before
    assert (await get_ok(client, "/api/v1/merchants", q="12345678"))["items"] == []


async def test_first_report_opens_a_case_with_the_reporter_as_organizer(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    out = await open_case(client, alice, order_refs=["TB-2024-0001"], statement="He never shipped.")
    assert out["created_case"] is True
    assert all(isinstance(out[k], int) for k in ("case_id", "merchant_id", "membership_id"))

    mine = await get_ok(client, f"/api/v1/cases/{out['case_id']}/membership", alice.headers)
    assert mine["id"] == out["membership_id"]
    assert mine["role"] == "organizer"
    assert mine["loss"] == {"amount": "199.00", "currency": "CNY"}
    assert mine["incident_date"] == INCIDENT
    assert mine["order_refs"] == ["TB-2024-0001"]
    assert mine["statement"] == "He never shipped."
    assert mine["identifiers"] == [{"kind": "qq", "value": "12345678"}]
    assert mine["consented_at"] is None

    summary = await get_ok(client, f"/api/v1/cases/{out['case_id']}")
    assert summary["status"] == "gathering"
    assert summary["merchant"] == {"id": out["merchant_id"], "name": SHOP}
    assert summary["member_count"] == 1


async def test_second_reporter_joins_as_member(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    b = await join(client, bob)
    assert (b["case_id"], b["created_case"]) == (a["case_id"], False)
    assert b["membership_id"] != a["membership_id"]
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", bob.headers))["role"] == "member"


async def test_reporting_twice_into_one_case_is_409_and_writes_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    a = await open_case(client, alice)
    before = await row_counts(TABLES)
    # another name and a new identifier: neither may stick when the report is refused
    body = report_body("Another Name", [QQ, ident("wechat", "xingchen_kf")])
    r = await client.post("/api/v1/reports", json=body, headers=alice.headers)
    assert_problem(r, 409, "already_member")
    r = await client.post(
        "/api/v1/reports", json=report_body("X", [], case_id=a["case_id"]), headers=alice.headers
    )
    assert_problem(r, 409, "already_member")
    assert await row_counts(TABLES) == before
    page = await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}")
    assert page["aliases"] == [] and len(page["identifiers"]) == 1


async def test_report_into_a_given_case(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    # no shared identifier, but the case is named: joins it; its identifiers and name are only
    # claimed for the merchant (tests/integration/test_claimed_identifiers.py): not public yet
    b = await report(
        client, bob, report_body("星辰客服", [ident("wechat", "xingchen_kf")], case_id=a["case_id"])
    )
    assert (b["case_id"], b["merchant_id"], b["created_case"]) == (a["case_id"], a["merchant_id"], False)
    page = await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}")
    assert sorted(i["kind"] for i in page["identifiers"]) == ["qq"]
    assert page["aliases"] == []
    claims = await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}/claims", alice.headers)
    assert [(i["kind"], i["value"]) for i in claims["identifiers"]] == [("wechat", "xingchen_kf")]
    assert [n["name"] for n in claims["aliases"]] == ["星辰客服"]


async def test_report_into_unknown_or_closed_case(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    assert (
        await client.post(
            f"/api/v1/cases/{a['case_id']}/status", json={"status": "closed"}, headers=alice.headers
        )
    ).status_code == 200

    before = await row_counts(TABLES)
    r = await client.post("/api/v1/reports", json=report_body("X", [], case_id=999999), headers=bob.headers)
    assert fields_of(assert_problem(r, 404, "case_not_found")) == {"case_id"}
    r = await client.post(
        "/api/v1/reports", json=report_body("X", [], case_id=a["case_id"]), headers=bob.headers
    )
    assert fields_of(assert_problem(r, 409, "case_closed")) == {"case_id"}
    assert await row_counts(TABLES) == before


@pytest.mark.parametrize(
    ("amount", "currency", "stored"),
    [
        ("199.00", "CNY", "199.00"),
        ("199", "cny", "199.00"),
        ("5000", "JPY", "5000"),
        ("12.5", "USD", "12.50"),
    ],
)
async def test_loss_is_kept_exactly_in_its_currency(
    client: Any, mailbox: Any, worker: Any, amount: str, currency: str, stored: str
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    a = await open_case(client, alice, amount=amount, currency=currency)
    expected = {"amount": stored, "currency": currency.upper()}
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", alice.headers))[
        "loss"
    ] == expected
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}"))["total_loss"] == [expected]


FUTURE = (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"loss": {"amount": "1.234", "currency": "CNY"}}, "loss_too_many_decimals", "loss.amount"),
        ({"loss": {"amount": "10.5", "currency": "JPY"}}, "loss_too_many_decimals", "loss.amount"),
        ({"loss": {"amount": "10", "currency": "ABC"}}, "loss_unknown_currency", "loss.currency"),
        ({"loss": {"amount": "-5", "currency": "CNY"}}, "loss_not_positive", "loss.amount"),
        ({"loss": {"amount": "0", "currency": "CNY"}}, "loss_not_positive", "loss.amount"),
        ({"loss": {"amount": "lots", "currency": "CNY"}}, "loss_not_a_number", "loss.amount"),
        ({"loss": {"amount": "1e12", "currency": "CNY"}}, "loss_too_large", "loss.amount"),
        ({"incident_date": FUTURE}, "date_in_future", "incident_date"),
        ({"incident_date": "1999-12-31"}, "date_too_old", "incident_date"),
        ({"order_refs": ["ok", "  "]}, "order_ref_invalid", "order_refs[1]"),
        (
            {"merchant": {"name": SHOP, "identifiers": [QQ, ident("phone", "123")]}},
            "invalid_identifiers",
            "merchant.identifiers[1].value",
        ),
        (
            {"merchant": {"name": SHOP, "identifiers": [ident("pager", "1")]}},
            "invalid_identifiers",
            "merchant.identifiers[0].kind",
        ),
    ],
    ids=[
        "cny-3-decimals",
        "jpy-decimals",
        "currency",
        "negative",
        "zero",
        "not-a-number",
        "too-large",
        "future-date",
        "old-date",
        "blank-order-ref",
        "bad-identifier",
        "unknown-kind",
    ],
)
async def test_report_rejects_bad_values_and_writes_nothing(
    client: Any, mailbox: Any, worker: Any, change: dict[str, Any], code: str, field: str
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    before = await row_counts(TABLES)
    body = {**report_body(SHOP, [QQ]), **change}
    body_out = assert_problem(
        await client.post("/api/v1/reports", json=body, headers=alice.headers), 422, code
    )
    assert fields_of(body_out) == {field}
    assert all(e["message"] for e in body_out["errors"])
    assert await row_counts(TABLES) == before


async def test_report_lists_every_missing_field(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    before = await row_counts(TABLES)
    body = assert_problem(
        await client.post("/api/v1/reports", json={}, headers=alice.headers), 422, "validation"
    )
    assert fields_of(body) >= {"merchant", "loss", "incident_date"}
    r = await client.post(
        "/api/v1/reports",
        json={"merchant": {"identifiers": []}, "loss": {"amount": "1"}, "incident_date": INCIDENT},
        headers=alice.headers,
    )
    assert fields_of(assert_problem(r, 422, "validation")) >= {"merchant.name", "loss.currency"}
    assert await row_counts(TABLES) == before


async def test_report_rejects_malformed_json(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    before = await row_counts(TABLES)
    r = await client.post(
        "/api/v1/reports",
        content=b'{"merchant": {"name": "x"',
        headers={**alice.headers, "content-type": "application/json"},
    )
    assert_problem(r, 400)
    assert await row_counts(TABLES) == before


async def test_statement_is_kept_raw_and_rendered_safe(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    statement = (
        "I paid **199 yuan**.\n\n<script>alert('x')</script>\n\n"
        "[proof](javascript:alert(1)) and [receipt](https://example.com/r)\n\n"
        '<img src="x" onerror="alert(2)">'
    )
    a = await open_case(client, alice, statement=statement)
    mine = await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", alice.headers)
    assert mine["statement"] == statement
    html = mine["statement_html"]
    assert "<strong>199 yuan</strong>" in html
    assert 'href="https://example.com/r"' in html
    for bad in ("<script", "javascript:", "onerror", "<img", "alert("):
        assert bad not in html.lower(), bad


# --- GET /api/v1/cases/{id} --------------------------------------------------------------------


async def test_case_summary_is_public_and_holds_no_personal_data(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Zhang")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob Wang")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol Li")
    a = await report(
        client,
        alice,
        report_body(
            SHOP,
            [QQ, ident("phone", "13800138000")],
            amount="199.00",
            order_refs=["ORDER-777-AAA"],
            statement="The seller, reachable on 13800138000, vanished.",
        ),
    )
    await join(
        client, bob, amount="5000", currency="JPY", order_refs=["ORDER-888-BBB"], statement="Bob's story"
    )
    await join(client, carol, amount="1.50", currency="CNY")

    r = await client.get(f"/api/v1/cases/{a['case_id']}")  # anonymous
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["id"] == a["case_id"]
    assert summary["member_count"] == 3
    assert summary["total_loss"] == [
        {"amount": "200.50", "currency": "CNY"},
        {"amount": "5000", "currency": "JPY"},
    ]
    assert summary["filings"] == []
    kinds = [e["kind"] for e in summary["timeline"]]
    assert kinds == ["opened", "member_joined", "member_joined", "member_joined"]
    for secret in (
        "example.com",
        "Alice Zhang",
        "Bob Wang",
        "Carol Li",
        "13800138000",
        "12345678",
        "vanished",
        "Bob's story",
        "ORDER-777",
        "ORDER-888",
    ):
        assert secret not in r.text, secret


async def test_unknown_case_is_404(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    assert_problem(await client.get("/api/v1/cases/999999"), 404, "case_not_found")
    for url in ("/members", "/membership"):
        assert_problem(await client.get(f"/api/v1/cases/999999{url}", headers=alice.headers), 404)
    before = await row_counts(TABLES)
    for url, body in (
        ("/status", {"status": "filing"}),
        ("/organizers", {"user_id": alice.id}),
        ("/consent", {"consent": True}),
    ):
        assert_problem(await client.post(f"/api/v1/cases/999999{url}", json=body, headers=alice.headers), 404)
    assert await row_counts(TABLES) == before


# --- GET /api/v1/cases/{id}/members -------------------------------------------------------------


async def test_only_organizers_see_the_member_list(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    stranger = await person(client, mailbox, worker, "stranger@example.com")
    olga = await person(client, mailbox, worker, "olga@example.com")  # organizes another case
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    admin = await staff(client, settings, "root@example.com", "admin")
    a = await open_case(client, alice)
    await join(client, bob, amount="5000", currency="JPY")
    other = await report(client, olga, report_body("Other Shop", [ident("domain", "other-shop.com")]))
    assert other["case_id"] != a["case_id"]
    await report(client, stranger, report_body("Other Shop", [ident("domain", "other-shop.com")]))

    url = f"/api/v1/cases/{a['case_id']}/members"
    assert_problem(await client.get(url), 401)
    for who in (stranger, bob, olga, moderator, admin):
        assert_problem(await client.get(url, headers=who.headers), 403)
    # the other case's organizer sees her own list, not this one
    assert (
        await client.get(f"/api/v1/cases/{other['case_id']}/members", headers=olga.headers)
    ).status_code == 200

    await client.post(f"/api/v1/cases/{a['case_id']}/consent", json={"consent": True}, headers=bob.headers)
    items = (await get_ok(client, url, alice.headers))["items"]
    assert [(i["user_id"], i["email"], i["display_name"], i["role"]) for i in items] == [
        (alice.id, "alice@example.com", "Alice", "organizer"),
        (bob.id, "bob@example.com", "Bob", "member"),
    ]
    assert items[0]["consented_at"] is None and items[1]["consented_at"] is not None
    assert items[1]["loss"] == {"amount": "5000", "currency": "JPY"}


# --- PATCH membership, consent ---------------------------------------------------------------


async def test_member_updates_own_membership(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    await join(client, bob)
    url = f"/api/v1/cases/{a['case_id']}/membership"
    r = await client.patch(
        url,
        json={
            "loss": {"amount": "250.5", "currency": "CNY"},
            "statement": "Updated: <script>x()</script>*still* waiting",
            "order_refs": ["NEW-1", "NEW-1", "NEW-2"],
        },
        headers=bob.headers,
    )
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["loss"] == {"amount": "250.50", "currency": "CNY"}
    assert mine["order_refs"] == ["NEW-1", "NEW-2"]
    assert mine["statement"].startswith("Updated: <script>")
    assert "<script" not in mine["statement_html"] and "<em>still</em>" in mine["statement_html"]
    # Alice's membership is untouched; the public totals follow
    assert (await get_ok(client, url, alice.headers))["loss"] == {"amount": "199.00", "currency": "CNY"}
    summary = await get_ok(client, f"/api/v1/cases/{a['case_id']}")
    assert summary["total_loss"] == [{"amount": "449.50", "currency": "CNY"}]
    assert await AuditEntry.exists().where(AuditEntry.action == "membership.updated")


async def test_membership_update_refusals_change_nothing(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    stranger = await person(client, mailbox, worker, "stranger@example.com")
    a = await open_case(client, alice, statement="original")
    url = f"/api/v1/cases/{a['case_id']}/membership"
    rows_before = await row_counts(TABLES)
    mine_before = await get_ok(client, url, alice.headers)

    assert_problem(await client.patch(url, json={"statement": "x"}), 401)
    assert_problem(
        await client.patch(url, json={"statement": "x"}, headers=stranger.headers), 403, "not_a_member"
    )
    assert_problem(await client.get(url, headers=stranger.headers), 403, "not_a_member")
    r = await client.patch(
        url,
        json={"statement": "changed", "loss": {"amount": "1.234", "currency": "CNY"}},
        headers=alice.headers,
    )
    assert fields_of(assert_problem(r, 422, "loss_too_many_decimals")) == {"loss.amount"}
    r = await client.patch(url, json={"statement": "changed", "incident_date": FUTURE}, headers=alice.headers)
    assert fields_of(assert_problem(r, 422, "date_in_future")) == {"incident_date"}
    r = await client.patch(url, json={"loss": {"amount": "5"}}, headers=alice.headers)
    assert "loss.currency" in fields_of(assert_problem(r, 422, "validation"))
    assert_problem(
        await client.patch("/api/v1/cases/999999/membership", json={"statement": "x"}, headers=alice.headers),
        404,
    )

    assert await get_ok(client, url, alice.headers) == mine_before
    assert await row_counts(TABLES) == rows_before


async def test_consent_is_given_and_withdrawn(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    await join(client, bob)
    url = f"/api/v1/cases/{a['case_id']}/consent"
    members = f"/api/v1/cases/{a['case_id']}/members"

    def bob_row(items: list[dict[str, Any]]) -> dict[str, Any]:
        return next(i for i in items if i["user_id"] == bob.id)

    r = await client.post(url, json={"consent": True}, headers=bob.headers)
    assert r.status_code == 200, r.text
    assert r.json()["consented_at"] is not None
    assert bob_row((await get_ok(client, members, alice.headers))["items"])["consented_at"] is not None

    r = await client.post(url, json={"consent": False}, headers=bob.headers)
    assert r.status_code == 200
    assert r.json()["consented_at"] is None
    assert bob_row((await get_ok(client, members, alice.headers))["items"])["consented_at"] is None

    stranger = await person(client, mailbox, worker, "stranger@example.com")
    before = await row_counts(TABLES)
    assert fields_of(assert_problem(await client.post(url, json={}, headers=bob.headers), 422)) == {"consent"}
    r = await client.post(url, json={"consent": "maybe"}, headers=bob.headers)
    assert fields_of(assert_problem(r, 422)) == {"consent"}
    assert_problem(await client.post(url, json={"consent": True}, headers=stranger.headers), 403)
    assert_problem(await client.post(url, json={"consent": True}), 401)
    assert await row_counts(TABLES) == before


# --- organizers ------------------------------------------------------------------------------


async def test_organizers_promote_members(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com")
    stranger = await person(client, mailbox, worker, "stranger@example.com")
    a = await open_case(client, alice)
    await join(client, bob)
    await join(client, carol)
    url = f"/api/v1/cases/{a['case_id']}/organizers"
    before = await row_counts(TABLES)

    assert_problem(await client.post(url, json={"user_id": bob.id}), 401)
    assert_problem(
        await client.post(url, json={"user_id": carol.id}, headers=bob.headers), 403, "organizers_only"
    )
    assert_problem(await client.post(url, json={"user_id": bob.id}, headers=stranger.headers), 403)
    r = await client.post(url, json={"user_id": 999999}, headers=alice.headers)
    assert fields_of(assert_problem(r, 404, "member_not_found")) == {"user_id"}
    r = await client.post(url, json={"user_id": stranger.id}, headers=alice.headers)
    assert fields_of(assert_problem(r, 404, "member_not_found")) == {"user_id"}
    assert fields_of(assert_problem(await client.post(url, json={}, headers=alice.headers), 422)) == {
        "user_id"
    }
    assert await row_counts(TABLES) == before
    assert_problem(await client.get(f"/api/v1/cases/{a['case_id']}/members", headers=bob.headers), 403)

    r = await client.post(url, json={"user_id": bob.id}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == bob.id and r.json()["role"] == "organizer"
    assert r.json()["email"] == "bob@example.com"
    # the new organizer sees the list and may promote in turn
    items = (await get_ok(client, f"/api/v1/cases/{a['case_id']}/members", bob.headers))["items"]
    assert {i["user_id"]: i["role"] for i in items} == {
        alice.id: "organizer",
        bob.id: "organizer",
        carol.id: "member",
    }
    entry = (
        await AuditEntry.select()
        .where(AuditEntry.action == "case.organizer_promoted")
        .output(load_json=True)
        .first()
    )
    assert entry is not None
    assert (entry["actor_id"], entry["object_id"], entry["data"]["user_id"]) == (
        alice.id,
        a["case_id"],
        bob.id,
    )
    # promoting again changes nothing
    before = await row_counts(TABLES)
    assert (await client.post(url, json={"user_id": bob.id}, headers=alice.headers)).status_code == 200
    assert await row_counts(TABLES) == before


# --- status ---------------------------------------------------------------------------------


async def test_case_status_moves_forward_and_closed_is_final(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    await join(client, bob)
    url = f"/api/v1/cases/{a['case_id']}/status"

    before = await row_counts(TABLES)
    assert_problem(await client.post(url, json={"status": "filing"}), 401)
    assert_problem(
        await client.post(url, json={"status": "filing"}, headers=bob.headers), 403, "organizers_only"
    )
    r = await client.post(url, json={"status": "archived"}, headers=alice.headers)
    assert fields_of(assert_problem(r, 422, "validation")) == {"status"}
    assert await row_counts(TABLES) == before

    r = await client.post(url, json={"status": "filing"}, headers=alice.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "filing"
    r = await client.post(url, json={"status": "closed"}, headers=alice.headers)
    assert r.json()["status"] == "closed"
    timeline = [(e["kind"], e["data"]) for e in r.json()["timeline"] if e["kind"] == "status_changed"]
    assert timeline == [("status_changed", {"status": "filing"}), ("status_changed", {"status": "closed"})]

    before = await row_counts(TABLES)
    r = await client.post(url, json={"status": "gathering"}, headers=alice.headers)
    assert_problem(r, 409, "invalid_transition")
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}"))["status"] == "closed"
    assert await row_counts(TABLES) == before
    page = await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}")
    assert page["cases"] == [{"id": a["case_id"], "status": "closed", "member_count": 2}]

    # the merchant is reported again: a new case, a new organizer; the old one stays closed
    carol = await person(client, mailbox, worker, "carol@example.com")
    c = await join(client, carol)
    assert c["merchant_id"] == a["merchant_id"]
    assert c["case_id"] != a["case_id"] and c["created_case"] is True
    assert (await get_ok(client, f"/api/v1/cases/{c['case_id']}/membership", carol.headers))[
        "role"
    ] == "organizer"
    # Bob, a member of the closed case, may join the new one too
    b2 = await join(client, bob)
    assert b2["case_id"] == c["case_id"]
    lookup = (await get_ok(client, "/api/v1/merchants", q="12345678"))["items"]
    assert [(m["open_case_id"], m["member_count"]) for m in lookup] == [(c["case_id"], 2)]


async def test_my_cases(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await open_case(client, alice)
    await join(client, bob, amount="5000", currency="JPY")
    o = await report(client, bob, report_body("Other Shop", [ident("domain", "other-shop.com")]))

    assert_problem(await client.get("/api/v1/me/cases"), 401)
    items = (await get_ok(client, "/api/v1/me/cases", bob.headers))["items"]
    by_case = {i["case_id"]: i for i in items}
    assert set(by_case) == {a["case_id"], o["case_id"]}
    assert by_case[a["case_id"]]["role"] == "member"
    assert by_case[a["case_id"]]["merchant"] == {"id": a["merchant_id"], "name": SHOP}
    assert by_case[a["case_id"]]["loss"] == {"amount": "5000", "currency": "JPY"}
    assert by_case[a["case_id"]]["member_count"] == 2
    assert by_case[o["case_id"]]["role"] == "organizer"
    assert by_case[o["case_id"]]["status"] == "gathering"
    assert [i["case_id"] for i in (await get_ok(client, "/api/v1/me/cases", alice.headers))["items"]] == [
        a["case_id"]
    ]


# --- notifications ---------------------------------------------------------------------------


async def test_status_change_notifies_every_member_once(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    carol = await person(client, mailbox, worker, "carol@example.com")
    outsider = await person(client, mailbox, worker, "outsider@example.com")
    a = await open_case(client, alice)
    await join(client, bob)
    await join(client, carol)
    await worker()  # joining tells the organizers only
    assert await InboxEntry.count().where(InboxEntry.kind == "case.member_joined") == 2
    assert await InboxEntry.count().where(InboxEntry.user != alice.id) == 0
    await InboxEntry.delete(force=True)

    r = await client.post(
        f"/api/v1/cases/{a['case_id']}/status", json={"status": "filing"}, headers=alice.headers
    )
    assert r.status_code == 200
    assert await InboxEntry.count() == 0  # the worker has not run yet
    assert await worker() >= 1

    for who in (alice, bob, carol):
        inbox = await get_ok(client, "/api/v1/notifications", who.headers)
        assert inbox["unread"] == 1
        (note,) = inbox["items"]
        assert note["kind"] == "case.status_changed"
        assert note["case_id"] == a["case_id"]
        assert note["data"] == {"status": "filing"}
        assert note["read"] is False
    assert await get_ok(client, "/api/v1/notifications", outsider.headers) == {"items": [], "unread": 0}
    assert_problem(await client.get("/api/v1/notifications"), 401)

    while await worker():  # the e-mails the fan-out queued
        pass
    # the same job delivered again (arq may run a job twice) adds nothing
    event = await CaseEvent.select(CaseEvent.id).where(CaseEvent.kind == "status_changed").first()
    await redis_pool.enqueue_job("notify_case_event", event_id=event["id"])
    assert await worker() == 1
    assert await worker() == 0
    assert await InboxEntry.count() == 3

    bob_note = (await get_ok(client, "/api/v1/notifications", bob.headers))["items"][0]
    # someone else's notification is not found, and stays unread
    assert_problem(
        await client.post(f"/api/v1/notifications/{bob_note['id']}/read", headers=carol.headers), 404
    )
    assert_problem(await client.post("/api/v1/notifications/999999/read", headers=bob.headers), 404)
    assert (await get_ok(client, "/api/v1/notifications", bob.headers))["unread"] == 1

    r = await client.post(f"/api/v1/notifications/{bob_note['id']}/read", headers=bob.headers)
    assert r.status_code == 204
    inbox = await get_ok(client, "/api/v1/notifications", bob.headers)
    assert inbox["unread"] == 0 and inbox["items"][0]["read"] is True
    assert (await get_ok(client, "/api/v1/notifications", carol.headers))["unread"] == 1


async def test_membership_rows_match_the_api(client: Any, mailbox: Any, worker: Any) -> None:
    """Loss is stored as an exact decimal with its currency, not a float."""
    alice = await person(client, mailbox, worker, "alice@example.com")
    a = await open_case(client, alice, amount="0.10", currency="CNY")
    await client.patch(
        f"/api/v1/cases/{a['case_id']}/membership",
        json={"loss": {"amount": "0.20", "currency": "CNY"}},
        headers=alice.headers,
    )
    row = await Membership.select(Membership.loss_amount, Membership.loss_currency).first()
    assert (row["loss_amount"], row["loss_currency"]) == (Decimal("0.20"), "CNY")
