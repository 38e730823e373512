"""What reading the audit log returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryRead(BaseModel):
    id: int
    at: datetime
    actor_id: int | None  # None: the platform itself (a job, `chorus migrate`)
    action: str
    object_type: str
    object_id: int | None
    data: dict[str, Any]  # ids and codes only, never personal data
