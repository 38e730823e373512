"""Public warnings about merchants (issue 16 item 4), from the cases' side: when a merchant was
last reported, whether it came back after a closed case (under its own name or another one tied
to it by a strong identifier), and the newly reported merchants a feed announces.

Only dates, counts and merchant names: never who reported, nor any member's detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count, Max, Min

from chorus.cases import service as cases
from chorus.cases.service import report_day
from chorus.cases.tables import Case, Membership
from chorus.merchants import reappearance
from chorus.merchants import service as merchants
from chorus.merchants.schemas import (
    EarlierCase,
    IdentifierIn,
    MerchantRead,
    NewlyReportedRead,
    ReappearedRead,
    ResolveRead,
)

FEED_SIZE = 50  # merchants in the feed of newly reported merchants


@dataclass(frozen=True)
class Reports:
    """A merchant's reports, as memberships of its cases: first and last time, how many."""

    first: datetime
    last: datetime
    count: int


def _moment(value: Any) -> datetime:
    # An aggregate of a timestamptz comes back as text on SQLite.
    return datetime.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[no-any-return]


async def reports(merchant_ids: Sequence[int]) -> dict[int, Reports]:
    """Merchant id → its reports (memberships of its cases, a merged case's included); a merchant
    everyone left has none. One grouped query."""
    if not merchant_ids:
        return {}
    rows = (
        await Membership.select(
            Membership.case.merchant.as_alias("merchant"),
            Min(Membership.joined_at, alias="first"),
            Max(Membership.joined_at, alias="last"),
            Count(alias="count"),
        )
        .where(Membership.case.merchant.is_in(list(merchant_ids)))
        .group_by(Membership.case.merchant)
    )
    return {r["merchant"]: Reports(_moment(r["first"]), _moment(r["last"]), r["count"]) for r in rows}


async def _closed_cases(merchant_ids: Sequence[int]) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in await Case.select(Case.id, Case.merchant, Case.created_at, Case.closed_at)
        .where(
            Case.merchant.is_in(list(merchant_ids)) & (Case.status == "closed") & Case.merged_into.is_null()
        )
        .order_by(Case.id)
    ]


async def reappeared(
    merchant_id: int, name: str, aliases: Sequence[str], own: Reports | None
) -> ReappearedRead | None:
    """The reappearance alert of a merchant, None when it has none: its own closed cases followed
    by a later report (the same payee account or shop came back), and the closed cases of the
    merchants a report tied to it by a strong identifier (:func:`reappearance.tied_merchants`),
    with the names it used. ``own``: the merchant's :func:`reports`. A few indexed queries."""
    tied = await reappearance.tied_merchants(merchant_id)
    closed = await _closed_cases([merchant_id, *tied])
    if not closed:
        return None
    counts = await cases.member_counts([c["id"] for c in closed])
    names = await merchants.merchant_names(list(tied))
    earlier: list[EarlierCase] = []
    for c in closed:
        mine = c["merchant"] == merchant_id
        ended = c["closed_at"] or c["created_at"]
        if mine and (own is None or own.last <= ended):
            continue  # closed and not reported since: it has not come back (yet)
        if (not mine and c["merchant"] not in names) or not counts.get(c["id"]):
            continue  # a case everyone left (closed by the last one leaving) warns of nothing
        earlier.append(
            EarlierCase(
                merchant_id=c["merchant"],
                name=name if mine else names[c["merchant"]],
                case_id=c["id"],
                member_count=counts.get(c["id"], 0),
                closed_on=report_day(c["closed_at"]) if c["closed_at"] else None,
                matched_on=[] if mine else sorted(tied[c["merchant"]]),
            )
        )
    if not earlier:
        return None
    other_names = [*aliases] if any(e.merchant_id == merchant_id for e in earlier) else []
    for e in earlier:
        if e.name != name and e.name not in other_names:
            other_names.append(e.name)
    return ReappearedRead(earlier=earlier, other_names=other_names)


async def merchant_page(merchant_id: int) -> MerchantRead:
    """``GET /api/v1/merchants/{id}``: :func:`chorus.cases.service.merchant_page` with the day it
    was last reported and its reappearance alert."""
    page = await cases.merchant_page(merchant_id)
    latest = (await reports([merchant_id])).get(merchant_id)
    page.last_reported = report_day(latest.last) if latest else None
    page.reappeared = await reappeared(merchant_id, page.name, page.aliases, latest)
    return page


async def newly_reported(limit: int = FEED_SIZE) -> list[NewlyReportedRead]:
    """The newest merchants that still have a report, newest first: name, platforms, first and
    last report, number of reports."""
    newest = await reappearance.newest(limit)
    ids = [m["id"] for m in newest]
    spans = await reports(ids)
    where = await reappearance.platforms(ids)
    return [
        NewlyReportedRead(
            id=m["id"],
            name=m["name"],
            platforms=where.get(m["id"], []),
            first_reported=spans[m["id"]].first,
            last_reported=spans[m["id"]].last,
            member_count=spans[m["id"]].count,
        )
        for m in newest
        if m["id"] in spans
    ]


async def resolve(*, name: str | None, identifiers: Sequence[IdentifierIn]) -> ResolveRead:
    """``POST /api/v1/merchants/resolve``: :func:`chorus.cases.service.resolve` with the
    reappearance warnings a report of these identifiers would get."""
    return await cases.resolve(name=name, identifiers=identifiers, warnings=True)
