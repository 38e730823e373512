"""Filings in and out of the HTTP layer."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from chorus.cases.schemas import CaseRead, MoneyRead
from chorus.filings.status import FilingStatus
from chorus.ids import Id
from chorus.inputs import Input


class FilingCreate(Input):
    complaint_id: Id


class FilingQueued(BaseModel):
    id: int
    status: FilingStatus


class FilingEventCreate(Input):
    """A manual update (a phone call, a letter): a note, and maybe a new status or reference."""

    status: FilingStatus | None = None
    reference: str | None = Field(default=None, max_length=200)
    note: str = Field(max_length=4000)
    # confirms or corrects the status a reply was read to propose (that event's id): without a
    # status, the proposed one; with another, a correction
    confirms_event_id: Id | None = None


class FilingAttachmentRead(BaseModel):
    """A file attached to a regulator's reply, on that reply's timeline entry (organizers and
    admins only). ``refused``: not kept (too_large: over CHORUS_UPLOAD_MAX_BYTES; type: a type
    evidence refuses) — named so organizers know to ask for it another way; no ``url`` then."""

    id: int
    filename: str
    media_type: str | None
    size: int
    refused: Literal["too_large", "type"] | None = None
    url: str | None = None


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
    id: int | None = None
    # a reply read into a proposed status (chorus.filings.classify): not the filing's status until
    # an organizer confirms or corrects it with an event whose confirms_event_id is this id
    proposed_status: FilingStatus | None = None
    confidence: float | None = None
    phrase: str | None = None
    confirms_event_id: int | None = None
    # the files attached to a reply (organizers of the case; empty for plain members)
    attachments: list[FilingAttachmentRead] = Field(default_factory=list)


class RegulatorRef(BaseModel):
    id: int
    name: str
    channel: str


class FilingTimeLimit(BaseModel):
    """The time limit a filing's deadline follows: the rule in force on the day its complaint
    reached the regulator. ``confirmed`` false: not yet checked against the official text (say so
    wherever it is shown). ``rule`` null: the regulator's own limit, typed without a citation."""

    rule: str | None
    article: str | None
    source_url: str | None
    limit: int
    unit: Literal["working_days", "calendar_days"]
    valid_from: date | None
    valid_to: date | None
    confirmed: bool


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
    # what the regulator owes by the deadline: whether it accepts the complaint, a result, or a
    # decision after the material it asked for (None: no deadline runs)
    deadline_for: Literal["acceptance", "conclusion", "information"] | None = None
    # overdue: what organizers should do now, a catalog code (filing.next_step.<code>)
    next_step: str | None = None
    # the statuses an organizer may record next (the status machine; none once it ended)
    next_statuses: list[FilingStatus] = Field(default_factory=list)
    # the clock: paused while the regulator waits for material it asked for (needs_info; the
    # deadline then moves later by the days the pause lasts, and is never overdue meanwhile)
    deadline_paused: bool = False
    # the days of the limit used so far, in its unit (paused days not counted; None: no limit)
    days_used: int | None = None
    # the deadline counts working days into a year whose holiday arrangement (调休) is not
    # published yet: it may still move when it is
    deadline_provisional: bool = False
    # the rule the deadline follows (None: the regulator owes no date, or nothing was sent yet)
    time_limit: FilingTimeLimit | None = None

    def references_given(self) -> list[str | None]:
        """Each event's reference where it came first or changed (None where an event repeats
        the one before, or has none): what a timeline shows beside each event, oldest first."""
        out: list[str | None] = []
        known: str | None = None
        for e in self.events:
            out.append(e.reference if e.reference != known else None)
            known = e.reference or known
        return out


class FilingPlan(BaseModel):
    """What filing a complaint version would send, to whom and how: what organizers confirm."""

    complaint_id: int
    version: int
    built_at: datetime
    regulator: RegulatorRef
    address: str  # the regulator's e-mail address or protocol-v1 base URL (public, as in its registry)
    members_total: int  # the complainants the regulator is told of
    named_members: int  # those named in the text (each consented to this version or an earlier one)
    # of those, the ones who read and agreed to this very version (the others agreed to be named
    # and to an earlier text; a reminder asks them to read this one)
    named_agreed: int = 0
    evidence_count: int
    total_loss: list[MoneyRead]
    filed_before: bool  # a filing used this version already (since ended, or still live)
    live_filing_id: int | None  # the case's filing with this regulator that has not ended
    # why it cannot be filed now: an error code (errors.<code>) and its parameters; None: it can
    blocked: str | None = None
    blocked_params: dict[str, Any] = Field(default_factory=dict)


class FilingConsole(BaseModel):
    """The organizers' view of a case's filings: the case, what each regulator's latest complaint
    version would send, and every filing (newest first)."""

    case: CaseRead
    plans: list[FilingPlan]
    filings: list[FilingRead]


QuarantineReason = Literal["unmatched", "bad_signature", "expired", "unreadable", "attachment_refused"]
QuarantineState = Literal["open", "assigned", "discarded"]


class QuarantineRead(BaseModel):
    """Inbound mail kept for admins because it could not be recorded on a filing by itself."""

    id: int
    received_at: datetime
    reason: QuarantineReason
    state: QuarantineState
    sender: str
    subject: str
    attachments: int
    raw_size: int
    filing_hint: int | None  # the filing its reply address named (expired, attachment refused)
    filing_id: int | None  # assigned: the filing it was recorded on
    event_id: int | None  # assigned: the reply event on that filing's timeline
    resolved_at: datetime | None
    resolved_by: int | None


class QuarantineDetail(QuarantineRead):
    recipients: list[str]
    message_id: str
    text: str  # the subject and body as a reply's note reads them (emptied when discarded)
    note: str  # why it was discarded
    raw_available: bool  # the raw message can be downloaded (deleted when discarded)
    recorded_attachments: list[FilingAttachmentRead] = Field(default_factory=list)


class QuarantineList(BaseModel):
    items: list[QuarantineRead]
    open: int  # how many wait for an admin


class QuarantineAssign(Input):
    filing_id: Id


class QuarantineDiscard(Input):
    note: str = Field(default="", max_length=2000)


class InboundAccepted(BaseModel):
    """What the mail server is answered (202): recorded on a filing, or kept in the quarantine."""

    filing_id: int | None = None
    quarantine_id: int | None = None
    reason: QuarantineReason | None = None


class FiledDocumentRead(BaseModel):
    """A document of a filing's stored bundle kept sealed under its member's key (their
    授权委托书, naming their identity details), opened for organizers filing by hand."""

    name: str  # as the member's document is named in the bundle, without ``.sealed``
    user_id: int
    text: str | None  # None: the member left the case or deleted their account (key destroyed)


class FiledDocumentList(BaseModel):
    items: list[FiledDocumentRead]
