"""Merchant request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class IdentifierIn(BaseModel):
    kind: str = Field(min_length=1, max_length=20)
    value: str = Field(min_length=1, max_length=2000)


class IdentifierRead(BaseModel):
    kind: str
    value: str


class ResolveRequest(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=30)


class MatchRead(BaseModel):
    merchant_id: int
    name: str
    score: float
    matched_on: list[str]
    case_id: int | None


class ResolveRead(BaseModel):
    normalized: list[IdentifierRead]
    matches: list[MatchRead]


class CaseBrief(BaseModel):
    id: int
    status: str
    member_count: int


class MerchantRead(BaseModel):
    id: int
    name: str
    aliases: list[str]
    identifiers: list[IdentifierRead]
    cases: list[CaseBrief]
    merged_into: int | None = None


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
