"""Merchant resolution over HTTP: which reports are the same merchant, what resolve explains,
and what the public may look up (real database, Redis, worker and SMTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench._measure import statements_sent
from chorus import db
from chorus.i18n import t
from chorus.merchants import identifiers as ids
from chorus.merchants import service as merchants
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

BANK_CARD = "6222021234567890128"  # passes Luhn
USCC = "91440300MA5F000007"  # correct check character
EN = {"Accept-Language": "en"}


async def resolve(client: Any, identifiers: list[dict[str, str]], name: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"identifiers": identifiers}
    if name is not None:
        body["name"] = name
    r = await client.post("/api/v1/merchants/resolve", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def merchant_page(client: Any, merchant_id: int) -> dict[str, Any]:
    return dict(await get_ok(client, f"/api/v1/merchants/{merchant_id}"))


async def test_shared_qq_is_one_merchant_and_the_second_name_an_alias(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    first = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    assert first["created_case"] is True

    # another name, the same QQ typed with spaces: the same merchant, the same case
    second = await report(client, bob, report_body("晨星游戏点卡", [ident("qq", "1234 5678")]))
    assert second["merchant_id"] == first["merchant_id"]
    assert second["case_id"] == first["case_id"]
    assert second["created_case"] is False

    page = await merchant_page(client, first["merchant_id"])
    assert page["name"] == "星辰卡盟"
    assert page["aliases"] == ["晨星游戏点卡"]
    assert page["cases"] == [{"id": first["case_id"], "status": "gathering", "member_count": 2}]

    found = await resolve(client, [ident("qq", "12345678")])
    assert found["normalized"] == [{"kind": "qq", "value": "12345678"}]
    (match,) = found["matches"]
    assert match == {
        "merchant_id": first["merchant_id"],
        "name": "星辰卡盟",
        "score": 100.0,
        "matched_on": ["qq"],
        "case_id": first["case_id"],
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (ident("shop", "https://shop123456.taobao.com/"), ident("shop", "taobao:123456")),
        (ident("url", "https://WWW.Shop.COM/x"), ident("domain", "shop.com")),
        (ident("qq", "１２３４５６７８"), ident("qq", "12345678")),  # full-width digits
        (ident("phone", "１３８００１３８０００"), ident("phone", "+86 138-0013-8000")),
        (ident("bank_card", "6222 0212 3456 7890 128"), ident("bank_card", BANK_CARD)),
        (ident("email", "Boss@Shop.COM"), ident("alipay", "boss@shop.com")),  # same account
    ],
    ids=[
        "shop-link-vs-id",
        "url-vs-domain",
        "full-width-qq",
        "phone-spellings",
        "card-spaces",
        "alipay-email",
    ],
)
async def test_spellings_of_one_identifier_join_one_case(
    client: Any, mailbox: Any, worker: Any, first: dict[str, str], second: dict[str, str]
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await report(client, alice, report_body("Shop One", [first]))
    b = await report(client, bob, report_body("Totally Different Name", [second]))
    assert (b["merchant_id"], b["case_id"], b["created_case"]) == (a["merchant_id"], a["case_id"], False)
    summary = await get_ok(client, f"/api/v1/cases/{a['case_id']}")
    assert summary["member_count"] == 2
    # one stored identifier, not two spellings of it
    assert len((await merchant_page(client, a["merchant_id"]))["identifiers"]) == 1


async def test_same_name_without_shared_identifier_is_only_a_suggestion(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))

    before = await row_counts(TABLES)
    found = await resolve(client, [ident("qq", "87654321")], name="星辰卡盟")
    (match,) = found["matches"]
    assert match["merchant_id"] == a["merchant_id"]
    assert match["matched_on"] == ["name"]
    assert match["score"] < 100  # never as sure as a shared identifier
    assert match["case_id"] == a["case_id"]
    assert await row_counts(TABLES) == before
    # a name that only starts the same way is suggested too (the names' prefix lookup)
    c = await report(client, alice, report_body("月光宝盒礼", [ident("qq", "11223344")]))
    found = await resolve(client, [ident("qq", "87654321")], name="月光宝盒")
    (longer,) = found["matches"]
    assert (longer["merchant_id"], longer["matched_on"]) == (c["merchant_id"], ["name"])
    assert longer["case_id"] == c["case_id"]  # read with its name: the lookup gave only its keys
    before = await row_counts(TABLES)

    # reporting it anyway opens a new merchant and a new case: a name is never proof
    b = await report(client, bob, report_body("星辰卡盟", [ident("qq", "87654321")]))
    assert b["created_case"] is True
    assert b["merchant_id"] != a["merchant_id"] and b["case_id"] != a["case_id"]
    membership = await get_ok(client, f"/api/v1/cases/{b['case_id']}/membership", bob.headers)
    assert membership["role"] == "organizer"
    for case_id in (a["case_id"], b["case_id"]):
        assert (await get_ok(client, f"/api/v1/cases/{case_id}"))["member_count"] == 1
    # and no merge proposal: names alone tie nothing together
    assert (await row_counts(TABLES))["proposal"] == 0


async def test_a_resolve_shows_the_case_of_each_merchant_whether_matched_or_only_named(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The cases of the merchants the identifiers name and of those only a name suggests: each
    match and suggestion shows its own open case."""
    alice = await person(client, mailbox, worker, "alice@example.com")
    matched = await report(client, alice, report_body("Moonlight Cards", [ident("qq", "12345678")]))
    named = await report(client, alice, report_body("星辰卡盟", [ident("qq", "55667788")]))
    plain = await report(client, alice, report_body("Sunrise Toys", [ident("qq", "99887766")]))

    async with statements_sent() as sent:
        found = await resolve(client, [ident("qq", "12345678"), ident("qq", "11112222")], name="星辰卡盟")
    assert [(m["merchant_id"], m["matched_on"], m["case_id"]) for m in found["matches"]] == [
        (matched["merchant_id"], ["qq"], matched["case_id"]),
        (named["merchant_id"], ["name"], named["case_id"]),
    ]
    # one round trip: the matches with their cases, the names alike and the suggestion's case;
    # and one to count the members of the case a warning names (the shop reported under another
    # name), counted only then: a shop going round has a case of thousands
    (warning,) = found["warnings"]
    assert (warning["case_id"], warning["member_count"]) == (matched["case_id"], 1)
    assert len(sent) == 2 and "count(" in sent[1][0].lower(), [sql for sql, _, _ in sent]
    async with statements_sent() as sent:
        found = await resolve(client, [ident("qq", "12345678")], name="Moonlight Cards")
    assert found["warnings"] == [] and found["matches"][0]["case_id"] == matched["case_id"]
    assert len(sent) == 1, [sql for sql, _, _ in sent]
    # the merchant matched by an identifier is no name suggestion too, though it may bear the name
    found = await resolve(client, [ident("qq", "55667788")], name="星辰卡盟")
    assert [(m["merchant_id"], m["score"], m["case_id"]) for m in found["matches"]] == [
        (named["merchant_id"], 100.0, named["case_id"])
    ]
    assert plain["case_id"] not in [m["case_id"] for m in found["matches"]]
    # a name with no identifier that could match anything (none at all, or only a weak one):
    # the suggestion still shows its open case
    for identifiers in ([], [ident("other", "星辰卡盟的客服小星")]):
        found = await resolve(client, identifiers, name="星辰卡盟")
        assert [(m["merchant_id"], m["matched_on"], m["case_id"]) for m in found["matches"]] == [
            (named["merchant_id"], ["name"], named["case_id"])
        ]


async def test_the_same_name_is_suggested_however_many_names_share_its_start(client: Any) -> None:
    # more names starting like it than the prefix lookup reads (NAME_CANDIDATES), all older
    async with db.transaction():
        for n in range(merchants.NAME_CANDIDATES + 5):
            await merchants.create(name=f"月光宝盒第{n}分店")
        same = await merchants.create(name="深圳月光宝盒科技有限公司")  # that very name, registered
    found = await resolve(client, [ident("qq", "87654321")], name="月光宝盒")
    assert [(m["merchant_id"], m["matched_on"]) for m in found["matches"]] == [(same, ["name"])]
    # in pinyin too
    found = await resolve(client, [ident("qq", "87654321")], name="yueguangbaohe")
    assert [m["merchant_id"] for m in found["matches"]] == [same]


async def merged_by_a_moderator(client: Any, settings: Any, sources: list[int], *, into: int) -> None:
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    for source in sources:
        r = await client.post(
            "/api/v1/moderation/merchants/merge",
            json={"source_id": source, "target_id": into},
            headers=moderator.headers,
        )
        assert r.status_code == 200, r.text


async def test_of_many_merchants_bearing_the_name_the_oldest_not_merged_away_are_suggested(
    client: Any, settings: Any
) -> None:
    async with db.transaction():
        bearing = [await merchants.create(name="月光宝盒") for _ in range(merchants.NAME_SUGGESTIONS + 4)]
        await merchants.add_identifiers(bearing[2], [ids.normalize("qq", "87654321")], strict=True)
    await merged_by_a_moderator(client, settings, bearing[:2], into=bearing[-1])  # the two oldest
    found = await resolve(client, [ident("qq", "87654321")], name="月光宝盒")
    # the one holding the identifier a match; then the ten oldest of the others still standing
    assert [(m["merchant_id"], m["score"] == 100) for m in found["matches"]] == [
        (bearing[2], True),
        *((mid, False) for mid in bearing[3 : 3 + merchants.NAME_SUGGESTIONS]),
    ]


async def test_names_alike_of_merchants_merged_away_give_way_to_those_standing(
    client: Any, settings: Any
) -> None:
    # names starting like the one typed (not the same name), the oldest twelve merged away: the
    # suggestions are the merchants still standing, however far down the lookalikes they come
    async with db.transaction():
        alike = [await merchants.create(name=f"月光宝盒{chr(ord('A') + n)}") for n in range(14)]
    await merged_by_a_moderator(client, settings, alike[:12], into=alike[-1])
    found = await resolve(client, [ident("qq", "87654321")], name="月光宝盒")
    assert [(m["merchant_id"], m["matched_on"]) for m in found["matches"]] == [
        (alike[12], ["name"]),
        (alike[13], ["name"]),
    ]


async def test_platform_host_is_not_shared_by_all_its_shops(client: Any, mailbox: Any, worker: Any) -> None:
    """Two different Taobao stores given as plain web addresses are not one merchant."""
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    a = await report(
        client, alice, report_body("Alpha Cards", [ident("url", "https://shop111111.taobao.com/")])
    )
    b = await report(
        client, bob, report_body("Omega Games", [ident("url", "https://shop222222.taobao.com/")])
    )
    assert b["created_case"] is True
    assert b["merchant_id"] != a["merchant_id"]
    assert (await resolve(client, [ident("domain", "taobao.com")]))["matches"] == []


async def test_identifiers_hitting_two_merchants_join_the_best_and_propose_a_merge(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    carol = await person(client, mailbox, worker, "carol@example.com")
    m1 = await report(client, alice, report_body("甲店", [ident("qq", "11111111")]))
    m2 = await report(
        client, bob, report_body("乙店", [ident("phone", "13800138000"), ident("bank_card", BANK_CARD)])
    )
    mixed = [ident("qq", "11111111"), ident("phone", "13800138000"), ident("bank_card", BANK_CARD)]

    # resolve ranks by shared identifiers and writes nothing
    before = await row_counts(TABLES)
    found = await resolve(client, mixed)
    assert [(m["merchant_id"], m["matched_on"]) for m in found["matches"]] == [
        (m2["merchant_id"], ["bank_card", "phone"]),
        (m1["merchant_id"], ["qq"]),
    ]
    assert await row_counts(TABLES) == before

    # the report joins the merchant sharing most identifiers (the younger one here)
    c = await report(client, carol, report_body("丙店", mixed))
    assert (c["merchant_id"], c["case_id"], c["created_case"]) == (m2["merchant_id"], m2["case_id"], False)
    assert (await get_ok(client, f"/api/v1/cases/{m1['case_id']}"))["member_count"] == 1
    assert (await get_ok(client, f"/api/v1/cases/{m2['case_id']}"))["member_count"] == 2
    # the QQ stays with the merchant that had it
    kinds = [i["kind"] for i in (await merchant_page(client, m1["merchant_id"]))["identifiers"]]
    assert kinds == ["qq"]

    moderator = await staff(client, settings, "mod@example.com", "moderator")
    r = await client.get("/api/v1/moderation/merge-proposals", headers=moderator.headers)
    assert r.status_code == 200, r.text
    (proposal,) = r.json()["items"]
    assert proposal["merchant_a"] == {"id": m1["merchant_id"], "name": "甲店"}
    assert proposal["merchant_b"] == {"id": m2["merchant_id"], "name": "乙店"}
    assert proposal["matched_on"] == ["qq"]
    assert proposal["status"] == "open" and proposal["decided_at"] is None
    for secret in ("11111111", "13800138000", BANK_CARD):
        assert secret not in r.text

    # the same tie reported again does not pile up proposals
    dave = await person(client, mailbox, worker, "dave@example.com")
    await report(client, dave, report_body("丙店", mixed))
    assert (await row_counts(TABLES))["proposal"] == 1


async def test_a_tie_joins_the_oldest_merchant(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    carol = await person(client, mailbox, worker, "carol@example.com")
    old = await report(client, alice, report_body("Old Shop", [ident("qq", "11111111")]))
    new = await report(client, bob, report_body("New Shop", [ident("domain", "new-shop.com")]))
    c = await report(
        client,
        carol,
        report_body("Either", [ident("domain", "https://new-shop.com/"), ident("qq", "11111111")]),
    )
    assert c["merchant_id"] == old["merchant_id"] != new["merchant_id"]
    assert c["case_id"] == old["case_id"]
    assert (await row_counts(TABLES))["proposal"] == 1


async def test_resolve_on_an_empty_database_normalizes_and_writes_nothing(client: Any) -> None:
    before = await row_counts(TABLES)
    found = await resolve(
        client,
        [
            ident("url", "HTTPS://WWW.Shop.COM/x"),
            ident("phone", "+86 138-0013-8000"),
            ident("uscc", USCC.lower()),
            ident("shop", "https://shop123456.taobao.com/index.htm?spm=a1"),
            ident("qq", "12345678"),
            ident("qq", "1234-5678"),  # a duplicate after normalization
        ],
        name="星辰卡盟",
    )
    assert found == {
        "normalized": [
            {"kind": "url", "value": "shop.com"},
            {"kind": "phone", "value": "+8613800138000"},
            {"kind": "uscc", "value": USCC},
            {"kind": "shop", "value": "taobao:123456"},
            {"kind": "qq", "value": "12345678"},
        ],
        "matches": [],
        "warnings": [],
    }
    assert await row_counts(TABLES) == before


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        (ident("phone", "12345"), "identifiers[1].value", "invalid_phone"),
        (ident("bank_card", "6222021234567890123"), "identifiers[1].value", "bad_luhn"),
        (ident("uscc", "91440300MA5F000008"), "identifiers[1].value", "bad_check_digit"),
        (
            ident("shop", "https://item.taobao.com/item.htm?id=600000000000"),
            "identifiers[1].value",
            "item_link_not_shop",
        ),
        (ident("fax", "12345"), "identifiers[1].kind", None),
    ],
    ids=["phone", "luhn", "uscc", "item-link", "unknown-kind"],
)
async def test_resolve_names_the_invalid_identifier(
    client: Any, item: dict[str, str], field: str, reason: str | None
) -> None:
    before = await row_counts(TABLES)
    r = await client.post(
        "/api/v1/merchants/resolve", json={"identifiers": [ident("qq", "12345678"), item]}, headers=EN
    )
    body = assert_problem(r, 422, "invalid_identifiers")
    (error,) = body["errors"]
    assert error["field"] == field
    if reason is not None:
        assert t(f"identifier.reason.{reason}", "en") in error["message"]
    else:
        assert "fax" in error["message"]
    assert await row_counts(TABLES) == before


async def test_resolve_lists_every_invalid_identifier_at_once(client: Any) -> None:
    r = await client.post(
        "/api/v1/merchants/resolve",
        json={"identifiers": [ident("qq", "0123"), ident("qq", "12345678"), ident("domain", "localhost")]},
    )
    body = assert_problem(r, 422)
    assert [e["field"] for e in body["errors"]] == ["identifiers[0].value", "identifiers[2].value"]
    assert all(e["message"] for e in body["errors"])


async def test_resolve_rejects_malformed_bodies(client: Any) -> None:
    r = await client.post("/api/v1/merchants/resolve", json={"identifiers": [{"kind": "qq"}]})
    assert any(
        "identifiers" in f and "value" in f for f in {e["field"] for e in assert_problem(r, 422)["errors"]}
    )
    r = await client.post(
        "/api/v1/merchants/resolve",
        content=b'{"identifiers": [',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 400)


async def test_public_lookup_by_name_alias_and_any_identifier(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    carol = await person(client, mailbox, worker, "carol@example.com")
    a = await report(
        client,
        alice,
        report_body(
            "星辰卡盟",
            [ident("qq", "12345678"), ident("phone", "13800138000"), ident("shop", "taobao:123456")],
        ),
    )
    await report(client, bob, report_body("晨星游戏", [ident("qq", "12345678")]))
    other = await report(client, carol, report_body("Golden Dragon Cards", [ident("domain", "dragon.com")]))

    expected = {
        "id": a["merchant_id"],
        "name": "星辰卡盟",
        "aliases": ["晨星游戏"],
        "open_case_id": a["case_id"],
        "member_count": 2,
    }
    for q, matched_on in (
        ("星辰卡盟", ["name"]),
        ("星辰", ["name"]),  # the distinctive part of the name
        ("晨星游戏", ["name"]),  # an alias
        ("12345678", ["qq"]),  # the QQ
        ("+86 138-0013-8000", ["phone"]),  # the phone, spelled otherwise than reported
        ("https://shop123456.taobao.com/", ["shop"]),  # the shop link of the id reported
    ):
        items = (await get_ok(client, "/api/v1/merchants", q=q))["items"]
        assert items == [{**expected, "matched_on": matched_on}], q

    items = (await get_ok(client, "/api/v1/merchants", q="https://www.dragon.com/about"))["items"]
    assert [(i["id"], i["matched_on"]) for i in items] == [(other["merchant_id"], ["domain"])]
    for q in ("87654321", "Nobody Shop", "", "   "):
        assert (await get_ok(client, "/api/v1/merchants", q=q))["items"] == [], q
    assert (await get_ok(client, "/api/v1/merchants"))["items"] == []


async def test_merchant_page_masks_personal_identifiers(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    a = await report(
        client,
        alice,
        report_body(
            "星辰卡盟",
            [
                ident("phone", "13800138000"),
                ident("qq", "12345678"),
                ident("bank_card", BANK_CARD),
                ident("email", "boss@xingchen.com"),
                ident("domain", "xingchen.com"),
                ident("shop", "taobao:123456"),
                ident("uscc", USCC),
            ],
        ),
    )
    r = await client.get(f"/api/v1/merchants/{a['merchant_id']}")  # anonymous
    assert r.status_code == 200
    page = r.json()
    shown = {i["kind"]: i["value"] for i in page["identifiers"]}
    assert set(shown) == {"phone", "qq", "bank_card", "email", "domain", "shop", "uscc"}
    for secret in ("13800138000", "12345678", BANK_CARD, "boss@"):
        assert secret not in r.text
    assert shown["phone"].endswith("8000") and "*" in shown["phone"]
    assert shown["bank_card"].endswith("0128") and "*" in shown["bank_card"]
    assert "*" in shown["qq"] and "*" in shown["email"]
    # not personal: shown as they are
    assert shown["domain"] == "xingchen.com"
    assert shown["shop"] == "taobao:123456"
    assert shown["uscc"] == USCC
    assert page["cases"] == [{"id": a["case_id"], "status": "gathering", "member_count": 1}]
    assert page["merged_into"] is None


async def test_unknown_merchant_is_404(client: Any) -> None:
    assert_problem(await client.get("/api/v1/merchants/999999"), 404, "merchant_not_found")


async def test_new_identifiers_from_a_report_are_added_to_the_merchant(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com")
    bob = await person(client, mailbox, worker, "bob@example.com")
    carol = await person(client, mailbox, worker, "carol@example.com")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await report(
        client, bob, report_body("星辰卡盟", [ident("qq", "12345678"), ident("wechat", "xingchen_kf")])
    )
    kinds = sorted(i["kind"] for i in (await merchant_page(client, a["merchant_id"]))["identifiers"])
    assert kinds == ["qq", "wechat"]
    # the WeChat id alone now finds the case
    c = await report(client, carol, report_body("XC", [ident("wechat", "XingChen_KF")]))
    assert c["case_id"] == a["case_id"]
    matches = (await resolve(client, [ident("wechat", "xingchen_kf")]))["matches"]
    assert [m["merchant_id"] for m in matches] == [a["merchant_id"]]
    assert json.dumps(matches).count("xingchen") == 0  # resolve explains with kinds, not values
