"""Filing use cases: file a complaint version with its regulator, read a filing, record updates.

Filing freezes what it sends: the complaint version is marked filed (versions are never
edited; a later build is a new version) and the evidence it cites can no longer be withdrawn.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from chorus import db
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.cases.tables import Membership
from chorus.complaints.tables import Complaint
from chorus.errors import Conflict, Invalid, NotFound
from chorus.evidence import service as evidence
from chorus.filings.schemas import (
    FilingCreate,
    FilingEventCreate,
    FilingEventRead,
    FilingQueued,
    FilingRead,
    RegulatorRef,
)
from chorus.filings.status import FilingStatus, Source, can_move, is_end
from chorus.filings.tables import Filing, FilingEvent
from chorus.regulators.tables import Regulator


def _active_key(case_id: int, regulator_id: int) -> str:
    return f"{case_id}:{regulator_id}"


async def _check_fileable(case_id: int, complaint: dict[str, Any]) -> None:
    """What must hold for this version to go out; each failure says what to do instead."""
    latest = (
        await Complaint.select(Complaint.version)
        .where((Complaint.case == case_id) & (Complaint.regulator == complaint["regulator"]))
        .order_by(Complaint.version, ascending=False)
        .first()
    )
    if latest is not None and latest["version"] != complaint["version"]:
        raise Conflict("complaint_outdated", field="complaint_id", latest=latest["version"])
    regulator = await Regulator.select(Regulator.active).where(Regulator.id == complaint["regulator"]).first()
    if regulator is None or not regulator["active"]:
        raise Conflict("regulator_inactive", field="complaint_id")
    named = [int(u) for u in db.json_value(complaint["named_members"]) or []]
    still = await Membership.count().where(
        (Membership.case == case_id)
        & Membership.user.is_in(named or [0])
        & Membership.consented_at.is_not_null()
    )
    if still < len(named):
        raise Conflict("consent_withdrawn", field="complaint_id", count=len(named) - still)


async def create(*, case_id: int, actor: UserRead, data: FilingCreate) -> FilingQueued:
    """Queue a filing of a complaint version (organizers). The version must be the latest for
    its regulator, everyone it names must still consent, none of its evidence may have been
    withdrawn since, and the case may have no other live filing with that regulator."""
    await cases.require_organizer(case_id, actor)

    async def attempt() -> FilingQueued:
        async with db.transaction():
            case = await cases.lock_for_update(case_id)  # against a concurrent close
            if case["status"] == "closed":
                raise Conflict("case_closed_filing")
            complaint = await Complaint.select().where(Complaint.id == data.complaint_id).first()
            if complaint is None or complaint["case"] != case_id:
                raise NotFound("complaint_not_found", field="complaint_id")
            regulator_id = complaint["regulator"]
            live = await Filing.exists().where(Filing.active_key == _active_key(case_id, regulator_id))
            if live:
                raise Conflict("filing_active", field="complaint_id")
            await _check_fileable(case_id, complaint)
            now = datetime.now(UTC)
            rows = await Filing.insert(
                Filing(
                    case=case_id,
                    complaint=complaint["id"],
                    regulator=regulator_id,
                    status=FilingStatus.queued.value,
                    active_key=_active_key(case_id, regulator_id),
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
            if complaint["filed_at"] is None:
                await Complaint.update({Complaint.filed_at: now}).where(Complaint.id == complaint["id"])
            withdrawn = await evidence.freeze(db.json_value(complaint["evidence_ids"]) or [], now)
            if withdrawn:
                raise Conflict("evidence_changed", field="complaint_id", count=withdrawn)
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


async def _row(filing_id: int) -> dict[str, Any]:
    row = (
        await Filing.select(
            *Filing.all_columns(),
            Filing.regulator.name,
            Filing.regulator.channel,
            Filing.complaint.version,
        )
        .where(Filing.id == filing_id)
        .first()
    )
    if row is None:
        raise NotFound("filing_not_found")
    return dict(row)


def is_overdue(status: str, deadline: date | None, today: date) -> bool:
    """Past its deadline and still waiting for the regulator."""
    return deadline is not None and not is_end(status) and today > deadline


async def _read(row: dict[str, Any]) -> FilingRead:
    events = (
        await FilingEvent.select(
            FilingEvent.at, FilingEvent.status, FilingEvent.source, FilingEvent.note, FilingEvent.reference
        )
        .where(FilingEvent.filing == row["id"])
        .order_by(FilingEvent.id)
    )
    return FilingRead(
        id=row["id"],
        case_id=row["case"],
        complaint_id=row["complaint"],
        complaint_version=row["complaint.version"],
        regulator=RegulatorRef(
            id=row["regulator"], name=row["regulator.name"], channel=row["regulator.channel"]
        ),
        status=FilingStatus(row["status"]),
        reference=row["reference"],
        deadline=row["deadline"],
        overdue=is_overdue(row["status"], row["deadline"], datetime.now(UTC).date()),
        message=row["message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        events=[FilingEventRead(**e) for e in events],
    )


async def get(filing_id: int, user: UserRead) -> FilingRead:
    """Members of the case read its filings: status, reference, deadline, every event."""
    row = await _row(filing_id)
    await cases.require_member(row["case"], user)
    return await _read(row)


async def add_event(*, filing_id: int, actor: UserRead, data: FilingEventCreate) -> FilingRead:
    """An organizer records what happened outside Chorus (a call, a letter): a note, and maybe a
    new status along the status machine or the regulator's reference number."""
    row = await _row(filing_id)
    await cases.require_organizer(row["case"], actor)
    note = data.note.strip()
    if not note:
        raise Invalid("note_required", field="note")
    reference = data.reference.strip() if data.reference is not None else None
    if data.reference is not None and not reference:
        raise Invalid("reference_invalid", field="reference")
    async with db.transaction():
        query = Filing.select(Filing.status).where(Filing.id == filing_id)
        # the status checked is the status changed: a concurrent update waits for this one
        current = await (query if db.is_sqlite() else query.lock_rows("UPDATE")).first()
        assert current is not None  # filings are never deleted
        status = FilingStatus(current["status"])
        if data.status is not None and data.status != status:
            if not can_move(status, data.status, Source.organizer):
                raise Conflict("filing_transition_invalid", field="status", current=status.value)
            status = data.status
        now = datetime.now(UTC)
        changes: dict[Any, Any] = {Filing.updated_at: now, Filing.status: status.value}
        if reference is not None:
            changes[Filing.reference] = reference
        if is_end(status):
            changes[Filing.active_key] = None
        await Filing.update(changes).where(Filing.id == filing_id)
        await FilingEvent.insert(
            FilingEvent(
                filing=filing_id,
                at=now,
                status=status.value,
                source=Source.organizer.value,
                note=note,
                reference=reference,
                actor=actor.id,
            )
        )
        if status.value != current["status"]:
            await cases.add_event(
                row["case"],
                "filing_status",
                filing_id=filing_id,
                regulator_id=row["regulator"],
                status=status.value,
            )
        await audit.record(
            "filing.event",
            actor_id=actor.id,
            object_type="filing",
            object_id=filing_id,
            case_id=row["case"],
            status=status.value,
        )
    return await _read(await _row(filing_id))
