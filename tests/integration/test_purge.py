"""The daily purge (issue 9, item 12): sent outbox rows and done markers older than
CHORUS_PURGE_AFTER_DAYS go; unsent rows and recent ones stay. The job runs on a real worker
against the real database; the cron that schedules it is registered with the workers."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chorus import jobs
from chorus.jobs import EffectDone, OutboxRow
from tests.support import run_jobs

pytestmark = pytest.mark.usefixtures("clean")


async def seed(now: datetime) -> None:
    """Outbox rows and done markers of various ages (as days go by, the tables fill up)."""
    for job_id, created, sent in (
        ("old-sent", now - timedelta(days=30), now - timedelta(days=30)),
        ("eight-days", now - timedelta(days=8), now - timedelta(days=8)),
        ("yesterday", now - timedelta(days=1), now - timedelta(days=1)),
        ("old-unsent", now - timedelta(days=30), None),  # Redis was away: still to be relayed
    ):
        await OutboxRow.insert(
            OutboxRow(job_name="notify_users", job_id=job_id, payload="{}", created_at=created, sent_at=sent)
        )
    for key, done in (
        ("verify-email:1:a", now - timedelta(days=30)),
        ("filing-mail:3", now - timedelta(days=8)),
        ("inbound:3:<m@x>", now - timedelta(hours=2)),
    ):
        await EffectDone.insert(EffectDone(key=key, done_at=done))


async def left() -> tuple[list[str], list[str]]:
    rows = await OutboxRow.select(OutboxRow.job_id).order_by(OutboxRow.job_id)
    marks = await EffectDone.select(EffectDone.key).order_by(EffectDone.key)
    return [r["job_id"] for r in rows], [m["key"] for m in marks]


async def test_the_purge_job_removes_what_is_older_than_the_retention(settings: Any, redis_pool: Any) -> None:
    assert settings.purge_after_days == 7
    await seed(datetime.now(UTC))
    # an upload cut off two days ago by a killed web process, and one going on now
    tmp = Path(settings.storage_dir) / "tmp"
    (tmp / "upload-cut-off.part").write_bytes(b"half a photo")
    (tmp / "upload-now.part").write_bytes(b"a photo arriving")
    past = time.time() - 2 * 86400
    os.utime(tmp / "upload-cut-off.part", (past, past))
    await redis_pool.enqueue_job("purge", _job_id="purge-test")
    assert await run_jobs(redis_pool, settings, relay=False) == 1
    result = await redis_pool.all_job_results()
    assert [r.result for r in result if r.job_id == "purge-test"] == [
        {"outbox": 2, "effect_done": 2, "upload_leftovers": 1}
    ]
    assert await left() == (["old-unsent", "yesterday"], ["inbound:3:<m@x>"])
    assert sorted(p.name for p in tmp.iterdir()) == ["upload-now.part"]


async def test_the_retention_is_a_setting(settings: Any, redis_pool: Any) -> None:
    from workers import tasks

    await seed(datetime.now(UTC))
    assert await tasks.purge({"settings": settings.model_copy(update={"purge_after_days": 10})}) == {
        "outbox": 1,
        "effect_done": 1,
        "upload_leftovers": 0,
    }
    assert await left() == (
        ["eight-days", "old-unsent", "yesterday"],
        ["filing-mail:3", "inbound:3:<m@x>"],
    )
    assert await tasks.purge({"settings": settings}) == {"outbox": 1, "effect_done": 1, "upload_leftovers": 0}
    assert await tasks.purge({"settings": settings}) == {"outbox": 0, "effect_done": 0, "upload_leftovers": 0}


async def test_unsent_rows_are_still_relayed_after_a_purge(settings: Any, redis_pool: Any) -> None:
    await seed(datetime.now(UTC))
    await jobs.purge(timedelta(days=7))
    assert await jobs.pending_count() == 1
    assert await jobs.relay_once(redis_pool) == 1


def test_the_purge_is_scheduled_daily_on_the_workers(settings: Any) -> None:
    from workers import tasks
    from workers.settings import FUNCTIONS, worker_settings

    kwargs = worker_settings(settings)
    (purge,) = [c for c in kwargs["cron_jobs"] if c.name == "cron:purge"]
    # (each job runs wrapped: a database outage becomes a retry, workers.settings.resilient)
    assert purge.coroutine.__wrapped__ is tasks.purge and purge.unique
    assert purge.hour == {3} and purge.minute == {41}  # once a day
    assert any(
        f.name == jobs.Job.purge.value and getattr(f.coroutine, "__wrapped__", None) is tasks.purge
        for f in FUNCTIONS
    )
