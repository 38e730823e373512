"""Case use cases: report a merchant (join or open its case), membership, organizers, status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from asyncpg.exceptions import DeadlockDetectedError
from piccolo.custom_types import Combinable
from piccolo.query.functions.aggregate import Count
from piccolo.utils.encoding import dump_json

from chorus import db, freshness, jobs, money
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases.schemas import (
    CaseGrowth,
    CaseRead,
    CaseStatusUpdate,
    GrowthPoint,
    MemberList,
    MemberRead,
    MembershipRead,
    MembershipUpdate,
    MoneyIn,
    MoneyRead,
    MyCaseList,
    MyCaseRead,
    ReportCreate,
    ReportRead,
    TimelineEntry,
)
from chorus.cases.tables import Case, CaseEvent, Membership
from chorus.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from chorus.ladder import steps as ladder
from chorus.markdown import render
from chorus.merchants import reappearance
from chorus.merchants import service as merchants
from chorus.merchants.identifiers import Identifier
from chorus.merchants.schemas import (
    CaseBrief,
    IdentifierIn,
    IdentifierRead,
    MerchantRead,
    MerchantRef,
    MerchantSummary,
    ReappearanceWarning,
    ResolveRead,
)

OPEN = ("gathering", "filing")
TRANSITIONS = {"gathering": {"filing", "closed"}, "filing": {"gathering", "closed"}, "closed": set()}
EARLIEST_INCIDENT = date(2000, 1, 1)
# Events members hear about (through the outbox → notifications); the rest only show on the timeline.
NOTIFY_KINDS = {
    "member_joined",
    "status_changed",
    "merged",
    "merchant_merged",
    "filing_status",
    "filing_reply",
}


# --- validation helpers --------------------------------------------------------------------


def parse_loss(loss: MoneyIn, field: str) -> tuple[Decimal, str]:
    try:
        return money.parse(loss.amount, loss.currency)
    except money.InvalidMoney as exc:
        raise Invalid(f"loss_{exc.reason}", field=f"{field}.{exc.field}") from exc


def check_incident_date(value: date, field: str) -> date:
    # The latest calendar date anywhere on Earth: a user east of UTC may already be "tomorrow".
    latest = (datetime.now(UTC) + timedelta(hours=14)).date()
    if value > latest:
        raise Invalid("date_in_future", field=field)
    if value < EARLIEST_INCIDENT:
        raise Invalid("date_too_old", field=field)
    return value


def clean_order_refs(refs: Sequence[str], field: str) -> list[str]:
    out: list[str] = []
    errors = []
    for i, ref in enumerate(refs):
        text = " ".join(str(ref).split())
        if not text or len(text) > 100:
            errors.append(FieldError(f"{field}[{i}]", "order_ref_invalid"))
        elif text not in out:
            out.append(text)
    if errors:
        raise Invalid("order_ref_invalid", errors=errors)
    return out


def _money(amount: Decimal, currency: str) -> MoneyRead:
    return MoneyRead(amount=money.as_string(amount, currency), currency=currency)


# --- events ----------------------------------------------------------------------------------


async def add_event(case_id: int, kind: str, *, quiet: bool = False, **data: Any) -> int:
    """Append to the public timeline (inside the caller's transaction); members are told
    through the outbox when the kind is one they care about (unless ``quiet``)."""
    rows = await db.fetch(
        CaseEvent,  # a plain statement: every write to a case adds one (db.placeholders)
        'INSERT INTO case_event ("case", at, kind, data) VALUES ({}, {}, {}, {}) RETURNING id',
        case_id,
        datetime.now(UTC),
        kind,
        dump_json(data),
    )
    event_id: int = rows[0]["id"]
    if kind in NOTIFY_KINDS and not quiet:
        await jobs.defer(jobs.Job.notify_case_event, f"case-event:{event_id}", event_id=event_id)
    return event_id


# --- reporting -------------------------------------------------------------------------------


async def report(*, actor: UserRead, data: ReportCreate) -> ReportRead:
    """Join the open case of the matched merchant (or ``case_id``), or open a new one.

    Race-safe: unique constraints on identifiers, on the open case per merchant and on the
    membership make concurrent reports of one new merchant converge on one merchant and one
    case; the losers of a race retry and find what the winner created."""
    if not actor.email_verified:
        raise Forbidden("email_not_verified")
    identifiers = merchants.normalize_all(data.merchant.identifiers, "merchant.identifiers")
    amount, currency = parse_loss(data.loss, "loss")
    incident = check_incident_date(data.incident_date, "incident_date")
    order_refs = clean_order_refs(data.order_refs, "order_refs")
    reported = [{"kind": i.kind.value, "value": i.value} for i in identifiers]

    async def attempt() -> ReportRead:
        async with db.transaction():
            matches = await merchants.find_matches(identifiers, name=data.merchant.name)
            created_merchant = False
            if data.case_id is not None:
                case = (
                    await Case.select(Case.id, Case.merchant, Case.status, Case.merged_into)
                    .where(Case.id == data.case_id)
                    .first()
                )
                if case is None:
                    raise NotFound("case_not_found", field="case_id")
                if case["status"] not in OPEN:
                    raise Conflict("case_closed", field="case_id")
                merchant_id: int = case["merchant"]
                conflicts = sorted(m for m in matches.by_merchant if m != merchant_id)
                # Joined by the case's id, not by a match (no confirmed identifier of the report
                # is the merchant's): what the report adds to the merchant is only claimed, until
                # another reporter names it too or a moderator confirms it. (A report that does
                # share one would join by that match anyway, case_id or not.)
                claim = merchant_id not in matches.by_merchant
            else:
                if matches.best() is None:
                    # Reports of one new merchant arriving together queue here, and all but the
                    # first find the merchant it created instead of failing on its keys.
                    matches = await merchants.find_or_hold(
                        identifiers, name=data.merchant.name, known=matches
                    )
                best = matches.best()
                conflicts = matches.others()
                if best is None:
                    merchant_id = await merchants.create(name=data.merchant.name)
                    created_merchant = True
                else:
                    merchant_id = best
                claim = False
            await merchants.add_identifiers(
                merchant_id,
                identifiers,
                strict=created_merchant,
                reporter=actor.id,
                claim=claim,
                known=matches,
            )
            # (create() recorded the name; a name the merchant bears, confirmed, is recorded already)
            renamed = not created_merchant and not matches.knows_name(merchant_id)
            if renamed:
                await merchants.add_alias(merchant_id, data.merchant.name, reporter=actor.id, claim=claim)
            for other in conflicts:
                shared = matches.keys_by_merchant.get(other, set())
                await merchants.propose_merge(merchant_id, other, sorted(shared))

            # the cases of the merchant and of those the report shares strong identifiers with
            # (without their sizes: the warnings count theirs): one statement, none for a new merchant
            tied = {merchant_id, *_strong_matches(matches)} if not created_merchant else set()
            known_cases = await merchant_cases(sorted(tied), sizes=False) if tied else []
            case_id = data.case_id or next(
                (r["id"] for r in known_cases if r["merchant"] == merchant_id and r["status"] in OPEN), None
            )
            created_case = case_id is None
            if case_id is None:
                rows = await Case.insert(Case(merchant=merchant_id)).returning(Case.id)
                case_id = rows[0]["id"]
                await add_event(case_id, "opened")
                await audit.record("case.opened", actor_id=actor.id, object_type="case", object_id=case_id)
            else:
                # written before the case is held, so that joins queue only for what must take turns
                await add_event(case_id, "member_joined")  # organizers are told
            # issue 16 item 2: the reporter is warned, and the earlier cases' organizers are told
            # through the outbox in this transaction, so the notice is never lost after a report
            # (read and written before the case is held: joins take turns only for their numbers)
            warned = await _reappearances(
                data.merchant.name,
                own_case=case_id if created_case else None,
                found=matches,
                cases=known_cases,
            )
            await _tell_earlier_cases(
                warned, name=data.merchant.name, merchant_id=merchant_id, case_id=case_id
            )
            if renamed and not claim:
                # reached by a strong identifier under a name the merchant did not bear: a moderator
                # confirms or rejects the link (the name stays listed meanwhile; nothing is merged)
                strong = [
                    k
                    for k in matches.keys_by_merchant.get(merchant_id, set())
                    if str(k).partition(":")[0] in REAPPEAR_KINDS
                ]
                await merchants.propose_link(merchant_id, data.merchant.name, strong, case_id=case_id)
            # a plain statement (db.placeholders): every report writes one
            rows = await db.fetch(
                Membership,
                'INSERT INTO membership ("case", "user", role, loss_amount, loss_currency, incident_date, '  # noqa: S608
                f"order_refs, statement, identifiers, joined_at) VALUES ({db.placeholders(10)}) "
                'ON CONFLICT ("case", "user") DO NOTHING RETURNING id',
                case_id,
                actor.id,
                "organizer" if created_case else "member",
                amount,
                currency,
                incident,
                dump_json(order_refs),
                data.statement,
                dump_json(reported),
                datetime.now(UTC),
            )
            if not rows:
                raise Conflict("already_member")
            membership_id: int = rows[0]["id"]
            await audit.record(
                "case.joined",
                actor_id=actor.id,
                object_type="case",
                object_id=case_id,
                membership_id=membership_id,
                merge_proposals=len(conflicts),
            )
            # the case, its merchant and any merchant the report's identifiers match (their
            # pages' reappearance alerts read the others' cases) are shown anew; no other case
            freshness.case_changed(case_id, {merchant_id, *matches.by_merchant})
            if created_case:
                number = 1  # nobody sees the case before this transaction commits
                await add_event(case_id, "member_joined", quiet=True)
            else:
                # last: joins of one case take turns only for the hold and their commit
                number = await _hold_case(case_id, by_id=data.case_id is not None)
            return ReportRead(
                case_id=case_id,
                merchant_id=merchant_id,
                membership_id=membership_id,
                created_case=created_case,
                member_number=number,
                warnings=warned,
            )

    return await db.retry_on_conflict(lambda: _deadlock_is_stale(attempt), attempts=8)


# --- reappearance (issue 16 item 2) ------------------------------------------------------------

# Chorus's public is in China: a report's day is its day there (the web pages' default zone).
REPORT_DAY_ZONE = ZoneInfo("Asia/Shanghai")
# The identifiers that say "the same people took the money": a payee account, a card, a phone, a
# QQ or WeChat, a registration number. A name alone or a shared platform's domain never warns.
REAPPEAR_KINDS = frozenset({"alipay", "bank_card", "phone", "qq", "wechat", "uscc"})


def report_day(moment: datetime) -> date:
    return moment.astimezone(REPORT_DAY_ZONE).date()


async def _reappearances(
    name: str | None,
    *,
    own_case: int | None,
    found: merchants.Matches,
    cases: Sequence[dict[str, Any]],
) -> list[ReappearanceWarning]:
    """What a reporter is told when the report's strong identifiers were reported before: each
    case (with members) of a merchant holding one of them that is closed, or that was reported
    under another name than ``name``. ``found``: the report's matches (what earlier reports share
    with it, before it added its identifiers); ``cases``: :func:`merchant_cases` of (at least) the
    merchants it shares strong identifiers with (their sizes are not needed: only the cases warned
    of are counted, here). Counts and merchant names, never who reported."""
    shared = _strong_matches(found)
    if not shared:
        return []
    rows = [r for r in cases if r["merchant"] in shared]
    titles = {r["merchant"]: r["name"] for r in rows}
    reported_as = merchants.alias_key(name) if name else None
    warned = []
    for r in rows:
        mid = r["merchant"]
        if r["id"] == own_case:
            continue  # the reporter's own new case
        renamed = reported_as is not None and merchants.alias_key(titles.get(mid, "")) != reported_as
        if r["status"] != "closed" and not renamed:
            continue  # the same shop under the same name, still open: the report joins it
        warned.append(r)
    counts = await member_counts([r["id"] for r in warned]) if warned else {}
    out: list[ReappearanceWarning] = []
    for r in warned:
        mid = r["merchant"]
        if not counts.get(r["id"]):
            continue  # a case everyone left
        out.append(
            ReappearanceWarning(
                merchant_id=mid,
                name=titles.get(mid, ""),
                case_id=r["id"],
                member_count=counts[r["id"]],
                matched_on=sorted(shared[mid]),
                case_status=r["status"],
                first_reported=report_day(r["created_at"]),
                closed_on=report_day(r["closed_at"]) if r["closed_at"] else None,
            )
        )
    return out


def _strong_matches(found: merchants.Matches) -> dict[int, set[str]]:
    """merchant id → the strong identifier kinds (REAPPEAR_KINDS) the report shares with it."""
    shared = {m: kinds & REAPPEAR_KINDS for m, kinds in found.by_merchant.items()}
    return {m: kinds for m, kinds in shared.items() if kinds}


async def _tell_earlier_cases(
    warned: Sequence[ReappearanceWarning], *, name: str, merchant_id: int, case_id: int
) -> None:
    """Inside the report's transaction: the organizers of each earlier case a warning names are
    told (once per earlier case and new case: the job id); the report's own case is told by its
    member_joined event."""
    for w in warned:
        if w.case_id == case_id:
            continue
        source = f"reappeared:{w.case_id}:{case_id}"
        await jobs.defer(
            jobs.Job.notify_users,
            source,
            user_ids=[],
            kind="case.reappeared",
            case_id=w.case_id,
            data={
                "name": name,
                "merchant_id": merchant_id,
                "new_case_id": case_id,
                "matched_on": w.matched_on,
            },
            source=source,
            audience="organizers",
        )


async def _deadlock_is_stale(attempt: Callable[[], Awaitable[ReportRead]]) -> ReportRead:
    """A join references its case (its timeline event's foreign key) before it holds the case
    (:func:`_hold_case`): should a status change or merge waiting on that case make PostgreSQL
    roll the join back as a deadlock's victim, the report starts over."""
    try:
        return await attempt()
    except DeadlockDetectedError as exc:
        raise db.StaleRead() from exc


async def _hold_case(case_id: int, *, by_id: bool) -> int:
    """Hold the case a report joins until its transaction ends, and number the report's member:
    "you are the 24th member", distinct for simultaneous joins, in the order they held the case
    (members who left no longer count; members of a case merged in do, as the member count does).

    Called last, after the membership is written: joins to one case take turns only for this one
    statement and their commit. PostgreSQL: ``chorus_join_hold`` (migration 2026-12-02T09:30)
    holds the row FOR NO KEY UPDATE, so that a concurrent merge or closing cannot slip between
    choosing the case and joining it, and counts with a snapshot taken once held, so every earlier
    join is seen committed. Rows that merely reference the case (evidence, the timeline) are not
    held up. On SQLite the IMMEDIATE transaction already serializes writers. A case closed or
    merged away meanwhile: ``case_closed`` when the report named it, else the report starts over."""
    sql = (
        "SELECT status, members FROM chorus_join_hold({})"
        if not db.is_sqlite()
        else 'SELECT status, (SELECT count(*) FROM membership WHERE "case" = {}) AS members '
        "FROM group_case WHERE id = {}"
    )
    rows = await db.fetch(Case, sql, *([case_id] * sql.count("{}")))
    if not rows or rows[0]["status"] not in OPEN:
        if by_id:
            raise Conflict("case_closed", field="case_id")
        raise db.StaleRead()
    return int(rows[0]["members"])


# --- reads -----------------------------------------------------------------------------------


async def get_case_row(case_id: int) -> dict[str, Any]:
    row = (
        await Case.select(Case.id, Case.status, Case.merchant, Case.created_at, Case.merged_into)
        .where(Case.id == case_id)
        .first()
    )
    if row is None:
        raise NotFound("case_not_found")
    return dict(row)


async def case_ids_of(merchant_id: int) -> list[int]:
    """Every case of the merchant (open, closed, merged), ascending."""
    rows = await Case.select(Case.id).where(Case.merchant == merchant_id).order_by(Case.id)
    return [r["id"] for r in rows]


async def shown_anew(case_id: int, *, in_alerts: bool = False, in_merged: bool = False) -> None:
    """Inside a transaction that changed what the public sees of this case (its status, members,
    losses, filings or timeline): its summary, its merchant's answers and the search are made
    again (:mod:`chorus.freshness`). ``in_alerts``: its status or size changed, which a closed
    case shows in the reappearance alerts of the merchants an open proposal ties to its merchant
    (:func:`chorus.cases.public.reappeared`): their pages too. ``in_merged``: its filings changed,
    which the summaries of the cases it was folded into list as well (a merge moves every case of
    a merchant: they share the merchant)."""
    case = await get_case_row(case_id)
    merchant_ids = {case["merchant"]}
    if in_alerts and case["status"] == "closed":
        merchant_ids |= set(await reappearance.tied_merchants(case["merchant"]))
    freshness.case_changed(case_id, merchant_ids)
    into = case["merged_into"]
    for _ in range(MAX_MERGE_HOPS if in_merged else 0):
        if into is None:
            break
        freshness.case_changed(into, merchant_ids)
        into = (await get_case_row(into))["merged_into"]


def _membership(case_id: int, user_id: int) -> Combinable:
    """The user's membership of the case (at most one: the membership_once constraint)."""
    return (Membership.case == case_id) & (Membership.user == user_id)


async def membership_of(case_id: int, user_id: int) -> dict[str, Any] | None:
    row = await Membership.select().where(_membership(case_id, user_id)).first()
    return dict(row) if row else None


MAX_MERGE_HOPS = 20  # a merged case points at the case it was folded into; chains are short


async def require_member(case_id: int, *, actor: UserRead, through_merges: bool = False) -> dict[str, Any]:
    """The caller's membership; 404 for an unknown case, 403 for a non-member.

    ``through_merges``: a case merged into another keeps its history (complaints, filings);
    for reading it and recording what happens to its filings, a membership of the case it
    was folded into (where its members went) counts."""
    case = await get_case_row(case_id)
    m = await membership_of(case_id, actor.id)
    for _ in range(MAX_MERGE_HOPS if through_merges else 0):
        if m is not None or case["merged_into"] is None:
            break
        case = await get_case_row(case["merged_into"])
        m = await membership_of(case["id"], actor.id)
    if m is None:
        raise Forbidden("not_a_member")
    return m


async def require_organizer(case_id: int, *, actor: UserRead, through_merges: bool = False) -> dict[str, Any]:
    m = await require_member(case_id, actor=actor, through_merges=through_merges)
    if m["role"] != "organizer":
        raise Forbidden("organizers_only")
    return m


async def summary(case_id: int) -> CaseRead:
    """Public: merchant, member count, loss totals per currency, timeline. Its filings are the
    filings domain's to add (:func:`chorus.filings.service.case_read`)."""
    found = (await summaries([case_id])).get(case_id)
    if found is None:
        raise NotFound("case_not_found")
    return found


# Membership.loss_amount keeps 3 decimal places: sums are added up in thousandths, as integers, so
# that SQLite (which keeps the amounts as floating point) adds exactly, as PostgreSQL's numeric does.
_LOSS_SCALE = 3


async def loss_totals(case_ids: Sequence[int]) -> dict[int, tuple[int, list[MoneyRead]]]:
    """case id → (member count, total loss per currency, by currency code): one grouped
    statement; a case without members is absent."""
    if not case_ids:
        return {}
    marks = db.placeholders(len(case_ids))
    rows = await db.fetch(
        Membership,
        'SELECT "case" AS case_id, loss_currency AS currency, count(*) AS members, '  # noqa: S608
        f"sum(CAST(round(loss_amount * {10**_LOSS_SCALE}) AS BIGINT)) AS total "
        f'FROM membership WHERE "case" IN ({marks}) GROUP BY "case", loss_currency',
        *case_ids,
    )
    out: dict[int, tuple[int, list[MoneyRead]]] = {}
    for r in sorted(rows, key=lambda r: (r["case_id"], r["currency"])):
        count, totals = out.get(r["case_id"], (0, []))
        totals.append(_money(Decimal(int(r["total"])).scaleb(-_LOSS_SCALE), r["currency"]))
        out[r["case_id"]] = (count + int(r["members"]), totals)
    return out


async def summaries(case_ids: Sequence[int], *, timeline: bool = True) -> dict[int, CaseRead]:
    """:func:`summary` of each of these cases that exists, in three statements whatever their
    number (two without ``timeline``: the merchant check's results show none)."""
    if not case_ids:
        return {}
    ids = list(dict.fromkeys(case_ids))
    cases = await Case.select(
        Case.id,
        Case.status,
        Case.merchant,
        Case.merchant.name,  # type: ignore[union-attr]
        Case.created_at,
        Case.merged_into,
    ).where(Case.id.is_in(ids))
    totals = await loss_totals(ids)
    events: dict[int, list[TimelineEntry]] = {c["id"]: [] for c in cases}
    if timeline and cases:
        rows = (
            await CaseEvent.select(CaseEvent.case, CaseEvent.at, CaseEvent.kind, CaseEvent.data)
            .where(CaseEvent.case.is_in(list(events)))
            .order_by(CaseEvent.id)
            .output(load_json=True)
        )
        for e in rows:
            events[e["case"]].append(TimelineEntry(at=e["at"], kind=e["kind"], data=e["data"] or {}))
    out: dict[int, CaseRead] = {}
    for c in cases:
        count, total = totals.get(c["id"], (0, []))
        out[c["id"]] = CaseRead(
            id=c["id"],
            status=c["status"],
            merchant=MerchantRef(id=c["merchant"], name=c["merchant.name"]),
            member_count=count,
            total_loss=total,
            filings=[],
            timeline=events[c["id"]],
            created_at=c["created_at"],
            merged_into=c["merged_into"],
        )
    return out


async def with_folded(case_id: int) -> list[int]:
    """The case and the cases folded into it by merges (their filings carry on here)."""
    ids, frontier = [case_id], [case_id]
    for _ in range(MAX_MERGE_HOPS):
        merged = [r["id"] for r in await Case.select(Case.id).where(Case.merged_into.is_in(frontier))]
        if not merged:
            break
        ids += merged
        frontier = merged
    return ids


async def folded_into(case_ids: Sequence[int]) -> dict[int, int]:
    """The cases merges folded into these cases: case id → the case it was folded into."""
    if not case_ids:
        return {}
    rows = await Case.select(Case.id, Case.merged_into).where(Case.merged_into.is_in(list(case_ids)))
    return {r["id"]: r["merged_into"] for r in rows}


async def lock_for_update(case_id: int) -> dict[str, Any]:
    """The case row, locked until the caller's transaction ends (PostgreSQL; on SQLite the
    IMMEDIATE transaction already serializes writers)."""
    if not db.is_sqlite():
        row = await Case.select().where(Case.id == case_id).lock_rows("UPDATE").first()
        if row is None:
            raise NotFound("case_not_found")
        return dict(row)
    return await get_case_row(case_id)


async def begin_filing(case_id: int) -> None:
    """A complaint was filed: a gathering case moves to "filing" (inside the caller's transaction)."""
    case = await get_case_row(case_id)
    if case["status"] == "gathering":
        await Case.update({Case.status: "filing"}).where(Case.id == case_id)
        await add_event(case_id, "status_changed", status="filing")


async def members(case_id: int, *, actor: UserRead) -> MemberList:
    await require_organizer(case_id, actor=actor)
    rows = (
        await Membership.select(
            Membership.user,
            Membership.user.display_name,
            Membership.user.email,
            Membership.role,
            Membership.loss_amount,
            Membership.loss_currency,
            Membership.incident_date,
            Membership.order_refs,
            Membership.joined_at,
            Membership.consented_at,
            Membership.consent_complaint_id,
            Membership.consent_versions,
        )
        .where(Membership.case == case_id)
        .order_by(Membership.joined_at)
        .output(load_json=True)
    )
    return MemberList(
        items=[
            MemberRead(
                user_id=r["user"],
                display_name=r["user.display_name"],
                email=r["user.email"],
                role=r["role"],
                loss=_money(r["loss_amount"], r["loss_currency"]),
                incident_date=r["incident_date"],
                order_refs=r["order_refs"] or [],
                joined_at=r["joined_at"],
                consented_at=r["consented_at"],
                consented_complaint_id=r["consent_complaint_id"],
                consented_complaint_ids=version_ids(r["consent_versions"]),
            )
            for r in rows
        ]
    )


def version_ids(consent_versions: Any) -> list[int]:
    """The ids in a ``consent_versions`` column value (text or parsed), oldest first."""
    return sorted(int(v["id"]) for v in db.json_value(consent_versions) or [])


def _membership_read(m: dict[str, Any]) -> MembershipRead:
    refs = db.json_value(m["order_refs"])
    idents = db.json_value(m["identifiers"])
    return MembershipRead(
        id=m["id"],
        case_id=m["case"],
        role=m["role"],
        loss=_money(m["loss_amount"], m["loss_currency"]),
        incident_date=m["incident_date"],
        order_refs=refs or [],
        statement=m["statement"],
        statement_html=render(m["statement"]),
        identifiers=[IdentifierRead(**i) for i in idents or []],
        joined_at=m["joined_at"],
        consented_at=m["consented_at"],
        consented_complaint_id=m["consent_complaint_id"],
        consented_sha256=m["consent_sha256"],
        consented_complaint_ids=version_ids(m["consent_versions"]),
        paid_with=m["paid_with"],
        bought_on=m["bought_on"],
    )


async def my_membership(case_id: int, *, actor: UserRead) -> MembershipRead:
    return _membership_read(await require_member(case_id, actor=actor))


async def update_membership(case_id: int, *, actor: UserRead, data: MembershipUpdate) -> MembershipRead:
    changes: dict[Any, Any] = {}
    if data.loss is not None:
        amount, currency = parse_loss(data.loss, "loss")
        changes[Membership.loss_amount] = amount
        changes[Membership.loss_currency] = currency
    if data.incident_date is not None:
        changes[Membership.incident_date] = check_incident_date(data.incident_date, "incident_date")
    if data.order_refs is not None:
        changes[Membership.order_refs] = clean_order_refs(data.order_refs, "order_refs")
    if data.statement is not None:
        changes[Membership.statement] = data.statement
    _, offered = ladder.default_set()
    for column, value, choices in (
        (Membership.paid_with, data.paid_with, offered.paid_with),
        (Membership.bought_on, data.bought_on, offered.bought_on),
    ):
        if value is not None:
            if value and value not in choices:
                raise Invalid("ladder_choice_invalid", field=column._meta.name, choices=", ".join(choices))
            changes[column] = value or None
    async with db.transaction():
        m = await require_member(case_id, actor=actor)
        if data.loss is not None:  # the total loss is public; the rest of a membership is not
            freshness.case_changed(case_id, [(await get_case_row(case_id))["merchant"]])
        else:
            freshness.nothing_public()
        if changes:
            await Membership.update(changes).where(Membership.id == m["id"])
            await audit.record(
                "membership.updated",
                actor_id=actor.id,
                object_type="membership",
                object_id=m["id"],
                fields=sorted(data.model_dump(exclude_none=True)),
            )
    return await my_membership(case_id, actor=actor)


async def set_consent(
    case_id: int, *, actor: UserRead, consent: bool, versions: Sequence[dict[str, Any]]
) -> MembershipRead:
    """Agree to be named, and to the complaint ``versions`` the member read (``id``,
    ``sha256``; none before any version was built), read and checked by the caller
    (:func:`chorus.complaints.service.set_consent`); or withdraw (``consent=False``): no
    agreement is left. An agreement adds to those given before (each regulator's version is
    agreed to on its own); ``consent_complaint_id`` names the newest."""
    async with db.transaction():
        freshness.nothing_public()
        m = await require_member(case_id, actor=actor)
        agreed: dict[int, str] = {}
        if consent:
            before = db.json_value(m["consent_versions"]) or []  # empty while not consenting
            agreed = {int(v["id"]): v["sha256"] for v in [*before, *versions]}
        newest = max(agreed, default=None)
        shown = max(versions, key=lambda v: int(v["id"])) if consent and versions else None
        await Membership.update(
            {
                Membership.consented_at: datetime.now(UTC) if consent else None,
                Membership.consent_complaint_id: newest,
                # the full text's hash (a plain member reads a redacted view of it)
                Membership.consent_sha256: agreed[newest] if newest is not None else None,
                Membership.consent_versions: [{"id": i, "sha256": agreed[i]} for i in sorted(agreed)],
            }
        ).where(Membership.id == m["id"])
        await audit.record(
            "membership.consent",
            actor_id=actor.id,
            object_type="membership",
            object_id=m["id"],
            consent=consent,
            # the version agreed to now (the newest, when several) and every one of them
            complaint_id=shown["id"] if shown else None,
            sha256=shown["sha256"] if shown else None,
            versions=[{"id": v["id"], "sha256": v["sha256"]} for v in versions] if consent else [],
        )
    return await my_membership(case_id, actor=actor)


async def promote(case_id: int, *, actor: UserRead, user_id: int) -> MemberRead:
    async with db.transaction():
        freshness.nothing_public()  # roles are not public, but the timeline's "organizer added"
        await require_organizer(case_id, actor=actor)
        target = await membership_of(case_id, user_id)
        if target is None:
            raise NotFound("member_not_found", field="user_id")
        if target["role"] != "organizer":
            freshness.case_timeline_changed(case_id)
            await Membership.update({Membership.role: "organizer"}).where(Membership.id == target["id"])
            event_id = await add_event(case_id, "organizer_added")
            await jobs.defer(  # the new organizer is told (the public timeline names no one)
                jobs.Job.notify_users,
                f"organizer-added:{event_id}",
                user_ids=[user_id],
                kind="case.organizer_added",
                case_id=case_id,
                data={},
                source=f"organizer-added:{event_id}",
            )
            await audit.record(
                "case.organizer_promoted",
                actor_id=actor.id,
                object_type="case",
                object_id=case_id,
                user_id=user_id,
            )
    items = (await members(case_id, actor=actor)).items
    return next(i for i in items if i.user_id == user_id)


async def set_status(case_id: int, *, actor: UserRead, data: CaseStatusUpdate) -> None:
    """The page with its filings: :func:`chorus.filings.service.case_read`."""
    async with db.transaction():
        freshness.nothing_public()  # unless the status moves (below)
        await require_organizer(case_id, actor=actor)
        # Two concurrent changes must not both pass the check against the same old status
        # (closed, then "filing" on top: open on the page, yet closed for new reports).
        case = await lock_for_update(case_id)
        if data.status != case["status"]:
            if data.status not in TRANSITIONS[case["status"]]:
                raise Conflict("invalid_transition", field="status", current=case["status"])
            changes: dict[Any, Any] = {Case.status: data.status}
            if data.status == "closed":
                changes[Case.closed_at] = datetime.now(UTC)
            await Case.update(changes).where(Case.id == case_id)
            await add_event(case_id, "status_changed", status=data.status)
            await shown_anew(case_id, in_alerts=True)  # (closed: the tied merchants' alerts show it)
            await audit.record(
                "case.status", actor_id=actor.id, object_type="case", object_id=case_id, status=data.status
            )


async def my_cases(*, actor: UserRead) -> MyCaseList:
    rows = (
        await Membership.select(
            Membership.case,
            Membership.case.status,
            Membership.case.merchant,
            Membership.case.merchant.name,  # type: ignore[union-attr]
            Membership.role,
            Membership.loss_amount,
            Membership.loss_currency,
            Membership.consented_at,
            Membership.consent_complaint_id,
            Membership.consent_versions,
            Membership.joined_at,
        )
        .where(Membership.user == actor.id)
        .order_by(Membership.joined_at, ascending=False)
    )
    counts = await member_counts([r["case"] for r in rows])
    return MyCaseList(
        items=[
            MyCaseRead(
                case_id=r["case"],
                status=r["case.status"],
                merchant=MerchantRef(id=r["case.merchant"], name=r["case.merchant.name"]),
                role=r["role"],
                loss=_money(r["loss_amount"], r["loss_currency"]),
                member_count=counts.get(r["case"], 0),
                consented_at=r["consented_at"],
                joined_at=r["joined_at"],
                consented_complaint_id=r["consent_complaint_id"],
                consented_complaint_ids=version_ids(r["consent_versions"]),
            )
            for r in rows
        ]
    )


async def growth(case_id: int, *, actor: UserRead, time_zone: tzinfo = UTC) -> CaseGrowth:
    """Members: how the case grew — for each calendar day (in ``time_zone``) on which members
    joined, how many members and how much loss (per currency) it counted by the end of that day.
    Of today's members only (those who left took their part with them); aggregates, no one named."""
    await require_member(case_id, actor=actor)
    rows = (
        await Membership.select(Membership.joined_at, Membership.loss_amount, Membership.loss_currency)
        .where(Membership.case == case_id)
        .order_by(Membership.joined_at)
    )
    points: list[GrowthPoint] = []
    sums: dict[str, Decimal] = {}
    members, day = 0, None

    def point(day: date) -> GrowthPoint:  # the day's end, made once a day (not once a member)
        return GrowthPoint(day=day, members=members, losses=[_money(v, c) for c, v in sorted(sums.items())])

    for r in rows:
        joined: datetime = r["joined_at"]
        joined_on = (joined if joined.tzinfo else joined.replace(tzinfo=UTC)).astimezone(time_zone).date()
        if day is not None and joined_on != day:  # in order of joining: a day's members are together
            points.append(point(day))
        day = joined_on
        members += 1
        sums[r["loss_currency"]] = sums.get(r["loss_currency"], Decimal(0)) + Decimal(r["loss_amount"])
    if day is not None:
        points.append(point(day))
    return CaseGrowth(points=points)


@dataclass(frozen=True)
class LadderProfile:
    """What a member's escalation ladder depends on: how they paid, where they bought."""

    membership_id: int
    paid_with: str | None
    bought_on: str | None
    identifiers: list[dict[str, str]]  # what they reported (a shop link says where they bought)


async def ladder_profiles(case_id: int) -> list[LadderProfile]:
    """Every membership of the case with how they paid, where they bought and the identifiers
    they reported (the ladder domain's aggregate counts them; it never shows who)."""
    rows = await Membership.select(
        Membership.id, Membership.paid_with, Membership.bought_on, Membership.identifiers
    ).where(Membership.case == case_id)
    return [
        LadderProfile(r["id"], r["paid_with"], r["bought_on"], db.json_value(r["identifiers"]) or [])
        for r in rows
    ]


async def member_ids(case_id: int) -> list[int]:
    """Every member's user id (organizers included), ascending."""
    rows = await Membership.select(Membership.user).where(Membership.case == case_id)
    return sorted(r["user"] for r in rows)


async def organizer_ids(case_id: int) -> list[int]:
    """The organizers' user ids, ascending."""
    rows = await Membership.select(Membership.user).where(
        (Membership.case == case_id) & (Membership.role == "organizer")
    )
    return sorted(r["user"] for r in rows)


async def event_notice(event_id: int) -> dict[str, Any] | None:
    """A timeline event as notifications read it: ``{case, kind, data}``."""
    row = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.kind, CaseEvent.data)
        .where(CaseEvent.id == event_id)
        .output(load_json=True)
        .first()
    )
    return dict(row) if row else None


async def member_rows(case_id: int) -> list[Sequence[Any]]:
    """Every member as a complaint needs them, in joining order: tuples of (user id, display
    name, e-mail, consented_at, loss amount, loss currency, incident date, joined_at, order
    refs, statement, identifiers) — read by :func:`chorus.complaints.service.members_from_rows`."""
    return await db.fetch_tuples(
        Membership.select(
            Membership.user,
            Membership.user.display_name,
            Membership.user.email,
            Membership.consented_at,
            Membership.loss_amount,
            Membership.loss_currency,
            Membership.incident_date,
            Membership.joined_at,
            Membership.order_refs,
            Membership.statement,
            Membership.identifiers,
        )
        .where(Membership.case == case_id)
        .order_by(Membership.joined_at)
    )


async def consented_count(case_id: int, user_ids: Sequence[int]) -> int:
    """How many of these users are members of the case who consent to be named."""
    count: int = await Membership.count().where(
        (Membership.case == case_id)
        & Membership.user.is_in(list(user_ids) or [0])
        & Membership.consented_at.is_not_null()
    )
    return count


async def agreed_count(case_id: int, user_ids: Sequence[int], complaint_id: int) -> int:
    """How many of these users are members of the case who consent to be named and read and
    agreed to this very complaint version."""
    rows = await Membership.select(Membership.consent_versions).where(
        (Membership.case == case_id)
        & Membership.user.is_in(list(user_ids) or [0])
        & Membership.consented_at.is_not_null()
    )
    return sum(1 for r in rows if complaint_id in version_ids(r["consent_versions"]))


async def claim_reviewers_scope(merchant_id: int, user_id: int) -> set[int] | None:
    """Whose claims about the merchant the user may review as an organizer: the members of the
    merchant's cases they organize (a claim comes with a report into one of those cases), or
    None when they organize none. An organizer of a later case never sees who claimed what in
    another one."""
    organized = await Membership.select(Membership.case).where(
        (Membership.user == user_id)
        & (Membership.role == "organizer")
        & (Membership.case.merchant == merchant_id)  # type: ignore[union-attr]
    )
    if not organized:
        return None
    rows = await Membership.select(Membership.user).where(
        Membership.case.is_in([r["case"] for r in organized])
    )
    return {r["user"] for r in rows}


# --- leaving (chorus.accounts.lifecycle calls these inside its own transaction) ---------------


async def leave(case_id: int, *, actor: UserRead) -> None:
    """The caller leaves the case: their membership — loss, incident date, order references,
    statement, reported identifiers, consent — is deleted, so no complaint version built from
    now on holds any of it (versions built before keep their text; a filed one is frozen).
    404 ``membership_not_found`` for a non-member; 409 ``last_organizer`` for the only organizer
    while other members remain (they make someone an organizer first). The last member to leave
    closes the case: an open case without members would take in new reports with no organizer
    (its filings go on as they are; the next report of the merchant opens a new case)."""
    case = await lock_for_update(case_id)  # two organizers leaving at once: one after the other
    m = await membership_of(case_id, actor.id)
    if m is None:
        raise NotFound("membership_not_found")
    others = (Membership.case == case_id) & (Membership.user != actor.id)
    remaining = await Membership.count().where(others)
    organizers = others & (Membership.role == "organizer")
    if m["role"] == "organizer" and remaining and not await Membership.exists().where(organizers):
        raise Conflict("last_organizer", case_id=case_id)
    await Membership.delete().where(Membership.id == m["id"])
    await add_event(case_id, "member_left")  # the public timeline: a count changed, no one named
    if not remaining and case["status"] != "closed":
        closed: dict[Any, Any] = {Case.status: "closed", Case.closed_at: datetime.now(UTC)}
        await Case.update(closed).where(Case.id == case_id)
        await add_event(case_id, "status_changed", status="closed")
    # its size, totals and timeline (and, closed, the tied merchants' alerts show its size)
    await shown_anew(case_id, in_alerts=True)
    await audit.record("case.left", actor_id=actor.id, object_type="case", object_id=case_id, role=m["role"])


async def leave_all(*, actor: UserRead) -> list[int]:
    """Every case the caller is a member of, left as by :func:`leave` (in ascending order, so
    concurrent callers lock cases alike). Returns their ids; 409 ``last_organizer`` names the
    first case the caller cannot leave."""
    rows = await Membership.select(Membership.case).where(Membership.user == actor.id)
    case_ids = sorted(r["case"] for r in rows)
    for case_id in case_ids:
        await leave(case_id, actor=actor)
    return case_ids


# --- merges (moderation calls these inside its own transaction) -------------------------------

# what a merged membership keeps of a consent, all or nothing
_CONSENT = ("consented_at", "consent_complaint_id", "consent_sha256", "consent_versions")
ARRIVALS_LISTED = 50  # display names in the organizers' "who arrived" notification; the rest counted


async def fold_members(source_case: int, target_case: int) -> int:
    """A merge: the members of ``source_case`` join ``target_case``. Returns how many arrived
    (were not members of the target already).

    Organizers of the source become organizers of the target and their consent counts there.
    Plain members join as plain members; their consent is reset and they are asked again. A
    person in both keeps one membership (the earlier), the higher role, and the target's consent
    (or, failing that, the consent they gave as an organizer of the source). The target's
    organizers are told who arrived (display names only)."""
    columns = (
        Membership.id,
        Membership.user,
        Membership.role,
        Membership.joined_at,
        Membership.consented_at,
        Membership.consent_complaint_id,
        Membership.consent_sha256,
        Membership.consent_versions,
    )
    src = await Membership.select(*columns, Membership.user.display_name).where(
        Membership.case == source_case
    )
    tgt = {m["user"]: m for m in await Membership.select(*columns).where(Membership.case == target_case)}
    organizers = sorted(u for u, m in tgt.items() if m["role"] == "organizer")
    arrived: list[dict[str, str]] = []
    asked: list[int] = []
    for m in sorted(src, key=lambda r: (r["joined_at"], r["id"])):
        user, twin = m["user"], tgt.get(m["user"])
        src_organizer = m["role"] == "organizer"
        consent: dict[str, Any] = dict.fromkeys(_CONSENT)
        if twin is not None and twin["consented_at"] is not None:
            consent = {k: twin[k] for k in _CONSENT}
        elif src_organizer and m["consented_at"] is not None:
            consent = {k: m[k] for k in _CONSENT}
        if (
            consent["consented_at"] is None
            and not src_organizer
            and (twin is None or m["consented_at"] is not None)
        ):
            asked.append(user)
        role = (
            "organizer" if src_organizer or (twin is not None and twin["role"] == "organizer") else "member"
        )
        changes: dict[Any, Any] = {
            Membership.role: role,
            Membership.consented_at: consent["consented_at"],
            Membership.consent_complaint_id: consent["consent_complaint_id"],
            Membership.consent_sha256: consent["consent_sha256"],
            Membership.consent_versions: db.json_value(consent["consent_versions"]) or [],
        }
        if twin is not None and twin["joined_at"] <= m["joined_at"]:
            await Membership.delete().where(Membership.id == m["id"])
            await Membership.update(changes).where(Membership.id == twin["id"])
            continue
        if twin is not None:
            await Membership.delete().where(Membership.id == twin["id"])
        else:
            arrived.append({"display_name": m["user.display_name"], "role": role})
        changes[Membership.case] = target_case  # the twin, if any, is gone: one membership each
        await Membership.update(changes).where(Membership.id == m["id"])

    source = f"case-merge:{source_case}:{target_case}"
    if asked:
        await jobs.defer(
            jobs.Job.notify_users,
            f"{source}:consent",
            user_ids=asked,
            kind="case.consent_requested",
            case_id=target_case,
            data={"reason": "merged", "from_case": source_case},
            source=f"{source}:consent",
        )
    if arrived and organizers:
        await jobs.defer(
            jobs.Job.notify_users,
            f"{source}:arrivals",
            user_ids=organizers,
            kind="case.members_arrived",
            case_id=target_case,
            data={
                "from_case": source_case,
                "count": len(arrived),
                "members": arrived[:ARRIVALS_LISTED],
                "more": max(0, len(arrived) - ARRIVALS_LISTED),
            },
            source=f"{source}:arrivals",
        )
    return len(arrived)


async def close_merged(
    source_case: int, target_case: int, *, members_moved: int, evidence_moved: int
) -> None:
    """A merge emptied ``source_case`` into ``target_case``: it closes, pointing at the target."""
    await Case.update(
        {
            Case.status: "closed",
            Case.merged_into: target_case,
            Case.closed_at: datetime.now(UTC),
        }
    ).where(Case.id == source_case)
    await add_event(source_case, "merged", into_case=target_case)
    await add_event(
        target_case,
        "merged",
        from_case=source_case,
        members_moved=members_moved,
        evidence_moved=evidence_moved,
    )


async def move_to_merchant(source_merchant: int, target_merchant: int) -> None:
    """A merge of merchants: every case of the source (open or not) now belongs to the target.
    When both had an open case, the source's is closed first (:func:`close_merged`): one open
    case per merchant (the group_case_open index)."""
    await Case.update({Case.merchant: target_merchant}).where(Case.merchant == source_merchant)


# --- what the merchant pages show of their cases ---------------------------------------------


async def member_counts(case_ids: Sequence[int]) -> dict[int, int]:
    """case id → number of members."""
    if not case_ids:
        return {}
    rows = (
        await Membership.select(Membership.case, Count())
        .where(Membership.case.is_in(list(case_ids)))
        .group_by(Membership.case)
    )
    return {r["case"]: r["count"] for r in rows}


async def merchant_page(merchant_id: int) -> MerchantRead:
    """The public merchant page (:func:`chorus.merchants.service.get_or_raise`) with its cases and their
    member counts."""
    page = await merchants.get_or_raise(merchant_id)
    rows = await Case.select(Case.id, Case.status).where(Case.merchant == merchant_id).order_by(Case.id)
    counts = await member_counts([c["id"] for c in rows])
    page.cases = [
        CaseBrief(id=c["id"], status=c["status"], member_count=counts.get(c["id"], 0)) for c in rows
    ]
    return page


def _members_sql(sizes: bool) -> str:
    """A merchant_cases row's ``members`` (of the case ``c``): counted, or NULL when not asked (a
    shop going round has a case of thousands of members: counting them takes a millisecond)."""
    return '(SELECT count(*) FROM membership ms WHERE ms."case" = c.id)' if sizes else "NULL"


async def merchant_cases(
    merchant_ids: Sequence[int], *, open_only: bool = False, sizes: bool = True
) -> list[dict[str, Any]]:
    """The cases of these merchants not merged away (``open_only``: only their open case, at most
    one each), oldest first: ``id``, ``merchant``, ``status``, ``created_at``, ``closed_at``, the
    merchant's ``name`` and (``sizes``) the member count ``members``. One statement."""
    if not merchant_ids:
        return []
    cases_sql, args = _cases_of(merchant_ids, open_only=open_only)
    rows = await db.fetch(
        Case,
        "SELECT c.id, c.merchant, c.status, c.created_at, c.closed_at, m.name, "
        f"{_members_sql(sizes)} AS members {cases_sql} ORDER BY c.id",
        *args,
    )
    return [dict(r) for r in rows]


def _cases_of(merchant_ids: Sequence[int] | str, *, open_only: bool) -> tuple[str, list[Any]]:
    """The ``FROM … WHERE …`` of the cases of these merchants (ids, or the text of a statement
    selecting them) not merged away (``open_only``: only their open case), as ``c`` with their
    merchant as ``m``, and its arguments."""
    if isinstance(merchant_ids, str):
        # PostgreSQL: an array read first, so that the cases are looked up in their index whatever
        # the planner guesses of the statement's size; SQLite looks each one up in its index anyway
        among = f"IN ({merchant_ids})" if db.is_sqlite() else f"= ANY(ARRAY({merchant_ids}))"
        args: list[Any] = []
    else:
        among, args = f"IN ({db.placeholders(len(merchant_ids))})", [*merchant_ids]
    sql = (
        "FROM group_case c JOIN merchant m ON m.id = c.merchant "
        f"WHERE c.merchant {among} AND c.merged_into IS NULL"
    )
    if not open_only:
        return sql, args
    return f"{sql} AND c.status IN ({db.placeholders(len(OPEN))})", [*args, *OPEN]


# The columns of a matches_and_cases row, whose part says what it is: "m", an identifier matched
# (a row of "found") with its merchant's case; "c", the open case of a merchant bearing the name;
# "n", a name alike (merchants.NameQuery's keys and name in the identifier's columns).
_ROW = (
    "part", "id", "merchant", "match_key", "claim_key", "claimed_by", "merchant.name",
    "case_id", "status", "created_at", "closed_at", "members",
)  # fmt: skip


async def matches_and_cases(
    normalized: Sequence[Identifier], *, names: merchants.NameQuery | None = None
) -> tuple[merchants.Matches, list[dict[str, Any]], dict[int, dict[str, Any]], list[Sequence[Any]]]:
    """:func:`chorus.merchants.service.find_matches` of a report's identifiers (without a name),
    :func:`merchant_cases` of every merchant holding one of them, confirmed or claimed (without
    sizes), and, for the report's name (``names``), the names alike (rows for
    :func:`chorus.merchants.service.suggestions_of`) with the open cases of the merchants bearing
    the very name or its pinyin (merchant id → its case, as ``merchant_cases(…, open_only=True,
    sizes=False)`` reads it): one statement, a resolve's one round trip to the database."""
    query = merchants.match_query(normalized)
    tables: list[str] = []
    parts: list[str] = []
    args: list[Any] = []
    if query is not None:
        tables.append(f"found AS ({query.sql})")
        args += query.args
        parts.append(
            "SELECT 'm' AS part, found.id, found.merchant, found.match_key, found.claim_key, "
            'found.claimed_by, found."merchant.name", c.id AS case_id, c.status, c.created_at, '
            "c.closed_at, NULL AS members "
            "FROM found LEFT JOIN group_case c ON c.merchant = found.merchant AND c.merged_into IS NULL"
        )
    if names is not None:
        tables.append(f"alike AS ({names.sql})")
        args += names.args
        bearing = "SELECT merchant FROM alike WHERE display IS NOT NULL"  # the very name or its pinyin
        cases_sql, cases_args = _cases_of(bearing, open_only=True)
        parts.append(
            "SELECT 'c' AS part, NULL AS id, c.merchant, NULL AS match_key, NULL AS claim_key, "
            'NULL AS claimed_by, m.name AS "merchant.name", c.id AS case_id, c.status, c.created_at, '
            f"c.closed_at, NULL AS members {cases_sql}"
        )
        args += cases_args
        parts.append(
            "SELECT 'n' AS part, NULL AS id, merchant, name_key AS match_key, pinyin_key AS claim_key, "
            'NULL AS claimed_by, display AS "merchant.name", NULL AS case_id, NULL AS status, '
            "NULL AS created_at, NULL AS closed_at, NULL AS members FROM alike"
        )
    if not parts:
        return merchants.Matches(), [], {}, []
    # tuples: the hundreds of names alike become no dictionaries
    rows = await db.fetch_rows(Case, f"WITH {', '.join(tables)} {' UNION ALL '.join(parts)}", *args)
    found = [dict(zip(_ROW, r, strict=True)) for r in rows if r[0] == "m"]
    cases = {r["case_id"]: _case_row(r) for r in found if r["case_id"] is not None}
    named_open = {r[2]: _case_row(dict(zip(_ROW, r, strict=True))) for r in rows if r[0] == "c"}
    alike: list[Sequence[Any]] = [(r[2], r[3], r[4], r[6]) for r in rows if r[0] == "n"]
    matches = merchants.matches_from_rows(found, query.keys) if query is not None else merchants.Matches()
    return matches, [cases[k] for k in sorted(cases)], named_open, alike


def _case_row(row: dict[str, Any]) -> dict[str, Any]:
    """A :func:`matches_and_cases` row's case as :func:`merchant_cases` gives it."""
    return {
        "id": row["case_id"],
        "merchant": row["merchant"],
        "status": row["status"],
        "created_at": row["created_at"],
        "closed_at": row["closed_at"],
        "name": row["merchant.name"],
        "members": row["members"],
    }


async def _standing_with_open_case(
    merchant_ids: Sequence[int], open_cases: dict[int, dict[str, Any]]
) -> dict[int, str]:
    """merchant id → its name, of these merchants not merged away; their open cases are added to
    ``open_cases`` (as :func:`matches_and_cases` gives them). One statement."""
    rows = await db.fetch(
        Case,
        "SELECT m.id AS merchant, m.name, c.id, c.status, c.created_at, c.closed_at, NULL AS members "  # noqa: S608
        "FROM merchant m LEFT JOIN group_case c ON c.merchant = m.id AND c.merged_into IS NULL "
        f"AND c.status IN ({db.placeholders(len(OPEN))}) "
        f"WHERE m.id IN ({db.placeholders(len(merchant_ids))}) AND m.merged_into IS NULL",
        *OPEN,
        *merchant_ids,
    )
    open_cases |= {r["merchant"]: r for r in rows if r["id"] is not None}
    return {r["merchant"]: r["name"] for r in rows}


async def suggestions(
    names: merchants.NameQuery, alike: Sequence[Sequence[Any]], named_open: dict[int, dict[str, Any]]
) -> list[tuple[int, float, str]]:
    """:func:`chorus.merchants.service.suggestions_of` the names alike that
    :func:`matches_and_cases` read: a merchant whose name only starts alike and ranks among the
    best has its name and open case (added to ``named_open``) read then, in a second statement
    (bench.resolve: 26 calls in 2,000)."""
    return await merchants.suggestions_of(names, alike, lambda ids: _standing_with_open_case(ids, named_open))


async def open_cases(merchant_ids: Sequence[int]) -> dict[int, int]:
    """merchant id → its open case id."""
    return {r["merchant"]: r["id"] for r in await merchant_cases(merchant_ids, open_only=True, sizes=False)}


async def search_merchants(q: str, limit: int = 20) -> list[MerchantSummary]:
    """:func:`chorus.merchants.service.search` with each merchant's open case and its size."""
    found = await merchants.search(q, limit)
    cases = {r["merchant"]: r for r in await merchant_cases([m.id for m in found], open_only=True)}
    for m in found:
        case = cases.get(m.id)
        m.open_case_id, m.member_count = (case["id"], case["members"]) if case else (None, 0)
    return found


async def resolve(
    *, name: str | None, identifiers: Sequence[IdentifierIn], warnings: bool = False
) -> ResolveRead:
    """:func:`chorus.merchants.service.resolve` with the case a report would join and
    (``warnings``) the reappearance warnings a report of these identifiers would get: one
    statement reads the merchants holding the identifiers and their cases, the names alike the
    report's name and the open cases of the merchants bearing it (a second one, rarely, the
    names and open cases of merchants whose names only start alike, when they rank among the
    best)."""
    normalized = merchants.normalize_all(identifiers, "identifiers")
    # the names alike, with room for the merchants the identifiers will match, come in the
    # statement of the matches, with the open cases of the merchants bearing the name
    names = merchants.name_query(name, room=len(normalized)) if name else None
    # the cases without their sizes (a shop going round has a case of thousands): the warnings
    # count the members of the cases they name
    found, cases, named_open, alike = await matches_and_cases(normalized, names=names)
    named = await suggestions(names, alike, named_open) if names is not None else []
    read = merchants.resolve(normalized=normalized, matches=found, named=named)
    # the open cases of the merchants only suggested by name (those of every merchant holding one
    # of the identifiers, the strong matches among them, came with the matches): no warning is
    # about them, so no member count either
    held = {*found.by_merchant, *(c.merchant for c in found.claims)}
    by_name = {m.merchant_id for m in read.matches} - held
    cases += sorted((named_open[m] for m in by_name if m in named_open), key=lambda c: int(c["id"]))
    open_case = {r["merchant"]: r["id"] for r in cases if r["status"] in OPEN}
    for m in read.matches:
        m.case_id = open_case.get(m.merchant_id)
    if warnings:
        read.warnings = await _reappearances(name, own_case=None, found=found, cases=cases)
    return read


# --- what a member accepted from their own evidence (issue 19) -------------------------------------


async def add_found_identifiers(case_id: int, *, user_id: int, identifiers: Sequence[IdentifierIn]) -> bool:
    """Identifiers the member accepted from their receipts join their report, inside the caller's
    transaction: normalized and matched as typed ones (422 for an invalid one), added to the case's
    merchant (a key another merchant holds is a merge proposal for a moderator, as in
    :func:`report`) and to the membership. True when the membership gained one."""
    normalized = merchants.normalize_all(identifiers, "identifiers")
    membership = await membership_of(case_id, user_id)
    if membership is None:
        raise Forbidden("not_a_member")
    merchant_id: int = (await get_case_row(case_id))["merchant"]
    matches = await merchants.find_matches(normalized)
    # the merchant's identifiers (its page, the search); a merge proposal ties the others to it
    # on their pages (reappearance alerts). The case's summary shows none of it.
    freshness.merchant_changed(merchant_id)
    freshness.merchant_pages_changed(m for m in matches.by_merchant if m != merchant_id)
    await merchants.add_identifiers(merchant_id, normalized, strict=False, reporter=user_id, known=matches)
    for other in sorted(m for m in matches.by_merchant if m != merchant_id):
        await merchants.propose_merge(merchant_id, other, sorted(matches.keys_by_merchant.get(other, set())))
    held = db.json_value(membership["identifiers"]) or []
    new = [
        {"kind": i.kind.value, "value": i.value}
        for i in normalized
        if {"kind": i.kind.value, "value": i.value} not in held
    ]
    if not new:
        return False
    await Membership.update({Membership.identifiers: [*held, *new]}).where(Membership.id == membership["id"])
    return True


async def fill_empty_order_refs(case_id: int, *, user_id: int, refs: Sequence[str]) -> bool:
    """The member's order references, only if they gave none (inside the caller's transaction)."""
    membership = await membership_of(case_id, user_id)
    if membership is None:
        raise Forbidden("not_a_member")
    if db.json_value(membership["order_refs"]):
        return False
    cleaned = clean_order_refs(refs, "order_refs")
    await Membership.update({Membership.order_refs: cleaned}).where(Membership.id == membership["id"])
    return True
