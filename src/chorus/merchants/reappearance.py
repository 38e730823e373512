"""What the merchants domain knows for public warnings: the merchants a report tied to one by a
strong identifier, the newest merchants, and the platforms a merchant's shops are on.

The cases domain adds the cases, their members and report dates
(:mod:`chorus.cases.public`); nothing here says who reported."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from chorus.merchants import identifiers as ids
from chorus.merchants.tables import CONFIRMED, Merchant, MerchantIdentifier, MergeProposal


async def tied_merchants(merchant_id: int) -> dict[int, set[str]]:
    """Other merchants tied to this one by a strong identifier → the identifier kinds shared.

    A strong key belongs to one merchant only (``match_key`` is unique), so two merchants
    share one only as a report that named confirmed identifiers of both: an open merge
    proposal. A rejected proposal (a moderator said they differ) ties nothing; a merged merchant
    is this one already (its names are aliases here)."""
    rows = (
        await MergeProposal.select(
            MergeProposal.merchant_a, MergeProposal.merchant_b, MergeProposal.match_keys
        )
        .where(
            ((MergeProposal.merchant_a == merchant_id) | (MergeProposal.merchant_b == merchant_id))
            & (MergeProposal.status == "open")
        )
        .output(load_json=True)
    )
    tied: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        other = row["merchant_b"] if row["merchant_a"] == merchant_id else row["merchant_a"]
        tied[other] |= {str(key).partition(":")[0] for key in row["match_keys"] or []}
    if tied:
        merged = await Merchant.select(Merchant.id).where(
            Merchant.id.is_in(list(tied)) & Merchant.merged_into.is_not_null()
        )
        for row in merged:
            tied.pop(row["id"], None)
    return dict(tied)


async def newest(limit: int) -> list[dict[str, Any]]:
    """The most recently created merchants (first reported last), not merged: id, name, created_at."""
    rows = (
        await Merchant.select(Merchant.id, Merchant.name, Merchant.created_at)
        .where(Merchant.merged_into.is_null())
        .order_by(Merchant.created_at, ascending=False)
        .order_by(Merchant.id, ascending=False)
        .limit(limit)
    )
    return [dict(r) for r in rows]


def platform_of(kind: str, value: str) -> str | None:
    """Where a shop identifier's shop is: the platform of "taobao:123", the host of a shop's own
    link ("v.douyin.com/x" → "v.douyin.com"), a site's domain; None for other kinds."""
    if kind == ids.IdentifierKind.SHOP:
        platform, sep, _ = value.partition(":")
        return platform if sep and "/" not in platform else value.split("/", 1)[0]
    if kind in (ids.IdentifierKind.DOMAIN, ids.IdentifierKind.URL):
        return value
    return None


async def platforms(merchant_ids: Sequence[int]) -> dict[int, list[str]]:
    """Merchant id → the platforms or sites of its confirmed shop links and domains, in the order
    they were recorded."""
    out: dict[int, list[str]] = defaultdict(list)
    if not merchant_ids:
        return out
    rows = (
        await MerchantIdentifier.select(
            MerchantIdentifier.merchant, MerchantIdentifier.kind, MerchantIdentifier.value
        )
        .where(
            MerchantIdentifier.merchant.is_in(list(merchant_ids))
            & (MerchantIdentifier.status == CONFIRMED)
            & MerchantIdentifier.kind.is_in(["shop", "domain", "url"])
        )
        .order_by(MerchantIdentifier.id)
    )
    for row in rows:
        where = platform_of(row["kind"], row["value"])
        if where and where not in out[row["merchant"]]:
            out[row["merchant"]].append(where)
    return out
