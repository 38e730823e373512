"""Filing use cases: file a complaint version with its regulator, read a filing, record updates.

Filing freezes what it sends: the complaint version is marked filed (versions are never
edited; a later build is a new version) and the evidence it cites can no longer be withdrawn.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import secrets
import zipfile
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from piccolo.custom_types import Combinable

from chorus import db, freshness, jobs
from chorus.accounts import identity
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.authorizations import service as authorizations
from chorus.cases import service as cases
from chorus.cases.schemas import CaseRead, FilingBrief, MoneyRead
from chorus.complaints import service as complaints
from chorus.errors import Conflict, Invalid, NotAuthenticated, NotFound
from chorus.evidence import service as evidence
from chorus.evidence.bundle import SizedStream
from chorus.filings import blobs as _blobs  # noqa: F401  (tells evidence which blobs filings keep)
from chorus.filings import classify, deadlines
from chorus.filings.schemas import (
    FiledDocumentList,
    FiledDocumentRead,
    FilingAttachmentRead,
    FilingConsole,
    FilingCreate,
    FilingEventCreate,
    FilingEventRead,
    FilingPlan,
    FilingQueued,
    FilingRead,
    FilingTimeLimit,
    RegulatorRef,
)
from chorus.filings.status import ENDS, FilingStatus, Source, can_move, status_when_asked
from chorus.filings.tables import Filing, FilingAttachment, FilingEvent
from chorus.notifications import service as notifications
from chorus.regulators import service as regulators
from chorus.settings import Settings


def live() -> Combinable:
    """Filings not ended: a case has at most one per regulator (the filing_live index)."""
    return Filing.status.not_in([s.value for s in ENDS])


async def _check_fileable(case_id: int, complaint: dict[str, Any]) -> str:
    """What must hold for this version to go out; each failure says what to do instead."""
    latest = await complaints.latest_version(case_id, complaint["regulator"])
    if latest is not None and latest != complaint["version"]:
        raise Conflict("complaint_outdated", field="complaint_id", latest=latest)
    regulator = await regulators.get_or_raise(complaint["regulator"])  # a version's regulator is kept
    if not regulator["active"]:
        raise Conflict("regulator_inactive", field="complaint_id")
    named = [int(u) for u in db.json_value(complaint["named_members"]) or []]
    still = await cases.consented_count(case_id, named)
    if still < len(named):
        raise Conflict("consent_withdrawn", field="complaint_id", count=len(named) - still)
    return str(regulator["channel"])


# Filings that no longer stand for the case before a channel: it may file there again.
_GONE = (FilingStatus.failed.value, FilingStatus.withdrawn.value)


async def _check_channel_free(case_id: int, regulator_id: int) -> None:
    """One complaint per case and channel: 12315 routes a complaint to the bureau where the
    merchant is, so a case that filed through it (to the channel or any bureau it routes to) does
    not file again to another of them (409 ``filing_channel_used``), unless that filing failed or
    was withdrawn. The same regulator again is ``filing_active``'s (a live filing) or allowed."""
    family = [r for r in await regulators.channel_family(regulator_id) if r != regulator_id]
    if not family:
        return
    other = (
        await Filing.select(Filing.id, Filing.regulator.name)
        .where((Filing.case == case_id) & Filing.regulator.is_in(family) & Filing.status.not_in(list(_GONE)))
        .first()
    )
    if other is not None:
        channel = await regulators.get_or_raise(await regulators.channel_of(regulator_id))
        raise Conflict(
            "filing_channel_used",
            field="complaint_id",
            filing_id=other["id"],
            regulator=other["regulator.name"],
            channel=channel["name"],
        )


async def create(*, case_id: int, actor: UserRead, data: FilingCreate) -> FilingQueued:
    """Queue a filing of a complaint version (organizers). The version must be the latest for
    its regulator, everyone it names must still consent, none of its evidence may have been
    withdrawn since, and the case may have no other live filing with that regulator."""
    await cases.require_organizer(case_id, actor=actor)

    async def attempt() -> FilingQueued:
        async with db.transaction():
            case = await cases.lock_for_update(case_id)  # against a concurrent close
            if case["status"] == "closed":
                raise Conflict("case_closed_filing")
            # the case's summary lists the filing and (gathering → filing) its status: that case,
            # its merchant and the search are shown anew (an open case is folded into no other)
            freshness.case_changed(case_id, [case["merchant"]])
            try:
                complaint: dict[str, Any] | None = await complaints.complaint_row(data.complaint_id)
            except NotFound:
                complaint = None
            if complaint is None or complaint["case"] != case_id:
                raise NotFound("complaint_not_found", field="complaint_id")
            regulator_id = complaint["regulator"]
            if await Filing.exists().where(
                (Filing.case == case_id) & (Filing.regulator == regulator_id) & live()
            ):
                raise Conflict("filing_active", field="complaint_id")
            await _check_channel_free(case_id, regulator_id)
            await _check_fileable(case_id, complaint)
            now = datetime.now(UTC)
            rows = await Filing.insert(
                Filing(
                    case=case_id,
                    complaint=complaint["id"],
                    regulator=regulator_id,
                    status=FilingStatus.queued.value,
                    created_by=actor.id,
                    created_at=now,
                    updated_at=now,
                )
            ).returning(Filing.id)
            filing_id: int = rows[0]["id"]
            await FilingEvent.insert(
                FilingEvent(
                    filing=filing_id,
                    at=now,
                    status=FilingStatus.queued.value,
                    source=Source.organizer.value,
                    actor=actor.id,
                )
            )
            # who it is filed for: a named member without an authorization for the channel is left
            # out (409 when no one is left; this transaction then writes nothing)
            routed = (await regulators.get_or_raise(regulator_id))["routed_by"] is not None
            await authorizations.record_filing(
                filing_id, case_id=case_id, complaint=complaint, bureau=regulator_id if routed else None
            )
            if complaint["filed_at"] is None:
                await complaints.mark_filed(complaint["id"], now)
            withdrawn = await evidence.freeze(db.json_value(complaint["evidence_ids"]) or [], now)
            if withdrawn:
                raise Conflict("evidence_changed", field="complaint_id", count=withdrawn)
            # a worker sends it ("manual" ones the organizers do, with the bundle it stores for them)
            await jobs.defer(jobs.Job.submit_filing, f"filing-submit:{filing_id}", filing_id=filing_id)
            await cases.begin_filing(case_id)
            await cases.add_event(
                case_id,
                "filing_queued",
                filing_id=filing_id,
                regulator_id=regulator_id,
                version=complaint["version"],
            )
            await audit.record(
                "filing.queued",
                actor_id=actor.id,
                object_type="filing",
                object_id=filing_id,
                case_id=case_id,
                complaint_id=complaint["id"],
            )
            return FilingQueued(id=filing_id, status=FilingStatus.queued)

    # two organizers filing at once: the loser's insert hits the unique active key, and on the
    # second attempt it sees the winner's filing (409 filing_active)
    return await db.retry_on_conflict(attempt)


async def filing_row(filing_id: int) -> dict[str, Any] | None:
    """A filing with what its readers and its channel need of the regulator and the version."""
    row = (
        await Filing.select(
            *Filing.all_columns(),
            Filing.regulator.name,
            Filing.regulator.channel,
            Filing.regulator.address,
            Filing.regulator.credentials_env,
            Filing.regulator.contact_disclosure,
            Filing.regulator.calendar,
            Filing.regulator.accept_working_days,
            Filing.regulator.finish_working_days,
            Filing.regulator.time_limits,
            Filing.complaint.version,
        )
        .where(Filing.id == filing_id)
        .first()
    )
    return dict(row) if row else None


async def _row(filing_id: int) -> dict[str, Any]:
    row = await filing_row(filing_id)
    if row is None:
        raise NotFound("filing_not_found")
    return row


def rules_of(row: dict[str, Any]) -> list[deadlines.Rule]:
    """The regulator's time limits (from a ``filing_row``): its dated, cited rules, then its own
    undated limits in working days, which apply where no dated rule does."""
    rules = [
        deadlines.Rule(
            phase=r.phase,
            limit=r.limit,
            unit=r.unit,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            rule=r.rule,
            article=r.article,
            source_url=r.source_url,
            confirmed=r.confirmed,
        )
        for r in regulators.time_limits_of(row["regulator.time_limits"])
    ]
    if row["regulator.accept_working_days"] is not None:
        rules.append(deadlines.Rule("acceptance", row["regulator.accept_working_days"]))
    if row["regulator.finish_working_days"] is not None:
        rules.append(deadlines.Rule("conclusion", row["regulator.finish_working_days"]))
    return rules


def clock_reading(
    row: dict[str, Any], history: Iterable[dict[str, Any]], now: datetime
) -> deadlines.Reading | None:
    """A filing's clock (``deadlines.clock_of`` its events' statuses, on the regulator's days)
    read on ``now`` under its regulator's rules; None while nothing runs (not sent yet)."""
    country = row["regulator.calendar"]
    clock = deadlines.clock_of((deadlines.local_date(e["at"], country), e["status"]) for e in history)
    if clock is None:
        return None
    return deadlines.read(clock, rules_of(row), country, deadlines.local_date(now, country))


def _time_limit(rule: deadlines.Rule | None) -> FilingTimeLimit | None:
    if rule is None:
        return None
    return FilingTimeLimit(
        rule=rule.rule,
        article=rule.article,
        source_url=rule.source_url,
        limit=rule.limit,
        unit=rule.unit,
        valid_from=rule.valid_from,
        valid_to=rule.valid_to,
        confirmed=rule.confirmed,
    )


# The source of an e-mail reply whose sender is not the regulator's address or domain.
INBOUND_OTHER = "email"


def _event(
    e: dict[str, Any], *, organizer: bool, attachments: list[FilingAttachmentRead] | None = None
) -> FilingEventRead:
    """One event as the caller may see it: a reply's sender is for organizers, and for
    everyone when it is the regulator's own (anyone else's address is personal data)."""
    shown = organizer or bool(e["from_regulator"])
    return FilingEventRead(
        at=e["at"],
        status=e["status"],
        source=e["source"],
        note=e["note"],
        reference=e["reference"],
        from_regulator=e["from_regulator"],
        sender=e["sender"] if shown else None,
        id=e["id"],
        proposed_status=e["proposed_status"],
        confidence=e["confidence"],
        phrase=e["phrase"],
        confirms_event_id=e["confirms"],
        attachments=(attachments or []) if organizer else [],  # organizers' (and admins') only
    )


async def _read(row: dict[str, Any], *, organizer: bool) -> FilingRead:
    events = (
        await FilingEvent.select(
            FilingEvent.at,
            FilingEvent.status,
            FilingEvent.source,
            FilingEvent.note,
            FilingEvent.reference,
            FilingEvent.from_regulator,
            FilingEvent.sender,
            FilingEvent.id,
            FilingEvent.proposed_status,
            FilingEvent.confidence,
            FilingEvent.phrase,
            FilingEvent.confirms,
        )
        .where(FilingEvent.filing == row["id"])
        .order_by(FilingEvent.id)
    )
    attached = await attachments_by_event(row["id"]) if organizer else {}
    status = FilingStatus(row["status"])
    clock = clock_reading(row, events, datetime.now(UTC))
    deadline = clock.deadline if clock else None
    overdue = bool(clock and clock.overdue)
    phase = clock.phase if clock and deadline else None
    was = status_when_asked(e["status"] for e in events) if status == FilingStatus.needs_info else None
    return FilingRead(
        id=row["id"],
        case_id=row["case"],
        complaint_id=row["complaint"],
        complaint_version=row["complaint.version"],
        regulator=RegulatorRef(
            id=row["regulator"], name=row["regulator.name"], channel=row["regulator.channel"]
        ),
        status=status,
        reference=row["reference"],
        deadline=deadline,
        overdue=overdue,
        message=row["message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        events=[_event(e, organizer=organizer, attachments=attached.get(e["id"])) for e in events],
        deadline_for=phase,
        next_step=NEXT_STEP[phase] if overdue and phase else None,
        next_statuses=[s for s in FilingStatus if can_move(status, s, Source.organizer, asked_in=was)],
        deadline_paused=bool(clock and clock.paused),
        days_used=clock.days_used if clock else None,
        deadline_provisional=bool(clock and clock.provisional),
        time_limit=_time_limit(clock.rule if clock else None),
    )


def attachment_read(r: dict[str, Any]) -> FilingAttachmentRead:
    """A reply's attachment as organizers see it: a download link when its bytes were kept."""
    kept = r["sha256"] is not None
    return FilingAttachmentRead(
        id=r["id"],
        filename=r["filename"],
        media_type=r["media_type"],
        size=r["size"],
        refused=r["refused"],
        url=f"/api/v1/filings/{r['filing']}/attachments/{r['id']}" if kept else None,
    )


async def attachments_by_event(filing_id: int) -> dict[int, list[FilingAttachmentRead]]:
    """A filing's reply attachments by the reply event they came with."""
    rows = (
        await FilingAttachment.select()
        .where(FilingAttachment.filing == filing_id)
        .order_by(FilingAttachment.id)
    )
    found: dict[int, list[FilingAttachmentRead]] = {}
    for r in rows:
        found.setdefault(r["event"], []).append(attachment_read(r))
    return found


async def get_or_raise(filing_id: int, *, actor: UserRead) -> FilingRead:
    """Members of the case read its filings: status, reference, deadline, every event."""
    row = await _row(filing_id)
    membership = await cases.require_member(row["case"], actor=actor, through_merges=True)
    return await _read(row, organizer=membership["role"] == "organizer")


async def apply_change(
    filing_id: int,
    *,
    status: FilingStatus | None,
    source: Source,
    note: str = "",
    reference: str | None = None,
    message: str | None = None,
    bundle_sha256: str | None = None,
    actor_id: int | None = None,
    confirms: int | None = None,
    proposal: classify.Proposal | None = None,
) -> bool:
    """Record one change on a filing, in its own transaction: an event, and maybe a status move
    (the members told; its deadline is read from the events), a reference, a refusal message.
    Organizers (``actor_id`` given) get 409 for a move the status machine refuses; from the worker
    or the regulator such a move is kept as a note. Returns whether the status moved."""
    async with db.transaction():
        query = Filing.select(Filing.status).where(Filing.id == filing_id)
        # the status checked is the status changed: a concurrent update waits for this one
        current = await (query if db.is_sqlite() else query.lock_rows("UPDATE")).first()
        row = await filing_row(filing_id)
        if current is None or row is None:
            raise NotFound("filing_not_found")
        # the case's summary lists its filings, and so do those of the cases it was folded into
        await cases.shown_anew(row["case"], in_merged=True)
        old = new = FilingStatus(current["status"])
        was = await asked_in(filing_id) if old == FilingStatus.needs_info else None
        if status is not None and status != old:
            if can_move(old, status, source, asked_in=was):
                new = status
            elif actor_id is not None:
                raise Conflict("filing_transition_invalid", field="status", current=old.value)
        now = datetime.now(UTC)
        changes: dict[Any, Any] = {Filing.updated_at: now, Filing.status: new.value}
        for column, value in (
            (Filing.reference, reference),
            (Filing.message, message),
            (Filing.bundle_sha256, bundle_sha256),
        ):
            if value is not None:
                changes[column] = value
        await Filing.update(changes).where(Filing.id == filing_id)
        await FilingEvent.insert(
            FilingEvent(
                filing=filing_id,
                at=now,
                status=new.value,
                source=source.value,
                note=note,
                reference=reference,
                actor=actor_id,
                confirms=confirms,
                **_proposal_columns(proposal, new.value),
            )
        )
        if new != old:  # no deadline to store: every read derives it from the events (clock_reading)
            await cases.add_event(
                row["case"],
                "filing_status",
                filing_id=filing_id,
                regulator_id=row["regulator"],
                regulator=row["regulator.name"],  # what the members' messages name it by
                status=new.value,
            )
        if actor_id is not None:
            await audit.record(
                "filing.event",
                actor_id=actor_id,
                object_type="filing",
                object_id=filing_id,
                case_id=row["case"],
                status=new.value,
            )
        return new != old


async def asked_in(filing_id: int) -> FilingStatus | None:
    """For a filing in ``needs_info``: the status it was in when the regulator asked."""
    rows = (
        await FilingEvent.select(FilingEvent.status)
        .where(FilingEvent.filing == filing_id)
        .order_by(FilingEvent.id)
    )
    return status_when_asked(r["status"] for r in rows)


async def add_event(*, filing_id: int, actor: UserRead, data: FilingEventCreate) -> FilingRead:
    """An organizer records what happened outside Chorus (a call, a letter): a note, and maybe a
    new status along the status machine or the regulator's reference number."""
    row = await _row(filing_id)
    await cases.require_organizer(row["case"], actor=actor, through_merges=True)
    note = data.note.strip()
    if not note:
        raise Invalid("note_required", field="note")
    reference = data.reference.strip() if data.reference is not None else None
    if data.reference is not None and not reference:
        raise Invalid("reference_invalid", field="reference")
    status = data.status
    if data.confirms_event_id is not None:
        proposed = await _proposal(filing_id, data.confirms_event_id)
        status = status or proposed  # confirmed as proposed, or corrected to another status
    await apply_change(
        filing_id,
        status=status,
        source=Source.organizer,
        note=note,
        reference=reference,
        actor_id=actor.id,
        confirms=data.confirms_event_id,
    )
    return await _read(await _row(filing_id), organizer=True)


# What organizers should do when a regulator is late (catalog: filing.next_step.<code>). A clock
# paused for material the regulator asked for is never late ("supply_information" was the step
# while clocks ran on through needs_info; its catalog text stays for notifications sent then).
NEXT_STEP = {"acceptance": "ask_acceptance", "conclusion": "ask_result", "information": "supply_information"}


async def flag_overdue(now: datetime | None = None) -> int:
    """Tell the organizers of every filing past its deadline what to do next: once per filing
    and deadline (safe to run any number of times). Returns the notifications made. Deadlines are
    read from each live filing's events under its regulator's rules as they stand (an admin's
    correction counts at once); a paused clock is never late."""
    now = now or datetime.now(UTC)
    rows = await Filing.select(
        Filing.id,
        Filing.case,
        Filing.regulator,
        Filing.regulator.name,
        Filing.status,
        Filing.regulator.calendar,
        Filing.regulator.accept_working_days,
        Filing.regulator.finish_working_days,
        Filing.regulator.time_limits,
    ).where(live() & (Filing.status != FilingStatus.queued.value))
    history: dict[int, list[dict[str, Any]]] = {}
    for e in await (
        FilingEvent.select(FilingEvent.filing, FilingEvent.at, FilingEvent.status)
        .where(FilingEvent.filing.status.not_in([s.value for s in (*ENDS, FilingStatus.queued)]))
        .order_by(FilingEvent.id)
    ):
        history.setdefault(e["filing"], []).append(e)
    made = 0
    for r in rows:
        clock = clock_reading(r, history.get(r["id"], []), now)
        if clock is None or not clock.overdue or clock.deadline is None:
            continue
        made += await notifications.notify(
            user_ids=await cases.organizer_ids(r["case"]),
            kind="filing.overdue",
            case_id=r["case"],
            data={
                "filing_id": r["id"],
                "regulator_id": r["regulator"],
                "regulator": r["regulator.name"],
                "status": r["status"],
                "deadline": clock.deadline.isoformat(),
                "next_step": NEXT_STEP[clock.phase],
                "provisional": clock.provisional,
            },
            source=f"filing-overdue:{r['id']}:{clock.deadline.isoformat()}",
        )
    return made


async def filed_bundle(filing_id: int, *, actor: UserRead) -> tuple[str, str]:
    """Members: the SHA-256 of the bundle exactly as filed (what the regulator was given the
    hash of) and a file name; 404 until a worker has stored it (e-mail and HTTP channels)."""
    row = await _row(filing_id)
    await cases.require_member(row["case"], actor=actor, through_merges=True)
    if row["bundle_sha256"] is None:
        raise NotFound("filing_bundle_missing")
    return row["bundle_sha256"], f"chorus-filing{filing_id}-case{row['case']}-v{row['complaint.version']}.zip"


async def bundle(
    filing_id: int, *, actor: UserRead, settings: Settings
) -> complaints.FiledBundle | tuple[SizedStream, str]:
    """A filing's bundle: organizers get the bytes whose SHA-256 the regulator was given; plain
    members the member bundle of the version filed. 404 until a worker stored the bundle."""
    sha256, filename = await filed_bundle(filing_id, actor=actor)  # members only
    row = await _row(filing_id)
    return await complaints.filed_or_member_bundle(
        case_id=row["case"],
        complaint_id=row["complaint"],
        filed=complaints.FiledBundle(sha256=sha256, filename=filename),
        actor=actor,
        settings=settings,
    )


_SEALED_DOCUMENT = re.compile(r"-member-([0-9]{1,12})\.md\.sealed")


def _sealed_entries(path: Path) -> dict[str, tuple[int, bytes]]:
    """The sealed members' documents of a stored bundle: ``{name: (user_id, ciphertext)}``."""
    out: dict[str, tuple[int, bytes]] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            found = _SEALED_DOCUMENT.search(name)
            if found and name.endswith(identity.SEALED_SUFFIX):
                out[name] = (int(found.group(1)), zf.read(name))
    return out


async def sealed_documents(filing_id: int, *, actor: UserRead, settings: Settings) -> FiledDocumentList:
    """Organizers: the documents the filing's stored bundle keeps sealed (each member's
    授权委托书, naming the identity details they share: chorus.accounts.identity), opened to
    file by hand where the channel is manual. A member who left the case or deleted their account
    has ``text`` null: their key is gone. 404 until a worker stored the bundle. Audited (who
    opened how many; never what)."""
    row = await _row(filing_id)
    await cases.require_organizer(row["case"], actor=actor, through_merges=True)
    if row["bundle_sha256"] is None:
        raise NotFound("filing_bundle_missing")
    sealed, opened = await _opened(row, settings)
    await audit.record(
        "filing.documents_opened",
        actor_id=actor.id,
        object_type="filing",
        object_id=filing_id,
        documents=len(opened),
        unreadable=sum(1 for v in opened.values() if v is None),
    )
    items = []
    for name, (user_id, _) in sorted(sealed.items()):
        plain = name.removesuffix(identity.SEALED_SUFFIX)
        text = opened[plain]
        shown = None if text is None else text.decode()
        items.append(FiledDocumentRead(name=plain, user_id=user_id, text=shown))
    return FiledDocumentList(items=items)


async def opened_documents(filing_id: int, settings: Settings) -> dict[str, bytes | None]:
    """The members' documents of a filing's stored bundle, opened, by name (``None``: the member
    left the case or deleted their account, their key is gone). For the worker sending them to the
    regulator the filing goes to (its only destination: never logged, never kept in clear).
    Empty while no bundle is stored."""
    row = await _row(filing_id)
    if row["bundle_sha256"] is None:
        return {}
    return (await _opened(row, settings))[1]


async def _opened(
    row: dict[str, Any], settings: Settings
) -> tuple[dict[str, tuple[int, bytes]], dict[str, bytes | None]]:
    """A stored bundle's sealed members' documents, and them opened."""
    filing_id = row["id"]
    store = evidence.storage_for(settings)
    local = store.local_path(row["bundle_sha256"])
    spooled: Path | None = None
    if local is None:  # an object store: spooled to a temporary file first
        spooled = store.tmp_dir / f"sealed-{filing_id}-{secrets.token_hex(6)}.zip"
        with spooled.open("wb") as fh:
            async for chunk in store.iter_bytes(row["bundle_sha256"]):
                fh.write(chunk)
    try:
        sealed = await asyncio.to_thread(_sealed_entries, local or spooled)  # type: ignore[arg-type]
    finally:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
    case_id = int((await complaints.complaint_row(row["complaint"]))["case"])
    return sealed, await identity.open_documents(case_id=case_id, documents=sealed)


async def case_read(case_id: int) -> CaseRead:
    """The public case page (:func:`chorus.cases.service.summary`) with its filings and those of
    the cases folded into it (they carry on here)."""
    page = await cases.summary(case_id)
    await _add_filings([page])
    return page


async def case_reads(case_ids: Sequence[int], *, timeline: bool = True) -> dict[int, CaseRead]:
    """:func:`case_read` of each of these cases that exists, in a few statements whatever their
    number (:func:`chorus.cases.service.summaries`)."""
    pages = await cases.summaries(case_ids, timeline=timeline)
    await _add_filings(list(pages.values()))
    return pages


async def _add_filings(pages: Sequence[CaseRead]) -> None:
    """Each page's filings, those of the cases folded into its case included (one statement per
    level of merges, one for the filings)."""
    if not pages:
        return
    shown_on: dict[int, set[int]] = {p.id: {p.id} for p in pages}  # case -> the pages it shows on
    frontier = list(shown_on)
    for _ in range(cases.MAX_MERGE_HOPS):
        folded = await cases.folded_into(frontier)
        if not folded:
            break
        for case_id, into in folded.items():
            shown_on.setdefault(case_id, set()).update(shown_on[into])
        frontier = list(folded)
    rows = (
        await Filing.select(Filing.id, Filing.case, Filing.regulator.name, Filing.status, Filing.created_at)
        .where(Filing.case.is_in(list(shown_on)))
        .order_by(Filing.id)
    )
    by_id = {p.id: p for p in pages}
    for r in rows:
        brief = FilingBrief(
            id=r["id"], regulator=r["regulator.name"], status=r["status"], filed_at=r["created_at"]
        )
        for page_id in sorted(shown_on[r["case"]]):
            by_id[page_id].filings.append(brief)


# --- the organizers' console -------------------------------------------------------------------


async def _plan(case: CaseRead, complaint_id: int, live_filing_id: int | None) -> FilingPlan:
    """What filing this version would send where, and the refusal :func:`create` would give now."""
    complaint = await complaints.complaint_row(complaint_id)
    regulator = await regulators.get_or_raise(complaint["regulator"])
    blocked: str | None = None
    params: dict[str, Any] = {}
    if case.status == "closed":
        blocked = "case_closed_filing"
    elif live_filing_id is not None:
        blocked = "filing_active"
    else:
        try:
            await _check_fileable(case.id, complaint)
        except Conflict as exc:
            blocked, params = exc.code, exc.params
    named = [int(u) for u in db.json_value(complaint["named_members"]) or []]
    return FilingPlan(
        complaint_id=complaint["id"],
        version=complaint["version"],
        built_at=complaint["created_at"],
        regulator=RegulatorRef(id=regulator["id"], name=regulator["name"], channel=regulator["channel"]),
        address=regulator["address"],
        members_total=complaint["members_total"],
        named_members=len(named),
        named_agreed=await cases.agreed_count(case.id, named, complaint["id"]),
        evidence_count=len(db.json_value(complaint["evidence_ids"]) or []),
        total_loss=[MoneyRead(**m) for m in db.json_value(complaint["total_loss"]) or []],
        filed_before=complaint["filed_at"] is not None,
        live_filing_id=live_filing_id,
        blocked=blocked,
        blocked_params=params,
    )


async def console(case_id: int, *, actor: UserRead) -> FilingConsole:
    """Organizers: the case, what filing each regulator's latest complaint version would send
    (and what refuses it now, the checks :func:`create` makes), and every filing of the case and
    of the cases folded into it, newest first, with its events."""
    await cases.require_organizer(case_id, actor=actor)
    case = await case_read(case_id)
    found = [await _read(await _row(f.id), organizer=True) for f in reversed(case.filings)]
    # as create() counts them: this case's own live filing with the regulator
    live_with = {f.regulator.id: f.id for f in found if f.case_id == case_id and f.status not in ENDS}
    versions = (await complaints.list_for(case_id, actor=actor)).items  # newest first
    latest = complaints.latest_versions(versions)
    plans = [await _plan(case, v.id, live_with.get(v.regulator.id)) for v in latest]
    return FilingConsole(case=case, plans=plans, filings=found)


def authorize_inbound(token: str | None, settings: Settings) -> None:
    """The mail server's bearer secret; the endpoint does not exist while no secret is set."""
    secret = settings.inbound_secret.get_secret_value() if settings.inbound_secret else ""
    if not secret or not settings.inbound_domain:
        raise NotFound("inbound_disabled")
    if token is None or not hmac.compare_digest(token.encode(), secret.encode()):
        raise NotAuthenticated("inbound_secret_invalid")


async def _ended_at(filing_id: int) -> datetime | None:
    """When the filing reached an end (ends are final: its first end event), or None if live."""
    row = (
        await FilingEvent.select(FilingEvent.at)
        .where((FilingEvent.filing == filing_id) & FilingEvent.status.is_in([s.value for s in ENDS]))
        .order_by(FilingEvent.id)
        .first()
    )
    return row["at"] if row else None


async def _proposal(filing_id: int, event_id: int) -> FilingStatus:
    """The status an event of this filing proposed, if no organizer has answered it yet."""
    row = (
        await FilingEvent.select(FilingEvent.proposed_status)
        .where((FilingEvent.id == event_id) & (FilingEvent.filing == filing_id))
        .first()
    )
    if row is None or row["proposed_status"] is None:
        raise NotFound("filing_proposal_not_found", field="confirms_event_id")
    if await FilingEvent.exists().where(
        (FilingEvent.filing == filing_id) & (FilingEvent.confirms == event_id)
    ):
        raise Conflict("filing_proposal_answered", field="confirms_event_id")
    return FilingStatus(row["proposed_status"])


# A reply's proposal when it is not from the regulator's own address or domain counts this much less.
OTHER_SENDER_CONFIDENCE = 0.5


def _proposal_columns(proposal: classify.Proposal | None, status: str, factor: float = 1.0) -> dict[str, Any]:
    """A proposal as FilingEvent columns; none when there is none or it is the filing's status."""
    if proposal is None or proposal.status.value == status:
        return {}
    return {
        "proposed_status": proposal.status.value,
        "confidence": round(proposal.confidence * factor, 2),
        "phrase": proposal.phrase,
    }


async def propose_from_message(filing_id: int, message: str) -> bool:
    """A regulator's protocol-v1 ``message`` that came with no new status, read into a proposed
    status: recorded on the timeline when it proposes a status other than the filing's and it is
    not what the regulator said last (polls repeat it); the status itself is unchanged. Returns
    whether a proposal was recorded."""
    proposal = classify.classify(message)
    if proposal is None:
        return False
    async with db.transaction():
        freshness.nothing_public()
        current = await Filing.select(Filing.status).where(Filing.id == filing_id).first()
        last = (
            await FilingEvent.select(FilingEvent.note)
            .where((FilingEvent.filing == filing_id) & (FilingEvent.source == Source.regulator.value))
            .order_by(FilingEvent.id, ascending=False)
            .first()
        )
        if current is None:
            return False
        columns = _proposal_columns(proposal, current["status"])
        if not columns or (last is not None and last["note"] == message):
            return False
        await FilingEvent.insert(
            FilingEvent(
                filing=filing_id,
                status=current["status"],
                source=Source.regulator.value,
                note=message,
                **columns,
            )
        )
    return True
