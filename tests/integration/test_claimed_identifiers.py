"""A report joining a case by its id (not by a match) only *claims* the identifiers and name it
brings: one account must not be able to route a legitimate shop's phone into a scam case.
Claims match nothing and stay off public pages until a second, independent reporter names them
or a moderator confirms them (real database, Redis and worker, over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from tests.integration.cases_support import (
    TABLES,
    get_ok,
    ident,
    person,
    report,
    report_body,
    staff,
)
from tests.support import assert_problem, row_counts

pytestmark = pytest.mark.usefixtures("clean")

SCAM = ident("domain", "scam-shop.com")
LEGIT_PHONE = ident("phone", "139 1234 5678")
LEGIT_NAME = "Legit Bakery"


async def scam_case_with_a_claim(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Vic opens the scam shop's case; Mallory joins it by id, naming a legitimate bakery's
    phone and name."""
    vic = await person(client, mailbox, worker, "vic@example.com", "Vic")
    mallory = await person(client, mailbox, worker, "mallory@example.com", "Mallory")
    scam = await report(client, vic, report_body("Scam Shop", [SCAM]))
    joined = await report(
        client, mallory, report_body(LEGIT_NAME, [LEGIT_PHONE], case_id=scam["case_id"], amount="1")
    )
    assert (joined["case_id"], joined["merchant_id"]) == (scam["case_id"], scam["merchant_id"])
    return {"vic": vic, "mallory": mallory, "scam": scam}


def claims_url(merchant_id: int) -> str:
    return f"/api/v1/merchants/{merchant_id}/claims"


def confirm_url(merchant_id: int, identifier_id: int) -> str:
    return f"/api/v1/merchants/{merchant_id}/identifiers/{identifier_id}/confirm"


async def resolve_phone(client: Any) -> list[dict[str, Any]]:
    r = await client.post("/api/v1/merchants/resolve", json={"identifiers": [LEGIT_PHONE]})
    assert r.status_code == 200, r.text
    return list(r.json()["matches"])


async def public_page(client: Any, merchant_id: int) -> dict[str, Any]:
    return dict(await get_ok(client, f"/api/v1/merchants/{merchant_id}"))


async def test_a_claimed_phone_routes_no_report_into_the_scam_case(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam, vic, mallory = w["scam"], w["vic"], w["mallory"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")

    # the public page and search know nothing of the claim
    page = await public_page(client, scam["merchant_id"])
    assert [i["kind"] for i in page["identifiers"]] == ["domain"] and page["aliases"] == []
    assert (await get_ok(client, "/api/v1/merchants", q="13912345678"))["items"] == []
    assert (await get_ok(client, "/api/v1/merchants", q=LEGIT_NAME))["items"] == []

    # organizers and moderators see it, unmasked, with who claimed it
    for who in (vic, moderator):
        claims = await get_ok(client, claims_url(scam["merchant_id"]), who.headers)
        (claimed,) = claims["identifiers"]
        assert (claimed["kind"], claimed["value"], claimed["status"]) == (
            "phone",
            "+8613912345678",
            "claimed",
        )
        assert claimed["claimed_by"] == {"id": mallory.id, "display_name": "Mallory"}
        assert [(a["name"], a["status"]) for a in claims["aliases"]] == [(LEGIT_NAME, "claimed")]
    assert_problem(await client.get(claims_url(scam["merchant_id"])), 401)
    assert_problem(await client.get(claims_url(scam["merchant_id"]), headers=mallory.headers), 403)
    assert_problem(await client.get(claims_url(999999), headers=moderator.headers), 404, "merchant_not_found")

    # resolve offers the scam shop as a weak suggestion, never as a match
    (suggestion,) = await resolve_phone(client)
    assert suggestion["merchant_id"] == scam["merchant_id"]
    assert suggestion["matched_on"] == ["phone"] and suggestion["score"] < 100
    assert suggestion["case_id"] == scam["case_id"]  # the case the claim was made in

    # a bakery customer reports the phone: a case of its own, not the scam case
    leo = await person(client, mailbox, worker, "leo@example.com", "Leo")
    bakery = await report(client, leo, report_body(LEGIT_NAME, [LEGIT_PHONE]))
    assert bakery["created_case"] is True
    assert (bakery["merchant_id"], bakery["case_id"]) != (scam["merchant_id"], scam["case_id"])
    assert (await get_ok(client, f"/api/v1/cases/{scam['case_id']}"))["member_count"] == 2
    matches = await resolve_phone(client)
    assert [(m["merchant_id"], m["score"], m["case_id"]) for m in matches] == [
        (bakery["merchant_id"], 100.0, bakery["case_id"]),
        (scam["merchant_id"], suggestion["score"], scam["case_id"]),
    ]

    # now the bakery holds the phone: a moderator cannot hand it to the scam shop (409), nothing changes
    before = await row_counts(TABLES)
    r = await client.post(confirm_url(scam["merchant_id"], claimed["id"]), headers=moderator.headers)
    assert_problem(r, 409, "identifier_taken")
    assert await row_counts(TABLES) == before
    assert len((await get_ok(client, claims_url(scam["merchant_id"]), vic.headers))["identifiers"]) == 1


async def test_a_resolve_shows_the_open_case_of_a_merchant_with_a_closed_one_once(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The merchant's cases are read with its identifiers (one row per identifier and case): a
    merchant with a closed case and a newer open one is one match, or one suggestion, with the
    open case."""
    w = await scam_case_with_a_claim(client, mailbox, worker)
    vic, scam = w["vic"], w["scam"]
    r = await client.post(
        f"/api/v1/cases/{scam['case_id']}/status", json={"status": "closed"}, headers=vic.headers
    )
    assert r.status_code == 200, r.text
    again = await report(client, vic, report_body("Scam Shop", [SCAM]))
    assert again["merchant_id"] == scam["merchant_id"] and again["case_id"] != scam["case_id"]

    r = await client.post("/api/v1/merchants/resolve", json={"identifiers": [SCAM, LEGIT_PHONE]})
    assert r.status_code == 200, r.text
    assert [(m["merchant_id"], m["matched_on"], m["case_id"]) for m in r.json()["matches"]] == [
        (scam["merchant_id"], ["domain"], again["case_id"])
    ]
    (suggestion,) = await resolve_phone(client)  # the claimed phone alone: a suggestion, once
    assert (suggestion["merchant_id"], suggestion["matched_on"], suggestion["case_id"]) == (
        scam["merchant_id"],
        ["phone"],
        again["case_id"],
    )


async def test_a_second_independent_reporter_confirms_a_claim(client: Any, mailbox: Any, worker: Any) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam, vic = w["scam"], w["vic"]
    # Wendy, another victim, joins by id too and names the same phone (spelled otherwise) and name
    wendy = await person(client, mailbox, worker, "wendy@example.com", "Wendy")
    body = report_body(LEGIT_NAME, [ident("phone", "+86 139-1234-5678")], case_id=scam["case_id"])
    await report(client, wendy, body)

    claims = await get_ok(client, claims_url(scam["merchant_id"]), vic.headers)
    assert claims["identifiers"] == [] and claims["aliases"] == []
    page = await public_page(client, scam["merchant_id"])
    assert sorted(i["kind"] for i in page["identifiers"]) == ["domain", "phone"]
    assert "13912345678" not in str(page)  # personal identifiers stay masked in public
    assert page["aliases"] == [LEGIT_NAME]

    # from now on the phone matches: a later report lands in the scam case
    (match,) = await resolve_phone(client)
    assert (match["merchant_id"], match["score"], match["case_id"]) == (
        scam["merchant_id"],
        100.0,
        scam["case_id"],
    )
    leo = await person(client, mailbox, worker, "leo@example.com", "Leo")
    later = await report(client, leo, report_body("Some Shop", [LEGIT_PHONE]))
    assert (later["case_id"], later["created_case"]) == (scam["case_id"], False)


async def test_a_report_by_id_that_shares_a_confirmed_identifier_adds_confirmed_ones(
    client: Any, mailbox: Any, worker: Any
) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam = w["scam"]
    wendy = await person(client, mailbox, worker, "wendy@example.com", "Wendy")
    # Wendy names the case and a confirmed identifier of it: a join by match, her QQ is confirmed
    await report(
        client, wendy, report_body("Scam Shop", [SCAM, ident("qq", "87654321")], case_id=scam["case_id"])
    )
    page = await public_page(client, scam["merchant_id"])
    assert sorted(i["kind"] for i in page["identifiers"]) == ["domain", "qq"]
    claims = await get_ok(client, claims_url(scam["merchant_id"]), w["vic"].headers)
    assert [i["kind"] for i in claims["identifiers"]] == ["phone"]  # Mallory's claim is still one


async def test_a_moderator_confirms_a_claim(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam, vic, mallory = w["scam"], w["vic"], w["mallory"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    other = await report(client, vic, report_body("Other Shop", [ident("domain", "other-shop.com")]))
    claims = await get_ok(client, claims_url(scam["merchant_id"]), vic.headers)
    (claimed,), (alias,) = claims["identifiers"], claims["aliases"]
    url = confirm_url(scam["merchant_id"], claimed["id"])

    before = await row_counts(TABLES)
    assert_problem(await client.post(url), 401)
    for who in (mallory, vic):  # the claimant, and the case's organizer: not moderators
        assert_problem(await client.post(url, headers=who.headers), 403)
    for bad, code in (
        (confirm_url(scam["merchant_id"], 999999), "identifier_not_found"),
        (confirm_url(other["merchant_id"], claimed["id"]), "identifier_not_found"),  # not that merchant's
        (confirm_url(999999, claimed["id"]), "merchant_not_found"),
        (f"/api/v1/merchants/{scam['merchant_id']}/aliases/999999/confirm", "alias_not_found"),
    ):
        assert_problem(await client.post(bad, headers=moderator.headers), 404, code)
    assert await row_counts(TABLES) == before
    assert (await resolve_phone(client))[0]["score"] < 100

    r = await client.post(url, headers=moderator.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["value"] == "+8613912345678"
    entry = (
        await AuditEntry.select()
        .where(AuditEntry.action == "merchant.identifier_confirmed")
        .output(load_json=True)
        .first()
    )
    assert entry is not None
    assert (entry["actor_id"], entry["object_id"]) == (moderator.id, claimed["id"])
    assert entry["data"]["merchant_id"] == scam["merchant_id"]
    # confirming again is a conflict and changes nothing
    before = await row_counts(TABLES)
    assert_problem(await client.post(url, headers=moderator.headers), 409, "identifier_not_claimed")
    assert await row_counts(TABLES) == before

    # the name too
    r = await client.post(
        f"/api/v1/merchants/{scam['merchant_id']}/aliases/{alias['id']}/confirm", headers=moderator.headers
    )
    assert r.status_code == 200, r.text
    page = await public_page(client, scam["merchant_id"])
    assert page["aliases"] == [LEGIT_NAME]
    assert sorted(i["kind"] for i in page["identifiers"]) == ["domain", "phone"]

    leo = await person(client, mailbox, worker, "leo@example.com", "Leo")
    later = await report(client, leo, report_body("Some Shop", [LEGIT_PHONE]))
    assert (later["case_id"], later["created_case"]) == (scam["case_id"], False)


async def test_claims_stay_claims_through_a_merge(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam, vic = w["scam"], w["vic"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    olga = await person(client, mailbox, worker, "olga@example.com", "Olga")
    twin = await report(client, olga, report_body("Scam Shop Two", [ident("domain", "scam-shop2.com")]))
    r = await client.post(
        "/api/v1/moderation/merchants/merge",
        json={"source_id": scam["merchant_id"], "target_id": twin["merchant_id"]},
        headers=moderator.headers,
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert sorted(i["kind"] for i in page["identifiers"]) == ["domain", "domain"]
    assert LEGIT_NAME not in page["aliases"] and "Scam Shop" in page["aliases"]
    # Vic organized the merged case: she organizes the surviving one, and sees the claims there
    claims = await get_ok(client, claims_url(twin["merchant_id"]), vic.headers)
    assert [(i["value"], i["status"]) for i in claims["identifiers"]] == [("+8613912345678", "claimed")]
    assert [a["name"] for a in claims["aliases"]] == [LEGIT_NAME]
    (suggestion,) = await resolve_phone(client)
    assert suggestion["merchant_id"] == twin["merchant_id"] and suggestion["score"] < 100
    leo = await person(client, mailbox, worker, "leo@example.com", "Leo")
    later = await report(client, leo, report_body(LEGIT_NAME, [LEGIT_PHONE]))
    assert later["created_case"] is True and later["merchant_id"] != twin["merchant_id"]


async def test_an_organizer_of_a_later_case_does_not_see_who_claimed_what_before(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Once the scam case is closed, anyone who reports the shop again organizes its new case:
    that makes them no reviewer of what members of the old case claimed (nor of who they are)."""
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam, vic = w["scam"], w["vic"]
    r = await client.post(
        f"/api/v1/cases/{scam['case_id']}/status", json={"status": "closed"}, headers=vic.headers
    )
    assert r.status_code == 200, r.text
    eve = await person(client, mailbox, worker, "eve@example.com", "Eve")
    later = await report(client, eve, report_body("Scam Shop", [SCAM]))
    assert later["merchant_id"] == scam["merchant_id"] and later["case_id"] != scam["case_id"]

    seen_by_eve = await get_ok(client, claims_url(scam["merchant_id"]), eve.headers)
    assert seen_by_eve["identifiers"] == [] and seen_by_eve["aliases"] == []
    seen_by_vic = await get_ok(client, claims_url(scam["merchant_id"]), vic.headers)
    assert [i["value"] for i in seen_by_vic["identifiers"]] == ["+8613912345678"]
