"""Writing audit entries (inside the caller's transaction)."""

from __future__ import annotations

from typing import Any

from chorus.audit.tables import AuditEntry


async def record(
    action: str,
    *,
    actor_id: int | None,
    object_type: str,
    object_id: int | None = None,
    **data: Any,
) -> None:
    """Append one audit entry. ``data`` must hold ids and codes only, never personal data."""
    await AuditEntry.insert(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            object_type=object_type,
            object_id=object_id,
            data=data,
        )
    )
