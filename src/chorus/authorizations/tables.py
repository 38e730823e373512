"""Filing on behalf of many people: the case's representative (代表人), the authorizations
(授权委托书) members give for one filing channel and complaint version, and who a filing was
made for."""

from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.accounts.tables import User
from chorus.cases.tables import Case
from chorus.complaints.tables import Complaint
from chorus.filings.tables import Filing
from chorus.regulators.tables import Regulator


class RepresentativeCandidate(Table, tablename="representative_candidate"):
    """A member standing to be the case's representative (they accept by standing)."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade)
    stood_at = Timestamptz(default=TimestamptzNow(), null=False)

    candidate_once = Unique([case, user])


class RepresentativeVote(Table, tablename="representative_vote"):
    """A member's vote for a candidate: one per member and case, changed by voting again."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.cascade, index=True)
    voter = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade)
    candidate = Integer(
        null=False
    )  # a user id (a candidacy may be withdrawn: the vote then counts for no one)
    at = Timestamptz(default=TimestamptzNow(), null=False)

    vote_once = Unique([case, voter])


class Authorization(Table, tablename="filing_authorization"):
    """One member's authorization for one filing channel (``regulator``) and one complaint version:
    the representative it names may file that version for them, sharing ``fields`` of their
    identity details. Never edited: giving it again is a new row, revoking sets ``revoked_at``;
    once a filing used it (``used_by``) it can no longer be revoked."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    regulator = ForeignKey(references=Regulator, null=False, on_delete=OnDelete.restrict)
    complaint = ForeignKey(references=Complaint, null=False, on_delete=OnDelete.restrict, index=True)
    complaint_version = Integer(null=False)
    complaint_sha256 = Varchar(length=64, null=False)  # the full text it authorizes filing
    representative = Integer(null=False)  # the user id of the representative it names (受托人)
    fields = JSON(default=[], null=False)  # identity details shared (chorus.accounts.identity.FIELDS)
    text_version = Varchar(length=20, null=False)  # the version of the authorization's wording
    given_at = Timestamptz(default=TimestamptzNow(), null=False)
    revoked_at = Timestamptz(null=True, default=None)
    used_by = Integer(null=True, default=None)  # the filing that used it


class FilingParties(Table, tablename="filing_parties"):
    """Who a filing was made for: the members included (a named member without an authorization
    for the channel is left out), the representative, the bureau 12315 routes it to, and the
    text as filed (the version's text with those left out not named)."""

    id: Serial
    filing = ForeignKey(references=Filing, null=False, unique=True, on_delete=OnDelete.cascade)
    included = JSON(default=[], null=False)  # user ids
    authorizations = JSON(default=[], null=False)  # authorization ids, as ``included``
    members_named = Integer(null=False, default=0)  # named in the version
    representative = Integer(null=True, default=None)  # user id
    representative_name = Varchar(length=60, null=False, default="")
    bureau = Integer(null=True, default=None)  # a routing target of the channel (regulator id)
    markdown = Text(null=True, default=None)  # the text as filed; null: the version's text
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
