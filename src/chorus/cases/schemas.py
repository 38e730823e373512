"""Report and case request/response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictBool

from chorus import money
from chorus.ids import Id
from chorus.inputs import Input
from chorus.merchants.schemas import IdentifierIn, IdentifierRead, MerchantRef, ReappearanceWarning


class MoneyIn(Input):
    # Documented as the API's decimal string; a JSON number is taken too. Its value is checked
    # by money.parse (positive, the currency's minor units), which names what is wrong.
    amount: Annotated[str, BeforeValidator(money.amount_text)] = Field(
        json_schema_extra={"pattern": money.AMOUNT_PATTERN}, examples=["199.00"]
    )
    currency: str = Field(min_length=3, max_length=3)


class MoneyRead(BaseModel):
    amount: str
    currency: str


class MerchantIn(Input):
    name: str = Field(min_length=1, max_length=200)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=30)


class ReportCreate(Input):
    merchant: MerchantIn
    loss: MoneyIn
    incident_date: date
    order_refs: list[str] = Field(default_factory=list, max_length=50)
    statement: str = Field(default="", max_length=20000)
    case_id: Id | None = None


class ReportRead(BaseModel):
    case_id: int
    merchant_id: int
    membership_id: int
    created_case: bool
    member_number: int  # the reporter's place among the case's members right after joining (1 = first)
    # the report's payee account, phone … were reported before (issue 16 item 2)
    warnings: list[ReappearanceWarning] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    data: dict[str, Any]


class FilingBrief(BaseModel):
    id: int
    regulator: str
    status: str
    filed_at: datetime | None = None  # when the organizers filed it (the day "since" counts from)


class CaseRead(BaseModel):
    """The public case summary: no personal data."""

    id: int
    status: str
    merchant: MerchantRef
    member_count: int
    total_loss: list[MoneyRead]
    filings: list[FilingBrief]
    timeline: list[TimelineEntry]
    created_at: datetime
    merged_into: int | None = None


class MemberRead(BaseModel):
    user_id: int
    display_name: str
    email: str
    role: str
    loss: MoneyRead
    incident_date: date
    order_refs: list[str]
    joined_at: datetime
    consented_at: datetime | None
    consented_complaint_id: int | None = None  # the newest complaint version the member agreed to
    # every version of the case they read and agreed to (one per regulator at least, once built)
    consented_complaint_ids: list[int] = []

    def agreed_to(self, complaint_id: int) -> bool:
        """The member read and agreed to this very version (and so consents: a withdrawn consent
        leaves no agreement)."""
        return complaint_id in self.consented_complaint_ids


class MemberList(BaseModel):
    items: list[MemberRead]


class MembershipRead(BaseModel):
    id: int
    case_id: int
    role: str
    loss: MoneyRead
    incident_date: date
    order_refs: list[str]
    statement: str
    statement_html: str
    identifiers: list[IdentifierRead]
    joined_at: datetime
    consented_at: datetime | None
    consented_complaint_id: int | None = None  # the newest complaint version agreed to
    consented_sha256: str | None = None  # SHA-256 of that version's full text (what was consented to)
    consented_complaint_ids: list[int] = Field(
        default=[],
        description="every version of the case the member read and agreed to: a case filed with "
        "several regulators has a latest version for each, and each is agreed to on its own",
    )
    # how they paid and where they bought: their escalation ladder's steps (chorus.ladder)
    paid_with: str | None = None
    bought_on: str | None = None


class MembershipUpdate(Input):
    loss: MoneyIn | None = None
    incident_date: date | None = None
    order_refs: list[str] | None = Field(default=None, max_length=50)
    statement: str | None = Field(default=None, max_length=20000)
    # one of the ladder's paid_with / bought_on values (GET /api/v1/cases/{id}/ladder lists them);
    # "" clears it (not said)
    paid_with: str | None = Field(default=None, max_length=20)
    bought_on: str | None = Field(default=None, max_length=20)


class ConsentRequest(Input):
    consent: StrictBool  # "yes" or 1 must not count as agreement
    complaint_id: Id | None = Field(
        default=None,
        description="the complaint version the member read and agrees to: refused (409 "
        "complaint_version_changed) unless it is still the latest version for its regulator; "
        "not given: the consent agrees to the latest version for each regulator",
    )


class OrganizerRequest(Input):
    user_id: Id


class CaseStatusUpdate(Input):
    status: Literal["gathering", "filing", "closed"]


class MyCaseRead(BaseModel):
    case_id: int
    status: str
    merchant: MerchantRef
    role: str
    loss: MoneyRead
    member_count: int
    consented_at: datetime | None
    joined_at: datetime
    consented_complaint_id: int | None = None  # the newest complaint version the member agreed to
    consented_complaint_ids: list[int] = []  # every version of the case they agreed to


class MyCaseList(BaseModel):
    items: list[MyCaseRead]


class GrowthPoint(BaseModel):
    """The case at the end of a day on which members joined (cumulative: who is a member now)."""

    day: date
    members: int
    losses: list[MoneyRead]  # per currency


class CaseGrowth(BaseModel):
    """How a case grew, in aggregate only: no one is named."""

    points: list[GrowthPoint]
