"""Complaint request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from chorus.ids import Id


class ComplaintCreate(BaseModel):
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
