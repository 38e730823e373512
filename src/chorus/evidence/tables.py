"""Evidence records and the per-case hash chain."""

from piccolo.columns import (
    JSON,
    BigInt,
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
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.accounts.tables import User
from chorus.cases.tables import Case


class Evidence(Table, tablename="evidence"):
    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.restrict, index=True)
    uploader = ForeignKey(references=User, null=False, on_delete=OnDelete.restrict, index=True)
    kind = Varchar(length=20, null=False)
    description = Text(null=False, default="")
    visibility = Varchar(length=10, null=False, default="organizers")  # organizers | members
    sha256 = Varchar(length=64, null=False, index=True)
    size = BigInt(null=False)
    media_type = Varchar(length=60, null=False)
    extension = Varchar(length=8, null=False)
    # What the client claimed: recorded, never trusted, never used as a path.
    client_filename = Varchar(length=255, null=False, default="")
    client_media_type = Varchar(length=100, null=False, default="")
    # A copy without EXIF/GPS metadata, shown to everyone but the uploader (images only).
    derived_sha256 = Varchar(length=64, null=True, default=None, index=True)
    derived_size = BigInt(null=True, default=None)
    uploaded_at = Timestamptz(default=TimestamptzNow(), null=False)
    chain_index = Integer(null=False)
    entry_hash = Varchar(length=64, null=False)
    withdrawn_at = Timestamptz(null=True, default=None)
    frozen_at = Timestamptz(null=True, default=None)  # set once a filed complaint cites it

    # the same bytes from the same uploader in a case are one record
    evidence_once = Unique([case, uploader, sha256])


class ChainLink(Table, tablename="evidence_chain"):
    """One append-only entry of a case's hash chain; ``meta`` is exactly what was hashed."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.restrict, index=True)
    index = Integer(null=False)
    evidence = ForeignKey(references=Evidence, null=False, on_delete=OnDelete.restrict)
    evidence_sha256 = Varchar(length=64, null=False)
    meta = JSON(default={}, null=False)
    prev_hash = Varchar(length=64, null=False)
    entry_hash = Varchar(length=64, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)

    # no forks: one entry per index of a case's chain (also the index its reads go by)
    evidence_chain_no_fork = Unique([case, index])


class Extraction(Table, tablename="evidence_extraction"):
    """What was read from one image or chat export (issue 19): its text, once the job ran.
    ``status``: pending | done | failed | unavailable (no OCR installed where the job ran)."""

    id: Serial
    evidence = ForeignKey(references=Evidence, null=False, on_delete=OnDelete.cascade, unique=True)
    status = Varchar(length=12, null=False, default="pending")
    text = Text(null=False, default="")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    finished_at = Timestamptz(null=True, default=None)


class ExtractedField(Table, tablename="evidence_extracted_field"):
    """One suggested fact (chorus.evidence.fields) until the uploader accepts or rejects it.
    ``applied``: what accepting it changed (identifier | order_ref | loss | incident_date), or
    null when the report already held a value (nothing is overwritten)."""

    id: Serial
    extraction = ForeignKey(references=Extraction, null=False, on_delete=OnDelete.cascade, index=True)
    kind = Varchar(length=20, null=False)
    value = Varchar(length=200, null=False)
    confidence = Real(null=False)
    source_line = Text(null=False, default="")
    line_no = Integer(null=False)
    identifier_kind = Varchar(length=20, null=True, default=None)
    detail = JSON(default={}, null=False)
    status = Varchar(length=10, null=False, default="suggested")  # suggested | accepted | rejected
    decided_at = Timestamptz(null=True, default=None)
    applied = Varchar(length=20, null=True, default=None)
