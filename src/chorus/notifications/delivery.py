"""Sending what the fan-out queued: a batch of e-mails over one SMTP connection, a batch of
webhook calls, the daily digests, the confirmation link of a bouncing address (worker jobs).

A job first *claims* its rows (pending → sending, with a lease) in one UPDATE … RETURNING, so
two jobs never send the same row; each row is marked sent right after the server accepted it.
A worker killed mid-batch leaves its unsent rows claimed; once the lease expires
:func:`chorus.notifications.service.sweep` gives them to another job. What remains is the
classic SMTP window: a kill between the server's "250 accepted" and our mark repeats that one
message, under the same Message-ID (receivers drop it).
"""

from __future__ import annotations

import time
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import structlog

from chorus import db, freshness, jobs, mail, netguard
from chorus.accounts import service as accounts
from chorus.notifications import render, service, webhook
from chorus.notifications.tables import Delivery, Digest, NotifyEvent
from chorus.settings import Settings

log = structlog.get_logger(__name__)
SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True)
class Outcome:
    """``retry_in``: seconds before the job should run again (transient failures), else None."""

    sent: int
    failed: int
    retry_in: float | None = None


def backoff(attempt: int, first: float) -> float:
    """Seconds before try ``attempt + 1``: ``first``, then doubling, at most an hour."""
    return float(min(first * 2 ** max(attempt - 1, 0), 3600.0))


class Claim:
    """The rows a job holds, until ``until`` (the same instant on every row: it identifies the
    claim). Renewed as the job goes; a row taken over by another job meanwhile is dropped."""

    def __init__(self, rows: list[dict[str, Any]], until: datetime, settings: Settings) -> None:
        self.rows = rows
        self.until = until
        self.settings = settings
        self.renew_at = time.monotonic() + settings.notify_lease_seconds / 3

    async def holds(self, delivery_id: int) -> bool:
        """Whether the row is still this job's (renewing the claim when a third of it passed)."""
        if time.monotonic() >= self.renew_at:
            until = datetime.now(UTC) + timedelta(seconds=self.settings.notify_lease_seconds)
            ids = [r["id"] for r in self.rows]
            kept = await (
                Delivery.update({Delivery.lease_until: until})
                .where(
                    Delivery.id.is_in(ids)
                    & (Delivery.status == "sending")
                    & (Delivery.lease_until == self.until)
                )
                .returning(Delivery.id)
            )
            mine = {r["id"] for r in kept}
            self.rows = [r for r in self.rows if r["id"] in mine]
            self.until = until
            self.renew_at = time.monotonic() + self.settings.notify_lease_seconds / 3
        return any(r["id"] == delivery_id for r in self.rows)


async def _claim(event_id: int, channel: str, batch: int, settings: Settings) -> Claim:
    now = datetime.now(UTC)
    until = now + timedelta(seconds=settings.notify_lease_seconds)
    rows = await (
        Delivery.update(
            {
                Delivery.status: "sending",
                Delivery.lease_until: until,
                Delivery.attempts: Delivery.attempts + 1,
            }
        )
        .where(
            (Delivery.event == event_id)
            & (Delivery.channel == channel)
            & (Delivery.batch == batch)
            & (
                (Delivery.status == "pending")
                | ((Delivery.status == "sending") & (Delivery.lease_until < now))
            )
        )
        .returning(Delivery.id, Delivery.user, Delivery.attempts)
    )
    return Claim(sorted((dict(r) for r in rows), key=lambda r: r["user"]), until, settings)


async def _mark(
    delivery_id: int, status: str, *, address: str | None = None, error: str | None = None
) -> None:
    changes: dict[Any, Any] = {Delivery.status: status, Delivery.last_error: error}
    if address is not None:
        changes[Delivery.address] = address
    if status == "sent":
        changes[Delivery.sent_at] = datetime.now(UTC)
    await Delivery.update(changes).where(Delivery.id == delivery_id)


async def _later(delivery_id: int, error: str, wait: float, settings: Settings) -> None:
    """Back to pending after a transient failure; the sweep leaves it to the job's retry."""
    until = datetime.now(UTC) + timedelta(seconds=wait + settings.notify_lease_seconds)
    await Delivery.update(
        {Delivery.status: "pending", Delivery.last_error: error[:500], Delivery.lease_until: until}
    ).where(Delivery.id == delivery_id)


async def send(event_id: int, channel: str, batch: int, settings: Settings, *, attempt: int = 1) -> Outcome:
    """The job: send one batch of one channel. Safe to run again at any point."""
    claimed = await _claim(event_id, channel, batch, settings)
    if not claimed.rows:
        return Outcome(0, 0)
    event = await NotifyEvent.select().where(NotifyEvent.id == event_id).output(load_json=True).first()
    if event is None:
        return Outcome(0, 0)
    if channel == "email":
        return await _emails(event, claimed, settings, attempt)
    return await _webhooks(event, claimed, settings, attempt)


def email_message(
    settings: Settings,
    *,
    batch: render.Batch,
    user_id: int,
    contact: dict[str, Any],
    key: str,
) -> Any:
    """One member's e-mail, with RFC 8058 one-click unsubscribe headers."""
    unsubscribe = service.unsubscribe_url(settings, user_id)
    rendered = batch.message(contact["locale"], name=contact["display_name"], unsubscribe_url=unsubscribe)
    return mail.compose_bulk(
        settings=settings,
        to=contact["email"],
        subject=rendered.subject,
        body=rendered.text,
        html=rendered.html,
        idempotency_key=key,
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


def batch_of(event: dict[str, Any], settings: Settings) -> render.Batch:
    """The renderer of one event's e-mails (what leaves Chorus: ``outbound_data``)."""
    return render.Batch(
        event["kind"],
        case_id=event["case_id"],
        data=service.outbound_data(event["data"] or {}),
        public_url=settings.public_url,
    )


async def _emails(event: dict[str, Any], claimed: Claim, settings: Settings, attempt: int) -> Outcome:
    users = [r["user"] for r in claimed.rows]
    contacts = await accounts.contacts(users)
    prefs = await service.preferences_of(users)
    wait = backoff(attempt, settings.notify_retry_seconds)
    renderer = batch_of(event, settings)
    sent = failed = 0
    retry = False
    try:
        async with mail.connection(settings) as conn:
            for row in list(claimed.rows):
                if not await claimed.holds(row["id"]):
                    continue  # held too long: another job took it over
                contact = contacts.get(row["user"])
                pref = prefs.get(row["user"], service.DEFAULT_PREFS)
                if contact is None or pref.email != "immediate":
                    await _mark(row["id"], "skipped", error="email_off")
                    continue
                if pref.bouncing_address == contact["email"]:
                    await _mark(row["id"], "skipped", address=contact["email"], error="address_bouncing")
                    continue
                message = email_message(
                    settings,
                    batch=renderer,
                    user_id=row["user"],
                    contact=contact,
                    key=f"notify-{event['id']}-{row['user']}-email",
                )
                try:
                    await conn.send(message)
                except SMTP_ERRORS as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                    if mail.permanent_refusal(exc):
                        await _mark(row["id"], "failed", address=contact["email"], error=error)
                        await service.mark_bouncing(row["user"], contact["email"], row["id"])
                        failed += 1
                    elif mail.permanent_failure(exc) or row["attempts"] >= settings.notify_attempts:
                        await _mark(row["id"], "failed", address=contact["email"], error=error)
                        failed += 1
                    else:
                        await _later(row["id"], error, wait, settings)
                        retry = True
                    continue
                await _mark(row["id"], "sent", address=contact["email"])
                sent += 1
    except SMTP_ERRORS as exc:  # no connection at all: the whole batch waits
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("notify.smtp_unavailable", error=error, event_id=event["id"])
        still = await Delivery.select(Delivery.id, Delivery.attempts).where(
            Delivery.id.is_in([r["id"] for r in claimed.rows]) & (Delivery.status == "sending")
        )
        for r in still:
            if r["attempts"] >= settings.notify_attempts:
                await _mark(r["id"], "failed", error=error)
                failed += 1
            else:
                await _later(r["id"], error, wait, settings)
                retry = True
    log.info("notify.emails", event_id=event["id"], sent=sent, failed=failed, retry=retry)
    return Outcome(sent, failed, wait if retry else None)


async def _webhooks(event: dict[str, Any], claimed: Claim, settings: Settings, attempt: int) -> Outcome:
    users = [r["user"] for r in claimed.rows]
    prefs = await service.preferences_of(users)
    contacts = await accounts.contacts(users)
    wait = backoff(attempt, settings.notify_retry_seconds)
    sent = failed = 0
    retry = False
    data = service.outbound_data(event["data"] or {})
    for row in list(claimed.rows):
        if not await claimed.holds(row["id"]):
            continue
        pref = prefs.get(row["user"], service.DEFAULT_PREFS)
        if not pref.webhook_url or not pref.webhook_secret or pref.webhook_disabled:
            await _mark(row["id"], "skipped", error="webhook_off")
            continue
        locale = (contacts.get(row["user"]) or {}).get("locale")
        payload = {
            "id": f"{event['id']}-{row['user']}",
            "event_id": event["id"],
            "kind": event["kind"],
            "case_id": event["case_id"],
            "data": data,
            "created_at": event["created_at"].isoformat(),
            "subject": render.subject(event["kind"], locale, case_id=event["case_id"], data=data),
        }
        try:
            await webhook.post(
                pref.webhook_url,
                pref.webhook_secret,
                payload,
                policy=netguard.policy(settings),
                seconds=settings.notify_webhook_timeout_seconds,
            )
        except (webhook.Transient, webhook.Refused) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            if row["attempts"] >= settings.notify_attempts:
                await _mark(row["id"], "failed", address=pref.webhook_url, error=error)
                await service.disable_webhook(row["user"], row["id"])
                failed += 1
            else:
                await _later(row["id"], error, wait, settings)
                retry = True
            continue
        await _mark(row["id"], "sent", address=pref.webhook_url)
        sent += 1
    return Outcome(sent, failed, wait if retry else None)


# --- the daily digest --------------------------------------------------------------------------


async def _claim_digest(user_id: int, day: Any, now: datetime, settings: Settings) -> int | None:
    until = now + timedelta(seconds=settings.notify_lease_seconds)
    rows = await (
        Digest.insert(Digest(user=user_id, local_day=day, lease_until=until))
        .on_conflict(target=(Digest.user, Digest.local_day), action="DO NOTHING")
        .returning(Digest.id)
    )
    if rows:
        return int(rows[0]["id"])
    taken = await (
        Digest.update({Digest.lease_until: until})
        .where(
            (Digest.user == user_id)
            & (Digest.local_day == day)
            & Digest.sent_at.is_null()
            & (Digest.lease_until < now)
        )
        .returning(Digest.id)
    )
    return int(taken[0]["id"]) if taken else None


def local_now(now: datetime, time_zone: str) -> datetime:
    try:
        return now.astimezone(zoneinfo.ZoneInfo(time_zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return now.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))


async def send_digests(settings: Settings, now: datetime | None = None) -> int:
    """The hourly job: members on ``digest`` whose local hour is CHORUS_NOTIFY_DIGEST_HOUR get one
    e-mail with what waited for them. Once per member and local day, however many workers run
    it (a unique key per user and day). Returns the digests sent."""
    now = now or datetime.now(UTC)
    waiting = (
        await Delivery.select(Delivery.user)
        .where((Delivery.channel == "digest") & (Delivery.status == "pending") & (Delivery.created_at <= now))
        .distinct()
    )
    users = sorted(r["user"] for r in waiting)
    prefs = await service.preferences_of(users)
    due = []
    for user_id in users:
        local = local_now(now, prefs.get(user_id, service.DEFAULT_PREFS).time_zone)
        if local.hour == settings.notify_digest_hour:
            due.append((user_id, local.date()))
    if not due:
        return 0
    contacts = await accounts.contacts([u for u, _ in due])
    sent = 0
    async with mail.connection(settings) as conn:
        for user_id, day in due:
            digest_id = await _claim_digest(user_id, day, now, settings)
            if digest_id is None:
                continue  # another worker has it, or it went out today
            items = (
                await Delivery.select(
                    Delivery.id, Delivery.event.kind, Delivery.event.case_id, Delivery.event.data
                )
                .where(
                    (Delivery.user == user_id)
                    & (Delivery.channel == "digest")
                    & (Delivery.status == "pending")
                    & (Delivery.created_at <= now)
                )
                .order_by(Delivery.id)
                .output(load_json=True)
            )
            ids = [i["id"] for i in items]
            contact = contacts.get(user_id)
            pref = prefs.get(user_id, service.DEFAULT_PREFS)
            if contact is None or pref.email != "digest" or pref.bouncing_address == contact["email"]:
                await Delivery.update({Delivery.status: "skipped", Delivery.last_error: "email_off"}).where(
                    Delivery.id.is_in(ids or [0])
                )
                await Digest.update({Digest.sent_at: now}).where(Digest.id == digest_id)
                continue
            unsubscribe = service.unsubscribe_url(settings, user_id)
            rendered = render.digest(
                contact["locale"],
                name=contact["display_name"],
                day=day.isoformat(),
                items=[
                    {
                        "kind": i["event.kind"],
                        "case_id": i["event.case_id"],
                        "data": service.outbound_data(db.json_value(i["event.data"]) or {}),
                    }
                    for i in items
                ],
                links=render.Links(settings.public_url, unsubscribe),
            )
            message = mail.compose(
                settings=settings,
                to=contact["email"],
                subject=rendered.subject,
                body=rendered.text,
                html=rendered.html,
                idempotency_key=f"notify-digest-{user_id}-{day.isoformat()}",
                headers={
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "Auto-Submitted": "auto-generated",
                },
            )
            try:
                await conn.send(message)
            except SMTP_ERRORS as exc:
                if mail.permanent_refusal(exc):
                    await service.mark_bouncing(user_id, contact["email"], -digest_id)
                    await Digest.update({Digest.sent_at: now}).where(Digest.id == digest_id)
                    continue
                raise  # transient: the claim's lease runs out and the job's retry takes it again
            async with db.transaction():
                freshness.nothing_public()
                await Delivery.update(
                    {Delivery.status: "sent", Delivery.sent_at: now, Delivery.address: contact["email"]}
                ).where(Delivery.id.is_in(ids or [0]))
                await Digest.update({Digest.sent_at: now, Digest.items: len(ids)}).where(
                    Digest.id == digest_id
                )
            sent += 1
    return sent


# --- confirming a bouncing address --------------------------------------------------------------


async def send_confirmation(user_id: int, nonce: str, settings: Settings) -> bool:
    """The job: mail the link that confirms the member's address again (once per request)."""
    contact = (await accounts.contacts([user_id])).get(user_id)
    if contact is None:
        return False
    link = service.confirm_link(settings, user_id, contact["email"])
    rendered = render.message(
        "account.confirm_email",
        contact["locale"],
        name=contact["display_name"],
        case_id=None,
        data={"link": link},
        links=render.Links(settings.public_url),
    )
    key = f"notify-confirm-{user_id}-{nonce}"
    message = mail.compose(
        settings=settings,
        to=contact["email"],
        subject=rendered.subject,
        body=rendered.text,
        html=rendered.html,
        idempotency_key=key,
    )

    async def deliver() -> None:
        async with mail.connection(settings) as conn:
            await conn.send(message)

    return await jobs.once(key, deliver)
