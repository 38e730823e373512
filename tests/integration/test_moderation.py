"""Moderators merge duplicate merchants and their open cases (real database, Redis, worker)."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.cases.tables import Membership
from tests.integration.cases_support import (
    TABLES,
    Person,
    fields_of,
    get_ok,
    ident,
    person,
    report,
    report_body,
    staff,
)
from tests.support import assert_problem, row_counts

pytestmark = pytest.mark.usefixtures("clean")


PROPOSALS = "/api/v1/moderation/merge-proposals"
MERGE = "/api/v1/moderation/merchants/merge"


async def two_merchants_and_a_proposal(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Alice reports merchant A (QQ), then Bob merchant B (phone) and A (Alice joins B too);
    Carol's report carries both identifiers: a merge proposal A–B."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    b = await report(client, bob, report_body("晨星游戏", [ident("phone", "13800138000")], amount="80"))
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "12345678")], amount="20"))
    # Alice was in A first, then in B: after a merge into A she keeps her A membership
    await report(client, alice, report_body("晨星游戏", [ident("phone", "13800138000")], amount="50"))
    c = await report(
        client,
        carol,
        report_body("星辰", [ident("qq", "12345678"), ident("phone", "+86 138 0013 8000")], amount="30"),
    )
    assert c["merchant_id"] == a["merchant_id"]  # a tie: the older merchant
    return {"alice": alice, "bob": bob, "carol": carol, "a": a, "b": b}


async def open_proposals(client: Any, moderator: Person, **params: Any) -> list[dict[str, Any]]:
    return list((await get_ok(client, PROPOSALS, moderator.headers, **params))["items"])


async def test_only_moderators_and_admins_see_proposals(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    admin = await staff(client, settings, "root@example.com", "admin")
    assert_problem(await client.get(PROPOSALS), 401)
    assert_problem(await client.get(PROPOSALS, headers=world["alice"].headers), 403, "forbidden")
    for who in (moderator, admin):
        (p,) = await open_proposals(client, who)
        assert {p["merchant_a"]["id"], p["merchant_b"]["id"]} == {
            world["a"]["merchant_id"],
            world["b"]["merchant_id"],
        }
        assert p["matched_on"] == ["phone"]
        assert "13800138000" not in str(p) and "12345678" not in str(p)

    before = await row_counts(TABLES)
    for url, body in (
        (f"{PROPOSALS}/{p['id']}/merge", {}),
        (f"{PROPOSALS}/{p['id']}/reject", {}),
        (MERGE, {"source_id": world["b"]["merchant_id"], "target_id": world["a"]["merchant_id"]}),
    ):
        assert_problem(await client.post(url, json=body), 401)
        assert_problem(await client.post(url, json=body, headers=world["alice"].headers), 403)
    assert await row_counts(TABLES) == before


async def accepted(client: Any, mailbox: Any, worker: Any, settings: Any) -> dict[str, Any]:
    """Two merchants and their proposal, accepted by a moderator: the world, plus ``moderator``,
    ``proposal``, the surviving merchant (``target``) and Alice's membership before the merge."""
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)
    a = world["a"]
    alice_first = await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", world["alice"].headers)
    await worker()  # nothing pending before the merge
    r = await client.post(f"{PROPOSALS}/{proposal['id']}/merge", json={}, headers=moderator.headers)
    assert r.status_code == 200, r.text
    return {
        **world,
        "moderator": moderator,
        "proposal": proposal,
        "target": r.json(),
        "alice_first": alice_first,
    }


async def test_accepting_a_proposal_merges_merchants_and_cases(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    a, b, target = world["a"], world["b"], world["target"]
    assert target["id"] == a["merchant_id"]  # the older merchant survives
    assert "晨星游戏" in target["aliases"]
    assert sorted(i["kind"] for i in target["identifiers"]) == ["phone", "qq"]
    # the survivor's open case holds everyone; the emptied source case stays, closed, for history
    assert target["cases"] == [
        {"id": a["case_id"], "status": "gathering", "member_count": 3},
        {"id": b["case_id"], "status": "closed", "member_count": 0},
    ]

    # the source case is closed and points at the surviving case
    source_case = await get_ok(client, f"/api/v1/cases/{b['case_id']}")
    assert source_case["status"] == "closed"
    assert source_case["merged_into"] == a["case_id"]
    summary = await get_ok(client, f"/api/v1/cases/{a['case_id']}")
    assert summary["member_count"] == 3
    # Alice 199 (+50 dropped), Bob 80 (kept his earlier membership, in B) … Carol 30
    assert summary["total_loss"] == [{"amount": "309.00", "currency": "CNY"}]
    source_page = await get_ok(client, f"/api/v1/merchants/{b['merchant_id']}")
    assert source_page["merged_into"] == a["merchant_id"]


async def test_a_merge_keeps_one_membership_per_person(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    alice, bob, a, b = world["alice"], world["bob"], world["a"], world["b"]
    # the earliest membership is kept
    assert await Membership.count().where(Membership.user == alice.id) == 1
    assert await Membership.count().where(Membership.user == bob.id) == 1
    alice_now = await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", alice.headers)
    assert alice_now == world["alice_first"]
    bob_now = await get_ok(client, f"/api/v1/cases/{a['case_id']}/membership", bob.headers)
    assert bob_now["loss"] == {"amount": "80.00", "currency": "CNY"}
    assert bob_now["role"] == "organizer"  # he organized B, and stays an organizer
    assert_problem(await client.get(f"/api/v1/cases/{b['case_id']}/membership", headers=bob.headers), 403)
    my = (await get_ok(client, "/api/v1/me/cases", bob.headers))["items"]
    assert [i["case_id"] for i in my] == [a["case_id"]]


async def test_after_a_merge_a_report_of_the_source_joins_the_surviving_case(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    a = world["a"]
    dave = await person(client, mailbox, worker, "dave@example.com")
    d = await report(client, dave, report_body("晨星", [ident("phone", "13800138000")]))
    assert (d["merchant_id"], d["case_id"]) == (a["merchant_id"], a["case_id"])


async def test_a_merge_is_told_to_members_and_audited(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    await worker()
    for who in (world["bob"], world["carol"], world["alice"]):
        kinds = {n["kind"] for n in (await get_ok(client, "/api/v1/notifications", who.headers))["items"]}
        assert {"case.merged", "case.merchant_merged"} <= kinds, who.email

    entry = (
        await AuditEntry.select().where(AuditEntry.action == "merchant.merged").output(load_json=True).first()
    )
    assert entry is not None
    assert (entry["actor_id"], entry["object_id"]) == (world["moderator"].id, world["a"]["merchant_id"])
    assert entry["data"]["source_id"] == world["b"]["merchant_id"]


async def test_a_decided_proposal_is_listed_as_merged_and_not_decided_again(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    moderator, proposal = world["moderator"], world["proposal"]
    decided = await open_proposals(client, moderator, status="merged")
    assert [(p["id"], p["status"]) for p in decided] == [(proposal["id"], "merged")]
    assert decided[0]["decided_at"] is not None
    assert await open_proposals(client, moderator) == []

    # deciding it again is a conflict and changes nothing
    before = await row_counts(TABLES)
    assert_problem(
        await client.post(f"{PROPOSALS}/{proposal['id']}/merge", json={}, headers=moderator.headers), 409
    )
    assert_problem(
        await client.post(f"{PROPOSALS}/{proposal['id']}/reject", json={}, headers=moderator.headers), 409
    )
    assert await row_counts(TABLES) == before


async def test_merged_merchant_is_neither_found_nor_suggested(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = world["a"], world["b"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    r = await client.post(
        MERGE, json={"source_id": b["merchant_id"], "target_id": a["merchant_id"]}, headers=moderator.headers
    )
    assert r.status_code == 200, r.text
    for q in ("晨星游戏", "13800138000"):
        items = (await get_ok(client, "/api/v1/merchants", q=q))["items"]
        assert [i["id"] for i in items] == [a["merchant_id"]], q
    r = await client.post("/api/v1/merchants/resolve", json={"name": "晨星游戏", "identifiers": []})
    assert r.status_code == 200
    matches = r.json()["matches"]
    assert [m["merchant_id"] for m in matches] == [a["merchant_id"]]
    assert matches[0]["case_id"] == a["case_id"]


async def test_accept_with_target_keeps_the_chosen_merchant(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = world["a"], world["b"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)
    url = f"{PROPOSALS}/{proposal['id']}/merge"

    before = await row_counts(TABLES)
    r = await client.post(url, json={"target_id": 999999}, headers=moderator.headers)
    assert fields_of(assert_problem(r, 422, "target_not_in_proposal")) == {"target_id"}
    assert_problem(await client.post(f"{PROPOSALS}/999999/merge", json={}, headers=moderator.headers), 404)
    assert await row_counts(TABLES) == before

    r = await client.post(
        url, json={"target_id": b["merchant_id"], "note": "B is the real shop"}, headers=moderator.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == b["merchant_id"]
    assert (await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}"))["merged_into"] == b["merchant_id"]
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}"))["merged_into"] == b["case_id"]
    assert (await get_ok(client, f"/api/v1/cases/{b['case_id']}"))["member_count"] == 3
    # Alice joined A before B: her A membership (loss 199) moved over, the B one is gone
    mine = await get_ok(client, f"/api/v1/cases/{b['case_id']}/membership", world["alice"].headers)
    assert mine["loss"] == {"amount": "199.00", "currency": "CNY"}
    assert mine["role"] == "organizer"


async def test_rejecting_a_proposal_merges_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)
    r = await client.post(
        f"{PROPOSALS}/{proposal['id']}/reject", json={"note": "different shops"}, headers=moderator.headers
    )
    assert r.status_code == 204, r.text
    assert await open_proposals(client, moderator) == []
    (rejected,) = await open_proposals(client, moderator, status="rejected")
    assert rejected["id"] == proposal["id"] and rejected["decided_at"] is not None
    for key in ("a", "b"):
        page = await get_ok(client, f"/api/v1/merchants/{world[key]['merchant_id']}")
        assert page["merged_into"] is None
        assert page["cases"][0]["status"] == "gathering"
    assert await AuditEntry.exists().where(AuditEntry.action == "merchant.merge_rejected")
    before = await row_counts(TABLES)
    assert_problem(
        await client.post(f"{PROPOSALS}/{proposal['id']}/merge", json={}, headers=moderator.headers), 409
    )
    assert_problem(await client.post(f"{PROPOSALS}/999999/reject", json={}, headers=moderator.headers), 404)
    assert await row_counts(TABLES) == before


async def test_direct_merge_refusals(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = world["a"]["merchant_id"], world["b"]["merchant_id"]
    admin = await staff(client, settings, "root@example.com", "admin")  # admins may moderate
    before = await row_counts(TABLES)

    r = await client.post(MERGE, json={"source_id": a, "target_id": a}, headers=admin.headers)
    assert fields_of(assert_problem(r, 422, "merge_same")) == {"source_id"}
    r = await client.post(MERGE, json={"source_id": 999999, "target_id": a}, headers=admin.headers)
    assert fields_of(assert_problem(r, 404, "merchant_not_found")) == {"source_id"}
    r = await client.post(MERGE, json={"source_id": a, "target_id": 999999}, headers=admin.headers)
    assert fields_of(assert_problem(r, 404, "merchant_not_found")) == {"target_id"}
    r = await client.post(MERGE, json={"source_id": a}, headers=admin.headers)
    assert "target_id" in fields_of(assert_problem(r, 422, "validation"))
    assert await row_counts(TABLES) == before

    r = await client.post(MERGE, json={"source_id": b, "target_id": a}, headers=admin.headers)
    assert r.status_code == 200, r.text
    # the proposal between them is settled by the direct merge
    assert await open_proposals(client, admin) == []
    before = await row_counts(TABLES)
    r = await client.post(MERGE, json={"source_id": b, "target_id": a}, headers=admin.headers)
    assert fields_of(assert_problem(r, 409, "merchant_already_merged")) == {"source_id"}
    r = await client.post(MERGE, json={"source_id": a, "target_id": b}, headers=admin.headers)
    assert_problem(r, 409, "merchant_already_merged")
    assert await row_counts(TABLES) == before


async def test_merge_into_a_merchant_without_open_case_moves_the_case(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await report(client, alice, report_body("Old Shop", [ident("domain", "old-shop.com")]))
    r = await client.post(
        f"/api/v1/cases/{a['case_id']}/status", json={"status": "closed"}, headers=alice.headers
    )
    assert r.status_code == 200
    b = await report(client, bob, report_body("New Shop", [ident("domain", "new-shop.com")]))
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    r = await client.post(
        MERGE, json={"source_id": b["merchant_id"], "target_id": a["merchant_id"]}, headers=moderator.headers
    )
    assert r.status_code == 200, r.text
    cases = {c["id"]: c["status"] for c in r.json()["cases"]}
    assert cases == {a["case_id"]: "closed", b["case_id"]: "gathering"}
    # the open case now belongs to the survivor: reports of either domain join it
    carol = await person(client, mailbox, worker, "carol@example.com")
    c = await report(client, carol, report_body("Old Shop", [ident("domain", "old-shop.com")]))
    assert (c["case_id"], c["created_case"]) == (b["case_id"], False)
    await worker()
    kinds = {n["kind"] for n in (await get_ok(client, "/api/v1/notifications", bob.headers))["items"]}
    assert "case.merchant_merged" in kinds
