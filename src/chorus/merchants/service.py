"""Merchant use cases: resolve identifiers to merchants, record new ones, public lookup."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.custom_types import Combinable

from chorus import db
from chorus.errors import Conflict, FieldError, Invalid, NotFound
from chorus.inputs import NUL
from chorus.merchants import identifiers as ids
from chorus.merchants import names
from chorus.merchants.schemas import (
    ClaimantRef,
    ClaimList,
    IdentifierIn,
    IdentifierRead,
    LinkProposalList,
    LinkProposalRead,
    MatchRead,
    MerchantRead,
    MerchantRef,
    MerchantSummary,
    MergeProposalList,
    MergeProposalRead,
    ResolveRead,
    ReviewedAliasRead,
    ReviewedIdentifierRead,
)
from chorus.merchants.tables import (
    CLAIMED,
    CONFIRMED,
    LinkProposal,
    Merchant,
    MerchantAlias,
    MerchantIdentifier,
    MergeProposal,
)

NAME_CANDIDATES = 200  # aliases scored with rapidfuzz per name lookup
NAME_SUGGESTIONS = 10  # similar names a resolve suggests at most
# A name suggestion never scores like a shared identifier (100), even for an identical name.
NAME_SCORE_MAX = 99.0
# A strong identifier only claimed for a merchant (one reporter joined its case by id and named
# it) is a suggestion like a similar name, never a match.
CLAIMED_SCORE = 90.0
# Sites whose pages belong to many merchants (marketplaces, social networks): their domain
# says nothing about *which* merchant, so it must not tie reports together. Platform stores
# are told apart by the ``shop`` kind ("taobao:123456").
SHARED_HOST_DOMAINS = frozenset(
    {
        "taobao.com", "tmall.com", "jd.com", "jd.hk", "pinduoduo.com", "yangkeduo.com",
        "weidian.com", "goofish.com", "xianyu.com", "qq.com", "weibo.com", "douyin.com",
        "kuaishou.com", "xiaohongshu.com", "baidu.com", "alipay.com",
    }
) | ids.SHARED_DOMAINS  # fmt: skip


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


@dataclass(frozen=True)
class Claim:
    """A strong identifier claimed for a merchant (it matches nothing until confirmed)."""

    id: int
    merchant: int
    key: str
    kind: str
    claimed_by: int | None


@dataclass
class Matches:
    """Merchants sharing strong identifiers with a report: merchant id → matched kinds.
    Only confirmed identifiers match; ``claims`` holds the claimed ones the report names."""

    by_merchant: dict[int, set[str]] = field(default_factory=dict)
    keys_by_merchant: dict[int, set[str]] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    # merchant id → status of its alias for the name asked about (find_matches(name=…))
    alias_status: dict[int, str] = field(default_factory=dict)
    # merchant id → its name (find_matches without a name: what resolve shows)
    names: dict[int, str] = field(default_factory=dict)

    def knows_name(self, merchant_id: int) -> bool:
        """The merchant already bears the name asked about, confirmed: recording it changes nothing."""
        return self.alias_status.get(merchant_id) == CONFIRMED

    def best(self) -> int | None:
        if not self.by_merchant:
            return None
        # most shared identifiers first, then the oldest merchant
        return min(self.by_merchant, key=lambda m: (-len(self.keys_by_merchant[m]), m))

    def others(self) -> list[int]:
        best = self.best()
        return sorted(m for m in self.by_merchant if m != best)

    def claimed_by_merchant(self) -> dict[int, set[str]]:
        """merchant id → kinds of the report's identifiers claimed (not confirmed) for it."""
        out: dict[int, set[str]] = {}
        for c in self.claims:
            out.setdefault(c.merchant, set()).add(c.kind)
        return out


@dataclass(frozen=True)
class MatchQuery:
    """The statement :func:`find_matches` runs without a name, for a caller that reads more in
    the same statement (``WITH found AS (sql) …``: the cases domain adds the merchants' cases).
    ``sql`` takes ``args`` as a raw statement does (``{}``); its columns: ``id``, ``merchant``,
    ``match_key``, ``claim_key``, ``claimed_by`` and ``"merchant.name"``. Read its rows with
    :func:`matches_from_rows`."""

    sql: str
    args: tuple[str, ...]
    keys: dict[str, ids.Identifier]  # match key → the report's identifier


def match_query(identifiers: Sequence[ids.Identifier]) -> MatchQuery | None:
    """None: the report has no strong key, so nothing can match."""
    keys = {k: ident for ident in identifiers if (k := match_key(ident))}
    if not keys:
        return None
    wanted = tuple(keys)
    marks = db.placeholders(len(wanted))
    return MatchQuery(
        'SELECT i.id, i.merchant, i.match_key, i.claim_key, i.claimed_by, m.name AS "merchant.name" '  # noqa: S608
        f"FROM merchant_identifier i JOIN merchant m ON m.id = i.merchant "
        f"WHERE i.match_key IN ({marks}) OR i.claim_key IN ({marks})",
        wanted + wanted,
        keys,
    )


def matches_from_rows(rows: Sequence[Any], keys: dict[str, ids.Identifier]) -> Matches:
    """The Matches of :class:`MatchQuery` rows (or of find_matches' own); an identifier row
    read more than once (joined to several rows of another table) counts once."""
    result = Matches()
    seen: set[tuple[int, str | None]] = set()
    for row in rows:
        mid = row["merchant"]
        once = (row["id"], row.get("alias_status"))  # an alias row's id is another table's
        if once in seen:
            continue
        seen.add(once)
        if "merchant.name" in row:
            result.names[mid] = row["merchant.name"]
        if row.get("alias_status") is not None:
            result.alias_status[mid] = row["alias_status"]
            continue
        if row["match_key"] is None:
            key = row["claim_key"]
            result.claims.append(Claim(row["id"], mid, key, keys[key].kind.value, row["claimed_by"]))
            continue
        result.by_merchant.setdefault(mid, set()).add(keys[row["match_key"]].kind.value)
        result.keys_by_merchant.setdefault(mid, set()).add(row["match_key"])
    return result


async def find_matches(identifiers: Sequence[ids.Identifier], *, name: str | None = None) -> Matches:
    """One indexed query: the merchants holding the report's strong keys, confirmed or claimed;
    with ``name``, also whether the merchants matched already bear that name (``alias_status``)."""
    query = match_query(identifiers)
    if query is None:
        return Matches()
    name_key = alias_key(name) if name else None
    if name_key is None:
        return matches_from_rows(await db.fetch(MerchantIdentifier, query.sql, *query.args), query.keys)
    wanted = list(query.keys)
    marks = db.placeholders(len(wanted))
    rows = await db.fetch(
        MerchantIdentifier,
        "SELECT id, merchant, match_key, claim_key, claimed_by, NULL AS alias_status "  # noqa: S608
        f"FROM merchant_identifier WHERE match_key IN ({marks}) OR claim_key IN ({marks}) "
        "UNION ALL SELECT a.id, a.merchant, NULL, NULL, a.claimed_by, a.status FROM merchant_alias a "
        f"WHERE a.name_key = {{}} AND a.merchant IN "
        f"(SELECT merchant FROM merchant_identifier WHERE match_key IN ({marks}))",
        *wanted,
        *wanted,
        name_key,
        *wanted,
    )
    return matches_from_rows(rows, query.keys)


async def find_or_hold(identifiers: Sequence[ids.Identifier], *, name: str | None, known: Matches) -> Matches:
    """For a report none of whose strong keys any merchant holds (``known``): take the keys
    (PostgreSQL advisory locks, in one global order) and look again. Concurrent reports of one
    merchant nobody knew yet take turns here: the first keeps the keys until its transaction
    (which creates the merchant) ends; each one after it finds that merchant and lets go of the
    keys at once, by rolling back to a savepoint taken before it took them (which releases
    transaction-level advisory locks), so that the reports queued behind it wait for one
    lookup, not for its whole report. The unique match keys stay the guarantee; this only
    spares the others a failed attempt. SQLite (whose IMMEDIATE transactions already take
    turns) and reports without a strong key: ``known``, nothing held."""
    keys = sorted({k for ident in identifiers if (k := match_key(ident))})
    if not keys or db.is_sqlite():
        return known
    transaction = db.engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("find_or_hold runs inside the report's transaction")
    savepoint = await transaction.savepoint("chorus_report_keys")
    await db.fetch(
        Merchant,
        "SELECT pg_advisory_xact_lock(h) FROM "
        "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest({}::text[]) AS k ORDER BY h) AS held",
        keys,
    )
    found = await find_matches(identifiers, name=name)
    if found.best() is not None:
        await savepoint.rollback_to()  # someone created it: the keys are theirs, let go of them
    else:
        await savepoint.release()  # this report creates it: hold the keys until the commit
    return found


@dataclass(frozen=True)
class NameQuery:
    """The read of the names alike a report's name (:func:`name_query`), for a caller that reads
    more in the same statement (``WITH alike AS (sql) …``: the cases domain adds the open cases of
    the merchants it names). ``sql`` takes ``args`` as a raw statement does (``{}``); its columns:
    ``merchant``, ``name_key``, ``pinyin_key`` and ``display``: the merchant's name for the
    merchants bearing this very name or its pinyin (never merged away), NULL for the names only
    starting alike (read from the index alone). Rank its rows with :func:`suggestions_of`."""

    sql: str
    args: tuple[str, ...]
    core: str
    pinyin: str
    wanted: int  # NAME_SUGGESTIONS and the room asked for


def name_query(name: str, room: int = 0) -> NameQuery | None:
    """None: the name has no letters to compare (nothing looks like it). ``room``: suggestions
    beyond NAME_SUGGESTIONS, for the merchants the caller sets aside (those the report's
    identifiers matched, at most one per identifier)."""
    keys = _alias_keys(name)  # as an alias of this very name is stored (a long name cut)
    if keys is None or not names.core_name(name):
        return None
    core, pinyin = keys
    prefix = core[: max(2, min(len(core), 4))]
    # Three parts, each read only as far as it is needed, through the partial indexes of the
    # confirmed names (migration 2026-12-02T17:00; a claimed name is no name of the merchant yet):
    # the merchants bearing the same name, and those with the same pinyin, lowest id first and
    # not merged away (every one of them scores 100, so the best are the lowest: as many as could
    # be suggested); and at most NAME_CANDIDATES names starting with the prefix, in order, scored
    # on the keys stored with them, read from the index alone (it carries the pinyin keys since
    # migration 2026-12-03T01:00). Before, a name 500 merchants bore read all 500, joined, and a
    # common prefix was looked for in a scan (bench.resolve, 1,000,000 identifiers: p99 6.7 ms).
    # The same pinyin is read from its index alone too (it carries the name keys since migration
    # 2026-12-05T18:30): the plan PostgreSQL keeps for the prepared statement cannot know how
    # many names share a pinyin, and it read them all and sorted them when that cost a visit to
    # the table per name (a pinyin 540 names shared: 5.3 ms).
    bytewise = _bytewise()
    wanted = NAME_SUGGESTIONS + room
    same = (
        "SELECT a.merchant, a.name_key, a.pinyin_key, m.name AS display FROM merchant_alias a "
        "JOIN merchant m ON m.id = a.merchant WHERE a.status = 'confirmed' AND m.merged_into IS NULL AND "
    )
    near = (
        "SELECT merchant, name_key, pinyin_key, NULL AS display FROM merchant_alias "  # noqa: S608
        f"WHERE status = 'confirmed' AND name_key{bytewise} >= {{}}"
    )
    after = _after_prefix(prefix)
    if after is not None:
        near += f" AND name_key{bytewise} < {{}}"
    sql = (
        f"SELECT * FROM ({same}a.name_key{bytewise} = {{}} ORDER BY a.merchant LIMIT {wanted}) AS by_name "  # noqa: S608
        f"UNION ALL SELECT * FROM ({same}a.pinyin_key = {{}} ORDER BY a.merchant LIMIT {wanted}) AS by_py "
        f"UNION ALL SELECT * FROM ({near} ORDER BY name_key{bytewise} LIMIT {NAME_CANDIDATES}) AS near"
    )
    args = (core, pinyin, prefix, *([after] if after is not None else []))
    return NameQuery(sql, args, core, pinyin, wanted)


Titles = Callable[[list[int]], Awaitable[dict[int, str]]]


async def suggestions_of(
    query: NameQuery, rows: Sequence[Sequence[Any]], titles_of: Titles
) -> list[tuple[int, float, str]]:
    """The merchants whose names look like the name of ``query``, from its ``rows`` (``merchant,
    name_key, pinyin_key, display`` tuples, in any order): (merchant id, score, the merchant's
    name), best first, as many as ``query`` wants. ``titles_of`` reads the names of merchants not
    merged away (those whose names only start alike), when some of them rank among the best: for
    as many as could be suggested, and, when some of those were merged away, for all the others
    at once (in batches of ten, a name many merged merchants had bore cost a round trip per ten).
    Merged merchants keep their names for history; their survivors carry them too, so only
    merchants not merged away are suggested."""
    titles = {mid: display for mid, _, _, display in rows if display is not None}
    best: dict[int, float] = {}
    keys = [(r[1], r[2]) for r in rows]
    alike = names.similar_keys(query.core, query.pinyin, keys, names.SUGGESTION_THRESHOLD)
    for i, score in alike.items():
        mid = rows[i][0]
        if score > best.get(mid, 0.0):
            best[mid] = score
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
    wanted = query.wanted
    first, rest = [mid for mid, _ in ranked[:wanted]], [mid for mid, _ in ranked[wanted:]]
    unknown = [mid for mid in first if mid not in titles]
    if unknown:
        titles |= await titles_of(unknown)
    if sum(mid in titles for mid in first) < wanted and (unknown := [m for m in rest if m not in titles]):
        titles |= await titles_of(unknown)
    return [(mid, score, titles[mid]) for mid, score in ranked if mid in titles][:wanted]


def _bytewise() -> str:
    """How name keys are compared for a range of names starting alike: as bytes (UTF-8 orders
    them by code point), the order of PostgreSQL's index merchant_alias_same_name whatever the
    database's collation. SQLite compares bytes already."""
    return "" if db.is_sqlite() else ' COLLATE "C"'


def _after_prefix(prefix: str) -> str | None:
    """The least string after every string starting with ``prefix`` (None: there is none)."""
    while prefix and prefix[-1] == "\U0010ffff":
        prefix = prefix[:-1]
    if not prefix:
        return None
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters of a stored name
        following = 0xE000
    return prefix[:-1] + chr(following)


async def merchant_names(merchant_ids: Sequence[int]) -> dict[int, str]:
    """merchant id → its name."""
    if not merchant_ids:
        return {}
    rows = await Merchant.select(Merchant.id, Merchant.name).where(Merchant.id.is_in(list(merchant_ids)))
    return {r["id"]: r["name"] for r in rows}


def resolve(
    *, normalized: Sequence[ids.Identifier], matches: Matches, named: Sequence[tuple[int, float, str]]
) -> ResolveRead:
    """Explain which merchants a report would join; changes nothing. The merchants' open cases
    are the cases domain's to add (``case_id`` is None here: :func:`chorus.cases.service.resolve`,
    which also reads them for the warnings). ``normalized``: :func:`normalize_all` of the report's
    identifiers; ``matches``: their :func:`find_matches`; ``named``: the :func:`suggestions_of`
    of the report's name with room for the merchants matched (none without a name).

    Matches (score 100) share a confirmed identifier; suggestions (lower scores) have a similar
    name or hold one of the identifiers only as a claim: a report never joins them by itself."""
    claimed = {m: k for m, k in matches.claimed_by_merchant().items() if m not in matches.by_merchant}
    named = [n for n in named if n[0] not in matches.by_merchant][:NAME_SUGGESTIONS]
    # merchant id → (score, matched_on)
    suggested: dict[int, tuple[float, set[str]]] = {m: (CLAIMED_SCORE, set(k)) for m, k in claimed.items()}
    titles = dict(matches.names)
    for mid, score, title in named:
        before, on = suggested.get(mid, (0.0, set()))
        suggested[mid] = (max(before, min(round(score, 1), NAME_SCORE_MAX)), on | {"name"})
        titles[mid] = title
    items: list[MatchRead] = []
    ranked = sorted(matches.by_merchant, key=lambda m: (-len(matches.keys_by_merchant[m]), m))
    for mid in ranked:
        items.append(
            MatchRead(
                merchant_id=mid,
                name=titles.get(mid, ""),
                score=100.0,
                matched_on=sorted(matches.by_merchant[mid]),
                case_id=None,
            )
        )
    for mid, (score, on) in sorted(suggested.items(), key=lambda kv: (-kv[1][0], kv[0]))[:NAME_SUGGESTIONS]:
        if mid not in titles:
            continue
        items.append(
            MatchRead(
                merchant_id=mid,
                name=titles[mid],
                score=score,
                matched_on=sorted(on, key=lambda k: (k == "name", k)),
                case_id=None,
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


def alias_key(name: str) -> str | None:
    """The name_key an alias of ``name`` is stored under (one per merchant); None for a blank name."""
    clean = " ".join(name.split())[:200]
    if not clean:
        return None
    return names.core_name(clean)[:200] or clean.lower()[:200]


def _alias_keys(name: str) -> tuple[str, str] | None:
    """The name_key and pinyin_key an alias of ``name`` is stored under; None for a blank name."""
    core = alias_key(name)
    if core is None:
        return None
    return core, names.pinyin_key(" ".join(name.split())[:200])[:400]


def _alias_row(merchant_id: int, name: str) -> MerchantAlias | None:
    keys = _alias_keys(name)
    if keys is None:
        return None
    core, pinyin = keys
    return MerchantAlias(
        merchant=merchant_id,
        name=" ".join(name.split())[:200],
        name_key=core,
        pinyin_key=pinyin,
        name_doubled=doubled(core),
    )


def doubled(key: str) -> str:
    """``key`` with every character doubled ("星辰" → "星星辰辰"): see SEARCH_DOUBLED."""
    return "".join(ch * 2 for ch in key)


def _same_alias(row: MerchantAlias) -> Combinable:
    """The stored alias ``row`` stands for: one per merchant and name key (merchant_alias_once)."""
    same: Combinable = (MerchantAlias.merchant == row.merchant) & (MerchantAlias.name_key == row.name_key)
    return same


async def _insert_alias(row: MerchantAlias) -> bool:
    inserted = (
        await MerchantAlias.insert(row)
        .on_conflict(target=(MerchantAlias.merchant, MerchantAlias.name_key), action="DO NOTHING")
        .returning(MerchantAlias.id)
    )
    return bool(inserted)


async def add_alias(merchant_id: int, name: str, *, reporter: int | None = None, claim: bool = False) -> None:
    """Record a name of the merchant. ``claim``: only ``reporter`` says so (they joined a case
    by its id), so the name stays hidden until another reporter gives it too or a moderator
    confirms it. A name claimed by someone else that ``reporter`` gives is confirmed."""
    row = _alias_row(merchant_id, name)
    if row is None:
        return
    if claim:
        row.status, row.claimed_by, row.claimed_at = CLAIMED, reporter, datetime.now(UTC)
    if not await _insert_alias(row) and reporter is not None:
        await MerchantAlias.update({MerchantAlias.status: CONFIRMED}).where(
            _same_alias(row)
            & (MerchantAlias.status == CLAIMED)
            & (MerchantAlias.claimed_by.is_null() | (MerchantAlias.claimed_by != reporter))
        )


async def add_identifiers(
    merchant_id: int,
    identifiers: Sequence[ids.Identifier],
    *,
    strict: bool,
    reporter: int | None = None,
    claim: bool = False,
    known: Matches | None = None,
) -> None:
    """Attach identifiers. ``strict`` (a new merchant) lets a unique violation surface so the
    use case retries and finds the merchant a concurrent report created; otherwise keys
    already known (to this or another merchant) are skipped.

    ``claim``: ``reporter`` joined the merchant's case by its id, not by a match: what is new
    is recorded as claimed (it matches nothing). An identifier claimed for this merchant by
    someone else that ``reporter`` names is confirmed: a second, independent reporter.
    ``known``: what :func:`find_matches` found for these identifiers (saves the lookup).

    Strong keys are inserted in one global order: two concurrent reports bringing the same
    new identifiers in another order would otherwise wait on each other's keys (deadlock)."""
    if strict:
        rows = [
            MerchantIdentifier(merchant=merchant_id, kind=i.kind.value, value=i.value, match_key=match_key(i))
            for i in identifiers
        ]
        # one statement; its rows go in in key order (weak ones, without a key, last)
        rows.sort(key=lambda r: (r.match_key is None, str(r.match_key)))
        if rows:
            await MerchantIdentifier.insert(*rows)
        return

    known = known if known is not None else await find_matches(identifiers)
    confirmed_keys = {k for keys in known.keys_by_merchant.values() for k in keys}
    strong: dict[str, ids.Identifier] = {}
    weak: list[ids.Identifier] = []
    for ident in identifiers:
        key = match_key(ident)
        if key is None:
            weak.append(ident)
        elif key not in confirmed_keys:  # here already, or another merchant's (a merge proposal)
            strong.setdefault(key, ident)
    if not strong and not weak:
        return
    if not db.is_sqlite():
        # Claims and weak identifiers have no unique key: concurrent reports adding the same one
        # queue on the merchant row and look again. (NO KEY UPDATE leaves foreign-key checks alone.)
        await Merchant.select(Merchant.id).where(Merchant.id == merchant_id).lock_rows("NO KEY UPDATE")
    present = await _present(merchant_id, list(strong), weak)
    now = datetime.now(UTC)
    new_rows: list[MerchantIdentifier] = []
    for key in sorted(strong):
        ident = strong[key]
        mine = present.get(key, [])
        if any(r["status"] == CONFIRMED for r in mine):
            continue
        if mine:
            await _corroborate(mine, reporter)
            continue
        new_rows.append(_new_row(merchant_id, ident, key, claim=claim, reporter=reporter, now=now))
    for ident in weak:
        mine = present.get(f"{ident.kind.value}\0{ident.value}", [])
        if any(r["status"] == CONFIRMED for r in mine):
            continue
        if mine:
            await _corroborate(mine, reporter)
            continue
        new_rows.append(_new_row(merchant_id, ident, None, claim=claim, reporter=reporter, now=now))
    for row in new_rows:
        query = MerchantIdentifier.insert(row)
        if row.match_key is not None:
            query = query.on_conflict(target=MerchantIdentifier.match_key, action="DO NOTHING")
        await query


def _new_row(
    merchant_id: int,
    ident: ids.Identifier,
    key: str | None,
    *,
    claim: bool,
    reporter: int | None,
    now: datetime,
) -> MerchantIdentifier:
    if claim:
        return MerchantIdentifier(
            merchant=merchant_id,
            kind=ident.kind.value,
            value=ident.value,
            match_key=None,
            claim_key=key,
            status=CLAIMED,
            claimed_by=reporter,
            claimed_at=now,
        )
    return MerchantIdentifier(merchant=merchant_id, kind=ident.kind.value, value=ident.value, match_key=key)


async def _present(
    merchant_id: int, keys: list[str], weak: Sequence[ids.Identifier]
) -> dict[str, list[dict[str, Any]]]:
    """This merchant's rows for the given strong keys (by key) and weak identifiers (by
    "kind\\0value"), confirmed or claimed: one query."""
    where: Combinable | None = None
    if keys:
        where = MerchantIdentifier.match_key.is_in(keys) | MerchantIdentifier.claim_key.is_in(keys)
    if weak:
        by_value = MerchantIdentifier.value.is_in(sorted({i.value for i in weak}))
        where = by_value if where is None else (where | by_value)
    assert where is not None
    rows = await MerchantIdentifier.select(
        MerchantIdentifier.id,
        MerchantIdentifier.kind,
        MerchantIdentifier.value,
        MerchantIdentifier.match_key,
        MerchantIdentifier.claim_key,
        MerchantIdentifier.status,
        MerchantIdentifier.claimed_by,
    ).where((MerchantIdentifier.merchant == merchant_id) & where)
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        key = r["match_key"] or r["claim_key"]
        out[key if key is not None else f"{r['kind']}\0{r['value']}"].append(dict(r))
    return out


async def _corroborate(claims: list[dict[str, Any]], reporter: int | None) -> None:
    """Claims of one identifier for one merchant: confirmed when ``reporter`` is someone else
    than who claimed it (the first such claim survives, the others are folded into it)."""
    if reporter is None or all(c["claimed_by"] == reporter for c in claims):
        return
    keep, *rest = sorted(claims, key=lambda c: c["id"])
    if rest:
        await MerchantIdentifier.delete().where(MerchantIdentifier.id.is_in([c["id"] for c in rest]))
    await _confirm_row(keep)


async def _confirm_row(row: dict[str, Any]) -> None:
    # A strong key taken by another merchant meanwhile raises a unique violation: the use case
    # retries and then sees it (and proposes a merge) instead.
    await MerchantIdentifier.update(
        {
            MerchantIdentifier.status: CONFIRMED,
            MerchantIdentifier.match_key: row["claim_key"],
            MerchantIdentifier.claim_key: None,
        }
    ).where(MerchantIdentifier.id == row["id"])


async def propose_merge(merchant_a: int, merchant_b: int, keys: Sequence[str]) -> None:
    a, b = sorted((merchant_a, merchant_b))
    await MergeProposal.insert(
        MergeProposal(merchant_a=a, merchant_b=b, match_keys=sorted(set(keys)))
    ).on_conflict(target=(MergeProposal.merchant_a, MergeProposal.merchant_b), action="DO NOTHING")


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
            .where(MerchantAlias.merchant.is_in(list(merchant_ids)) & (MerchantAlias.status == CONFIRMED))
            .order_by(MerchantAlias.id)
        )
        for r in rows:
            out[r["merchant"]].append(r["name"])
    return out


async def get_or_raise(merchant_id: int) -> MerchantRead:
    """The public merchant page: confirmed names, masked confirmed identifiers (claims are for
    organizers and moderators: :func:`claims`). Its cases are the cases domain's to add
    (:func:`chorus.cases.service.merchant_page`)."""
    row = (
        await Merchant.select(Merchant.id, Merchant.name, Merchant.merged_into)
        .where(Merchant.id == merchant_id)
        .first()
    )
    if row is None:
        raise NotFound("merchant_not_found")
    idents = (
        await MerchantIdentifier.select(MerchantIdentifier.kind, MerchantIdentifier.value)
        .where((MerchantIdentifier.merchant == merchant_id) & (MerchantIdentifier.status == CONFIRMED))
        .order_by(MerchantIdentifier.id)
    )
    aliases = (await _aliases([merchant_id]))[merchant_id]
    return MerchantRead(
        id=row["id"],
        name=row["name"],
        aliases=[a for a in aliases if a != row["name"]],
        identifiers=[_masked(i["kind"], i["value"]) for i in idents],
        cases=[],
        merged_into=row["merged_into"],
    )


async def vouched_for(merchant_id: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The merchant's confirmed names and identifiers ``(kind, value)``, unmasked: what may be
    said about it to a regulator (a claim is one reporter's word, possibly about another shop)."""
    aliases = (
        await MerchantAlias.select(MerchantAlias.name)
        .where((MerchantAlias.merchant == merchant_id) & (MerchantAlias.status == CONFIRMED))
        .order_by(MerchantAlias.id)
    )
    idents = (
        await MerchantIdentifier.select(MerchantIdentifier.kind, MerchantIdentifier.value)
        .where((MerchantIdentifier.merchant == merchant_id) & (MerchantIdentifier.status == CONFIRMED))
        .order_by(MerchantIdentifier.id)
    )
    return [a["name"] for a in aliases], [(i["kind"], i["value"]) for i in idents]


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


# Name search: candidates the database picks (best first, by the tiers below), ranked again here
# with the same tiers and names.name_similarity within a tier.
SEARCH_CANDIDATES = 200
# On PostgreSQL, of the names containing what was typed, the first SEARCH_PRESELECT in tier
# order, shortest first within a tier, are ranked by trigram similarity for the candidates. The
# similarity of a name containing a fragment falls as the name grows, and a common fragment
# ("数码") is in thousands of names:
# similarity() of each cost more than the rest of the search (bench.resolve at 1,000,000
# identifiers, that statement for "数码" in 5,350 names: 45 -> 29 ms). Merchants merged away are
# found through the partial index merchant_merged_away (migration 2026-12-05T10:40:00).
SEARCH_PRESELECT = 1000
# On PostgreSQL the name keys are searched through pg_trgm GIN indexes (migrations
# 2026-12-01T22:46:29 and 2026-12-02T01:15:00): a trigram index cannot serve a two-character
# fragment ("星辰" has no trigram), so name_key is indexed *doubled* ("星辰" → "星星辰辰", the
# column name_doubled, kept on write by _alias_row): a fragment of two or more characters,
# doubled, has trigrams, and it is a substring of a doubled key exactly when the fragment is a
# substring of the key. (Stored, not computed per candidate row as regexp_replace was.)
SEARCH_DOUBLED = "a.name_doubled"
_NAME_TIER = (
    "CASE WHEN a.name_key = {} OR a.pinyin_key = {} THEN 0 WHEN a.name_key LIKE {} THEN 1 "
    "WHEN a.name_key LIKE {} THEN 2 WHEN a.pinyin_key LIKE {} THEN 3 WHEN a.pinyin_key LIKE {} THEN 4 "
    "ELSE 5 END"
)


def _name_tier(core: str, pinyin: str, name_key: str, pinyin_key: str) -> int:
    """What kind of name match an alias is (lower is better): the same name (typed in pinyin:
    the same pinyin), a name starting with what was typed, containing it, a pinyin starting with
    or containing its pinyin (a homophone), merely similar. _NAME_TIER says the same in SQL."""
    if name_key == core or (core == pinyin and pinyin_key == pinyin):
        return 0
    if name_key.startswith(core):
        return 1
    if core in name_key:
        return 2
    if pinyin and pinyin_key.startswith(pinyin):
        return 3
    if pinyin and pinyin in pinyin_key:
        return 4
    return 5


async def _name_candidates(core: str, pinyin: str, enough: int) -> list[dict[str, Any]]:
    """Confirmed names of merchants not merged away that contain ``core`` or whose pinyin
    contains ``pinyin`` (for one character, or fewer than three letters of pinyin: start with
    it), and on PostgreSQL names similar by trigrams too: at most SEARCH_CANDIDATES, best tier
    first. Names only similar rank below every name that contains what was typed, so they are
    looked for (a second statement, the costly one: a short fragment's trigrams are in many
    names) only when fewer than ``enough`` merchants contain it (``enough`` 0: never)."""
    pinyin = pinyin or core
    pinyin_like = f"%{pinyin}%" if len(core) >= 2 and len(pinyin) >= 3 else f"{pinyin}%"
    core_like = f"%{core}%" if len(core) >= 2 else f"{core}%"
    # the same pinyin is the same name only when pinyin was typed (else a homophone: tier 3)
    same_pinyin = pinyin if core == pinyin else None
    tier_args = [core, same_pinyin, f"{core}%", f"%{core}%", f"{pinyin}%", f"%{pinyin}%"]
    select = (
        "SELECT a.merchant, a.name, a.name_key, a.pinyin_key, m.name AS display "
        "FROM merchant_alias a JOIN merchant m ON m.id = a.merchant "
        "WHERE a.status = 'confirmed' AND m.merged_into IS NULL AND "
    )
    if db.is_sqlite():
        sql = (
            f"{select}(a.name_key LIKE {{}} OR a.pinyin_key LIKE {{}} OR a.pinyin_key = {{}}) "
            f"ORDER BY {_NAME_TIER}, length(a.name_key), a.merchant LIMIT {SEARCH_CANDIDATES}"
        )
        rows: list[dict[str, Any]] = await db.fetch(
            MerchantAlias, sql, core_like, pinyin_like, pinyin, *tier_args
        )
        return rows
    twice = doubled(core)
    pattern = f"%{twice}%" if len(core) >= 2 else f"{twice}%"

    async def containing() -> list[dict[str, Any]]:
        # the first SEARCH_PRESELECT by tier and length (names, then pinyin: how the ranking here
        # scores a name containing what was typed), then ranked by trigram similarity
        shortest = "tier, length(a.name_key), length(a.pinyin_key), a.merchant"
        best = "tier, alike DESC, length(name_key), merchant"
        sql = (
            "SELECT merchant, name, name_key, pinyin_key, display FROM ("  # noqa: S608
            f"SELECT b.*, similarity(b.name_doubled, {{}}) AS alike FROM ("
            f"SELECT a.merchant, a.name, a.name_key, a.pinyin_key, a.name_doubled, {_NAME_TIER} AS tier "
            "FROM merchant_alias a WHERE a.status = 'confirmed' "
            f"AND ({SEARCH_DOUBLED} LIKE {{}} OR a.pinyin_key LIKE {{}} OR a.pinyin_key = {{}}) "
            "AND NOT EXISTS (SELECT FROM merchant x WHERE x.id = a.merchant AND x.merged_into IS NOT NULL) "
            f"ORDER BY {shortest} LIMIT {SEARCH_PRESELECT}) b ORDER BY {best} LIMIT {SEARCH_CANDIDATES}) c "
            f"JOIN LATERAL (SELECT m.name AS display FROM merchant m WHERE m.id = c.merchant) m ON true "
            f"ORDER BY {best}"
        )
        found: list[dict[str, Any]] = await db.fetch(
            MerchantAlias, sql, twice, *tier_args, pattern, pinyin_like, pinyin
        )
        return found

    async def similar_too() -> list[dict[str, Any]]:
        # and names similar by trigrams (pg_trgm's % on the doubled keys): the fragment has trigrams
        sql = (
            f"{select}({SEARCH_DOUBLED} LIKE {{}} OR a.pinyin_key LIKE {{}} OR a.pinyin_key = {{}} "
            f"OR {SEARCH_DOUBLED} % {{}}) "
            f"ORDER BY {_NAME_TIER}, similarity({SEARCH_DOUBLED}, {{}}) DESC, length(a.name_key), a.merchant "
            f"LIMIT {SEARCH_CANDIDATES}"
        )
        found: list[dict[str, Any]] = await db.fetch(
            MerchantAlias, sql, pattern, pinyin_like, pinyin, twice, *tier_args, twice
        )
        return found

    rows = await containing()
    if enough and len(core) >= 2 and len({r["merchant"] for r in rows}) < enough:
        rows = await similar_too()
    return rows


async def search(q: str, limit: int = 20) -> list[MerchantSummary]:
    """Public lookup by name or any identifier (normalized first), ranked: merchants holding the
    identifier typed first, then names by :func:`_name_tier`, and within a tier by
    names.name_similarity. Each merchant says what the query matched on (identifier kinds as
    the match keys name them, or ``name``). The open case and its member count are the cases
    domain's to add (:func:`chorus.cases.service.search_merchants`)."""
    q = q.replace(NUL, "").strip()[:200]  # (no name or identifier holds one: chorus.inputs)
    if not q:
        return []
    titles: dict[int, str] = {}
    matched: dict[int, set[str]] = defaultdict(set)
    by_identifier: list[int] = []
    keys = _query_identifiers(q)
    if keys:
        rows = await MerchantIdentifier.select(
            MerchantIdentifier.merchant, MerchantIdentifier.match_key, MerchantIdentifier.merchant.name
        ).where(MerchantIdentifier.match_key.is_in(keys) & MerchantIdentifier.merchant.merged_into.is_null())
        for r in sorted(rows, key=lambda r: r["merchant"]):
            by_identifier.append(r["merchant"])
            titles[r["merchant"]] = r["merchant.name"]
            matched[r["merchant"]].add(r["match_key"].partition(":")[0])
    core = names.core_name(q)
    best: dict[int, tuple[int, float, int]] = {}  # merchant → (tier, -similarity, len)
    if core:
        pinyin = names.pinyin_key(q)
        # what was typed is a merchant's identifier: names merely similar to a phone number or
        # an address are noise below it, and the costly part of a search (bench.resolve)
        rows = await _name_candidates(core, pinyin, enough=0 if by_identifier else limit)
        alike = names.similar_keys(core, pinyin, [(r["name_key"], r["pinyin_key"]) for r in rows])
        for i, r in enumerate(rows):
            mid = r["merchant"]
            titles.setdefault(mid, r["display"])
            matched[mid].add("name")
            rank = (
                _name_tier(core, pinyin, r["name_key"], r["pinyin_key"]),
                -alike.get(i, 0.0),
                len(r["name_key"]),
            )
            if mid not in best or rank < best[mid]:
                best[mid] = rank
    first = set(by_identifier)
    by_name = sorted((m for m in best if m not in first), key=lambda m: (best[m], m))
    ordered = list(dict.fromkeys([*by_identifier, *by_name]))[:limit]
    if not ordered:
        return []
    aliases = await _aliases(ordered)
    return [
        MerchantSummary(
            id=m,
            name=titles[m],
            aliases=[a for a in aliases.get(m, []) if a != titles[m]],
            open_case_id=None,
            member_count=0,
            matched_on=sorted(matched[m], key=lambda k: (k == "name", k)),
        )
        for m in ordered
    ]


# --- claims: for organizers and moderators -------------------------------------------------


def _claimant(row: dict[str, Any], prefix: str) -> ClaimantRef | None:
    if row[f"{prefix}claimed_by"] is None:
        return None
    return ClaimantRef(
        id=row[f"{prefix}claimed_by"], display_name=row[f"{prefix}claimed_by.display_name"] or ""
    )


def _reviewed_identifier(row: dict[str, Any]) -> ReviewedIdentifierRead:
    return ReviewedIdentifierRead(
        id=row["id"],
        kind=row["kind"],
        value=row["value"],
        status=row["status"],
        claimed_by=_claimant(row, ""),
        claimed_at=row["claimed_at"],
    )


_IDENTIFIER_REVIEW = (
    MerchantIdentifier.id,
    MerchantIdentifier.kind,
    MerchantIdentifier.value,
    MerchantIdentifier.status,
    MerchantIdentifier.claimed_by,
    MerchantIdentifier.claimed_by.display_name,
    MerchantIdentifier.claimed_at,
)
_ALIAS_REVIEW = (
    MerchantAlias.id,
    MerchantAlias.name,
    MerchantAlias.status,
    MerchantAlias.claimed_by,
    MerchantAlias.claimed_by.display_name,
    MerchantAlias.claimed_at,
)


async def require_exists(merchant_id: int) -> None:
    if not await Merchant.exists().where(Merchant.id == merchant_id):
        raise NotFound("merchant_not_found")


async def claims(merchant_id: int, *, claimants: set[int] | None = None) -> ClaimList:
    """The merchant's claimed identifiers (unmasked) and names, with who claimed them; only
    those claimed by ``claimants`` when given. The caller decides who may see them (moderators
    all, an organizer those of their own cases' members)."""
    ident_where = (MerchantIdentifier.merchant == merchant_id) & (MerchantIdentifier.status == CLAIMED)
    alias_where = (MerchantAlias.merchant == merchant_id) & (MerchantAlias.status == CLAIMED)
    if claimants is not None:
        ident_where &= MerchantIdentifier.claimed_by.is_in(sorted(claimants) or [0])
        alias_where &= MerchantAlias.claimed_by.is_in(sorted(claimants) or [0])
    idents = (
        await MerchantIdentifier.select(*_IDENTIFIER_REVIEW)
        .where(ident_where)
        .order_by(MerchantIdentifier.id)
    )
    aliases = await MerchantAlias.select(*_ALIAS_REVIEW).where(alias_where).order_by(MerchantAlias.id)
    return ClaimList(
        merchant_id=merchant_id,
        identifiers=[_reviewed_identifier(dict(r)) for r in idents],
        aliases=[
            ReviewedAliasRead(
                id=r["id"],
                name=r["name"],
                status=r["status"],
                claimed_by=_claimant(dict(r), ""),
                claimed_at=r["claimed_at"],
            )
            for r in aliases
        ],
    )


async def confirm_identifier(merchant_id: int, identifier_id: int) -> ReviewedIdentifierRead:
    """A moderator vouches for a claimed identifier: from now on it matches reports (inside
    the caller's transaction). 409 when it is confirmed already, or its key now belongs to
    another merchant (merge the two merchants instead)."""
    row = (
        await MerchantIdentifier.select(
            MerchantIdentifier.id, MerchantIdentifier.status, MerchantIdentifier.claim_key
        )
        .where((MerchantIdentifier.id == identifier_id) & (MerchantIdentifier.merchant == merchant_id))
        .first()
    )
    if row is None:
        raise NotFound("identifier_not_found")
    if row["status"] != CLAIMED:
        raise Conflict("identifier_not_claimed")
    key = row["claim_key"]
    if key is not None:
        holder = (
            await MerchantIdentifier.select(MerchantIdentifier.merchant)
            .where(MerchantIdentifier.match_key == key)
            .first()
        )
        if holder is not None:
            raise Conflict("identifier_taken", merchant_id=holder["merchant"])
        # the same key claimed twice for this merchant (a merge brought both): one row is enough
        await MerchantIdentifier.delete().where(
            (MerchantIdentifier.merchant == merchant_id)
            & (MerchantIdentifier.claim_key == key)
            & (MerchantIdentifier.id != identifier_id)
        )
    await _confirm_row(dict(row))
    confirmed = (
        await MerchantIdentifier.select(*_IDENTIFIER_REVIEW)
        .where(MerchantIdentifier.id == identifier_id)
        .first()
    )
    assert confirmed is not None
    return _reviewed_identifier(dict(confirmed))


async def confirm_alias(merchant_id: int, alias_id: int) -> ReviewedAliasRead:
    """A moderator vouches for a claimed name: it becomes a public name of the merchant."""
    row = (
        await MerchantAlias.select(MerchantAlias.id, MerchantAlias.status)
        .where((MerchantAlias.id == alias_id) & (MerchantAlias.merchant == merchant_id))
        .first()
    )
    if row is None:
        raise NotFound("alias_not_found")
    if row["status"] != CLAIMED:
        raise Conflict("alias_not_claimed")
    await MerchantAlias.update({MerchantAlias.status: CONFIRMED}).where(MerchantAlias.id == alias_id)
    r = await MerchantAlias.select(*_ALIAS_REVIEW).where(MerchantAlias.id == alias_id).first()
    assert r is not None
    return ReviewedAliasRead(
        id=r["id"],
        name=r["name"],
        status=r["status"],
        claimed_by=_claimant(dict(r), ""),
        claimed_at=r["claimed_at"],
    )


async def move_names_and_identifiers(source_id: int, target_id: int) -> None:
    """A merge: the source's identifiers and names become the target's, claims staying claims
    (inside the caller's transaction). A claim the target already holds confirmed is dropped."""
    await MerchantIdentifier.update({MerchantIdentifier.merchant: target_id}).where(
        MerchantIdentifier.merchant == source_id
    )
    claimed = await MerchantIdentifier.select(MerchantIdentifier.id, MerchantIdentifier.claim_key).where(
        (MerchantIdentifier.merchant == target_id) & MerchantIdentifier.claim_key.is_not_null()
    )
    if claimed:
        held = {
            r["match_key"]
            for r in await MerchantIdentifier.select(MerchantIdentifier.match_key).where(
                MerchantIdentifier.match_key.is_in(sorted({c["claim_key"] for c in claimed}))
                & (MerchantIdentifier.merchant == target_id)
            )
        }
        stale = [c["id"] for c in claimed if c["claim_key"] in held]
        if stale:
            await MerchantIdentifier.delete().where(MerchantIdentifier.id.is_in(stale))
    rows = await MerchantAlias.select(
        MerchantAlias.name, MerchantAlias.status, MerchantAlias.claimed_by, MerchantAlias.claimed_at
    ).where(MerchantAlias.merchant == source_id)
    for alias in rows:
        row = _alias_row(target_id, alias["name"])
        if row is None:
            continue
        row.status, row.claimed_by, row.claimed_at = alias["status"], alias["claimed_by"], alias["claimed_at"]
        if not await _insert_alias(row) and alias["status"] == CONFIRMED:
            # the source knew the name for sure: the target's claim of it stands confirmed
            await MerchantAlias.update({MerchantAlias.status: CONFIRMED}).where(_same_alias(row))


async def info(merchant_id: int) -> MerchantRef | None:
    """The merchant's id and display name; None when there is no such merchant."""
    row = await Merchant.select(Merchant.id, Merchant.name).where(Merchant.id == merchant_id).first()
    return MerchantRef(id=row["id"], name=row["name"]) if row else None


async def lock_for_merge(source_id: int, target_id: int) -> None:
    """Both merchants exist and neither is merged yet (inside the caller's transaction); on
    PostgreSQL their rows stay locked until it ends."""
    query = (
        Merchant.select(Merchant.id, Merchant.merged_into)
        .where(Merchant.id.is_in([source_id, target_id]))
        .order_by(Merchant.id)
    )
    if not db.is_sqlite():
        # Concurrent merges of the same merchants queue here and see each other's result
        # (A into B and B into A at once would otherwise both pass the checks below).
        query = query.lock_rows("NO KEY UPDATE")
    found = {r["id"]: r for r in await query}
    for mid, field_name in ((source_id, "source_id"), (target_id, "target_id")):
        if mid not in found:
            raise NotFound("merchant_not_found", field=field_name)
        if found[mid]["merged_into"] is not None:
            raise Conflict("merchant_already_merged", field=field_name)


async def mark_merged(source_id: int, target_id: int) -> None:
    """The source is kept for history, marked merged into the target (caller's transaction)."""
    await Merchant.update({Merchant.merged_into: target_id, Merchant.merged_at: datetime.now(UTC)}).where(
        Merchant.id == source_id
    )


# --- merge proposals: decided by moderators ------------------------------------------------


async def list_proposals(status: str | None = "open") -> MergeProposalList:
    query = MergeProposal.select(
        MergeProposal.id,
        MergeProposal.merchant_a,
        MergeProposal.merchant_a.name,
        MergeProposal.merchant_b,
        MergeProposal.merchant_b.name,
        MergeProposal.match_keys,
        MergeProposal.status,
        MergeProposal.created_at,
        MergeProposal.decided_at,
    ).order_by(MergeProposal.id)
    if status:
        query = query.where(MergeProposal.status == status)
    rows = await query.output(load_json=True)
    return MergeProposalList(
        items=[
            MergeProposalRead(
                id=r["id"],
                merchant_a=MerchantRef(id=r["merchant_a"], name=r["merchant_a.name"]),
                merchant_b=MerchantRef(id=r["merchant_b"], name=r["merchant_b.name"]),
                # only the kinds: the values may be personal (a phone, a bank card)
                matched_on=sorted({k.split(":", 1)[0] for k in r["match_keys"] or []}),
                status=r["status"],
                created_at=r["created_at"],
                decided_at=r["decided_at"],
            )
            for r in rows
        ]
    )


async def open_proposal(proposal_id: int) -> tuple[int, int]:
    """The two merchants of an undecided proposal."""
    row = await MergeProposal.select().where(MergeProposal.id == proposal_id).first()
    if row is None:
        raise NotFound("proposal_not_found")
    if row["status"] != "open":
        raise Conflict("proposal_decided")
    return row["merchant_a"], row["merchant_b"]


async def reject_proposal(proposal_id: int, *, actor_id: int, note: str | None) -> None:
    """Inside the caller's transaction, after :func:`open_proposal`."""
    await MergeProposal.update(
        {
            MergeProposal.status: "rejected",
            MergeProposal.decided_by: actor_id,
            MergeProposal.decided_at: datetime.now(UTC),
            MergeProposal.note: note,
        }
    ).where(MergeProposal.id == proposal_id)


async def settle_proposals(source_id: int, target_id: int, *, actor_id: int, note: str | None) -> None:
    """After a merge: the proposal between the two is decided, the source's others now concern
    the target (caller's transaction)."""
    now = datetime.now(UTC)
    rows = await MergeProposal.select().where(
        (MergeProposal.status == "open")
        & ((MergeProposal.merchant_a == source_id) | (MergeProposal.merchant_b == source_id))
    )
    for p in rows:
        other = p["merchant_b"] if p["merchant_a"] == source_id else p["merchant_a"]
        if other == target_id:
            await MergeProposal.update(
                {
                    MergeProposal.status: "merged",
                    MergeProposal.decided_by: actor_id,
                    MergeProposal.decided_at: now,
                    MergeProposal.note: note,
                }
            ).where(MergeProposal.id == p["id"])
            continue
        # the proposal now concerns the survivor
        a, b = sorted((target_id, other))
        pair = (MergeProposal.merchant_a == a) & (MergeProposal.merchant_b == b)
        if await MergeProposal.exists().where(pair):
            await MergeProposal.delete().where(MergeProposal.id == p["id"])
        else:
            await MergeProposal.update({MergeProposal.merchant_a: a, MergeProposal.merchant_b: b}).where(
                MergeProposal.id == p["id"]
            )


# --- link proposals (issue 16 item 2) ---------------------------------------------------------


async def propose_link(merchant_id: int, name: str, keys: Sequence[str], *, case_id: int | None) -> None:
    """Inside the caller's transaction: a report reached ``merchant_id`` by the strong ``keys``
    under ``name``, a name the merchant did not bear; a moderator decides (once per name)."""
    key = alias_key(name)
    if key is None or not keys:
        return
    await LinkProposal.insert(
        LinkProposal(
            merchant=merchant_id, name=name.strip(), name_key=key, match_keys=sorted(set(keys)), case=case_id
        )
    ).on_conflict(target=(LinkProposal.merchant, LinkProposal.name_key), action="DO NOTHING")


async def proposals_waiting() -> tuple[int, int]:
    """How many merge proposals and name link proposals wait for a moderator (counted, not read)."""
    merges = await MergeProposal.count().where(MergeProposal.status == "open")
    links = await LinkProposal.count().where(LinkProposal.status == "open")
    return int(merges), int(links)


async def proposals_about(
    merge_ids: Sequence[int], link_ids: Sequence[int]
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, str]]]:
    """What proposals are about, decided or not: merge proposal id → its two merchants; name link
    proposal id → its merchant and the name."""
    merges = (
        await MergeProposal.select(
            MergeProposal.id, MergeProposal.merchant_a, MergeProposal.merchant_b
        ).where(MergeProposal.id.is_in(list(merge_ids)))
        if merge_ids
        else []
    )
    links = (
        await LinkProposal.select(LinkProposal.id, LinkProposal.merchant, LinkProposal.name).where(
            LinkProposal.id.is_in(list(link_ids))
        )
        if link_ids
        else []
    )
    return (
        {r["id"]: (r["merchant_a"], r["merchant_b"]) for r in merges},
        {r["id"]: (r["merchant"], r["name"]) for r in links},
    )


async def list_link_proposals(status: str | None = "open") -> LinkProposalList:
    query = LinkProposal.select(
        LinkProposal.id,
        LinkProposal.merchant,
        LinkProposal.merchant.name,
        LinkProposal.name,
        LinkProposal.match_keys,
        LinkProposal.case,
        LinkProposal.status,
        LinkProposal.created_at,
        LinkProposal.decided_at,
    ).order_by(LinkProposal.id)
    if status:
        query = query.where(LinkProposal.status == status)
    rows = await query.output(load_json=True)
    return LinkProposalList(
        items=[
            LinkProposalRead(
                id=r["id"],
                merchant=MerchantRef(id=r["merchant"], name=r["merchant.name"]),
                name=r["name"],
                matched_on=sorted({str(k).split(":", 1)[0] for k in r["match_keys"] or []}),
                case_id=r["case"],
                status=r["status"],
                created_at=r["created_at"],
                decided_at=r["decided_at"],
            )
            for r in rows
        ]
    )


async def decide_link(proposal_id: int, *, confirm: bool, actor_id: int) -> int:
    """Inside the caller's transaction: confirm (the name stays one of the merchant's) or reject
    (the name is no longer shown as the merchant's: its alias goes back to claimed, reviewable).
    Returns the merchant's id. 404 ``link_proposal_not_found``, 409 ``link_proposal_decided``."""
    row = await LinkProposal.select().where(LinkProposal.id == proposal_id).first()
    if row is None:
        raise NotFound("link_proposal_not_found")
    if row["status"] != "open":
        raise Conflict("link_proposal_decided")
    await LinkProposal.update(
        {
            LinkProposal.status: "confirmed" if confirm else "rejected",
            LinkProposal.decided_by: actor_id,
            LinkProposal.decided_at: datetime.now(UTC),
        }
    ).where(LinkProposal.id == proposal_id)
    if not confirm:
        await MerchantAlias.update({MerchantAlias.status: CLAIMED}).where(
            (MerchantAlias.merchant == row["merchant"]) & (MerchantAlias.name_key == row["name_key"])
        )
    merchant_id: int = row["merchant"]
    return merchant_id
