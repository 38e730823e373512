"""The only door to the queue: job names, deterministic job ids, the transactional outbox.

A use case calls :func:`defer` inside its own transaction, so the state change and the jobs
it implies commit together. The relay (run by the worker) moves committed rows into arq with
the row's deterministic ``_job_id`` and marks them sent. When Redis is down rows simply wait.

Jobs may run more than once (arq's contract); side effects go through :func:`once`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog
from arq.connections import ArqRedis
from piccolo.columns import Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.columns.readable import Readable
from piccolo.table import Table
from redis.exceptions import RedisError

from chorus import db, freshness

log = structlog.get_logger(__name__)


class Job(StrEnum):
    """Every job the workers know; the value is the arq function name."""

    send_verification_email = "send_verification_email"
    send_password_reset_email = "send_password_reset_email"  # noqa: S105 - a job name
    notify_case_event = "notify_case_event"
    notify_users = "notify_users"
    notify_fan_out = "notify_fan_out"  # one event: inbox rows and deliveries, batch by batch
    notify_send = "notify_send"  # one batch of one channel (e-mail over one SMTP connection, webhook)
    notify_sweep = "notify_sweep"  # deliveries a killed worker held: sent again by another
    notify_digest = "notify_digest"  # run hourly by the workers' cron: the daily digests due now
    notify_confirm_email = "notify_confirm_email"  # the link that clears a bouncing address
    render_complaint_page = "render_complaint_page"
    flag_overdue_filings = "flag_overdue_filings"  # also run hourly by the workers' cron
    submit_filing = "submit_filing"
    poll_filings = "poll_filings"  # also run every CHORUS_STATUS_POLL_SECONDS by the workers' cron
    purge = "purge"  # run daily by the workers' cron
    extract_evidence = "extract_evidence"  # an image or chat export read for suggested fields


class OutboxRow(Table, tablename="outbox"):
    """A job committed with the state change that implies it, waiting to be enqueued."""

    id: Serial
    job_name = Varchar(length=100, null=False)
    job_id = Varchar(length=200, unique=True, null=False)
    payload = Text(null=False, default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    not_before = Timestamptz(null=True, default=None)
    sent_at = Timestamptz(null=True, default=None, index=True)
    attempts = Integer(default=0, null=False)
    last_error = Text(null=True, default=None)

    @classmethod
    def get_readable(cls) -> Readable:
        return Readable(template="%s", columns=[cls.job_id])


class EffectDone(Table, tablename="effect_done"):
    """Side effects (an e-mail, a webhook, a filing) already performed, by idempotency key."""

    id: Serial
    key = Varchar(length=200, unique=True, null=False)
    done_at = Timestamptz(default=TimestamptzNow(), null=False, index=True)  # purged by age


async def defer(job: Job, job_id: str, *, not_before: datetime | None = None, **payload: Any) -> None:
    """Record a job in the outbox; call inside the use case's transaction.

    ``job_id`` must be deterministic for the fact it stands for, so that a replayed use
    case or a relay that runs twice never yields two jobs.
    """
    await db.fetch(
        OutboxRow,  # a plain statement: most writes defer a job
        "INSERT INTO outbox (job_name, job_id, payload, created_at, not_before, attempts) "
        "VALUES ({}, {}, {}, {}, {}, 0) ON CONFLICT (job_id) DO NOTHING",
        job.value,
        job_id,
        json.dumps(payload, sort_keys=True),
        datetime.now(UTC),
        not_before,
    )


async def relay_once(redis: ArqRedis, *, batch: int = 200) -> int:
    """Enqueue committed, unsent outbox rows into arq; returns how many were handed over.

    On PostgreSQL rows are claimed with SKIP LOCKED so relays on many hosts share the work;
    a row enqueued twice anyway (a crash between enqueue and commit) is deduplicated by its
    ``_job_id`` and by the job's own idempotency.
    """
    now = datetime.now(UTC)
    sent = 0
    async with db.transaction():
        freshness.nothing_public()  # the relay runs every second: no public cache is emptied
        query = (
            OutboxRow.select(
                OutboxRow.id,
                OutboxRow.job_name,
                OutboxRow.job_id,
                OutboxRow.payload,
                OutboxRow.not_before,
            )
            .where(OutboxRow.sent_at.is_null())
            .order_by(OutboxRow.id)
            .limit(batch)
        )
        if not db.is_sqlite():
            query = query.lock_rows("UPDATE", skip_locked=True)
        rows = await query
        for row in rows:
            defer_until = row["not_before"] if row["not_before"] and row["not_before"] > now else None
            try:
                await redis.enqueue_job(
                    row["job_name"],
                    _job_id=row["job_id"],
                    _defer_until=defer_until,
                    **json.loads(row["payload"]),
                )
            except (RedisError, OSError) as exc:
                # Redis is away: keep the row (and every later one) for the next run.
                await OutboxRow.update(
                    {OutboxRow.attempts: OutboxRow.attempts + 1, OutboxRow.last_error: repr(exc)[:500]}
                ).where(OutboxRow.id == row["id"])
                log.warning("outbox.redis_unavailable", error=type(exc).__name__)
                break
            await OutboxRow.update({OutboxRow.sent_at: now, OutboxRow.last_error: None}).where(
                OutboxRow.id == row["id"]
            )
            sent += 1
    if sent:
        log.info("outbox.relayed", count=sent)
    return sent


async def pending_count() -> int:
    return int(await OutboxRow.count().where(OutboxRow.sent_at.is_null()))


async def purge_sent(older_than: timedelta = timedelta(days=7)) -> int:
    """Delete rows handed over long ago (they only served deduplication)."""
    cutoff = datetime.now(UTC) - older_than
    rows = await OutboxRow.delete().where(OutboxRow.sent_at < cutoff).returning(OutboxRow.id)
    return len(rows)


async def purge_done(older_than: timedelta = timedelta(days=7)) -> int:
    """Delete done markers recorded long ago: by then no job that could repeat their effect is
    left (arq keeps results for a day; a submitted filing is never sent again, whatever its
    marker). A mail server that hands the same reply over after that is recorded again."""
    cutoff = datetime.now(UTC) - older_than
    rows = await EffectDone.delete().where(EffectDone.done_at < cutoff).returning(EffectDone.id)
    return len(rows)


async def purge(older_than: timedelta) -> dict[str, int]:
    """The daily job: sent outbox rows and done markers older than ``older_than``; unsent rows
    stay whatever their age. Returns how many of each went."""
    return {"outbox": await purge_sent(older_than), "effect_done": await purge_done(older_than)}


async def once(key: str, effect: Callable[[], Awaitable[None]]) -> bool:
    """Perform ``effect`` unless an effect with this key was already done; True if it ran.

    The key is recorded after the effect succeeds: a crash in between may repeat the effect
    once, never lose it — the right way round for mail and filings, whose receivers also
    deduplicate (Message-ID, Idempotency-Key).
    """
    if await EffectDone.exists().where(EffectDone.key == key):
        return False
    await effect()
    await EffectDone.insert(EffectDone(key=key)).on_conflict(target=EffectDone.key, action="DO NOTHING")
    return True
