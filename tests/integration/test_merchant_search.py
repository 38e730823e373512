"""GET /api/v1/merchants?q= ranked (issue 15 goal 5): the merchant holding the identifier typed
first, then by name: the same name, names starting with what was typed, containing it, then names
whose pinyin starts with or contains its pinyin. Both backends give the same order; PostgreSQL
also finds names that are merely similar (a typo), through the pg_trgm indexes."""

from __future__ import annotations

from typing import Any

import pytest

from chorus import db
from chorus.merchants import identifiers as ids
from chorus.merchants import names
from chorus.merchants import service as merchants
from chorus.merchants.tables import MerchantAlias
from tests.conftest import BACKEND
from tests.integration.cases_support import get_ok

pytestmark = pytest.mark.usefixtures("clean")


async def merchant(name: str, *identifiers: tuple[str, str]) -> int:
    """A merchant as a first report records it (its name, its identifiers)."""
    async with db.transaction():
        mid = await merchants.create(name=name)
        normalized = [ids.normalize(kind, value) for kind, value in identifiers]
        await merchants.add_identifiers(mid, normalized, strict=True)
    return mid


def scores(q: str, found: list[str]) -> list[tuple[int, float, int]]:
    """How the search ranks each name found for ``q``: (tier, -similarity, length)."""
    core, pinyin = names.core_name(q), names.pinyin_key(q)
    keys = [(names.core_name(n), names.pinyin_key(n)) for n in found]
    alike = names.similar_keys(core, pinyin, keys)
    return [
        (merchants._name_tier(core, pinyin, k, p), -round(alike.get(i, 0.0), 6), len(k))
        for i, (k, p) in enumerate(keys)
    ]


async def search(client: Any, q: str) -> list[tuple[str, list[str]]]:
    items = (await get_ok(client, "/api/v1/merchants", q=q))["items"]
    return [(i["name"], i["matched_on"]) for i in items]


async def test_identifier_first_then_names_by_how_well_they_match(client: Any) -> None:
    await merchant("龙凤星辰")  # contains 星辰
    await merchant("兴晨电子")  # sounds like it: xingchen…
    await merchant("星辰数码旗舰店")  # starts with it
    await merchant("深圳星辰科技有限公司")  # that very name (place and legal form aside)
    await merchant("星光商贸")  # shares a character only
    await merchant("兴晨")  # the same pinyin only: a homophone, after the names holding 星辰
    await merchant("Lucky Cat", ("qq", "20261201"))
    await merchant("20261201数码")  # a name holding the number

    name = ["name"]
    assert await search(client, "星辰") == [
        ("深圳星辰科技有限公司", name),
        ("星辰数码旗舰店", name),
        ("龙凤星辰", name),
        ("兴晨", name),
        ("兴晨电子", name),
    ]
    # typed in pinyin: the same pinyin first, then pinyin starting with it, then containing it
    assert await search(client, "xingchen") == [
        ("深圳星辰科技有限公司", name),
        ("兴晨", name),
        ("星辰数码旗舰店", name),
        ("兴晨电子", name),
        ("龙凤星辰", name),
    ]
    # one character: the names starting with it, then those whose pinyin does (xing…)
    starting = ["深圳星辰科技有限公司", "星光商贸", "星辰数码旗舰店", "兴晨", "兴晨电子"]
    assert [n for n, _ in await search(client, "星")] == starting
    # an identifier: its merchant first (whatever the names), then the names holding the text
    assert await search(client, "2026 1201") == [("Lucky Cat", ["qq"]), ("20261201数码", name)]
    assert await search(client, "珠穆朗玛") == []


@pytest.mark.skipif(BACKEND != "postgres", reason="pg_trgm similarity: PostgreSQL only")
async def test_postgresql_finds_similar_names_through_its_trigram_indexes(client: Any) -> None:
    await merchant("Golden Dragon Trading Co., Ltd.")
    await merchant("Silver Phoenix Store")
    # a typo: contained nowhere, similar by trigrams
    assert [n for n, _ in await search(client, "goldn dragon")] == ["Golden Dragon Trading Co., Ltd."]
    # a number some merchant holds: that merchant, without the names merely similar to the number
    # (a name holding it would still follow: the other test); a number nobody holds: similar names
    await merchant("Jade Rabbit", ("qq", "88662024"))
    await merchant("Shop 8866202")
    assert await search(client, "88662024") == [("Jade Rabbit", ["qq"])]
    assert [n for n, _ in await search(client, "88662025")] == ["Shop 8866202"]

    # the name search can use its indexes
    core, pinyin = "星辰", "xingchen"
    async with db.transaction():
        await MerchantAlias.raw("SET LOCAL enable_seqscan = off")
        plan = await MerchantAlias.raw(*_explain(core, pinyin))
    text = "\n".join(row["QUERY PLAN"] for row in plan)
    assert "merchant_alias_doubled_grams" in text, text  # the stored doubled names (no expression)
    assert "merchant_alias_pinyin_grams" in text, text


def _explain(core: str, pinyin: str) -> tuple[Any, ...]:
    doubled = "".join(ch * 2 for ch in core)
    sql = (
        f"EXPLAIN SELECT a.merchant FROM merchant_alias a WHERE {merchants.SEARCH_DOUBLED} LIKE {{}} "
        "OR a.pinyin_key LIKE {}"
    )
    return (sql, f"%{doubled}%", f"%{pinyin}%")


async def test_when_many_names_contain_it_the_best_are_found_and_merged_ones_never(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common fragment ("数码") is in thousands of names: PostgreSQL ranks only the shortest of
    them (SEARCH_PRESELECT) by similarity. With 20 of 33 taken, the answer is the one all 33
    give: the best names, in the order the search ranks them; a merchant merged into another is
    never one, however short its name."""
    places = ["大", "云", "海", "老街", "新潮", "阳光", "东方", "城南", "西湖", "金色", "好运来"]
    trades = ["", "城", "商行", "科技", "配件店", "产品专卖店"]
    for i, place in enumerate(places):
        for trade in (trades[i % 6], trades[(i + 2) % 6], trades[(i + 4) % 6]):
            await merchant(f"{place}数码{trade}")
    await merchant("数码之家旗舰店")
    gone = await merchant("金数码")
    kept = await merchant("金数码手机店")
    async with db.transaction():
        await merchants.mark_merged(gone, kept)
    everything = [n for n, _ in await search(client, "数码")]
    assert len(everything) == 20 and everything[0] == "数码之家旗舰店" and "金数码" not in everything
    # (the service itself: the endpoint's answer is in the public cache now)
    monkeypatch.setattr(merchants, "SEARCH_PRESELECT", 20)
    preselected = [m.name for m in await merchants.search("数码")]
    assert "金数码" not in preselected
    # as good, place by place, as the search's ranking scores them (names scoring the same may
    # trade places at the end)
    assert scores("数码", preselected) == scores("数码", everything)
