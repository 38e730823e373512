"""arq WorkerSettings built from Chorus settings, plus the outbox relay loop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import Any

import structlog
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.cron import CronJob, cron
from arq.jobs import SerializationError, deserialize_job_raw
from arq.worker import Function, Retry, Worker, func
from redis.exceptions import RedisError

from chorus import db, jobs, logs, memory
from chorus.complaints import cache as complaint_pages
from chorus.freshness import Generation
from chorus.notifications import service as notifications
from chorus.settings import Settings, get_settings, poll_clock_times
from workers import tasks

log = structlog.get_logger("chorus.worker")

# On SIGTERM a worker takes no new job and gives those it runs this long to finish; what is still
# running then is cancelled and goes back to the queue for another worker (arq's
# job_completion_wait). systemd's TimeoutStopSec must be longer (docs/operator-guide.md).
SHUTDOWN_GRACE_SECONDS = 25
# A job that meets the database away (restarting, refusing connections) runs again this much later.
DATABASE_RETRY_SECONDS = 10
# A worker that meets Redis away polls it again this much later (ChorusWorker).
REDIS_RETRY_SECONDS = 1.0

# arq's own margin between a job's timeout and the end of its in-progress mark
IN_PROGRESS_MARGIN = 10
POLL_TIMEOUT = 900  # seconds one sweep may take (a tick that overlaps the next is harmless: claims)

FUNCTIONS: list[Function] = [
    func(tasks.send_verification_email, name=jobs.Job.send_verification_email.value, max_tries=5, timeout=60),
    func(tasks.send_password_reset_email, name=jobs.Job.send_password_reset_email, max_tries=5, timeout=60),
    func(tasks.notify_case_event, name=jobs.Job.notify_case_event.value, max_tries=5, timeout=120),
    func(tasks.notify_users, name=jobs.Job.notify_users.value, max_tries=5, timeout=120),
    func(tasks.notify_fan_out, name=jobs.Job.notify_fan_out.value, max_tries=5, timeout=600),
    # tries are counted per delivery (CHORUS_NOTIFY_ATTEMPTS); arq's limit is a backstop. A batch
    # job that outlives its lease (CHORUS_NOTIFY_LEASE_SECONDS) keeps only the rows it renewed.
    func(tasks.notify_send, name=jobs.Job.notify_send.value, max_tries=60, timeout=600),
    func(tasks.notify_sweep, name=jobs.Job.notify_sweep.value, max_tries=1, timeout=120),
    func(tasks.notify_digest, name=jobs.Job.notify_digest.value, max_tries=10, timeout=900),
    func(tasks.notify_confirm_email, name=jobs.Job.notify_confirm_email.value, max_tries=5, timeout=60),
    func(tasks.render_complaint_page, name=jobs.Job.render_complaint_page.value, max_tries=3, timeout=600),
    func(tasks.flag_overdue_filings, name=jobs.Job.flag_overdue_filings.value, max_tries=3, timeout=300),
    # tries are counted by the job itself (CHORUS_FILING_SUBMIT_ATTEMPTS); arq's limit is a backstop
    # the timeout bounds how long a submission killed mid-way waits before arq runs it again
    func(tasks.submit_filing, name=jobs.Job.submit_filing.value, max_tries=60, timeout=600),
    func(tasks.poll_filings, name=jobs.Job.poll_filings.value, max_tries=1, timeout=POLL_TIMEOUT),
    func(tasks.purge, name=jobs.Job.purge.value, max_tries=3, timeout=900),
    # OCR: a try that finds this process's OCR slots taken comes back later (CHORUS_OCR_RETRY_SECONDS)
    # instead of holding a job slot, so many tries; one read takes seconds
    func(tasks.extract_evidence, name=jobs.Job.extract_evidence.value, max_tries=10_000, timeout=300),
]
# Hourly, on one worker at a time (unique): a deadline passes at midnight where the regulator is.
CRON_JOBS: list[CronJob] = [
    cron(
        tasks.flag_overdue_filings,
        name=f"cron:{jobs.Job.flag_overdue_filings.value}",
        minute={7},
        unique=True,
    ),
    # daily: sent outbox rows and done markers older than CHORUS_PURGE_AFTER_DAYS
    cron(tasks.purge, name=f"cron:{jobs.Job.purge.value}", hour={3}, minute={41}, unique=True),
    # hourly: daily digests of members whose local hour is CHORUS_NOTIFY_DIGEST_HOUR (once per
    # member and local day whatever the number of workers: a unique key in the database)
    cron(tasks.notify_digest, name=f"cron:{jobs.Job.notify_digest.value}", minute={0}, unique=True),
]


def resilient(coroutine: Any) -> Any:
    """``coroutine`` with a database outage turned into arq's Retry: the job runs again later
    (within its ``max_tries``) instead of failing for good. Jobs are idempotent, so a try cut off
    by a lost connection is safe to repeat."""

    @functools.wraps(coroutine)
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await coroutine(ctx, *args, **kwargs)
        except Exception as exc:
            if not db.is_unavailable(exc):
                raise
            log.warning("job.database_unavailable", error=type(exc).__name__, job_try=ctx.get("job_try"))
            raise Retry(defer=DATABASE_RETRY_SECONDS) from exc

    return run


for _function in FUNCTIONS:
    _function.coroutine = resilient(_function.coroutine)
for _cron in CRON_JOBS:
    _cron.coroutine = resilient(_cron.coroutine)


def poll_cron(settings: Settings) -> CronJob:
    """The status sweep (regulators' HTTP channels asked about the filings they acknowledged)
    every CHORUS_STATUS_POLL_SECONDS, at the same clock times on every worker. Each worker's cron
    enqueues a tick under the job id ``cron:poll_filings:<tick>`` (``unique``), so a tick runs
    once however many workers there are; its result is kept for two periods (at least ten
    minutes) so that a worker enqueuing the tick late finds it done rather than running it again.
    A new object per call: arq keeps each cron's next run on it."""
    seconds = settings.status_poll_seconds
    return cron(
        resilient(tasks.poll_filings),
        name=f"cron:{jobs.Job.poll_filings.value}",
        **poll_clock_times(seconds),  # type: ignore[arg-type]
        unique=True,
        timeout=POLL_TIMEOUT,
        keep_result=max(600.0, 2.0 * seconds),
    )


def redis_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def relay_forever(ctx: dict[str, Any]) -> None:
    """Move committed outbox rows into arq every CHORUS_OUTBOX_RELAY_SECONDS."""
    settings: Settings = ctx["settings"]
    # deliveries a killed worker held are handed to a new job soon after their lease ends
    sweep_every = min(60.0, settings.notify_lease_seconds / 2)
    swept = 0.0
    while True:
        try:
            while await jobs.relay_once(ctx["redis"]) > 0:
                pass
            if time.monotonic() - swept >= sweep_every:
                swept = time.monotonic()
                await notifications.sweep(settings)
        except Exception as exc:  # keep relaying: one bad round must not stop the worker
            log.error("outbox.relay_failed", error=type(exc).__name__, exc_info=exc)
        await asyncio.sleep(settings.outbox_relay_seconds)


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.setdefault("settings", get_settings())
    logs.configure(settings)
    memory.map_large_blocks()
    db.configure(settings)
    await db.start(settings)
    await db.check_migrations()
    # temporary page files a killed render left behind (its rerun removes its own at once)
    await asyncio.to_thread(complaint_pages.sweep_leftovers, settings)
    # what the jobs commit (a filing's new status, a case closed) reaches the public cache
    ctx["generation"] = Generation(ctx.get("redis"))
    ctx["generation"].watch()
    if ctx.get("relay", True):
        ctx["relay_task"] = asyncio.create_task(relay_forever(ctx))
    log.info("worker.started")


async def shutdown(ctx: dict[str, Any]) -> None:
    task = ctx.get("relay_task")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if "generation" in ctx:
        ctx["generation"].unwatch()
    await db.stop(ctx["settings"])


class ChorusWorker(Worker):
    """arq's worker, living through a Redis outage: arq's own loop ends the process at the first
    failed poll. Here a poll that meets Redis away is logged and tried again a moment later; jobs
    in flight go on (what they report back to Redis while it is away is lost: such a job runs again
    once its in-progress mark expires, and every job is idempotent); the relay keeps rows in the
    outbox until Redis answers; a cron tick that could not be enqueued is skipped."""

    async def run_job(self, job_id: str, score: int) -> None:
        await self._fit_in_progress_mark(job_id)
        await super().run_job(job_id, score)

    async def _fit_in_progress_mark(self, job_id: str) -> None:
        """arq marks a job in progress for the longest timeout of all the worker's functions
        (+10 s), set before it reads which function the job calls: a job a killed worker held
        waited that long (15 minutes) to run again, a 60-second e-mail job too. The mark is cut
        to the job's own timeout + 10 s: arq cancels the job at its timeout, so no other worker
        starts it while it still runs. Should Redis not answer here, arq's longer mark stays."""
        try:
            raw = await self.pool.get(job_key_prefix + job_id)
            if raw is None:
                return
            name = deserialize_job_raw(raw, deserializer=self.job_deserializer)[0]
            function = self.functions.get(name)
            if function is None:
                return
            timeout = self.job_timeout_s if function.timeout_s is None else function.timeout_s
            await self.pool.pexpire(
                in_progress_key_prefix + job_id, int((timeout + IN_PROGRESS_MARGIN) * 1000)
            )
        except (RedisError, OSError, SerializationError) as exc:
            log.warning("worker.in_progress_mark_kept", error=type(exc).__name__)

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as exc:
            log.warning("worker.redis_unavailable", error=type(exc).__name__)
            await asyncio.sleep(REDIS_RETRY_SECONDS)
            # a poll cut off between taking a job slot and starting the job keeps the slot: give
            # back those no running job holds (arq counts a slot free when its job's task ends)
            running = sum(not t.done() for t in self.tasks.values())
            for _ in range(max(0, self.job_counter - running)):
                self.job_counter -= 1
                with contextlib.suppress(ValueError):
                    self.sem.release()


def worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for arq's Worker / run_worker."""
    if not settings.redis_url:
        raise RuntimeError("CHORUS_REDIS_URL is not set")
    return {
        "functions": FUNCTIONS,
        "cron_jobs": [*CRON_JOBS, poll_cron(settings)],
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings},
        "max_jobs": 20,
        "job_timeout": 300,
        "keep_result": 24 * 3600,
        "job_completion_wait": SHUTDOWN_GRACE_SECONDS,
    }
