"""The migration that keeps every complaint version a member agreed to (consent_versions), run on
a database whose memberships were written before it: a consent that named a version now lists
that version; one given before any text, or none, lists nothing. The app then reads them."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chorus import db
from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.cases.tables import Membership
from tests.integration.migration_support import database_before

MIGRATION = "2026-12-04T21:30:00:000000"
BACKFILL = "2026-12-04T21:31:00:000000"
SHA = "ab" * 32

# User 1 agreed to version 1 of case 1; user 2 agreed before any text; user 3 has not agreed.
OLD_ROWS = [
    "INSERT INTO app_user (id, email, display_name) "
    "VALUES (1, 'a@example.com', 'A'), (2, 'b@example.com', 'B'), (3, 'c@example.com', 'C')",
    "INSERT INTO merchant (id, name) VALUES (1, 'Shop')",
    "INSERT INTO group_case (id, merchant, status) VALUES (1, 1, 'gathering')",
    "INSERT INTO regulator (id, slug, name, jurisdiction, channel, address) "
    "VALUES (901, 'migration-test', 'Regulator', 'CN', 'manual', 'https://regulator.example.org/')",
    'INSERT INTO complaint (id, "case", regulator, version, locale, markdown, sha256, chain_head) '
    f"VALUES (1, 1, 901, 1, 'zh-CN', 'v1', '{SHA}', 'h')",
    'INSERT INTO membership (id, "case", "user", role, loss_amount, loss_currency, incident_date, '
    "consented_at, consent_complaint_id, consent_sha256) VALUES "
    f"(1, 1, 1, 'organizer', 10, 'CNY', '2026-01-01', '2026-02-01T00:00:00+00:00', 1, '{SHA}'), "
    "(2, 1, 2, 'member', 20, 'CNY', '2026-01-02', '2026-02-02T00:00:00+00:00', NULL, NULL), "
    "(3, 1, 3, 'member', 30, 'CNY', '2026-01-03', NULL, NULL, NULL)",
]


@pytest.fixture
async def old_database(
    database: None, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    tables = ("app_user", "merchant", "group_case", "regulator", "complaint", "membership")
    async with database_before(MIGRATION, OLD_ROWS, tables, settings, tmp_path, monkeypatch) as old:
        yield old


async def test_a_consent_that_named_a_version_lists_it(old_database: Any) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        applied = await db.migrate()
    assert MIGRATION in applied and BACKFILL in applied
    rows = await Membership.select(Membership.user, Membership.consent_versions).order_by(Membership.id)
    assert [(r["user"], db.json_value(r["consent_versions"])) for r in rows] == [
        (1, [{"id": 1, "sha256": SHA}]),
        (2, []),
        (3, []),
    ]
    # the app reads them: the organizer sees who agreed to which version
    org = UserRead(
        id=1,
        email="a@example.com",
        display_name="A",
        locale="zh-CN",
        roles=[],
        email_verified=True,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    listed = {m.user_id: m for m in (await cases.members(1, actor=org)).items}
    assert [listed[u].consented_complaint_ids for u in (1, 2, 3)] == [[1], [], []]
    assert listed[1].agreed_to(1) and not listed[2].agreed_to(1)
