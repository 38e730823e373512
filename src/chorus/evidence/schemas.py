"""Evidence request and response models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class EvidenceRead(BaseModel):
    id: int
    case_id: int
    kind: str
    description: str
    visibility: str
    sha256: str
    size: int
    media_type: str
    chain_index: int
    entry_hash: str
    uploaded_at: datetime
    uploaded_by_me: bool
    uploader_name: str | None  # organizers only
    withdrawn: bool
    frozen: bool


class EvidenceCreated(BaseModel):
    id: int
    sha256: str
    size: int
    media_type: str
    chain_index: int
    entry_hash: str


class EvidenceList(BaseModel):
    items: list[EvidenceRead]


class ChainProblem(BaseModel):
    index: int
    reason: str


class ChainVerification(BaseModel):
    ok: bool
    entries: int
    head: str
    problems: list[ChainProblem]
