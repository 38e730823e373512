"""Notifications: record an event, fan it out to members' inboxes and delivery rows in batches,
read and mark the inbox, preferences, announcements, unsubscribe, and what admins see of failures.

The path of an event: a use case calls :func:`record` inside its own transaction (or a job does,
for case timeline events); the outbox hands :func:`fan_out` to a worker, which writes, batch by
batch and each batch in one transaction, the inbox rows (one bulk INSERT), one ``Delivery`` per
(event, user, channel) — a unique constraint, so a re-run adds nothing — and the batch's send
job in the outbox. Sending (chorus.notifications.delivery) claims rows, so two jobs never send
the same row, and a killed worker's claims are taken over once their lease expires (:func:`sweep`).
"""

from __future__ import annotations

import json
import secrets
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from chorus import db, freshness, jobs, netguard, security
from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.cases.schemas import MemberRead
from chorus.complaints import service as complaints
from chorus.errors import Conflict, Invalid, NotFound
from chorus.evidence import service as evidence
from chorus.markdown import render as markdown_html
from chorus.notifications import webhook
from chorus.notifications.render import IN_APP_ONLY
from chorus.notifications.schemas import (
    AnnouncementCreate,
    AnnouncementList,
    AnnouncementRead,
    ConsentReminder,
    DeliveryFailure,
    DeliveryFailureList,
    EvidenceReminder,
    NotificationList,
    NotificationRead,
    PreferencesRead,
    PreferencesUpdate,
    Unsubscribed,
)
from chorus.notifications.tables import Announcement, Delivery, Digest, InboxEntry, NotifyEvent, Preferences
from chorus.settings import Settings

Audience = Literal["members", "organizers", "users"]
UNSUBSCRIBE_PURPOSE = "notify-unsubscribe"
CONFIRM_PURPOSE = "notify-confirm-email"
UNSUBSCRIBE_MAX_AGE = 10 * 365 * 24 * 3600  # a link in an old e-mail still works
CONFIRM_HOURS = 48
OUTBOUND = ("email", "webhook")  # channels sent by batch jobs; "digest" waits for the daily run
# Kept out of e-mails and webhooks (the inbox of organizers, who see the member list anyway,
# keeps them): other members' display names.
PERSONAL_KEYS = frozenset({"members"})

# Timeline events members hear about: kind → (notification kind, audience).
CASE_EVENTS: dict[str, tuple[str, Audience]] = {
    "member_joined": ("case.member_joined", "organizers"),
    "status_changed": ("case.status_changed", "members"),
    "merged": ("case.merged", "members"),
    "merchant_merged": ("case.merchant_merged", "members"),
    "filing_status": ("case.filing_status", "members"),
    "filing_reply": ("case.filing_reply", "members"),
}


# --- recording an event ------------------------------------------------------------------------


async def record(
    *,
    kind: str,
    case_id: int | None,
    data: dict[str, Any],
    source: str,
    audience: Audience = "users",
    user_ids: Sequence[int] = (),
    defer_fan_out: bool = True,
) -> int | None:
    """Record that members must hear of something; call inside the use case's transaction. The
    fan-out job goes into the outbox with it (a job that fans out at once says
    ``defer_fan_out=False``: the sweep finishes it if that job dies). ``source`` names the fact
    ("announcement:7"): a replayed use case records it once. Returns the new event's id (None if
    already recorded)."""
    rows = await (
        NotifyEvent.insert(
            NotifyEvent(
                kind=kind,
                case_id=case_id,
                data=dict(data),
                audience=audience,
                user_ids=sorted({int(u) for u in user_ids}),
                source=source,
            )
        )
        .on_conflict(target=NotifyEvent.source, action="DO NOTHING")
        .returning(NotifyEvent.id)
    )
    if not rows:
        return None
    event_id: int = rows[0]["id"]
    if defer_fan_out:
        await jobs.defer(jobs.Job.notify_fan_out, f"notify-fan-out:{event_id}", event_id=event_id)
    return event_id


async def _record_and_fan_out(settings: Settings, **kwargs: Any) -> int:
    """For jobs that turn a fact into an event: record it, then fan it out right away (the
    fan-out job the outbox also gets finds it done)."""
    async with db.transaction():
        freshness.nothing_public()
        await record(**kwargs, defer_fan_out=False)
    row = await NotifyEvent.select(NotifyEvent.id).where(NotifyEvent.source == kwargs["source"]).first()
    return await fan_out(row["id"], settings) if row else 0


async def from_case_event(event_id: int, settings: Settings) -> int:
    """The job of a case timeline event: members (or organizers) hear of the kinds in
    ``CASE_EVENTS``. Returns the inbox entries made."""
    event = await cases.event_notice(event_id)
    if event is None or event["kind"] not in CASE_EVENTS:
        return 0
    kind, audience = CASE_EVENTS[event["kind"]]
    data = dict(event["data"] or {})
    if event["kind"] == "status_changed" and data.get("status") == "closed":
        kind = "case.closed"
    if event["kind"] == "merged" and "from_case" not in data:
        return 0  # the emptied case: its members are told on the case they moved to
    return await _record_and_fan_out(
        settings,
        kind=kind,
        case_id=event["case"],
        data=data,
        source=f"case-event:{event_id}",
        audience=audience,
    )


async def notify(
    *,
    user_ids: list[int],
    kind: str,
    case_id: int | None,
    data: dict[str, Any],
    source: str,
    audience: Audience = "users",
    settings: Settings | None = None,
) -> int:
    """Tell ``user_ids`` (or the case's ``audience``) of ``kind`` once per ``source``; safe to run
    twice. Returns the inbox entries made."""
    from chorus.settings import get_settings

    return await _record_and_fan_out(
        settings or get_settings(),
        kind=kind,
        case_id=case_id,
        data=data,
        source=source,
        audience=audience,
        user_ids=user_ids,
    )


# --- fan-out -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefs:
    email: str = "immediate"
    time_zone: str = "Asia/Shanghai"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_disabled: bool = False
    bouncing_address: str | None = None


DEFAULT_PREFS = Prefs()


async def preferences_of(user_ids: Sequence[int]) -> dict[int, Prefs]:
    """Stored preferences of many users (missing ones: the defaults)."""
    out: dict[int, Prefs] = {}
    ids = sorted(set(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await Preferences.select(
            Preferences.user,
            Preferences.email,
            Preferences.time_zone,
            Preferences.webhook_url,
            Preferences.webhook_secret,
            Preferences.webhook_disabled_at,
            Preferences.bouncing_address,
        ).where(Preferences.user.is_in(ids[start : start + 1000]))
        for r in rows:
            out[r["user"]] = Prefs(
                email=r["email"],
                time_zone=r["time_zone"],
                webhook_url=r["webhook_url"],
                webhook_secret=r["webhook_secret"],
                webhook_disabled=r["webhook_disabled_at"] is not None,
                bouncing_address=r["bouncing_address"],
            )
    return out


async def _recipients(event: dict[str, Any]) -> list[int]:
    if event["audience"] == "members" and event["case_id"] is not None:
        return await cases.member_ids(event["case_id"])
    if event["audience"] == "organizers" and event["case_id"] is not None:
        return await cases.organizer_ids(event["case_id"])
    return sorted({int(u) for u in db.json_value(event["user_ids"]) or []})


def inbox_data(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What an inbox entry keeps: an announcement's body is read from the announcement."""
    return {k: v for k, v in data.items() if not (kind == "case.announcement" and k == "body")}


def outbound_data(data: dict[str, Any]) -> dict[str, Any]:
    """What leaves Chorus (e-mail, webhook): never other members' personal data."""
    return {k: v for k, v in data.items() if k not in PERSONAL_KEYS}


def channels_for(kind: str, prefs: Prefs) -> list[str]:
    """The outbound channels one member gets an event of ``kind`` on."""
    if kind in IN_APP_ONLY:
        return []
    out = []
    if prefs.email == "immediate":
        out.append("email")
    elif prefs.email == "digest":
        out.append("digest")
    if prefs.webhook_url and not prefs.webhook_disabled:
        out.append("webhook")
    return out


def _ids_param(user_ids: list[int]) -> tuple[str, Any]:
    """A list of ids as one query parameter: an int[] on PostgreSQL, a JSON array on SQLite."""
    if db.is_sqlite():
        return "SELECT value AS user_id FROM json_each({})", json.dumps(user_ids)
    return "SELECT unnest({}::int[]) AS user_id", user_ids


async def _insert_inbox(event_id: int, user_ids: list[int], kind: str, case_id: int | None, data: Any) -> int:
    """One INSERT for the inbox entries of many users (a re-run adds nothing). Returns rows made."""
    ids_sql, ids = _ids_param(user_ids)
    cast = "" if db.is_sqlite() else "::json"
    # only constant fragments are formatted in; "WHERE true": SQLite's parser needs it between
    # INSERT … SELECT and ON CONFLICT
    sql = (
        'INSERT INTO notify_inbox ("user", event, kind, case_id, data, created_at) '  # noqa: S608
        f"SELECT u.user_id, {{}}, {{}}, {{}}, {{}}{cast}, {{}} FROM ({ids_sql}) AS u "
        'WHERE true ON CONFLICT (event, "user") DO NOTHING RETURNING id'
    )
    rows = await db.fetch(
        InboxEntry,
        sql,
        event_id,
        kind,
        case_id,
        json.dumps(data),
        datetime.now(UTC),
        ids,
    )
    return len(rows)


async def _insert_deliveries(event_id: int, channel: str, user_ids: list[int], batch: int) -> None:
    """One INSERT for one channel's deliveries of many users (the unique key keeps one each)."""
    ids_sql, ids = _ids_param(user_ids)
    sql = (
        'INSERT INTO notify_delivery (event, "user", channel, batch, status, attempts, created_at) '  # noqa: S608
        f"SELECT {{}}, u.user_id, {{}}, {{}}, 'pending', 0, {{}} FROM ({ids_sql}) AS u "
        'WHERE true ON CONFLICT (event, "user", channel) DO NOTHING'
    )
    await db.fetch(
        Delivery,
        sql,
        event_id,
        channel,
        batch,
        datetime.now(UTC),
        ids,
    )


async def fan_out(event_id: int, settings: Settings) -> int:
    """The job: one inbox entry per recipient, one delivery per recipient and channel, in
    batches of CHORUS_NOTIFY_BATCH_SIZE (each one transaction, with its send jobs in the outbox).
    Safe to run again at any point. Returns the inbox entries made."""
    event = await NotifyEvent.select().where(NotifyEvent.id == event_id).output(load_json=True).first()
    if event is None or event["fanned_out_at"] is not None:
        return 0
    recipients = await _recipients(event)
    prefs = await preferences_of(recipients)
    data = inbox_data(event["kind"], event["data"] or {})
    size = settings.notify_batch_size
    made = 0
    for batch, start in enumerate(range(0, len(recipients), size)):
        chunk = recipients[start : start + size]
        async with db.transaction():
            freshness.nothing_public()
            made += await _insert_inbox(event_id, chunk, event["kind"], event["case_id"], data)
            wanted: dict[str, list[int]] = {}
            for u in chunk:
                for channel in channels_for(event["kind"], prefs.get(u, DEFAULT_PREFS)):
                    wanted.setdefault(channel, []).append(u)
            for channel, users in wanted.items():
                await _insert_deliveries(event_id, channel, users, batch)
            for channel in sorted(set(wanted) & set(OUTBOUND)):
                await jobs.defer(
                    jobs.Job.notify_send,
                    f"notify-send:{event_id}:{channel}:{batch}",
                    event_id=event_id,
                    channel=channel,
                    batch=batch,
                )
    await NotifyEvent.update({NotifyEvent.fanned_out_at: datetime.now(UTC)}).where(NotifyEvent.id == event_id)
    return made


async def sweep(settings: Settings, now: datetime | None = None) -> int:
    """Deliveries a killed (or lost) job held past its lease, and events whose fan-out did not
    finish, get a new job (claims keep two jobs from sending one row). Returns jobs deferred."""
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=settings.notify_lease_seconds)
    stale = (
        await Delivery.select(Delivery.event, Delivery.channel, Delivery.batch)
        .where(
            Delivery.channel.is_in(list(OUTBOUND))
            & Delivery.status.is_in(["pending", "sending"])
            & (
                (Delivery.lease_until.is_null() & (Delivery.created_at < now - lease))
                | (Delivery.lease_until < now)
            )
        )
        .distinct()
    )
    unfinished = await NotifyEvent.select(NotifyEvent.id).where(
        NotifyEvent.fanned_out_at.is_null() & (NotifyEvent.created_at < now - lease)
    )
    if not stale and not unfinished:
        return 0
    round_ = int(now.timestamp())
    async with db.transaction():
        freshness.nothing_public()
        for r in stale:
            await jobs.defer(
                jobs.Job.notify_send,
                f"notify-send:{r['event']}:{r['channel']}:{r['batch']}:sweep:{round_}",
                event_id=r["event"],
                channel=r["channel"],
                batch=r["batch"],
            )
        for r in unfinished:
            await jobs.defer(
                jobs.Job.notify_fan_out, f"notify-fan-out:{r['id']}:sweep:{round_}", event_id=r["id"]
            )
    return len(stale) + len(unfinished)


# --- the inbox ---------------------------------------------------------------------------------


async def list_for(*, actor: UserRead, limit: int = 100) -> NotificationList:
    rows = (
        await InboxEntry.select(
            InboxEntry.id,
            InboxEntry.kind,
            InboxEntry.case_id,
            InboxEntry.data,
            InboxEntry.created_at,
            InboxEntry.read_at,
        )
        .where(InboxEntry.user == actor.id)
        .order_by(InboxEntry.id, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    unread = await InboxEntry.count().where((InboxEntry.user == actor.id) & InboxEntry.read_at.is_null())
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


async def mark_read(notification_id: int, *, actor: UserRead) -> None:
    rows = (
        await InboxEntry.update({InboxEntry.read_at: datetime.now(UTC)})
        .where(
            (InboxEntry.id == notification_id) & (InboxEntry.user == actor.id) & InboxEntry.read_at.is_null()
        )
        .returning(InboxEntry.id)
    )
    if not rows and not await InboxEntry.exists().where(
        (InboxEntry.id == notification_id) & (InboxEntry.user == actor.id)
    ):
        raise NotFound("notification_not_found")


async def mark_all_read(*, actor: UserRead) -> None:
    await InboxEntry.update({InboxEntry.read_at: datetime.now(UTC)}).where(
        (InboxEntry.user == actor.id) & InboxEntry.read_at.is_null()
    )


# --- preferences -------------------------------------------------------------------------------


async def _ensure_row(user_id: int) -> None:
    await Preferences.insert(Preferences(user=user_id)).on_conflict(
        target=Preferences.user, action="DO NOTHING"
    )


async def get_preferences(*, actor: UserRead, secret: str | None = None) -> PreferencesRead:
    prefs = (await preferences_of([actor.id])).get(actor.id, DEFAULT_PREFS)
    locale = actor.locale if actor.locale in ("zh-CN", "en") else "zh-CN"
    return PreferencesRead(
        email=prefs.email,  # type: ignore[arg-type]
        locale=locale,  # type: ignore[arg-type]
        time_zone=prefs.time_zone,
        webhook_url=prefs.webhook_url,
        webhook_active=bool(prefs.webhook_url) and not prefs.webhook_disabled,
        email_bouncing=prefs.bouncing_address is not None and prefs.bouncing_address == actor.email,
        webhook_secret=secret,
    )


async def update_preferences(
    *, actor: UserRead, data: PreferencesUpdate, settings: Settings
) -> PreferencesRead:
    """Change any of e-mail mode, language, time zone, webhook address. A new webhook address
    gets a new signing secret, shown in this answer only."""
    given = data.model_fields_set
    if data.time_zone is not None and data.time_zone not in zoneinfo.available_timezones():
        raise Invalid("time_zone_unknown", field="time_zone")
    for name in ("email", "locale", "time_zone"):
        if name in given and getattr(data, name) is None:
            raise Invalid("preference_required", field=name)
    secret = None
    changes: dict[Any, Any] = {Preferences.updated_at: datetime.now(UTC)}
    if data.email is not None:
        changes[Preferences.email] = data.email
    if data.time_zone is not None:
        changes[Preferences.time_zone] = data.time_zone
    if "webhook_url" in given:
        if data.webhook_url is None:
            changes.update({Preferences.webhook_url: None, Preferences.webhook_secret: None})
        else:
            try:
                await webhook.check_address(data.webhook_url, netguard.policy(settings))
            except netguard.Blocked as exc:
                raise Invalid("webhook_url_blocked", field="webhook_url", reason=exc.reason) from exc
            except netguard.Unresolvable as exc:
                raise Invalid("webhook_url_unresolvable", field="webhook_url") from exc
            secret = webhook.new_secret()
            changes.update(
                {
                    Preferences.webhook_url: data.webhook_url,
                    Preferences.webhook_secret: secret,
                    Preferences.webhook_disabled_at: None,
                }
            )
    async with db.transaction():
        freshness.nothing_public()
        await _ensure_row(actor.id)
        await Preferences.update(changes).where(Preferences.user == actor.id)
        if data.locale is not None:
            await accounts.set_locale(actor.id, data.locale)
    fresh = await accounts.get_or_raise(actor.id)
    return await get_preferences(actor=fresh, secret=secret)


# --- unsubscribe and a bouncing address ----------------------------------------------------------


def unsubscribe_url(settings: Settings, user_id: int) -> str:
    token = security.sign(settings.signing_key(), UNSUBSCRIBE_PURPOSE, {"u": user_id})
    return f"{settings.public_url.rstrip('/')}/api/v1/notifications/unsubscribe?token={token}"


def _unsign(settings: Settings, purpose: str, token: str, max_age: int) -> dict[str, Any]:
    try:
        payload = security.unsign(settings.signing_key(), purpose, token, max_age)
    except security.TokenExpired as exc:
        raise Invalid("notify_link_expired", field="token") from exc
    except security.TokenInvalid as exc:
        raise Invalid("notify_link_invalid", field="token") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise Invalid("notify_link_invalid", field="token")
    return payload


async def unsubscribe(token: str, settings: Settings) -> Unsubscribed:
    """One-click unsubscribe (RFC 8058): no login, the signed link is the authority. E-mail
    notifications stop; the inbox goes on."""
    payload = _unsign(settings, UNSUBSCRIBE_PURPOSE, token, UNSUBSCRIBE_MAX_AGE)
    if await accounts.get(payload["u"]) is None:
        raise Invalid("notify_link_invalid", field="token")
    async with db.transaction():
        freshness.nothing_public()
        await _ensure_row(payload["u"])
        await Preferences.update({Preferences.email: "off", Preferences.updated_at: datetime.now(UTC)}).where(
            Preferences.user == payload["u"]
        )
    return Unsubscribed(email="off")


async def mark_bouncing(user_id: int, address: str, delivery_id: int) -> None:
    """A permanent refusal of ``address``: no e-mail to it until the member confirms it, and
    the member is told in the app."""
    async with db.transaction():
        freshness.nothing_public()
        await _ensure_row(user_id)
        await Preferences.update(
            {Preferences.bouncing_address: address, Preferences.bouncing_at: datetime.now(UTC)}
        ).where(Preferences.user == user_id)
        await record(
            kind="account.email_bouncing",
            case_id=None,
            data={},
            source=f"email-bouncing:{user_id}:{delivery_id}",
            user_ids=[user_id],
        )


async def disable_webhook(user_id: int, delivery_id: int) -> None:
    """Repeated failures: the webhook stops and the member is told in the app."""
    async with db.transaction():
        freshness.nothing_public()
        await Preferences.update({Preferences.webhook_disabled_at: datetime.now(UTC)}).where(
            Preferences.user == user_id
        )
        await Delivery.update({Delivery.status: "skipped", Delivery.last_error: "webhook_disabled"}).where(
            (Delivery.user == user_id) & (Delivery.channel == "webhook") & (Delivery.status == "pending")
        )
        await record(
            kind="account.webhook_disabled",
            case_id=None,
            data={},
            source=f"webhook-disabled:{user_id}:{delivery_id}",
            user_ids=[user_id],
        )


async def request_email_confirmation(*, actor: UserRead) -> None:
    """Send a confirmation link to the member's address (after it bounced)."""
    nonce = secrets.token_hex(8)
    async with db.transaction():
        freshness.nothing_public()
        await jobs.defer(
            jobs.Job.notify_confirm_email, f"notify-confirm:{actor.id}:{nonce}", user_id=actor.id, nonce=nonce
        )


def confirm_link(settings: Settings, user_id: int, address: str) -> str:
    """The page the confirmation e-mail links to: its button confirms (mail scanners open links,
    so the GET changes nothing; API clients may still GET ``/api/v1/notifications/confirm-email``)."""
    token = security.sign(settings.signing_key(), CONFIRM_PURPOSE, {"u": user_id, "a": address})
    return f"{settings.public_url.rstrip('/')}/notifications/confirm-email?token={token}"


async def confirm_email(token: str, settings: Settings) -> PreferencesRead:
    """The link from the confirmation e-mail: the address receives mail, e-mail resumes."""
    payload = _unsign(settings, CONFIRM_PURPOSE, token, CONFIRM_HOURS * 3600)
    user = await accounts.get(payload["u"])
    if user is None or payload.get("a") != user.email:
        raise Invalid("notify_link_invalid", field="token")
    await Preferences.update({Preferences.bouncing_address: None, Preferences.bouncing_at: None}).where(
        (Preferences.user == user.id) & (Preferences.bouncing_address == user.email)
    )
    return await get_preferences(actor=user)


# --- announcements -----------------------------------------------------------------------------


def _announcement(r: dict[str, Any]) -> AnnouncementRead:
    return AnnouncementRead(
        id=r["id"],
        case_id=r["case_id"],
        title=r["title"],
        body=r["body"],
        body_html=markdown_html(r["body"]),
        created_at=r["created_at"],
    )


async def announce(case_id: int, *, actor: UserRead, data: AnnouncementCreate) -> AnnouncementRead:
    """Organizers write to every member; it reaches them through the same path as any event."""
    body = data.body.strip()
    if not body:
        raise Invalid("announcement_body_required", field="body")
    async with db.transaction():
        freshness.nothing_public()
        await cases.require_organizer(case_id, actor=actor)
        rows = await Announcement.insert(
            Announcement(case_id=case_id, author_id=actor.id, title=data.title, body=body)
        ).returning(*Announcement.all_columns())
        row = rows[0]
        await record(
            kind="case.announcement",
            case_id=case_id,
            data={"announcement_id": row["id"], "title": data.title, "body": body},
            source=f"announcement:{row['id']}",
            audience="members",
        )
    return _announcement(row)


async def announcements(case_id: int, *, actor: UserRead) -> AnnouncementList:
    """Members read their case's announcements, newest first."""
    await cases.require_member(case_id, actor=actor, through_merges=True)
    rows = (
        await Announcement.select()
        .where(Announcement.case_id == case_id)
        .order_by(Announcement.id, ascending=False)
        .limit(200)
    )
    return AnnouncementList(items=[_announcement(r) for r in rows])


# --- reminding members to consent --------------------------------------------------------------

CONSENT_REMINDER_EVERY = timedelta(hours=24)  # one reminder per version and day: never spam
_HOUR = timedelta(hours=1)


def _reminder_prefix(complaint_id: int) -> str:
    return f"consent-reminder:{complaint_id}:"


@dataclass(frozen=True)
class _Sent:
    """A reminder as recorded: its number among those of its prefix, when, to how many."""

    number: int
    at: datetime
    members: int


async def _sent(prefix: str, *, limit: int | None = None) -> list[_Sent]:
    """The reminder events whose source is ``prefix``, newest first (at most ``limit``)."""
    query = (
        NotifyEvent.select(NotifyEvent.source, NotifyEvent.created_at, NotifyEvent.user_ids)
        .where(NotifyEvent.source.like(prefix + "%"))
        .order_by(NotifyEvent.id, ascending=False)
    )
    rows = await (query.limit(limit) if limit is not None else query)
    return [
        _Sent(
            int(row["source"].removeprefix(prefix)),
            row["created_at"] if row["created_at"].tzinfo else row["created_at"].replace(tzinfo=UTC),
            len(db.json_value(row["user_ids"]) or []),
        )
        for row in rows
    ]


async def _last_sent(prefix: str) -> _Sent | None:
    """The newest reminder event whose source is ``prefix`` and its number."""
    return next(iter(await _sent(prefix, limit=1)), None)


async def _remind(
    *,
    prefix: str,
    every: timedelta,
    too_soon: str,
    kind: str,
    case_id: int,
    data: dict[str, Any],
    asked: Sequence[int],
    now: datetime,
    audited: tuple[str, UserRead, str, int],  # the audit action, who sent it, about what (type, id)
) -> _Sent:
    """One reminder to ``asked``: a ``kind`` event numbered after the last whose source is
    ``prefix``, at most one within ``every`` — 409 ``too_soon`` with the hours left (rounded up:
    "in 3 h", never "in 0 h"); of two at once, one goes out — and audited. Returns it as recorded."""
    async with db.transaction():
        freshness.nothing_public()
        last = await _last_sent(prefix)
        if last is not None and now < last.at + every:
            raise Conflict(too_soon, hours=max(1, -(-(last.at + every - now) // _HOUR)))
        event = await record(
            kind=kind,
            case_id=case_id,
            data=data,
            source=f"{prefix}{last.number + 1 if last else 1}",
            user_ids=asked,
        )
        if event is None:  # another organizer's reminder took this number a moment ago
            raise Conflict(too_soon, hours=every // _HOUR)
        action, actor, object_type, object_id = audited
        await audit.record(
            action,
            actor_id=actor.id,
            object_type=object_type,
            object_id=object_id,
            case_id=case_id,
            members=len(asked),
        )
        sent = await _last_sent(prefix)
    assert sent is not None  # recorded just now, in this transaction
    return sent


async def consent_reminders(
    complaint_id: int, *, actor: UserRead, limit: int | None = None
) -> list[ConsentReminder]:
    """Organizers: the reminders to consent to this version, newest first: when, to how many."""
    row = await complaints.complaint_row(complaint_id)
    await cases.require_organizer(row["case"], actor=actor)
    return [
        _consent_reminder(complaint_id, s) for s in await _sent(_reminder_prefix(complaint_id), limit=limit)
    ]


def _consent_reminder(complaint_id: int, sent: _Sent) -> ConsentReminder:
    return ConsentReminder(
        complaint_id=complaint_id,
        sent_at=sent.at,
        members=sent.members,
        next_at=sent.at + CONSENT_REMINDER_EVERY,
    )


async def last_consent_reminder(complaint_id: int, *, actor: UserRead) -> ConsentReminder | None:
    """Organizers: when the members were last reminded to consent to this version, and how many."""
    return next(iter(await consent_reminders(complaint_id, actor=actor, limit=1)), None)


async def remind_consent(
    complaint_id: int, *, actor: UserRead, now: datetime | None = None
) -> ConsentReminder:
    """Organizers: ask every member who has not agreed to this exact version (the latest for its
    regulator: the one members are asked to agree to) to read it and agree — ``case.consent_requested`` with
    reason ``reminder``, through the outbox like any event. The organizer sending it is not
    reminded. At most once per version within ``CONSENT_REMINDER_EVERY`` (409
    ``consent_reminder_too_soon`` with the hours left; two at once: one goes out); 409
    ``complaint_not_latest`` for an older version, ``consent_reminder_nobody`` when everyone
    else has agreed."""
    now = now or datetime.now(UTC)
    row = await complaints.complaint_row(complaint_id)
    case_id = row["case"]
    listed = (await cases.members(case_id, actor=actor)).items  # organizers only (403 first)
    versions = (await complaints.list_for(case_id, actor=actor)).items  # newest first
    if complaint_id not in {v.id for v in complaints.latest_versions(versions)}:
        raise Conflict("complaint_not_latest", version=row["version"])
    asked = sorted(m.user_id for m in listed if not m.agreed_to(complaint_id) and m.user_id != actor.id)
    if not asked:
        raise Conflict("consent_reminder_nobody", version=row["version"])
    sent = await _remind(
        prefix=_reminder_prefix(complaint_id),
        every=CONSENT_REMINDER_EVERY,
        too_soon="consent_reminder_too_soon",
        kind="case.consent_requested",
        case_id=case_id,
        data={
            "reason": "reminder",
            "complaint_id": complaint_id,
            "version": row["version"],
            "regulator_id": row["regulator"],
            "regulator": row["regulator.name"],
        },
        asked=asked,
        now=now,
        audited=("complaint.consent_reminded", actor, "complaint", complaint_id),
    )
    return _consent_reminder(complaint_id, sent)


# --- reminding members to upload evidence --------------------------------------------------------

EVIDENCE_REMINDER_EVERY = timedelta(hours=24)  # one reminder per case and day


def _evidence_prefix(case_id: int) -> str:
    return f"evidence-reminder:{case_id}:"


async def evidence_reminders(
    case_id: int, *, actor: UserRead, limit: int | None = None
) -> list[EvidenceReminder]:
    """Organizers: the reminders to upload evidence in the case, newest first: when, to how many."""
    await cases.require_organizer(case_id, actor=actor)
    return [_evidence_reminder(case_id, s) for s in await _sent(_evidence_prefix(case_id), limit=limit)]


def _evidence_reminder(case_id: int, sent: _Sent) -> EvidenceReminder:
    return EvidenceReminder(
        case_id=case_id, sent_at=sent.at, members=sent.members, next_at=sent.at + EVIDENCE_REMINDER_EVERY
    )


async def last_evidence_reminder(case_id: int, *, actor: UserRead) -> EvidenceReminder | None:
    """Organizers: when the members without evidence were last reminded, and how many."""
    return next(iter(await evidence_reminders(case_id, actor=actor, limit=1)), None)


def without_evidence(members: Iterable[MemberRead], uploaders: Collection[int], actor_id: int) -> list[int]:
    """Whom a reminder to upload goes to: the members (other than the one sending it) not among
    ``uploaders``, those with evidence in the case that is not withdrawn."""
    return sorted(m.user_id for m in members if m.user_id not in uploaders and m.user_id != actor_id)


async def remind_evidence(case_id: int, *, actor: UserRead, now: datetime | None = None) -> EvidenceReminder:
    """Organizers: ask every member who has no evidence in the case yet to upload their payment
    record and chat screenshots — ``case.evidence_requested``, through the outbox like any event.
    The organizer sending it is not reminded. At most once per case within
    ``EVIDENCE_REMINDER_EVERY`` (409 ``evidence_reminder_too_soon`` with the hours left; two at
    once: one goes out); 409 ``evidence_reminder_nobody`` when every other member has some."""
    now = now or datetime.now(UTC)
    listed = (await cases.members(case_id, actor=actor)).items  # organizers only (403 first)
    asked = without_evidence(listed, await evidence.uploaders(case_id), actor.id)
    if not asked:
        raise Conflict("evidence_reminder_nobody")
    sent = await _remind(
        prefix=_evidence_prefix(case_id),
        every=EVIDENCE_REMINDER_EVERY,
        too_soon="evidence_reminder_too_soon",
        kind="case.evidence_requested",
        case_id=case_id,
        data={"reason": "reminder"},
        asked=asked,
        now=now,
        audited=("case.evidence_reminded", actor, "case", case_id),
    )
    return _evidence_reminder(case_id, sent)


# --- a deleted account ------------------------------------------------------------------------


async def forget_user(user_id: int) -> None:
    """A deleted account's part of notifications (inside the caller's transaction, see
    :func:`chorus.accounts.lifecycle.delete_account`): its inbox, its deliveries (and the addresses
    they went to), its digests and its preferences (webhook address and secret included) are
    deleted. Events stay: they hold ids and codes, no one's personal data."""
    await InboxEntry.delete().where(InboxEntry.user == user_id)
    await Delivery.delete().where(Delivery.user == user_id)
    await Digest.delete().where(Digest.user == user_id)
    await Preferences.delete().where(Preferences.user == user_id)


# --- admins ------------------------------------------------------------------------------------


async def failures(limit: int = 200) -> DeliveryFailureList:
    """Deliveries that failed for good (refused, bounced, out of tries), newest first."""
    rows = (
        await Delivery.select(
            Delivery.id,
            Delivery.event,
            Delivery.event.kind,
            Delivery.event.case_id,
            Delivery.user,
            Delivery.channel,
            Delivery.address,
            Delivery.attempts,
            Delivery.last_error,
            Delivery.created_at,
        )
        .where(Delivery.status == "failed")
        .order_by(Delivery.id, ascending=False)
        .limit(limit)
    )
    return DeliveryFailureList(
        items=[
            DeliveryFailure(
                id=r["id"],
                event_id=r["event"],
                kind=r["event.kind"],
                case_id=r["event.case_id"],
                user_id=r["user"],
                channel=r["channel"],
                address=r["address"],
                attempts=r["attempts"],
                error=r["last_error"],
                created_at=r["created_at"],
            )
            for r in rows
        ]
    )
