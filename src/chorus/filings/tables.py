"""Filings: one complaint version sent to one regulator, and the timeline of its status."""

from piccolo.columns import (
    BigInt,
    Boolean,
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


class FilingAttachment(Table, tablename="filing_attachment"):
    """A file attached to a regulator's reply, kept on the filing like evidence: its bytes in the
    evidence blob store (by SHA-256, sniffed), shown to the case's organizers and admins. An
    attachment that could not be kept (larger than CHORUS_UPLOAD_MAX_BYTES, a type evidence refuses)
    has no bytes and says why in ``refused`` (too_large | type), so the timeline still names it."""

    id: Serial
    filing = ForeignKey(references=Filing, null=False, on_delete=OnDelete.cascade, index=True)
    event = ForeignKey(references=FilingEvent, null=False, on_delete=OnDelete.cascade, index=True)
    # what the sender called it: recorded, never trusted, never a path (sniff.safe_filename serves it)
    filename = Varchar(length=255, null=False, default="")
    media_type = Varchar(length=60, null=True, default=None)  # sniffed from the bytes
    extension = Varchar(length=8, null=True, default=None)
    size = BigInt(null=False, default=0)
    sha256 = Varchar(length=64, null=True, default=None, index=True)
    refused = Varchar(length=20, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)


class InboundQuarantine(Table, tablename="inbound_quarantine"):
    """Inbound mail that could not be recorded on a filing by itself, kept for admins: it matches
    no filing (``unmatched``), names one of our reply addresses with a wrong signature
    (``bad_signature``) or an expired one (``expired``), cannot be read (``unreadable``), or carries
    an attachment that cannot be kept (``attachment_refused``). The raw message is in the blob store
    (``raw_sha256``) until an admin assigns it to a filing (recorded there as a matched reply would
    be) or discards it (the row stays with who and when; the text and the raw bytes are deleted)."""

    id: Serial
    received_at = Timestamptz(default=TimestamptzNow(), null=False)
    reason = Varchar(length=20, null=False)
    # once per Message-ID (or per content without one): a mail server's second delivery is one item
    seen = Varchar(length=64, null=False, unique=True)
    raw_sha256 = Varchar(length=64, null=False, index=True)
    raw_size = BigInt(null=False)
    sender = Varchar(length=320, null=False, default="")
    subject = Text(null=False, default="")
    recipients = Text(null=False, default="")  # the To/Cc/... addresses, one per line
    message_id = Text(null=False, default="")
    text = Text(null=False, default="")  # subject and body as a reply's note reads them
    attachments = Integer(null=False, default=0)
    # the filing the address named (expired, attachment refused): a hint for the admin, no more
    filing_hint = Integer(null=True, default=None)
    state = Varchar(length=10, null=False, default="open")  # open | assigned | discarded
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = Integer(null=True, default=None)
    filing = ForeignKey(references=Filing, null=True, on_delete=OnDelete.set_null, default=None)
    event = Integer(null=True, default=None)  # the reply event the assignment recorded
    note = Text(null=False, default="")  # why the admin discarded it
