"""Group cases, their members and their public timeline."""

from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from chorus.accounts.tables import User
from chorus.merchants.tables import Merchant


class Case(Table, tablename="group_case"):
    id: Serial
    merchant = ForeignKey(references=Merchant, null=False, on_delete=OnDelete.restrict, index=True)
    status = Varchar(length=12, null=False, default="gathering", index=True)  # gathering|filing|closed
    # One open case per merchant, so concurrent first reports cannot open two: a partial unique
    # index, group_case_open (merchant) WHERE status is open, made by a raw migration (Piccolo
    # cannot declare a partial index).
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    closed_at = Timestamptz(null=True, default=None)
    merged_into = ForeignKey(references="self", null=True, default=None, on_delete=OnDelete.restrict)  # type: ignore[var-annotated]


class Membership(Table, tablename="membership"):
    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, null=False, on_delete=OnDelete.cascade, index=True)
    role = Varchar(length=10, null=False, default="member")  # member | organizer
    loss_amount = Numeric(digits=(14, 3), null=False)
    loss_currency = Varchar(length=3, null=False)
    incident_date = Date(null=False)
    order_refs = JSON(default=[], null=False)
    statement = Text(null=False, default="")  # raw Markdown; rendered only through chorus.markdown
    # The identifiers this member reported, normalized: [{"kind", "value"}]
    identifiers = JSON(default=[], null=False)
    joined_at = Timestamptz(default=TimestamptzNow(), null=False)
    consented_at = Timestamptz(null=True, default=None)
    consent_complaint_id = Integer(null=True, default=None)  # which complaint version was consented to
    consent_sha256 = Varchar(length=64, null=True, default=None)  # SHA-256 of that version's full text
    # Every complaint version of the case the member read and agreed to, [{"id", "sha256"}]: a case
    # filed with several regulators has a latest version for each (consent_complaint_id is the
    # newest of these). Empty whenever consented_at is null (a withdrawn or reset consent).
    consent_versions = JSON(default=[], null=False)
    # how the member paid and where they bought (their escalation ladder's steps, chorus.ladder):
    # values of the default ladder set's paid_with / bought_on; null: not said
    paid_with = Varchar(length=20, null=True, default=None)
    bought_on = Varchar(length=20, null=True, default=None)

    membership_once = Unique([case, user])  # one membership per person and case


class CaseEvent(Table, tablename="case_event"):
    """The public timeline of a case. ``data`` holds counts, ids and codes, never personal data."""

    id: Serial
    case = ForeignKey(references=Case, null=False, on_delete=OnDelete.cascade, index=True)
    at = Timestamptz(default=TimestamptzNow(), null=False)
    kind = Varchar(length=40, null=False)
    data = JSON(default={}, null=False)
