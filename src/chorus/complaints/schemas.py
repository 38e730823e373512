"""Complaint request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from chorus.ids import Id
from chorus.inputs import Input


class ComplaintCreate(Input):
    regulator_id: Id
    locale: str | None = Field(default=None, max_length=8)
    narrative: str | None = Field(default=None, max_length=20000)
    demands: list[str] | None = Field(default=None, max_length=10)


class ComplaintCreated(BaseModel):
    id: int
    version: int
    sha256: str
    markdown: str


class RegulatorBrief(BaseModel):
    id: int
    name: str


class ComplaintRead(BaseModel):
    id: int
    case_id: int
    version: int
    locale: str
    regulator: RegulatorBrief
    # "full": the text as built and filed (organizers); "member": a plain member's view of it,
    # their own row in full and the other victims redacted. ``sha256`` is always the full
    # text's (what a member consents to), ``markdown`` the text of this view.
    view: Literal["full", "member"]
    sha256: str
    markdown: str
    created_at: datetime
    filed: bool
    named_members: int
    demands: list[str]


class ComplaintBrief(BaseModel):
    """A version in the case's list: what it is, without its text."""

    id: int
    version: int
    locale: str
    regulator: RegulatorBrief
    sha256: str
    created_at: datetime
    filed: bool
    named_members: int


class ComplaintList(BaseModel):
    items: list[ComplaintBrief]


class ComplaintDiff(BaseModel):
    id: int
    against: int
    diff: str
    view: Literal["full", "member"] = "full"  # of the texts compared: as the caller reads them


class PatternRead(BaseModel):
    """Something several members of a case share (:mod:`chorus.complaints.patterns`), as the
    next complaint version cites it."""

    kind: str  # payee_account | bank_card | qq | shop | order_format | burst
    # the merchant's account or shop (a bank card to its last 4 digits), the order-reference
    # shape ("XC####": # a digit, A a letter), or for a burst "<from>..<to>"
    value: str
    members: int  # how many members share it
    identifier_kind: str | None = None  # accounts: the identifier kind (alipay, wechat, phone, ...)
    date_from: date | None = None  # a burst: its first and last incident day, and the window
    date_to: date | None = None
    window_days: int | None = None
    # accounts and order-number shapes: the evidence items whose fields, accepted by their
    # uploaders, show it (receipts read for them, issue 19), and how many members those are
    evidence_ids: list[int] = []
    receipt_members: int = 0


class PatternList(BaseModel):
    members_total: int
    items: list[PatternRead]
