"""Joint complaint versions."""

from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.cases.tables import Case
from chorus.regulators.tables import Regulator


class Complaint(Table, tablename="complaint"):
    """One built version of a case's complaint to one regulator. Never edited: a change is a
    new version; once a filing uses it (``filed_at``) it is also never deleted."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.restrict, index=True)
    regulator = ForeignKey(references=Regulator, null=False, on_delete=OnDelete.restrict)
    version = Integer(null=False)
    locale = Varchar(length=8, null=False)
    markdown = Text(null=False)
    sha256 = Varchar(length=64, null=False)
    narrative = Text(null=False, default="")
    demands = JSON(default=[], null=False)
    named_members = JSON(default=[], null=False)  # user ids named (they had consented)
    member_digests = JSON(default={}, null=False)  # user id → sha256 of the text about them
    evidence_ids = JSON(default=[], null=False)  # evidence included in the bundle
    # Where what plain members are shown is kept: {"format", "sha256", "size"} of a blob in the
    # evidence store (complaints.build.MemberView.dump: the text with the named members'
    # pieces in full and redacted; megabytes for a large case). NULL for older versions.
    member_view = JSON(default=None, null=True)
    members_total = Integer(null=False, default=0)  # victims counted (named or not) when built
    total_loss = JSON(default=[], null=False)  # [{amount, currency}] of all of them when built
    chain_head = Varchar(length=64, null=False)
    created_by = Integer(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    filed_at = Timestamptz(null=True, default=None)

    # concurrent builds cannot take the same version number: the later one fails and reruns
    complaint_version_once = Unique([case, regulator, version])
