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
    filename: str | None = None  # the uploader's own file name, to the uploader only
    withdrawn: bool
    frozen: bool
    uploader_id: int | None = None  # organizers only (who uploaded it: the members list's user_id)


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
