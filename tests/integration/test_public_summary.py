"""The public case summary and the merchant check at scale (issue 15 review items 2 and 3): loss
totals are added up by the database per currency, exactly on both engines, and the check page
reads its merchants' case summaries together (its statements do not grow with the merchants
shown)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from bench._measure import statements_sent
from chorus.accounts.tables import User
from chorus.cases.tables import Membership
from tests.integration.cases_support import get_ok, ident, person, report, report_body
from tests.support import http_client

pytestmark = pytest.mark.usefixtures("clean")

# amounts whose sum a float would get wrong (0.1 + 0.2), cents and yen, three currencies
AMOUNTS = [("0.10", "CNY"), ("0.20", "CNY"), ("19.99", "USD"), ("1000", "JPY"), ("123456789.01", "CNY")]


async def test_the_summary_totals_many_members_in_mixed_currencies(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    first = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")], amount="199.00"))
    case_id = first["case_id"]
    expected: dict[str, Decimal] = defaultdict(Decimal, {"CNY": Decimal("199.00")})
    users = await User.insert(
        *[User(email=f"m{i}@example.com", password_hash="x", display_name=f"M{i}") for i in range(300)]
    ).returning(User.id)
    members = []
    for i, u in enumerate(users):
        amount, currency = AMOUNTS[i % len(AMOUNTS)]
        expected[currency] += Decimal(amount)
        members.append(
            Membership(
                case=case_id,
                user=u["id"],
                role="member",
                loss_amount=Decimal(amount),
                loss_currency=currency,
                incident_date=date(2026, 11, 20),
                order_refs=[],
                statement="",
                identifiers=[],
            )
        )
    await Membership.insert(*members)
    client.cookies.clear()
    summary = await get_ok(client, f"/api/v1/cases/{case_id}")
    assert summary["member_count"] == 301
    # the exact sums, in each currency's minor units (a float sum of the 0.10s and 0.20s is not)
    assert summary["total_loss"] == [
        {"amount": "7407407557.60", "currency": "CNY"},
        {"amount": "60000", "currency": "JPY"},
        {"amount": "1199.40", "currency": "USD"},
    ]
    assert expected == {"CNY": Decimal("7407407557.60"), "JPY": 60000, "USD": Decimal("1199.40")}


async def _check_page_statements(app: Any, q: str) -> tuple[int, str]:
    async with statements_sent() as sent:
        r = await app.get(f"/merchants?q={quote(q)}")
    assert r.status_code == 200, r.text
    return len(sent), r.text


async def test_the_check_reads_its_merchants_summaries_together(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Two merchants found or eight: the same number of SQL statements (no cache here), and
    each listed with its own case's members and loss."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    uncached = settings.model_copy(update={"public_cache_seconds": 0})
    counts, pages = [], []
    for start, end in ((0, 2), (2, 8)):
        for i in range(start, end):
            body = report_body(f"星辰卡盟{i}", [ident("qq", f"1234567{i}")])
            await report(client, alice, body)
            if i % 2:
                await report(client, bob, body | {"loss": {"amount": "1.50", "currency": "CNY"}})
        async with http_client(uncached) as app:
            count, page = await _check_page_statements(app, "星辰卡盟")
        counts.append(count)
        pages.append(page)
    assert [len(re.findall(r'<h3><a href="/merchants/\d+">', p)) for p in pages] == [2, 8]
    assert counts[0] == counts[1] <= 8, counts
    assert "200.50" in pages[1] and "199.00" in pages[1]  # two members' loss, one member's
