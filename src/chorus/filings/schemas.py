"""Filings in and out of the HTTP layer."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from chorus.filings.status import FilingStatus
from chorus.ids import Id


class FilingCreate(BaseModel):
    complaint_id: Id


class FilingQueued(BaseModel):
    id: int
    status: FilingStatus


class FilingEventCreate(BaseModel):
    """A manual update (a phone call, a letter): a note, and maybe a new status or reference."""

    status: FilingStatus | None = None
    reference: str | None = Field(default=None, max_length=200)
    note: str = Field(max_length=4000)


class FilingEventRead(BaseModel):
    at: datetime
    status: FilingStatus
    source: str  # worker, regulator, organizer, or email (a reply from someone else)
    note: str
    reference: str | None
    # e-mail replies: whether the From names the regulator (its address or its domain), and the
    # From itself (for organizers; plain members see it only when it is the regulator's)
    from_regulator: bool | None = None
    sender: str | None = None


class RegulatorRef(BaseModel):
    id: int
    name: str
    channel: str


class FilingRead(BaseModel):
    id: int
    case_id: int
    complaint_id: int
    complaint_version: int
    regulator: RegulatorRef
    status: FilingStatus
    reference: str | None
    deadline: date | None
    overdue: bool
    message: str
    created_at: datetime
    updated_at: datetime
    events: list[FilingEventRead]
