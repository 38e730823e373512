"""Raw statements (``db.fetch``, ``db.fetch_rows``) on this backend: the same
rows as Piccolo's ``table.raw`` gives, on the transaction's connection inside a transaction
(rolled back with it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("clean")


async def _merchants(names: list[str]) -> list[int]:
    from chorus.merchants.tables import Merchant

    rows = await Merchant.insert(*(Merchant(name=n) for n in names)).returning(Merchant.id)
    return [r["id"] for r in rows]


async def test_a_read_gives_the_rows_table_raw_gives() -> None:
    from chorus import db
    from chorus.merchants.tables import Merchant

    ids = await _merchants(["星辰卡盟", "Moon {cards}", "月亮"])
    sql = f"SELECT id, name, {{}} AS said FROM merchant WHERE id IN ({db.placeholders(3)}) ORDER BY id"
    rows = await db.fetch(Merchant, sql, "{x}", *ids)
    assert rows == await Merchant.raw(sql, "{x}", *ids)
    assert rows == [
        {"id": ids[0], "name": "星辰卡盟", "said": "{x}"},
        {"id": ids[1], "name": "Moon {cards}", "said": "{x}"},
        {"id": ids[2], "name": "月亮", "said": "{x}"},
    ]
    # the same text with another number of arguments is another statement
    assert [r["id"] for r in await db.fetch(Merchant, "SELECT id FROM merchant WHERE id = {}", ids[1])] == [
        ids[1]
    ]
    tuples = await db.fetch_rows(Merchant, sql, "{x}", *ids)
    assert [tuple(t) for t in tuples] == [(r["id"], r["name"], r["said"]) for r in rows]
    assert await db.fetch(Merchant, "SELECT id FROM merchant WHERE id = {}", 0) == []


async def test_inside_a_transaction_a_statement_sees_and_rolls_back_with_it() -> None:
    from chorus import db
    from chorus.merchants.tables import Merchant

    await _merchants(["kept"])

    class Stop(Exception):
        pass

    seen: list[dict[str, Any]] = []
    rows: list[Sequence[Any]] = []
    with pytest.raises(Stop):
        async with db.transaction():
            made = await db.fetch(
                Merchant, "INSERT INTO merchant (name) VALUES ({}) RETURNING id", "rolled back"
            )
            # the insert is visible to the next statement of the same transaction
            seen = await db.fetch(Merchant, "SELECT name FROM merchant WHERE id = {}", made[0]["id"])
            rows = await db.fetch_rows(Merchant, "SELECT name FROM merchant WHERE id = {}", made[0]["id"])
            raise Stop
    assert seen == [{"name": "rolled back"}]
    assert [tuple(r) for r in rows] == [("rolled back",)]
    names = [r["name"] for r in await db.fetch(Merchant, "SELECT name FROM merchant ORDER BY id")]
    assert names == ["kept"]
