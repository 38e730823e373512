"""Filing on behalf of many people (issue 14 item 7).

- **The representative (代表人)**: any member may stand (standing is accepting); every member has
  one vote, which they may change or take back; a candidate with more than half of the votes
  cast is the representative once at least a third of the members have voted. Only current
  members' candidacies and votes count (someone who leaves takes theirs along).
- **Authorizations (授权委托书)**: a member named in a complaint version authorizes the case's
  representative to file *that version* through *its channel* (the version's regulator) for them,
  sharing the identity details they choose. An authorization covers only that version and that
  representative; the member may revoke it until a filing used it.
- **Filing**: where the channel expects an authorization (``regulator.authorization_required``),
  a named member without one is left out of the text filed there (their pieces shown as other
  victims see them: masked, no contact, no statement), and each included member's authorization
  document goes into the filing's bundle. The filing records who it was made for.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chorus import db, freshness
from chorus.accounts import identity
from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.authorizations.schemas import (
    DETAIL_FIELDS,
    TEXT_VERSION,
    AuthorizationCreate,
    AuthorizationList,
    AuthorizationOption,
    AuthorizationRead,
    CandidateRead,
    ChannelRef,
    FilingPartiesRead,
    PersonRef,
    RepresentativeRead,
    VoteCreate,
)
from chorus.authorizations.tables import (
    Authorization,
    FilingParties,
    RepresentativeCandidate,
    RepresentativeVote,
)
from chorus.cases import service as cases
from chorus.complaints import cache as complaint_cache
from chorus.complaints import service as complaints
from chorus.errors import Conflict, Invalid, NotFound
from chorus.evidence import service as evidence
from chorus.i18n import normalize_locale
from chorus.markdown import inline, literal
from chorus.merchants import service as merchants
from chorus.regulators import service as regulators
from chorus.settings import Settings, get_settings
from chorus.templating import render

# Times in the documents are the regulator's local time (Beijing time for China's).
TIME_ZONES = {"CN": "Asia/Shanghai", "US": "America/New_York"}


# --- the representative ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tally:
    members: set[int]
    candidates: list[dict[str, Any]]  # rows: user, user.display_name, stood_at
    votes: dict[int, int]  # voter -> candidate (current members, standing candidates)

    @property
    def counts(self) -> Counter[int]:
        return Counter(self.votes.values())

    @property
    def quorum(self) -> int:
        return max(1, math.ceil(len(self.members) / 3))

    @property
    def elected(self) -> dict[str, Any] | None:
        cast = len(self.votes)
        if cast < self.quorum:
            return None
        for c in self.candidates:
            if self.counts[c["user"]] * 2 > cast:
                return c
        return None


async def _tally(case_id: int) -> _Tally:
    members = set(await cases.member_ids(case_id))
    rows = (
        await RepresentativeCandidate.select(
            RepresentativeCandidate.user,
            RepresentativeCandidate.user.display_name,
            RepresentativeCandidate.stood_at,
        )
        .where(RepresentativeCandidate.case == case_id)
        .order_by(RepresentativeCandidate.id)
    )
    candidates = [dict(r) for r in rows if r["user"] in members]
    standing = {c["user"] for c in candidates}
    votes = {
        int(v["voter"]): int(v["candidate"])
        for v in await RepresentativeVote.select(
            RepresentativeVote.voter, RepresentativeVote.candidate
        ).where(RepresentativeVote.case == case_id)
        if v["voter"] in members and v["candidate"] in standing
    }
    return _Tally(members, candidates, votes)


async def representative_of(case_id: int) -> PersonRef | None:
    """The case's elected representative, if any."""
    elected = (await _tally(case_id)).elected
    return PersonRef(user_id=elected["user"], display_name=elected["user.display_name"]) if elected else None


async def election(case_id: int, *, actor: UserRead) -> RepresentativeRead:
    """Members: the candidates, their vote counts, the representative (if elected), my vote."""
    await cases.require_member(case_id, actor=actor)
    tally = await _tally(case_id)
    counts = tally.counts
    elected = tally.elected
    return RepresentativeRead(
        representative=(
            PersonRef(user_id=elected["user"], display_name=elected["user.display_name"]) if elected else None
        ),
        candidates=[
            CandidateRead(
                user_id=c["user"],
                display_name=c["user.display_name"],
                votes=counts[c["user"]],
                stood_at=c["stood_at"],
            )
            for c in tally.candidates
        ],
        members=len(tally.members),
        votes_cast=len(tally.votes),
        quorum=tally.quorum,
        my_vote=tally.votes.get(actor.id),
        standing=any(c["user"] == actor.id for c in tally.candidates),
    )


async def _open_case(case_id: int, actor: UserRead) -> None:
    await cases.require_member(case_id, actor=actor)
    if (await cases.get_case_row(case_id))["status"] == "closed":
        raise Conflict("case_closed_representative")


async def stand(case_id: int, *, actor: UserRead) -> RepresentativeRead:
    """A member stands as the case's representative (standing again changes nothing)."""
    await _open_case(case_id, actor)
    async with db.transaction():
        freshness.nothing_public()
        await RepresentativeCandidate.insert(
            RepresentativeCandidate(case=case_id, user=actor.id)
        ).on_conflict(
            target=(RepresentativeCandidate.case, RepresentativeCandidate.user), action="DO NOTHING"
        )
        await audit.record("representative.stood", actor_id=actor.id, object_type="case", object_id=case_id)
    return await election(case_id, actor=actor)


async def withdraw_candidacy(case_id: int, *, actor: UserRead) -> None:
    """A candidate stands down (not standing: nothing to do); the votes for them then count for
    no one."""
    await _open_case(case_id, actor)
    async with db.transaction():
        freshness.nothing_public()
        gone = (
            await RepresentativeCandidate.delete()
            .where((RepresentativeCandidate.case == case_id) & (RepresentativeCandidate.user == actor.id))
            .returning(RepresentativeCandidate.id)
        )
        if gone:
            await audit.record(
                "representative.withdrew", actor_id=actor.id, object_type="case", object_id=case_id
            )


async def vote(case_id: int, *, actor: UserRead, data: VoteCreate) -> RepresentativeRead:
    """A member votes for a candidate (a second vote replaces the first)."""
    await _open_case(case_id, actor)

    async def attempt() -> None:
        async with db.transaction():
            freshness.nothing_public()
            standing = await RepresentativeCandidate.exists().where(
                (RepresentativeCandidate.case == case_id)
                & (RepresentativeCandidate.user == data.candidate_id)
            )
            if not standing or await cases.membership_of(case_id, data.candidate_id) is None:
                raise NotFound("candidate_not_found", field="candidate_id")
            await RepresentativeVote.delete().where(
                (RepresentativeVote.case == case_id) & (RepresentativeVote.voter == actor.id)
            )
            await RepresentativeVote.insert(
                RepresentativeVote(case=case_id, voter=actor.id, candidate=data.candidate_id)
            )
            await audit.record(
                "representative.voted", actor_id=actor.id, object_type="case", object_id=case_id
            )

    await db.retry_on_conflict(attempt)
    return await election(case_id, actor=actor)


async def unvote(case_id: int, *, actor: UserRead) -> None:
    """A member takes their vote back (none: nothing to do)."""
    await _open_case(case_id, actor)
    async with db.transaction():
        freshness.nothing_public()
        gone = (
            await RepresentativeVote.delete()
            .where((RepresentativeVote.case == case_id) & (RepresentativeVote.voter == actor.id))
            .returning(RepresentativeVote.id)
        )
        if gone:
            await audit.record(
                "representative.unvoted", actor_id=actor.id, object_type="case", object_id=case_id
            )


# --- authorizations ---------------------------------------------------------------------------------

_COLUMNS = (
    Authorization.id,
    Authorization.case,
    Authorization.user,
    Authorization.user.display_name,
    Authorization.regulator,
    Authorization.regulator.name,
    Authorization.complaint,
    Authorization.complaint_version,
    Authorization.representative,
    Authorization.fields,
    Authorization.text_version,
    Authorization.given_at,
    Authorization.revoked_at,
    Authorization.used_by,
)


def _auth_read(
    row: dict[str, Any],
    names: dict[int, str],
    *,
    own: bool,
    current: PersonRef | None,
    latest: dict[int, int],
) -> AuthorizationRead:
    return AuthorizationRead(
        id=row["id"],
        case_id=row["case"],
        user_id=row["user"],
        display_name=row["user.display_name"],
        regulator=ChannelRef(id=row["regulator"], name=row["regulator.name"]),
        complaint_id=row["complaint"],
        complaint_version=row["complaint_version"],
        representative=PersonRef(
            user_id=row["representative"], display_name=names.get(row["representative"], "")
        ),
        fields=list(db.json_value(row["fields"]) or []) if own else [],
        text_version=row["text_version"],
        given_at=row["given_at"],
        revoked_at=row["revoked_at"],
        used_by_filing=row["used_by"],
        current=(
            row["revoked_at"] is None
            and row["used_by"] is None
            and current is not None
            and current.user_id == row["representative"]
            and latest.get(row["regulator"]) == row["complaint_version"]
        ),
    )


async def _reads(rows: list[dict[str, Any]], *, viewer: int) -> list[AuthorizationRead]:
    """Rows as reads; ``fields`` only on the viewer's own."""
    reps = sorted({int(r["representative"]) for r in rows})
    names = {k: v["display_name"] for k, v in (await accounts.contacts(reps)).items()}
    out = []
    by_case: dict[int, tuple[PersonRef | None, dict[int, int]]] = {}
    for r in rows:
        if r["case"] not in by_case:
            latest = {}
            for reg in {x["regulator"] for x in rows if x["case"] == r["case"]}:
                version = await complaints.latest_version(r["case"], reg)
                if version is not None:
                    latest[reg] = version
            by_case[r["case"]] = (await representative_of(r["case"]), latest)
        current, latest = by_case[r["case"]]
        out.append(_auth_read(r, names, own=r["user"] == viewer, current=current, latest=latest))
    return out


def _check_fields(fields: list[str]) -> list[str]:
    unknown = [f for f in fields if f not in DETAIL_FIELDS]
    if unknown:
        raise Invalid("authorization_field_unknown", field="fields", allowed=", ".join(DETAIL_FIELDS))
    return [f for f in DETAIL_FIELDS if f in fields]  # one order: the document lists them so


async def give(case_id: int, *, actor: UserRead, data: AuthorizationCreate) -> AuthorizationRead:
    """A member named in a complaint version authorizes the case's representative to file that
    version through its channel for them. Giving it again replaces the one not yet used."""
    await cases.require_member(case_id, actor=actor)
    fields = _check_fields(data.fields)
    try:
        complaint: dict[str, Any] | None = await complaints.complaint_row(data.complaint_id)
    except NotFound:
        complaint = None
    if complaint is None or complaint["case"] != case_id:
        raise NotFound("complaint_not_found", field="complaint_id")
    latest = await complaints.latest_version(case_id, complaint["regulator"])
    if latest != complaint["version"]:
        raise Conflict("complaint_outdated", field="complaint_id", latest=latest)
    if actor.id not in (db.json_value(complaint["named_members"]) or []):
        raise Conflict("authorization_not_named", field="complaint_id")
    representative = await representative_of(case_id)
    if representative is None:
        raise Conflict("representative_none", field="complaint_id")
    now = datetime.now(UTC)
    async with db.transaction():
        freshness.nothing_public()
        await Authorization.update({Authorization.revoked_at: now}).where(
            (Authorization.user == actor.id)
            & (Authorization.complaint == complaint["id"])
            & Authorization.revoked_at.is_null()
            & Authorization.used_by.is_null()
        )
        rows = await Authorization.insert(
            Authorization(
                case=case_id,
                user=actor.id,
                regulator=complaint["regulator"],
                complaint=complaint["id"],
                complaint_version=complaint["version"],
                complaint_sha256=complaint["sha256"],
                representative=representative.user_id,
                fields=fields,
                text_version=TEXT_VERSION,
                given_at=now,
            )
        ).returning(Authorization.id)
        auth_id = int(rows[0]["id"])
        await audit.record(
            "authorization.given",
            actor_id=actor.id,
            object_type="authorization",
            object_id=auth_id,
            case_id=case_id,
            complaint_id=complaint["id"],
            fields=fields,
        )
    return await _get(auth_id, viewer=actor.id)


async def _get(auth_id: int, *, viewer: int) -> AuthorizationRead:
    row = await Authorization.select(*_COLUMNS).where(Authorization.id == auth_id).first()
    if row is None:
        raise NotFound("authorization_not_found")
    return (await _reads([dict(row)], viewer=viewer))[0]


async def revoke(authorization_id: int, *, actor: UserRead) -> None:
    """The member revokes their authorization; refused once a filing used it (409)."""
    async with db.transaction():
        freshness.nothing_public()
        row = (
            await Authorization.select(
                Authorization.id, Authorization.user, Authorization.revoked_at, Authorization.used_by
            )
            .where(Authorization.id == authorization_id)
            .first()
        )
        if row is None or row["user"] != actor.id:  # someone else's: as if it did not exist
            raise NotFound("authorization_not_found")
        # one statement: a filing that takes the authorization at the same time wins or loses whole
        done = (
            await Authorization.update({Authorization.revoked_at: datetime.now(UTC)})
            .where(
                (Authorization.id == authorization_id)
                & Authorization.revoked_at.is_null()
                & Authorization.used_by.is_null()
            )
            .returning(Authorization.id)
        )
        if not done:
            if row["used_by"] is not None:
                raise Conflict("authorization_used", filing_id=row["used_by"])
            raise Conflict("authorization_revoked")
        await audit.record(
            "authorization.revoked",
            actor_id=actor.id,
            object_type="authorization",
            object_id=authorization_id,
        )


async def list_for_case(case_id: int, *, actor: UserRead) -> AuthorizationList:
    """Organizers: who authorized which version for which channel (not what they share); a plain
    member: their own, revoked ones too."""
    membership = await cases.require_member(case_id, actor=actor)
    query = Authorization.select(*_COLUMNS).where(Authorization.case == case_id)
    if membership["role"] == "organizer":
        query = query.where(Authorization.revoked_at.is_null() | (Authorization.user == actor.id))
    else:
        query = query.where(Authorization.user == actor.id)
    rows = [dict(r) for r in await query.order_by(Authorization.id)]
    return AuthorizationList(items=await _reads(rows, viewer=actor.id))


async def options(case_id: int, *, actor: UserRead) -> list[AuthorizationOption]:
    """Members: the latest version for each channel of the case that expects an authorization,
    whether they are named in it, and their live authorization of it."""
    await cases.require_member(case_id, actor=actor)
    latest: dict[int, dict[str, Any]] = {}
    for brief in (await complaints.list_for(case_id, actor=actor)).items:  # newest first
        latest.setdefault(
            brief.regulator.id, {"id": brief.id, "version": brief.version, "name": brief.regulator.name}
        )
    own = [
        dict(r)
        for r in await Authorization.select(*_COLUMNS).where(
            (Authorization.case == case_id)
            & (Authorization.user == actor.id)
            & Authorization.revoked_at.is_null()
        )
    ]
    reads = {a.complaint_id: a for a in await _reads(own, viewer=actor.id)}
    out = []
    for regulator_id, v in sorted(latest.items()):
        if not (await regulators.get_or_raise(regulator_id))["authorization_required"]:
            continue
        row = await complaints.complaint_row(v["id"])
        out.append(
            AuthorizationOption(
                complaint_id=v["id"],
                version=v["version"],
                regulator=ChannelRef(id=regulator_id, name=v["name"]),
                named=actor.id in (db.json_value(row["named_members"]) or []),
                authorization=reads.get(v["id"]),
            )
        )
    return out


async def mine(*, actor: UserRead) -> AuthorizationList:
    """The caller's authorizations in every case they are a member of, newest first."""
    rows = [
        dict(r)
        for r in await Authorization.select(*_COLUMNS)
        .where(Authorization.user == actor.id)
        .order_by(Authorization.id, ascending=False)
        if await cases.membership_of(r["case"], actor.id) is not None
    ]
    return AuthorizationList(items=await _reads(rows, viewer=actor.id))


async def document(authorization_id: int, *, actor: UserRead) -> str:
    """The authorization document (Markdown) as its member gave it (only they may read it here)."""
    row = await Authorization.select(Authorization.user).where(Authorization.id == authorization_id).first()
    if row is None or row["user"] != actor.id:
        raise NotFound("authorization_not_found")
    docs = await _documents([authorization_id], bureau=None, locale=None)
    return next(iter(docs.values())).decode("utf-8")


# --- filing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """Who a filing is made for (see :func:`record_filing`)."""

    included: list[int]
    named: int
    representative: PersonRef | None
    required: bool


async def record_filing(
    filing_id: int,
    *,
    case_id: int,
    complaint: dict[str, Any],
    bureau: int | None = None,
    settings: Settings | None = None,
) -> Parties:
    """Inside the transaction that queues a filing (``chorus.filings.service.create``): who it is
    made for. Where the channel expects an authorization, the named members whose authorization
    for this version and the current representative is live are included (it is now used, no
    longer revocable), with the representative themself; the others are left out of the text
    filed. 409 ``representative_none`` without a representative, ``no_authorized_members`` when
    no one is included (the caller's transaction then writes nothing)."""
    regulator = await regulators.get_or_raise(complaint["regulator"])
    named = [int(u) for u in db.json_value(complaint["named_members"]) or []]
    representative = await representative_of(case_id)
    required = bool(regulator["authorization_required"])
    markdown: str | None = None
    auth_ids: list[int] = []
    if required:
        if representative is None:
            raise Conflict("representative_none", field="complaint_id")
        taken = (
            await Authorization.update({Authorization.used_by: filing_id})
            .where(
                (Authorization.complaint == complaint["id"])
                & (Authorization.representative == representative.user_id)
                & Authorization.user.is_in(named or [0])
                & Authorization.revoked_at.is_null()
                & Authorization.used_by.is_null()
            )
            .returning(Authorization.id, Authorization.user)
        )
        members = set(await cases.member_ids(case_id))
        authorized = {int(t["user"]) for t in taken if t["user"] in members}
        auth_ids = sorted(int(t["id"]) for t in taken if t["user"] in authorized)
        if representative.user_id in named:
            authorized.add(representative.user_id)  # they file for themselves: no authorization needed
        included = sorted(authorized)
        if not included:
            raise Conflict("no_authorized_members", field="complaint_id", named=len(named))
        markdown = await _filed_text(
            complaint,
            set(included),
            named=len(named),
            representative=representative,
            auth_count=len(auth_ids),
            settings=settings or get_settings(),
        )
    else:
        included = sorted(named)
    await FilingParties.insert(
        FilingParties(
            filing=filing_id,
            included=included,
            authorizations=auth_ids,
            members_named=len(named),
            representative=representative.user_id if representative else None,
            representative_name=representative.display_name if representative else "",
            bureau=bureau,
            markdown=markdown,
        )
    )
    return Parties(included, len(named), representative, required)


async def _filed_text(
    complaint: dict[str, Any],
    included: set[int],
    *,
    named: int,
    representative: PersonRef,
    auth_count: int,
    settings: Settings,
) -> str:
    """The version's text with only ``included`` named (the others' pieces as other victims see
    them), and a closing section on the representative and the authorizations attached."""
    row = await complaints.complaint_row(complaint["id"])
    view = await complaint_cache.member_view(row, settings)
    text = await asyncio.to_thread(view.text_including, included)
    section = render(
        "authorizations",
        "filed_section.md.j2",
        row["locale"],
        representative=inline(representative.display_name),
        included=len(included),
        named=named,
        left_out=named - len(included),
        documents=auth_count,
    )
    return text.rstrip("\n") + "\n\n" + section.strip("\n") + "\n"


async def _parties_row(filing_id: int) -> dict[str, Any] | None:
    row = await FilingParties.select().where(FilingParties.filing == filing_id).first()
    return dict(row) if row else None


async def filed_text(filing_id: int) -> str | None:
    """The text a filing sends, where it differs from its version's (members left out)."""
    row = await _parties_row(filing_id)
    return row["markdown"] if row else None


async def authorized(filing_id: int) -> int:
    """How many authorizations a filing was made with (one document each, while its member stays)."""
    row = await _parties_row(filing_id)
    return len(db.json_value(row["authorizations"]) or []) if row else 0


async def included(filing_id: int) -> list[int]:
    """The members a filing was made for (user ids)."""
    row = await _parties_row(filing_id)
    return [int(u) for u in db.json_value(row["included"]) or []] if row else []


async def parties(filing_id: int, *, case_id: int) -> FilingPartiesRead | None:
    """Who a filing was made for (the caller checked the reader is a member of ``case_id``)."""
    row = await _parties_row(filing_id)
    if row is None:
        return None
    bureau = None
    if row["bureau"] is not None:
        b = await regulators.get_or_raise(row["bureau"])
        bureau = ChannelRef(id=b["id"], name=b["name"])
    required = (
        bool(row["authorizations"] and db.json_value(row["authorizations"])) or row["markdown"] is not None
    )
    return FilingPartiesRead(
        included=len(db.json_value(row["included"]) or []),
        named=row["members_named"],
        representative=(
            PersonRef(user_id=row["representative"], display_name=row["representative_name"])
            if row["representative"] is not None
            else None
        ),
        bureau=bureau,
        authorization_required=required,
    )


def _local(moment: datetime, calendar: str) -> str:
    return moment.astimezone(ZoneInfo(TIME_ZONES.get(calendar, "UTC"))).strftime("%Y-%m-%d %H:%M")


async def _documents(ids: list[int], *, bureau: int | None, locale: str | None) -> dict[str, bytes]:
    """The authorization documents (授权委托书) of these authorizations, by bundle file name. Each
    member's identity details come from :func:`chorus.accounts.identity.complainant_details` —
    only the fields they chose to share; without details stored, their display name stands in."""
    if not ids:
        return {}
    rows = [
        dict(r)
        for r in await Authorization.select(
            *_COLUMNS,
            Authorization.complaint_sha256,
            Authorization.regulator.calendar,
            Authorization.regulator.locale,
            Authorization.case.merchant,
        )
        .where(Authorization.id.is_in(ids))
        .order_by(Authorization.id)
    ]
    reps = {int(r["representative"]) for r in rows}
    rep_names = {k: v["display_name"] for k, v in (await accounts.contacts(sorted(reps))).items()}
    rep_details = await identity.complainant_details(user_ids=sorted(reps), fields=["real_name"])
    bureau_name = (await regulators.get_or_raise(bureau))["name"] if bureau is not None else None
    out: dict[str, bytes] = {}
    for r in rows:
        fields = [f for f in db.json_value(r["fields"]) or [] if f in DETAIL_FIELDS]
        details = (await identity.complainant_details(user_ids=[r["user"]], fields=fields)).get(r["user"])
        shown = {f: getattr(details, f, None) if details else None for f in fields}
        merchant = await merchants.info(r["case.merchant"])
        rep = int(r["representative"])
        rep_real = rep_details.get(rep)
        text = render(
            "authorizations",
            "authorization.md.j2",
            normalize_locale(locale or r["regulator.locale"]),
            id=r["id"],
            principal=inline(
                (details.real_name if details and details.real_name else None) or r["user.display_name"]
            ),
            display_name=inline(r["user.display_name"]),
            details=[(f, literal(v) if v else None) for f, v in shown.items()],
            representative=inline(
                (rep_real.real_name if rep_real and rep_real.real_name else None) or rep_names.get(rep, "")
            ),
            regulator=inline(r["regulator.name"]),
            bureau=inline(bureau_name) if bureau_name else None,
            merchant=inline(merchant.name) if merchant else "",
            case_id=r["case"],
            version=r["complaint_version"],
            sha256=r["complaint_sha256"],
            given_at=_local(r["given_at"], r["regulator.calendar"]),
            text_version=r["text_version"],
        )
        out[f"authorizations/authorization-{r['id']}-member-{r['user']}.md"] = text.encode("utf-8")
    return out


async def filed_evidence(filing_id: int, complaint: dict[str, Any]) -> list[int]:
    """The evidence a filing sends: what its version cites, but not the uploads of members left
    out of it (their material goes with an authorization, not without)."""
    cited = [int(e) for e in db.json_value(complaint["evidence_ids"]) or []]
    row = await _parties_row(filing_id)
    if row is None or row["markdown"] is None:  # no one left out
        return cited
    included = {int(u) for u in db.json_value(row["included"]) or []}
    left_out = {int(u) for u in db.json_value(complaint["named_members"]) or []} - included
    uploader = {int(r[0]): int(r[1]) for r in await evidence.live_rows(complaint["case"])}
    return [e for e in cited if uploader.get(e) not in left_out]


async def store_filed_bundle(filing_id: int, complaint_id: int, settings: Settings) -> tuple[str, int]:
    """The bundle a filing sends, stored once (``chorus.complaints.service.store_bundle`` with the
    text as filed and the included members' authorization documents)."""
    row = await _parties_row(filing_id)
    if row is None:  # a filing queued before filings recorded their parties
        return await complaints.store_bundle(complaint_id, settings)
    documents = await _documents(
        [int(i) for i in db.json_value(row["authorizations"]) or []], bureau=row["bureau"], locale=None
    )
    # each document names its member's identity details: kept sealed under the member's key for
    # the case (``<name>.sealed``; the manifest hashes the ciphertext), unreadable once they leave
    # the case or delete their account (chorus.accounts.identity, issue 14 item 8)
    complaint = await complaints.complaint_row(complaint_id)
    case_id = int(complaint["case"])
    # a member who left the case or deleted their account since the filing was queued: no
    # document (sealing would make them a new key, and their details would open again)
    members = set(await cases.member_ids(case_id))
    documents = {name: data for name, data in documents.items() if _member_of(name) in members}
    sealed = await identity.seal_documents(
        case_id=case_id, documents={name: (_member_of(name), data) for name, data in documents.items()}
    )
    sent = set(await filed_evidence(filing_id, complaint))
    return await complaints.store_bundle(
        complaint_id, settings, markdown=row["markdown"], documents=sealed, evidence_ids=sent
    )


def _member_of(document_name: str) -> int:
    """The member an authorization document is for (``authorization-<id>-member-<user>.md``)."""
    return int(document_name.rsplit("-member-", 1)[1].removesuffix(".md"))
