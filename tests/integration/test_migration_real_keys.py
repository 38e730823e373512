"""The migration that replaced the formatted *_key columns with real unique keys, run on a
database that already holds rows: every row survives (children of the rebuilt SQLite tables
too), rows the old keys allowed and the new keys allow stay, and the new keys refuse what the
old ones refused."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chorus import db
from chorus.cases import service as cases
from chorus.cases.tables import Case, CaseEvent, Membership
from chorus.complaints.tables import Complaint
from chorus.evidence.tables import ChainLink, Evidence
from chorus.filings.tables import Filing, FilingEvent
from chorus.merchants.tables import MerchantAlias, MergeProposal
from tests.integration.migration_support import database_before

MIGRATION = "2026-12-01T18:08:38:311844"
OLD_KEYS = {
    "group_case": "open_key",
    "membership": "unique_key",
    "complaint": "unique_key",
    "evidence": "unique_key",
    "evidence_chain": "unique_key",
    "filing": "active_key",
    "merchant_alias": "unique_key",
    "merge_proposal": "pair_key",
}

# The old schema's rows, keys built as the app built them. Merchant 1 has two closed cases and
# one open; user 1 is a member of two cases; two merchants share a name; case 3 has ended
# filings beside its live one with regulator 901: all of that the new keys accept.
OLD_ROWS = [
    "INSERT INTO app_user (id, email, display_name) "
    "VALUES (1, 'a@example.com', 'A'), (2, 'b@example.com', 'B')",
    "INSERT INTO merchant (id, name) VALUES (1, 'Shop'), (2, 'Shop'), (3, 'Other')",
    "INSERT INTO merchant_alias (id, merchant, name, name_key, pinyin_key, unique_key) VALUES "
    "(1, 1, 'Shop', 'shop', 'shop', '1:shop'), (2, 2, 'Shop', 'shop', 'shop', '2:shop'), "
    "(3, 1, 'Other', 'other', 'other', '1:other')",
    "INSERT INTO merge_proposal (id, merchant_a, merchant_b, pair_key) "
    "VALUES (1, 1, 2, '1:2'), (2, 1, 3, '1:3')",
    "INSERT INTO group_case (id, merchant, status, open_key) "
    "VALUES (1, 1, 'closed', NULL), (3, 1, 'gathering', 1), (4, 2, 'filing', 2)",
    "INSERT INTO group_case (id, merchant, status, open_key, merged_into) VALUES (2, 1, 'closed', NULL, 3)",
    'INSERT INTO membership (id, "case", "user", unique_key, role, loss_amount, loss_currency, '
    "incident_date) VALUES (1, 3, 1, '3:1', 'organizer', 10, 'CNY', '2026-01-01'), "
    "(2, 3, 2, '3:2', 'member', 20, 'CNY', '2026-01-02'), "
    "(3, 1, 1, '1:1', 'organizer', 30, 'CNY', '2026-01-03')",
    "INSERT INTO case_event (id, \"case\", kind) VALUES (1, 3, 'opened'), (2, 1, 'opened')",
    "INSERT INTO regulator (id, slug, name, jurisdiction, channel, address) "
    "VALUES (901, 'migration-test', 'Regulator', 'CN', 'manual', 'https://regulator.example.org/')",
    'INSERT INTO complaint (id, "case", regulator, version, unique_key, locale, markdown, sha256, '
    "chain_head) VALUES (1, 3, 901, 1, '3:901:1', 'zh-CN', 'v1', 'x', 'h'), "
    "(2, 3, 901, 2, '3:901:2', 'zh-CN', 'v2', 'y', 'h'), (3, 1, 901, 1, '1:901:1', 'zh-CN', 'v1', 'z', 'h')",
    'INSERT INTO evidence (id, "case", uploader, unique_key, kind, sha256, size, media_type, extension) '
    "VALUES (1, 3, 1, '3:1:aa', 'receipt', 'aa', 1, 'image/png', 'png'), "
    "(2, 3, 2, '3:2:aa', 'receipt', 'aa', 1, 'image/png', 'png'), "
    "(3, 1, 1, '1:1:aa', 'receipt', 'aa', 1, 'image/png', 'png')",
    'INSERT INTO evidence_chain (id, "case", "index", unique_key, evidence, evidence_sha256, prev_hash, '
    "entry_hash) VALUES (1, 3, 0, '3:0', 1, 'aa', 'g', 'e0'), (2, 3, 1, '3:1', 2, 'aa', 'e0', 'e1'), "
    "(3, 1, 0, '1:0', 3, 'aa', 'g', 'f0')",
    'INSERT INTO filing (id, "case", complaint, regulator, status, active_key, created_by) VALUES '
    "(1, 3, 1, 901, 'rejected', NULL, 1), (2, 3, 2, 901, 'withdrawn', NULL, 1), "
    "(3, 3, 2, 901, 'submitted', '3:901', 1)",
    "INSERT INTO filing_event (id, filing, status, source) VALUES (1, 3, 'submitted', 'worker'), "
    "(2, 1, 'rejected', 'regulator')",
]


@pytest.fixture
async def old_database(
    database: None, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    """A database migrated to just before MIGRATION, with OLD_ROWS in it."""
    async with database_before(
        MIGRATION, OLD_ROWS, ("app_user", "merchant", "regulator", *OLD_KEYS), settings, tmp_path, monkeypatch
    ) as old:
        yield old


async def columns(table: str) -> set[str]:
    if db.is_sqlite():
        rows = await Case.raw(f'PRAGMA table_info("{table}")')
        return {r["name"] for r in rows}
    rows = await Case.raw(
        "SELECT column_name AS name FROM information_schema.columns WHERE table_name = {}", table
    )
    return {r["name"] for r in rows}


async def refused(row: Any) -> bool:
    """True when inserting ``row`` violates a unique key (and so writes nothing)."""
    try:
        await type(row).insert(row)
    except Exception as exc:
        if db.is_unique_violation(exc):
            return True
        raise
    return False


async def test_migration_keeps_the_rows_and_the_new_keys_refuse_duplicates(old_database: Any) -> None:
    for table, column in OLD_KEYS.items():
        assert column in await columns(table)

    with contextlib.redirect_stdout(io.StringIO()):
        applied = await db.migrate()
    assert MIGRATION in applied
    for table, column in OLD_KEYS.items():
        assert column not in await columns(table), (table, column)

    # every row is still there, children of the rebuilt tables included (nothing cascaded away)
    assert await Case.select(Case.id, Case.merchant, Case.status, Case.merged_into).order_by(Case.id) == [
        {"id": 1, "merchant": 1, "status": "closed", "merged_into": None},
        {"id": 2, "merchant": 1, "status": "closed", "merged_into": 3},
        {"id": 3, "merchant": 1, "status": "gathering", "merged_into": None},
        {"id": 4, "merchant": 2, "status": "filing", "merged_into": None},
    ]
    members = await Membership.select(Membership.case, Membership.user, Membership.role).order_by(
        Membership.id
    )
    assert [tuple(m.values()) for m in members] == [
        (3, 1, "organizer"),
        (3, 2, "member"),
        (1, 1, "organizer"),
    ]
    assert await CaseEvent.count() == 2
    versions = await Complaint.select(Complaint.case, Complaint.version).order_by(Complaint.id)
    assert [tuple(r.values()) for r in versions] == [(3, 1), (3, 2), (1, 1)]
    uploaders = await Evidence.select(Evidence.uploader).order_by(Evidence.id)
    assert [r["uploader"] for r in uploaders] == [1, 2, 1]
    chain = await ChainLink.select(ChainLink.case, ChainLink.index, ChainLink.evidence).order_by(ChainLink.id)
    assert [tuple(r.values()) for r in chain] == [(3, 0, 1), (3, 1, 2), (1, 0, 3)]
    statuses = await Filing.select(Filing.status).order_by(Filing.id)
    assert [r["status"] for r in statuses] == ["rejected", "withdrawn", "submitted"]
    assert await FilingEvent.count() == 2
    assert await MerchantAlias.count() == 3 and await MergeProposal.count() == 2
    # the doubled names the name search reads were filled in for the rows already there
    doubled = await MerchantAlias.select(MerchantAlias.name_doubled).order_by(MerchantAlias.id)
    assert [r["name_doubled"] for r in doubled] == ["sshhoopp", "sshhoopp", "ootthheerr"]

    # the app reads the migrated rows through the new keys
    assert await cases.open_cases([1, 2, 3]) == {1: 3, 2: 4}
    assert (await cases.membership_of(1, 1) or {}).get("role") == "organizer"
    assert await cases.membership_of(4, 1) is None

    # what the old keys refused, the new ones refuse; what they allowed is still allowed
    member = {"loss_amount": Decimal(1), "loss_currency": "CNY", "incident_date": date(2026, 1, 1)}
    assert await refused(Membership(case=3, user=1, **member))
    assert not await refused(Membership(case=4, user=1, **member))
    assert await refused(Case(merchant=1, status="filing"))
    assert not await refused(Case(merchant=1, status="closed"))
    assert not await refused(Case(merchant=3, status="gathering"))
    live = {"case": 3, "complaint": 2, "regulator": 901, "created_by": 1}
    assert await refused(Filing(status="queued", **live))
    assert not await refused(Filing(status="failed", **live))
    doc = {"locale": "zh-CN", "markdown": "v", "sha256": "v", "chain_head": "h", "created_by": 1}
    assert await refused(Complaint(case=3, regulator=901, version=2, **doc))
    assert not await refused(Complaint(case=3, regulator=901, version=3, **doc))
    blob = {"kind": "receipt", "size": 1, "media_type": "image/png", "extension": "png", "chain_index": 0}
    assert await refused(Evidence(case=3, uploader=2, sha256="aa", **blob))
    assert not await refused(Evidence(case=3, uploader=2, sha256="bb", **blob))
    link = {"evidence": 1, "evidence_sha256": "aa", "prev_hash": "e1", "entry_hash": "e2"}
    assert await refused(ChainLink(case=3, index=1, **link))
    assert not await refused(ChainLink(case=3, index=2, **link))
    assert await refused(MerchantAlias(merchant=2, name="SHOP", name_key="shop", pinyin_key="shop"))
    assert not await refused(MerchantAlias(merchant=3, name="Shop", name_key="shop", pinyin_key="shop"))
    assert await refused(MergeProposal(merchant_a=1, merchant_b=3))
    assert not await refused(MergeProposal(merchant_a=2, merchant_b=3))
