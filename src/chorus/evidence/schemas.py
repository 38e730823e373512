"""Evidence request and response models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

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
    """``next_after``: asked for a page (``limit``), the ``after`` of the next one; null at the end."""

    items: list[EvidenceRead]
    next_after: int | None = None


class ChainProblem(BaseModel):
    index: int
    reason: str


class ChainVerification(BaseModel):
    ok: bool
    entries: int
    head: str
    problems: list[ChainProblem]


class ExtractedFieldRead(BaseModel):
    """A fact suggested from the evidence's text; used only once its uploader accepted it."""

    id: int
    kind: Literal["amount", "payee_name", "payee_account", "time", "order_number", "qq", "wechat", "phone"]
    value: str  # as read (a masked value as shown); a time in ISO 8601, an amount without separators
    confidence: float  # 0..1: how sure the reading is (the label found, the OCR's own score)
    source_line: str  # the line of the text it was read from
    line_no: int  # that line's number in ``text`` (1-based)
    identifier_kind: str | None  # the identifier it becomes once accepted (None: masked, or no identifier)
    detail: dict[str, str]  # ``currency`` of an amount, ``visible_digits`` of a masked account
    status: Literal["suggested", "accepted", "rejected"]
    applied: str | None  # what accepting it changed: identifier | order_ref (None: nothing was empty)


class ExtractionRead(BaseModel):
    evidence_id: int
    # unavailable: no OCR where the job ran (the [ocr] extra), or a kind of file that is not read
    status: Literal["pending", "done", "failed", "unavailable"]
    text: str
    fields: list[ExtractedFieldRead]
