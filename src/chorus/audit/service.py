"""Writing audit entries (inside the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from piccolo.custom_types import Combinable
from piccolo.utils.encoding import dump_json

from chorus import db
from chorus.audit.schemas import AuditEntryRead
from chorus.audit.tables import AuditEntry


async def record(
    action: str,
    *,
    actor_id: int | None,
    object_type: str,
    object_id: int | None = None,
    **data: Any,
) -> None:
    """Append one audit entry. ``data`` must hold ids and codes only, never personal data.
    (A plain statement: most writes add one, and building Piccolo's insert cost more than it.)"""
    await db.fetch(
        AuditEntry,
        "INSERT INTO audit_log (at, actor_id, action, object_type, object_id, data) "
        "VALUES ({}, {}, {}, {}, {}, {})",
        datetime.now(UTC),
        actor_id,
        action,
        object_type,
        object_id,
        dump_json(data),
    )


async def data_of(*, object_type: str, object_id: int, actions: tuple[str, ...]) -> list[dict[str, Any]]:
    """The ``data`` of an object's audit entries with these actions, oldest first."""
    rows = (
        await AuditEntry.select(AuditEntry.data)
        .where(
            (AuditEntry.object_type == object_type)
            & (AuditEntry.object_id == object_id)
            & AuditEntry.action.is_in(list(actions))
        )
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    return [r["data"] if isinstance(r["data"], dict) else {} for r in rows]


async def recent(
    *, actions: Sequence[str], limit: int = 200, before: int | None = None, actor_id: int | None = None
) -> list[AuditEntryRead]:
    """The newest ``limit`` entries with these actions, newest first: older than the entry
    ``before`` (the next page), by ``actor_id`` only when given."""
    where: Combinable = AuditEntry.action.is_in(list(actions))
    if before is not None:
        where &= AuditEntry.id < before
    if actor_id is not None:
        where &= AuditEntry.actor_id == actor_id
    rows = (
        await AuditEntry.select()
        .where(where)
        .order_by(AuditEntry.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    return [AuditEntryRead(**{**r, "data": r["data"] if isinstance(r["data"], dict) else {}}) for r in rows]


async def actors(*, actions: Sequence[str]) -> list[int]:
    """The accounts that did any of these actions (the platform itself aside)."""
    rows = (
        await AuditEntry.select(AuditEntry.actor_id)
        .where(AuditEntry.action.is_in(list(actions)) & AuditEntry.actor_id.is_not_null())
        .distinct()
    )
    return sorted(r["actor_id"] for r in rows)
