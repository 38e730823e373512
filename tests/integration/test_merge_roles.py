"""A moderator merges case X into case Y (by merging their merchants): organizers of X organize
Y and keep their consent; plain members of X join Y as plain members and are asked to consent
again; Y's organizers are told who arrived. A refused merge changes nothing (real database,
Redis and worker, over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

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

MERGE = "/api/v1/moderation/merchants/merge"
X_DOMAIN = ident("domain", "x-shop.com")
Y_DOMAIN = ident("domain", "y-shop.com")


async def consent(client: Any, who: Person, case_id: int, value: bool = True) -> None:
    r = await client.post(f"/api/v1/cases/{case_id}/consent", json={"consent": value}, headers=who.headers)
    assert r.status_code == 200, r.text


async def notifications(client: Any, who: Person) -> list[dict[str, Any]]:
    return list((await get_ok(client, "/api/v1/notifications", who.headers))["items"])


async def two_cases(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Case Y (merchant y-shop.com): Yvonne organizes, Yuri consented, Tom and Olga are plain
    members who have not consented. Case X (x-shop.com): Xavier organizes and consented, Olga
    organizes too and consented, Xena consented, Xiu did not, Tom consented."""
    w: dict[str, Any] = {}
    for key, name in (
        ("yvonne", "Yvonne"),
        ("yuri", "Yuri"),
        ("xavier", "Xavier"),
        ("xena", "Xena"),
        ("xiu", "Xiu"),
        ("tom", "Tom"),
        ("olga", "Olga"),
    ):
        w[key] = await person(client, mailbox, worker, f"{key}@example.com", name)
    # Tom and Olga joined X before Y: their X memberships are the earlier ones
    w["x"] = await report(client, w["xavier"], report_body("X Shop", [X_DOMAIN], amount="100"))
    x_case = w["x"]["case_id"]
    for key in ("tom", "olga", "xena", "xiu"):
        await report(client, w[key], report_body("X Shop", [X_DOMAIN], amount="10"))
    r = await client.post(
        f"/api/v1/cases/{x_case}/organizers", json={"user_id": w["olga"].id}, headers=w["xavier"].headers
    )
    assert r.status_code == 200, r.text
    w["y"] = await report(client, w["yvonne"], report_body("Y Shop", [Y_DOMAIN], amount="200"))
    y_case = w["y"]["case_id"]
    for key in ("yuri", "tom", "olga"):
        await report(client, w[key], report_body("Y Shop", [Y_DOMAIN], amount="20"))
    for key in ("xavier", "olga", "xena", "tom"):
        await consent(client, w[key], x_case)
    await consent(client, w["yuri"], y_case)
    await worker()  # the reports' own notifications, before the merge
    return w


async def member_rows(client: Any, organizer: Person, case_id: int) -> dict[int, dict[str, Any]]:
    items = (await get_ok(client, f"/api/v1/cases/{case_id}/members", organizer.headers))["items"]
    return {i["user_id"]: i for i in items}


async def memberships() -> list[tuple[Any, ...]]:
    rows = await Membership.select(
        Membership.id, Membership.case, Membership.user, Membership.role, Membership.consented_at
    ).order_by(Membership.id)
    return [tuple(r.values()) for r in rows]


async def merged(client: Any, mailbox: Any, worker: Any, settings: Any) -> dict[str, Any]:
    """The two cases of ``two_cases`` after a moderator merged X's merchant into Y's: the world,
    the case ids, each case's member rows before, and the notification ids everyone had."""
    w = await two_cases(client, mailbox, worker)
    x_case, y_case = w["x"]["case_id"], w["y"]["case_id"]
    before_x = await member_rows(client, w["xavier"], x_case)
    before_y = await member_rows(client, w["yvonne"], y_case)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    seen = {key: {n["id"] for n in await notifications(client, w[key])} for key in w if key not in ("x", "y")}
    r = await client.post(
        MERGE,
        json={"source_id": w["x"]["merchant_id"], "target_id": w["y"]["merchant_id"]},
        headers=moderator.headers,
    )
    assert r.status_code == 200, r.text
    assert (await get_ok(client, f"/api/v1/cases/{x_case}"))["merged_into"] == y_case
    return {
        "w": w,
        "x_case": x_case,
        "y_case": y_case,
        "before_x": before_x,
        "before_y": before_y,
        "seen": seen,
    }


async def told(client: Any, worker: Any, m: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """What each person was told since the merge (the jobs run first)."""
    await worker()
    w, seen = m["w"], m["seen"]
    return {key: [n for n in await notifications(client, w[key]) if n["id"] not in seen[key]] for key in seen}


async def test_merge_carries_roles_and_consent(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    m = await merged(client, mailbox, worker, settings)
    w, y_case, before_x, before_y = m["w"], m["y_case"], m["before_x"], m["before_y"]
    # Xavier organized X: he organizes Y now (he may see its members) and his consent still counts
    after = await member_rows(client, w["xavier"], y_case)
    assert set(after) == {w[k].id for k in ("yvonne", "yuri", "xavier", "xena", "xiu", "tom", "olga")}
    xavier = after[w["xavier"].id]
    assert (xavier["role"], xavier["consented_at"]) == ("organizer", before_x[w["xavier"].id]["consented_at"])
    # Olga organized X (consented there) and was a plain member of Y (not consented): organizer, consented
    olga = after[w["olga"].id]
    assert (olga["role"], olga["consented_at"]) == ("organizer", before_x[w["olga"].id]["consented_at"])
    # plain members of X join as plain members, their consent reset
    for key in ("xena", "xiu", "tom"):
        assert (after[w[key].id]["role"], after[w[key].id]["consented_at"]) == ("member", None), key
    # Y's own people are untouched
    assert (after[w["yvonne"].id]["role"], after[w["yvonne"].id]["consented_at"]) == ("organizer", None)
    assert after[w["yuri"].id]["consented_at"] == before_y[w["yuri"].id]["consented_at"] is not None
    assert after[w["yuri"].id]["role"] == "member"
    mine = await get_ok(client, f"/api/v1/cases/{y_case}/membership", w["xena"].headers)
    assert (mine["role"], mine["consented_at"], mine["consented_complaint_id"]) == ("member", None, None)
    # Olga and Tom kept their earlier (X) memberships: one row each, in Y
    for key in ("olga", "tom"):
        assert await Membership.count().where(Membership.user == w[key].id) == 1
        assert after[w[key].id]["loss"] == {"amount": "10.00", "currency": "CNY"}


async def test_moved_plain_members_are_asked_to_consent_again(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    m = await merged(client, mailbox, worker, settings)
    w, x_case, y_case = m["w"], m["x_case"], m["y_case"]
    new = await told(client, worker, m)
    for key in ("xena", "xiu", "tom"):
        (ask,) = [n for n in new[key] if n["kind"] == "case.consent_requested"]
        assert ask["case_id"] == y_case and ask["data"]["from_case"] == x_case and not ask["read"], key
    for key in ("xavier", "olga", "yvonne", "yuri"):
        assert "case.consent_requested" not in {n["kind"] for n in new[key]}, key
    # asked again, Xena agrees in Y
    await consent(client, w["xena"], y_case)
    assert (await member_rows(client, w["yvonne"], y_case))[w["xena"].id]["consented_at"] is not None


async def test_the_target_organizer_hears_who_arrived_by_name_only(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    m = await merged(client, mailbox, worker, settings)
    x_case, y_case = m["x_case"], m["y_case"]
    new = await told(client, worker, m)
    (arrived,) = [n for n in new["yvonne"] if n["kind"] == "case.members_arrived"]
    assert arrived["case_id"] == y_case
    assert arrived["data"]["from_case"] == x_case
    assert arrived["data"]["count"] == 3 and arrived["data"]["more"] == 0
    assert sorted((p["display_name"], p["role"]) for p in arrived["data"]["members"]) == [
        ("Xavier", "organizer"),
        ("Xena", "member"),
        ("Xiu", "member"),
    ]
    text = str(arrived)
    assert "@" not in text and "10.00" not in text and "100" not in text.replace(str(x_case), "")
    for key in ("yuri", "xavier", "xena", "xiu", "tom", "olga"):
        assert "case.members_arrived" not in {n["kind"] for n in new[key]}, key


async def test_refused_merges_change_nothing(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    w = await two_cases(client, mailbox, worker)
    x, y = w["x"]["merchant_id"], w["y"]["merchant_id"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    third = await report(client, w["yuri"], report_body("Z Shop", [ident("domain", "z-shop.com")]))
    await worker()
    # Z is merged into Y first: its case is closed, folded into Y's
    r = await client.post(
        MERGE, json={"source_id": third["merchant_id"], "target_id": y}, headers=moderator.headers
    )
    assert r.status_code == 200, r.text
    assert (await get_ok(client, f"/api/v1/cases/{third['case_id']}"))["status"] == "closed"
    await worker()
    rows, counts = await memberships(), await row_counts(TABLES)

    z = third["merchant_id"]
    refusals: list[tuple[dict[str, Any], int, str, set[str]]] = [
        ({"source_id": x, "target_id": x}, 422, "merge_same", {"source_id"}),
        ({"source_id": 999999, "target_id": y}, 404, "merchant_not_found", {"source_id"}),
        ({"source_id": x, "target_id": 999999}, 404, "merchant_not_found", {"target_id"}),
        # an id no id column can hold is refused before any query
        ({"source_id": x, "target_id": 2**53}, 422, "validation", {"target_id"}),
        # into, or from, a merchant already merged (its case closed and folded into Y's)
        ({"source_id": x, "target_id": z}, 409, "merchant_already_merged", {"target_id"}),
        ({"source_id": z, "target_id": x}, 409, "merchant_already_merged", {"source_id"}),
    ]
    for body, status, code, fields in refusals:
        r = await client.post(MERGE, json=body, headers=moderator.headers)
        assert fields_of(assert_problem(r, status, code)) == fields, body
    # an organizer of both cases, and anonymous callers, may not merge
    assert_problem(
        await client.post(MERGE, json={"source_id": x, "target_id": y}, headers=w["olga"].headers), 403
    )
    assert_problem(await client.post(MERGE, json={"source_id": x, "target_id": y}), 401)
    r = await client.post(MERGE, json={"source_id": x}, headers=moderator.headers)
    assert "target_id" in fields_of(assert_problem(r, 422))

    assert await memberships() == rows
    assert await row_counts(TABLES) == counts
    await worker()
    assert await row_counts(TABLES) == counts  # no notification was queued either
    for key in ("xena", "xiu", "yvonne"):
        assert not {"case.consent_requested", "case.members_arrived"} & {
            n["kind"] for n in await notifications(client, w[key])
        }, key
