"""Merchant use cases: resolve identifiers to merchants, record new ones, public lookup."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from piccolo.query.functions.aggregate import Count

from chorus import db
from chorus.errors import FieldError, Invalid, NotFound
from chorus.merchants import identifiers as ids
from chorus.merchants import names
from chorus.merchants.schemas import (
    CaseBrief,
    IdentifierIn,
    IdentifierRead,
    MatchRead,
    MerchantRead,
    MerchantSummary,
    ResolveRead,
)
from chorus.merchants.tables import Merchant, MerchantAlias, MerchantIdentifier, MergeProposal

NAME_CANDIDATES = 200  # aliases scored with rapidfuzz per name lookup
# A name suggestion never scores like a shared identifier (100), even for an identical name.
NAME_SCORE_MAX = 99.0
# Sites whose pages belong to many merchants (marketplaces, social networks): their domain
# says nothing about *which* merchant, so it must not tie reports together. Platform stores
# are told apart by the ``shop`` kind ("taobao:123456").
SHARED_HOST_DOMAINS = frozenset(
    {
        "taobao.com", "tmall.com", "jd.com", "jd.hk", "pinduoduo.com", "yangkeduo.com",
        "weidian.com", "goofish.com", "xianyu.com", "qq.com", "weibo.com", "douyin.com",
        "kuaishou.com", "xiaohongshu.com", "baidu.com", "alipay.com",
    }
)  # fmt: skip


def match_key(identifier: ids.Identifier) -> str | None:
    """What two reports must share to be the same merchant; None for weak identifiers.

    Equivalent kinds share a key: a URL's registrable domain is the domain, and an Alipay
    or WeChat account that is a phone number or e-mail is that phone number or e-mail. The
    domain of a marketplace or social network (SHARED_HOST_DOMAINS) is weak: it is everyone's."""
    kind = identifier.kind
    if kind not in ids.STRONG_KINDS:
        return None
    value = identifier.value
    if kind is ids.IdentifierKind.URL:
        kind = ids.IdentifierKind.DOMAIN
    if kind is ids.IdentifierKind.DOMAIN and value in SHARED_HOST_DOMAINS:
        return None
    if kind in (ids.IdentifierKind.ALIPAY, ids.IdentifierKind.WECHAT):
        if value.startswith("+"):
            kind = ids.IdentifierKind.PHONE
        elif "@" in value:
            kind = ids.IdentifierKind.EMAIL
    return f"{kind.value}:{value}"


def normalize_all(items: Sequence[IdentifierIn], field_prefix: str) -> list[ids.Identifier]:
    """Normalize every identifier; one 422 naming each invalid one. Duplicates collapse."""
    out: list[ids.Identifier] = []
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        try:
            ident = ids.normalize(item.kind, item.value)
        except ids.InvalidIdentifier as exc:
            if exc.reason == "unknown_kind":
                errors.append(
                    FieldError(f"{field_prefix}[{i}].kind", "unknown_identifier_kind", {"kind": item.kind})
                )
            else:
                params = {
                    "kind_label": f"identifier.kind.{exc.kind}",
                    "reason_label": f"identifier.reason.{exc.reason}",
                }
                errors.append(FieldError(f"{field_prefix}[{i}].value", "invalid_identifier", params))
            continue
        if (ident.kind.value, ident.value) not in seen:
            seen.add((ident.kind.value, ident.value))
            out.append(ident)
    if errors:
        raise Invalid("invalid_identifiers", errors=errors)
    return out


@dataclass
class Matches:
    """Merchants sharing strong identifiers with a report: merchant id → matched kinds."""

    by_merchant: dict[int, set[str]] = field(default_factory=dict)
    keys_by_merchant: dict[int, set[str]] = field(default_factory=dict)

    def best(self) -> int | None:
        if not self.by_merchant:
            return None
        # most shared identifiers first, then the oldest merchant
        return min(self.by_merchant, key=lambda m: (-len(self.keys_by_merchant[m]), m))

    def others(self) -> list[int]:
        best = self.best()
        return sorted(m for m in self.by_merchant if m != best)


async def find_matches(identifiers: Sequence[ids.Identifier]) -> Matches:
    keys = {k: ident for ident in identifiers if (k := match_key(ident))}
    result = Matches()
    if not keys:
        return result
    rows = await MerchantIdentifier.select(MerchantIdentifier.merchant, MerchantIdentifier.match_key).where(
        MerchantIdentifier.match_key.is_in(list(keys))
    )
    for row in rows:
        mid = row["merchant"]
        result.by_merchant.setdefault(mid, set()).add(keys[row["match_key"]].kind.value)
        result.keys_by_merchant.setdefault(mid, set()).add(row["match_key"])
    return result


async def open_cases(merchant_ids: Sequence[int]) -> dict[int, int]:
    """merchant id → its open case id."""
    from chorus.cases.tables import Case

    if not merchant_ids:
        return {}
    rows = await Case.select(Case.id, Case.open_key).where(Case.open_key.is_in(list(merchant_ids)))
    return {r["open_key"]: r["id"] for r in rows}


async def name_suggestions(name: str, exclude: set[int]) -> list[tuple[int, float]]:
    """Merchants whose names look like ``name``: (merchant id, score), best first. Never a join."""
    core = names.core_name(name)
    if not core:
        return []
    pinyin = names.pinyin_key(name)
    prefix = core[: max(2, min(len(core), 4))]
    rows = (
        await MerchantAlias.select(MerchantAlias.merchant, MerchantAlias.name)
        .where(
            (MerchantAlias.name_key == core)
            | (MerchantAlias.pinyin_key == pinyin)
            | MerchantAlias.name_key.like(_like_prefix(prefix))
        )
        .limit(NAME_CANDIDATES)
    )
    best: dict[int, float] = {}
    for row in rows:
        mid = row["merchant"]
        if mid in exclude:
            continue
        score = names.name_similarity(name, row["name"])
        if score >= names.SUGGESTION_THRESHOLD and score > best.get(mid, 0.0):
            best[mid] = score
    if best:
        # a merged merchant keeps its names for history; its survivor carries them too
        merged = await Merchant.select(Merchant.id).where(
            Merchant.id.is_in(list(best)) & Merchant.merged_into.is_not_null()
        )
        for row in merged:
            best.pop(row["id"], None)
    return sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:10]


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "").replace("%", "").replace("_", "")
    return f"{escaped}%"


async def merchant_names(merchant_ids: Sequence[int]) -> dict[int, str]:
    if not merchant_ids:
        return {}
    rows = await Merchant.select(Merchant.id, Merchant.name).where(Merchant.id.is_in(list(merchant_ids)))
    return {r["id"]: r["name"] for r in rows}


async def resolve(*, name: str | None, identifiers: Sequence[IdentifierIn]) -> ResolveRead:
    """Explain which merchants a report would join; changes nothing."""
    normalized = normalize_all(identifiers, "identifiers")
    matches = await find_matches(normalized)
    suggestions = await name_suggestions(name, set(matches.by_merchant)) if name else []
    merchant_ids = [*matches.by_merchant, *(m for m, _ in suggestions)]
    titles = await merchant_names(merchant_ids)
    cases = await open_cases(merchant_ids)
    items: list[MatchRead] = []
    ranked = sorted(matches.by_merchant, key=lambda m: (-len(matches.keys_by_merchant[m]), m))
    for mid in ranked:
        items.append(
            MatchRead(
                merchant_id=mid,
                name=titles.get(mid, ""),
                score=100.0,
                matched_on=sorted(matches.by_merchant[mid]),
                case_id=cases.get(mid),
            )
        )
    for mid, score in suggestions:
        items.append(
            MatchRead(
                merchant_id=mid,
                name=titles.get(mid, ""),
                score=min(round(score, 1), NAME_SCORE_MAX),
                matched_on=["name"],
                case_id=cases.get(mid),
            )
        )
    return ResolveRead(
        normalized=[IdentifierRead(kind=i.kind.value, value=i.value) for i in normalized], matches=items
    )


# --- writes (inside the caller's transaction) --------------------------------------------


async def create(*, name: str) -> int:
    rows = await Merchant.insert(Merchant(name=name.strip())).returning(Merchant.id)
    merchant_id: int = rows[0]["id"]
    await add_alias(merchant_id, name)
    return merchant_id


async def add_alias(merchant_id: int, name: str) -> None:
    clean = " ".join(name.split())[:200]
    if not clean:
        return
    core = names.core_name(clean)[:200] or clean.lower()[:200]
    await MerchantAlias.insert(
        MerchantAlias(
            merchant=merchant_id,
            name=clean,
            name_key=core,
            pinyin_key=names.pinyin_key(clean)[:400],
            unique_key=f"{merchant_id}:{core}"[:220],
        )
    ).on_conflict(target=MerchantAlias.unique_key, action="DO NOTHING")


async def add_identifiers(merchant_id: int, identifiers: Sequence[ids.Identifier], *, strict: bool) -> None:
    """Attach identifiers. ``strict`` (a new merchant) lets a unique violation surface so the
    use case retries and finds the merchant a concurrent report created; otherwise keys
    already known (to this or another merchant) are skipped.

    Strong keys are inserted in one global order: two concurrent reports bringing the same
    new identifiers in another order would otherwise wait on each other's keys (deadlock)."""
    rows = [
        MerchantIdentifier(merchant=merchant_id, kind=i.kind.value, value=i.value, match_key=match_key(i))
        for i in identifiers
    ]
    for row in sorted((r for r in rows if r.match_key is not None), key=lambda r: str(r.match_key)):
        if strict:
            await MerchantIdentifier.insert(row)
        else:
            await MerchantIdentifier.insert(row).on_conflict(
                target=MerchantIdentifier.match_key, action="DO NOTHING"
            )
    weak = [r for r in rows if r.match_key is None]
    missing = [r for r in weak if not await _has_identifier(merchant_id, r)]
    if missing and not db.is_sqlite():
        # No unique key guards weak identifiers: concurrent reports adding the same one queue
        # on the merchant row and look again. (NO KEY UPDATE leaves foreign-key checks alone.)
        await Merchant.select(Merchant.id).where(Merchant.id == merchant_id).lock_rows("NO KEY UPDATE")
        missing = [r for r in missing if not await _has_identifier(merchant_id, r)]
    for row in missing:
        await MerchantIdentifier.insert(row)


async def _has_identifier(merchant_id: int, row: MerchantIdentifier) -> bool:
    return bool(
        await MerchantIdentifier.exists().where(
            (MerchantIdentifier.merchant == merchant_id)
            & (MerchantIdentifier.kind == row.kind)
            & (MerchantIdentifier.value == row.value)
        )
    )


async def propose_merge(merchant_a: int, merchant_b: int, keys: Sequence[str]) -> None:
    a, b = sorted((merchant_a, merchant_b))
    await MergeProposal.insert(
        MergeProposal(merchant_a=a, merchant_b=b, pair_key=f"{a}:{b}", match_keys=sorted(set(keys)))
    ).on_conflict(target=MergeProposal.pair_key, action="DO NOTHING")


# --- public reads --------------------------------------------------------------------------


def _masked(kind: str, value: str) -> IdentifierRead:
    try:
        ident = ids.Identifier(ids.IdentifierKind(kind), value)
    except ValueError:
        return IdentifierRead(kind=kind, value=value)
    return IdentifierRead(kind=kind, value=ids.mask(ident))


async def _aliases(merchant_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if merchant_ids:
        rows = (
            await MerchantAlias.select(MerchantAlias.merchant, MerchantAlias.name)
            .where(MerchantAlias.merchant.is_in(list(merchant_ids)))
            .order_by(MerchantAlias.id)
        )
        for r in rows:
            out[r["merchant"]].append(r["name"])
    return out


async def get(merchant_id: int) -> MerchantRead:
    """The public merchant page: names, masked identifiers, cases with member counts."""
    from chorus.cases.tables import Case

    row = (
        await Merchant.select(Merchant.id, Merchant.name, Merchant.merged_into)
        .where(Merchant.id == merchant_id)
        .first()
    )
    if row is None:
        raise NotFound("merchant_not_found")
    idents = (
        await MerchantIdentifier.select(MerchantIdentifier.kind, MerchantIdentifier.value)
        .where(MerchantIdentifier.merchant == merchant_id)
        .order_by(MerchantIdentifier.id)
    )
    cases = await Case.select(Case.id, Case.status).where(Case.merchant == merchant_id).order_by(Case.id)
    counts = await member_counts([c["id"] for c in cases])
    aliases = (await _aliases([merchant_id]))[merchant_id]
    return MerchantRead(
        id=row["id"],
        name=row["name"],
        aliases=[a for a in aliases if a != row["name"]],
        identifiers=[_masked(i["kind"], i["value"]) for i in idents],
        cases=[CaseBrief(id=c["id"], status=c["status"], member_count=counts.get(c["id"], 0)) for c in cases],
        merged_into=row["merged_into"],
    )


async def member_counts(case_ids: Sequence[int]) -> dict[int, int]:
    """case id → number of members."""
    from chorus.cases.tables import Membership

    if not case_ids:
        return {}
    rows = (
        await Membership.select(Membership.case, Count())
        .where(Membership.case.is_in(list(case_ids)))
        .group_by(Membership.case)
    )
    return {r["case"]: r["count"] for r in rows}


def _query_identifiers(q: str) -> list[str]:
    """Every match key the search text could stand for (it may be a phone, a QQ, a link …)."""
    keys = []
    for kind in ids.STRONG_KINDS:
        try:
            key = match_key(ids.normalize(kind, q))
        except ids.InvalidIdentifier:
            continue
        if key:
            keys.append(key)
    return keys


async def search(q: str, limit: int = 20) -> list[MerchantSummary]:
    """Public lookup by name or any identifier (normalized first)."""
    q = q.strip()[:200]
    if not q:
        return []
    found: list[int] = []
    keys = _query_identifiers(q)
    if keys:
        rows = await MerchantIdentifier.select(MerchantIdentifier.merchant).where(
            MerchantIdentifier.match_key.is_in(keys)
        )
        found.extend(r["merchant"] for r in rows)
    core = names.core_name(q)
    if core:
        rows = (
            await MerchantAlias.select(MerchantAlias.merchant)
            .where(
                (MerchantAlias.name_key == core)
                | MerchantAlias.name_key.like(_like_prefix(core))
                | (MerchantAlias.pinyin_key == names.pinyin_key(q))
            )
            .limit(limit * 3)
        )
        found.extend(r["merchant"] for r in rows)
    unique = list(dict.fromkeys(found))
    if not unique:
        return []
    merchants = await Merchant.select(Merchant.id, Merchant.name).where(
        Merchant.id.is_in(unique) & Merchant.merged_into.is_null()
    )
    by_id = {m["id"]: m["name"] for m in merchants}
    ordered = [m for m in unique if m in by_id][:limit]
    cases = await open_cases(ordered)
    counts = await member_counts(list(cases.values()))
    aliases = await _aliases(ordered)
    return [
        MerchantSummary(
            id=m,
            name=by_id[m],
            aliases=[a for a in aliases.get(m, []) if a != by_id[m]],
            open_case_id=cases.get(m),
            member_count=counts.get(cases.get(m, -1), 0),
        )
        for m in ordered
    ]
