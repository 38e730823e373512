"""GET /api/v1/merchants?q= ranked (issue 15 goal 5): the merchant holding the identifier typed
first, then by name: the same name, names starting with what was typed, containing it, then names
whose pinyin starts with or contains its pinyin. Both backends give the same order; PostgreSQL
also finds names that are merely similar (a typo), through the pg_trgm indexes."""

from __future__ import annotations

from typing import Any

import pytest

from chorus import db
from chorus.merchants import identifiers as ids
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
