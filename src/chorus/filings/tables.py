"""Filings: one complaint version sent to one regulator, and the timeline of its status."""

from piccolo.columns import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from chorus.cases.tables import Case
from chorus.complaints.tables import Complaint
from chorus.regulators.tables import Regulator


class Filing(Table, tablename="filing"):
    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.restrict, index=True)
    complaint = ForeignKey(references=Complaint, null=False, on_delete=OnDelete.restrict, index=True)
    regulator = ForeignKey(references=Regulator, null=False, on_delete=OnDelete.restrict)
    status = Varchar(length=20, null=False, default="queued")
    reference = Varchar(length=200, null=True, default=None)  # the regulator's own number
    deadline = Date(null=True, default=None)  # when the regulator owes the next answer
    message = Text(null=False, default="")  # the channel's last refusal, shown to organizers
    bundle_sha256 = Varchar(
        length=64, null=True, default=None
    )  # the bundle as filed (kept in the blob store)
    # the status sweep's claim: not polled again before this time (its regulator's minimum
    # interval after the last poll); unset: never polled
    next_poll_at = Timestamptz(null=True, default=None)
    # One live (not ended) filing per case and regulator: a partial unique index,
    # filing_live ("case", regulator) WHERE status is not an end, made by a raw migration
    # (Piccolo cannot declare a partial index).
    created_by = Integer(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    updated_at = Timestamptz(default=TimestamptzNow(), null=False)


class FilingEvent(Table, tablename="filing_event"):
    """A change or a note on a filing. ``status`` is the status after the event (unchanged
    for a note); ``source`` is worker, regulator or organizer."""

    id: Serial
    filing = ForeignKey(references=Filing, null=False, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow(), null=False)
    status = Varchar(length=20, null=False)
    source = Varchar(length=20, null=False)
    note = Text(null=False, default="")
    reference = Varchar(length=200, null=True, default=None)
    actor = Integer(null=True, default=None)
    # an e-mail reply: its From, and whether that names the regulator (its address or domain)
    sender = Varchar(length=320, null=True, default=None)
    from_regulator = Boolean(null=True, default=None)
    # a reply read by chorus.filings.classify: the status it seems to announce, how sure (0..1) and
    # the words that said so. Only a proposal: the filing's status moves when an organizer confirms
    # or corrects it, with an event of its own whose ``confirms`` names this one.
    proposed_status = Varchar(length=20, null=True, default=None)
    confidence = Real(null=True, default=None)
    phrase = Varchar(length=200, null=True, default=None)
    confirms = Integer(null=True, default=None)
