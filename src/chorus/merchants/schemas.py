"""Merchant request and response models."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from chorus.inputs import Input


class IdentifierIn(Input):
    kind: str = Field(min_length=1, max_length=20)
    value: str = Field(min_length=1, max_length=2000)


class IdentifierRead(BaseModel):
    kind: str
    value: str


class ResolveRequest(Input):
    name: str | None = Field(default=None, max_length=200)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=30)


class MatchRead(BaseModel):
    merchant_id: int
    name: str
    score: float
    matched_on: list[str]
    case_id: int | None


class ReappearanceWarning(BaseModel):
    """A report's identifiers were reported before: under another name, or against a merchant
    whose case is closed. Counts and the merchant's names only, never who reported.
    ``matched_on``: the strong kinds shared (payee account, bank card, phone, QQ, WeChat, USCC);
    ``first_reported``: the day (China time) that case was opened."""

    code: str = "reappeared"
    merchant_id: int
    name: str
    case_id: int
    member_count: int
    matched_on: list[str]
    case_status: str
    first_reported: date
    closed_on: date | None = None


class ResolveRead(BaseModel):
    normalized: list[IdentifierRead]
    matches: list[MatchRead]
    warnings: list[ReappearanceWarning] = Field(default_factory=list)


class CaseBrief(BaseModel):
    id: int
    status: str
    member_count: int


class EarlierCase(BaseModel):
    """A closed case against the same merchant, or against a merchant tied to it by a strong
    identifier (``matched_on``: the kinds shared; empty for the merchant itself)."""

    merchant_id: int
    name: str
    case_id: int
    member_count: int
    closed_on: date | None
    matched_on: list[str]


class ReappearedRead(BaseModel):
    """The merchant came back: reported again after a closed case, or tied by a payee account,
    card, phone, QQ … to a merchant whose case is closed. ``other_names``: the names it used."""

    code: str = "reappeared"
    earlier: list[EarlierCase]
    other_names: list[str]


class MerchantRead(BaseModel):
    id: int
    name: str
    aliases: list[str]
    identifiers: list[IdentifierRead]
    cases: list[CaseBrief]
    merged_into: int | None = None
    # the day (China time) of the latest report, never who made it; None before any report
    last_reported: date | None = None
    reappeared: ReappearedRead | None = None


class NewlyReportedRead(BaseModel):
    """A merchant of the public feed of newly reported merchants: no personal data."""

    id: int
    name: str
    platforms: list[str]
    first_reported: datetime
    last_reported: datetime
    member_count: int


class MerchantSummary(BaseModel):
    id: int
    name: str
    aliases: list[str]
    open_case_id: int | None
    member_count: int
    # what the query matched on: identifier kinds (as match keys name them: a link's domain is
    # "domain", an Alipay account that is a phone number "phone") and/or "name"
    matched_on: list[str] = Field(default_factory=list)


class MerchantList(BaseModel):
    items: list[MerchantSummary]


class MerchantRef(BaseModel):
    id: int
    name: str


class MergeProposalRead(BaseModel):
    id: int
    merchant_a: MerchantRef
    merchant_b: MerchantRef
    matched_on: list[str]
    status: str
    created_at: datetime
    decided_at: datetime | None


class MergeProposalList(BaseModel):
    items: list[MergeProposalRead]


class ClaimantRef(BaseModel):
    """Who named a claimed identifier or alias (display name only)."""

    id: int
    display_name: str


class ReviewedIdentifierRead(BaseModel):
    """An identifier as organizers and moderators see it: unmasked, with its standing."""

    id: int
    kind: str
    value: str
    status: str  # confirmed | claimed
    claimed_by: ClaimantRef | None
    claimed_at: datetime | None


class ReviewedAliasRead(BaseModel):
    id: int
    name: str
    status: str  # confirmed | claimed
    claimed_by: ClaimantRef | None
    claimed_at: datetime | None


class ClaimList(BaseModel):
    """The claimed (not yet confirmed) identifiers and names of a merchant."""

    merchant_id: int
    identifiers: list[ReviewedIdentifierRead]
    aliases: list[ReviewedAliasRead]


class LinkProposalRead(BaseModel):
    """A name a report gave a merchant it reached by a strong identifier: for a moderator to
    confirm or reject. ``matched_on``: the identifier kinds only (values may be personal)."""

    id: int
    merchant: MerchantRef
    name: str
    matched_on: list[str]
    case_id: int | None
    status: str
    created_at: datetime
    decided_at: datetime | None


class LinkProposalList(BaseModel):
    items: list[LinkProposalRead]
