"""Notifications: fan a case event out to its members' inboxes; read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from chorus.accounts.schemas import UserRead
from chorus.cases.tables import CaseEvent, Membership
from chorus.errors import NotFound
from chorus.notifications.tables import Notification


class NotificationRead(BaseModel):
    id: int
    kind: str
    case_id: int | None
    data: dict[str, object]
    created_at: datetime
    read: bool


class NotificationList(BaseModel):
    items: list[NotificationRead]
    unread: int


async def fan_out_case_event(event_id: int) -> int:
    """One inbox entry per member of the event's case; safe to run twice. Returns new entries."""
    event = (
        await CaseEvent.select(CaseEvent.case, CaseEvent.kind, CaseEvent.data)
        .where(CaseEvent.id == event_id)
        .output(load_json=True)
        .first()
    )
    if event is None:
        return 0
    users = [
        r["user"] for r in await Membership.select(Membership.user).where(Membership.case == event["case"])
    ]
    created = 0
    for user_id in users:
        rows = (
            await Notification.insert(
                Notification(
                    user=user_id,
                    kind=f"case.{event['kind']}",
                    case_id=event["case"],
                    data=event["data"] or {},
                    idempotency_key=f"case-event:{event_id}:{user_id}",
                )
            )
            .on_conflict(target=Notification.idempotency_key, action="DO NOTHING")
            .returning(Notification.id)
        )
        created += len(rows)
    return created


async def notify(
    *, user_ids: list[int], kind: str, case_id: int | None, data: dict[str, Any], source: str
) -> int:
    """One inbox entry per user for the fact ``source``; safe to run twice. Returns new entries."""
    created = 0
    for user_id in sorted(set(user_ids)):
        rows = (
            await Notification.insert(
                Notification(
                    user=user_id, kind=kind, case_id=case_id, data=data, idempotency_key=f"{source}:{user_id}"
                )
            )
            .on_conflict(target=Notification.idempotency_key, action="DO NOTHING")
            .returning(Notification.id)
        )
        created += len(rows)
    return created


async def list_for(user: UserRead, limit: int = 100) -> NotificationList:
    rows = (
        await Notification.select(
            Notification.id,
            Notification.kind,
            Notification.case_id,
            Notification.data,
            Notification.created_at,
            Notification.read_at,
        )
        .where(Notification.user == user.id)
        .order_by(Notification.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    unread = await Notification.count().where((Notification.user == user.id) & Notification.read_at.is_null())
    return NotificationList(
        items=[
            NotificationRead(
                id=r["id"],
                kind=r["kind"],
                case_id=r["case_id"],
                data=r["data"] or {},
                created_at=r["created_at"],
                read=r["read_at"] is not None,
            )
            for r in rows
        ],
        unread=unread,
    )


async def mark_read(user: UserRead, notification_id: int) -> None:
    rows = (
        await Notification.update({Notification.read_at: datetime.now(UTC)})
        .where((Notification.id == notification_id) & (Notification.user == user.id))
        .returning(Notification.id)
    )
    if not rows:
        raise NotFound("notification_not_found")
