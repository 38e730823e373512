"""Concurrency: many victims reporting one merchant at the same moment end up in one merchant
and one case; simultaneous status changes and merges leave consistent data."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserCreate
from chorus.cases.tables import Case, Membership
from chorus.merchants.tables import Merchant, MerchantIdentifier
from tests.conftest import BACKEND
from tests.integration.cases_support import Person, ident, report_body
from tests.support import PASSWORD

pytestmark = pytest.mark.usefixtures("clean")


N = 200 if BACKEND == "postgres" else 20

IDENTIFIERS = [
    ident("qq", "12345678"),
    ident("phone", "13800138000"),
    ident("shop", "https://shop123456.taobao.com/"),
    ident("domain", "xingchen-kami.com"),
    ident("other", "客服小星"),  # weak: stored, never a match key
]


async def make_people(client: Any, settings: Any, n: int) -> list[Person]:
    """Verified accounts made and logged in through the account service, not the HTTP flow
    (no e-mail round trip; argon2 runs in threads)."""

    async def one(i: int) -> Person:
        email = f"victim{i}@example.com"
        user = await accounts.register(
            data=UserCreate(email=email, password=PASSWORD, display_name=f"Victim {i}"),
            settings=settings,
            verified=True,
        )
        _, token = await accounts.login(email=email, password=PASSWORD, settings=settings)
        return Person(headers={"Authorization": f"Bearer {token}"}, id=user.id, email=email, display_name="")

    people: list[Person] = []
    for start in range(0, n, 20):  # in batches: argon2 needs memory per hash
        people += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 20))))
    return people


async def test_simultaneous_reports(client: Any, settings: Any) -> None:
    # One test, three rounds: making hundreds of accounts (argon2) costs more than the rounds.
    people = await make_people(client, settings, N)
    await one_new_merchant(client, people)
    await one_known_merchant_and_new_identifiers_in_any_order(client, people)
    await one_known_merchant_and_a_new_weak_identifier(client, people)


async def one_new_merchant(client: Any, people: list[Person]) -> None:
    """N victims report one merchant nobody reported before, all at once."""

    async def go(i: int, who: Person) -> Any:
        # each victim spells the identifiers a little differently and names the shop its own way
        identifiers = list(IDENTIFIERS)
        if i % 2:
            identifiers[0] = ident("qq", "1234 5678")
            identifiers[1] = ident("phone", "+86 138-0013-8000")
        if i % 3 == 0:
            identifiers[2] = ident("shop", "taobao:123456")
        if i % 5 == 0:
            identifiers.reverse()
        body = report_body(f"星辰卡盟 {i % 4}", identifiers, amount=f"{10 + i}.00")
        return await client.post("/api/v1/reports", json=body, headers=who.headers)

    responses = await asyncio.gather(*(go(i, p) for i, p in enumerate(people)))

    assert [r.status_code for r in responses] == [201] * N, [
        r.text for r in responses if r.status_code != 201
    ][:3]
    answers = [r.json() for r in responses]
    assert len({a["merchant_id"] for a in answers}) == 1
    assert len({a["case_id"] for a in answers}) == 1
    assert sum(a["created_case"] for a in answers) == 1
    assert len({a["membership_id"] for a in answers}) == N
    # "you are the 24th member": every one of them told a different number, 1 to N
    assert sorted(a["member_number"] for a in answers) == list(range(1, N + 1))

    assert await Merchant.count() == 1
    assert await Case.count() == 1
    assert await Case.count().where(Case.status != "closed") == 1
    assert await Membership.count() == N
    assert await Membership.count().where(Membership.role == "organizer") == 1
    # one row per identifier, however many spellings and reporters
    assert await MerchantIdentifier.count() == len(IDENTIFIERS)

    case_id = answers[0]["case_id"]
    r = await client.get(f"/api/v1/cases/{case_id}")
    summary = r.json()
    assert summary["member_count"] == N
    expected_total = sum(10 + i for i in range(N))
    assert summary["total_loss"] == [{"amount": f"{expected_total}.00", "currency": "CNY"}]
    organizer = next(a for a in answers if a["created_case"])
    assert organizer["member_number"] == 1
    row = await Membership.select(Membership.role).where(Membership.id == organizer["membership_id"]).first()
    assert row["role"] == "organizer"


async def one_known_merchant_and_a_new_weak_identifier(client: Any, people: list[Person]) -> None:
    """A merchant exists; everybody else joins at once, all bringing the same new weak
    identifier (one no unique constraint guards): it is stored once."""
    first, *others = people
    known = ident("qq", "87654321")
    r = await client.post("/api/v1/reports", json=report_body("月光卡盟", [known]), headers=first.headers)
    assert r.status_code == 201, r.text
    case_id, merchant_id = r.json()["case_id"], r.json()["merchant_id"]

    async def go(who: Person) -> Any:
        body = report_body("月光卡盟", [known, ident("other", "客服小月")])
        return await client.post("/api/v1/reports", json=body, headers=who.headers)

    responses = await asyncio.gather(*(go(p) for p in others))
    assert [r.status_code for r in responses] == [201] * len(others), [
        r.text for r in responses if r.status_code != 201
    ][:3]
    assert {r.json()["case_id"] for r in responses} == {case_id}
    assert await Membership.count().where(Membership.case == case_id) == N
    assert (
        await Membership.count().where((Membership.case == case_id) & (Membership.role == "organizer")) == 1
    )
    rows = await MerchantIdentifier.select(MerchantIdentifier.kind, MerchantIdentifier.value).where(
        MerchantIdentifier.merchant == merchant_id
    )
    assert sorted((row["kind"], row["value"]) for row in rows) == [("other", "客服小月"), ("qq", "87654321")]


async def one_known_merchant_and_new_identifiers_in_any_order(client: Any, people: list[Person]) -> None:
    """Everybody joins a known merchant at once, bringing the same three new identifiers, half
    of them listing them the other way round: no deadlock, each identifier stored once."""
    first, *others = people
    known = ident("domain", "kaxing.com")
    new = [ident("wechat", "kaxing_kefu"), ident("bank_card", "6217009876543210981"), ident("qq", "55555555")]
    r = await client.post("/api/v1/reports", json=report_body("卡星", [known]), headers=first.headers)
    assert r.status_code == 201, r.text
    case_id, merchant_id = r.json()["case_id"], r.json()["merchant_id"]

    async def go(i: int, who: Person) -> Any:
        body = report_body("卡星", [known, *(new if i % 2 else new[::-1])])
        return await client.post("/api/v1/reports", json=body, headers=who.headers)

    responses = await asyncio.gather(*(go(i, p) for i, p in enumerate(others)))
    assert [r.status_code for r in responses] == [201] * len(others), [
        r.text for r in responses if r.status_code != 201
    ][:3]
    assert {r.json()["case_id"] for r in responses} == {case_id}
    rows = await MerchantIdentifier.select(MerchantIdentifier.kind).where(
        MerchantIdentifier.merchant == merchant_id
    )
    assert sorted(row["kind"] for row in rows) == ["bank_card", "domain", "qq", "wechat"]


async def test_simultaneous_joins_tell_each_member_a_different_number(client: Any, settings: Any) -> None:
    """Ten victims report a known merchant at the same moment: each is told its own place in the
    case ("you are the 5th member"), 2 to 11 after the one who opened it, none twice or skipped;
    after one leaves, the next is told the number the case's member count then says."""
    first, *others = await make_people(client, settings, 12)
    latecomer = others.pop()
    qq = ident("qq", "246813579")
    r = await client.post("/api/v1/reports", json=report_body("晨星卡铺", [qq]), headers=first.headers)
    assert r.status_code == 201 and r.json()["member_number"] == 1, r.text
    case_id = r.json()["case_id"]

    responses = await asyncio.gather(
        *(
            client.post("/api/v1/reports", json=report_body(f"晨星 {i}", [qq]), headers=who.headers)
            for i, who in enumerate(others)
        )
    )
    assert [r.status_code for r in responses] == [201] * len(others), [r.text for r in responses][:3]
    assert {r.json()["case_id"] for r in responses} == {case_id}
    assert sorted(r.json()["member_number"] for r in responses) == list(range(2, len(others) + 2))
    # the last to be numbered is told what the case's member count then says
    summary = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert summary["member_count"] == len(others) + 1, summary

    left = await client.delete(f"/api/v1/cases/{case_id}/membership", headers=others[3].headers)
    assert left.status_code == 204, left.text
    r = await client.post("/api/v1/reports", json=report_body("晨星卡铺", [qq]), headers=latecomer.headers)
    assert r.status_code == 201, r.text
    summary = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert r.json()["member_number"] == summary["member_count"] == len(others) + 1


async def test_simultaneous_status_changes_leave_a_consistent_case(client: Any, settings: Any) -> None:
    """An organizer's two tabs (or two organizers) move one case at the same moment: either
    order may win, but a case is never 'open' on the page yet closed for new reports."""
    (organizer,) = await make_people(client, settings, 1)
    for trial in range(10):
        body = report_body(f"Shop {trial}", [ident("domain", f"shop-{trial}.com")])
        r = await client.post("/api/v1/reports", json=body, headers=organizer.headers)
        assert r.status_code == 201, r.text
        case_id = r.json()["case_id"]
        url = f"/api/v1/cases/{case_id}/status"
        closing, filing = await asyncio.gather(
            client.post(url, json={"status": "closed"}, headers=organizer.headers),
            client.post(url, json={"status": "filing"}, headers=organizer.headers),
        )
        assert closing.status_code == 200, closing.text
        # filing after closing is refused; filing before closing is fine
        assert filing.status_code in (200, 409), filing.text
        row = await Case.select(Case.status, Case.closed_at).where(Case.id == case_id).first()
        assert row["status"] == "closed", (trial, filing.status_code)
        assert row["closed_at"] is not None


async def test_opposite_merges_at_once_merge_one_way(client: Any, settings: Any) -> None:
    """Two moderators fold A into B and B into A at the same moment: one wins, the other is
    told it is too late; the two merchants never end up merged into each other."""
    await accounts.create_admin(
        email="mod@example.com", password=PASSWORD, display_name="Mod", settings=settings
    )
    _, token = await accounts.login(email="mod@example.com", password=PASSWORD, settings=settings)
    moderator = {"Authorization": f"Bearer {token}"}
    alice, bob = await make_people(client, settings, 2)
    for trial in range(5):
        ids_ = []
        for who, name in ((alice, "A"), (bob, "B")):
            body = report_body(f"{name}{trial}", [ident("domain", f"{name.lower()}{trial}-shop.com")])
            r = await client.post("/api/v1/reports", json=body, headers=who.headers)
            assert r.status_code == 201, r.text
            ids_.append(r.json()["merchant_id"])
        a, b = ids_
        one, two = await asyncio.gather(
            client.post(
                "/api/v1/moderation/merchants/merge", json={"source_id": a, "target_id": b}, headers=moderator
            ),
            client.post(
                "/api/v1/moderation/merchants/merge", json={"source_id": b, "target_id": a}, headers=moderator
            ),
        )
        assert sorted([one.status_code, two.status_code]) == [200, 409], (one.text, two.text)
        rows = await Merchant.select(Merchant.id, Merchant.merged_into).where(Merchant.id.is_in([a, b]))
        assert sum(r["merged_into"] is not None for r in rows) == 1
        survivor = b if one.status_code == 200 else a
        open_cases = await Case.select(Case.id).where((Case.merchant == survivor) & (Case.status != "closed"))
        assert len(open_cases) == 1
        assert await Membership.count().where(Membership.case == open_cases[0]["id"]) == 2
