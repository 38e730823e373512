"""Many processes on one database and one Redis (issue 17, scenario 5): two `chorus web` and two
`chorus worker` processes. Victims reporting one merchant at the same moment, spread over both web
processes, end up in one case; a notification to every member of the case is e-mailed once to
each, whichever worker takes which part; the workers' cron jobs run once per tick, not once per
worker.

Both backends (SQLite is a deployment on one host with several processes too); fewer victims on
SQLite, whose writers queue one at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.worker import Worker

from chorus import db, jobs
from chorus.cases.tables import Case, Membership
from chorus.merchants.tables import Merchant
from chorus.notifications import service as notifications
from tests.conftest import BACKEND, reset_world
from tests.integration.cases_support import ident, report_body
from tests.integration.faults_support import eventually, start_worker
from tests.integration.test_race import make_people
from tests.support import Mailbox, http_client
from tests.toolkit import start_web, stop_process
from workers.settings import worker_settings

N = 200 if BACKEND == "postgres" else 40
POLL_SECONDS = 2  # the status sweep's period in the two workers: a tick every two seconds


@dataclass
class Stack:
    bases: list[str]
    folder: Path
    procs: list[subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
async def stack(
    database: None, redis_pool: Any, mailbox: Mailbox, tmp_path_factory: Any
) -> AsyncIterator[Stack]:
    await reset_world(redis_pool, mailbox)
    folder = tmp_path_factory.mktemp("many")
    env = {
        **os.environ,
        "CHORUS_OUTBOX_RELAY_SECONDS": "0.2",
        "CHORUS_STATUS_POLL_SECONDS": str(POLL_SECONDS),
        "CHORUS_NOTIFY_BATCH_SIZE": "20",  # the fan-out in several batches, for both workers
    }
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for i in range(2):
            proc, base = await asyncio.to_thread(start_web, log=folder / f"web{i}.log", env=env)
            procs.append(proc)
            bases.append(base)
        for i in range(2):
            procs.append(await asyncio.to_thread(start_worker, folder / f"worker{i}.log", env))
        yield Stack(bases, folder, procs)
    finally:
        for proc in procs:
            stop_process(proc)
        await reset_world(redis_pool, mailbox)


def worker_logs(stack: Stack) -> list[str]:
    return [(stack.folder / f"worker{i}.log").read_text(errors="replace") for i in range(2)]


async def test_the_report_race_over_two_web_processes_yields_one_case_and_one_mail_each(
    stack: Stack, settings: Any, mailbox: Mailbox, redis_pool: Any
) -> None:
    async with http_client(settings) as local:
        people = await make_people(local, settings, N)
    body = report_body("双进程卡盟", [ident("qq", "88887777"), ident("phone", "13900139000")])
    clients = [httpx.AsyncClient(base_url=b, timeout=120) for b in stack.bases]
    try:
        answers = await asyncio.gather(
            *(
                clients[i % 2].post("/api/v1/reports", json=body, headers=who.headers)
                for i, who in enumerate(people)
            )
        )
    finally:
        for c in clients:
            await c.aclose()
    assert [r.status_code for r in answers] == [201] * N, [r.text for r in answers if r.status_code != 201]
    assert len({r.json()["case_id"] for r in answers}) == 1
    assert sum(r.json()["created_case"] for r in answers) == 1
    assert await Merchant.count() == 1
    assert await Case.count() == 1
    assert await Membership.count() == N

    # what the reports themselves sent is out of the way first
    async def settled() -> bool:
        return await jobs.pending_count() == 0 and await redis_pool.zcard("arq:queue") == 0

    assert await eventually(settled, 120)
    mailbox.clear()
    case_id = answers[0].json()["case_id"]
    async with db.transaction():
        await notifications.record(
            kind="case.filing_status",
            case_id=case_id,
            data={"filing_id": 1, "regulator_id": 1, "status": "accepted"},
            source="test:many",
            audience="members",
        )
    members = {p.email for p in people}

    async def all_mailed() -> bool:
        return {m["To"] for m in mailbox.messages} >= members

    assert await eventually(all_mailed, 180), "\n".join(worker_logs(stack))[-3000:]
    await asyncio.sleep(2)  # a second sending would have arrived by now
    recipients = [str(m["To"]) for m in mailbox.messages if m["To"] in members]
    assert sorted(recipients) == sorted(members)  # each member once
    # the fan-out went out in batches of 20, taken by whichever worker was free
    sent_by = [len(re.findall(r"notify\.emails", text)) for text in worker_logs(stack)]
    assert sum(sent_by) >= N // 20, sent_by


async def test_each_tick_of_the_status_sweep_runs_once_across_both_workers(
    stack: Stack, redis_pool: Any
) -> None:
    """The sweep runs every two seconds here. Each run a worker finished is a line in its log; each
    tick run leaves one result in Redis, under the tick's job id: as many runs as ticks."""

    def runs() -> int:
        return sum(text.count("← cron:poll_filings ●") for text in worker_logs(stack))

    async def ticks() -> int:
        return len([k async for k in redis_pool.scan_iter(match="arq:result:cron:poll_filings:*")])

    async def as_many_runs_as_ticks() -> bool:
        done, ran = runs(), await ticks()
        return done >= 3 and done == ran and runs() == done

    assert await eventually(as_many_runs_as_ticks, 60), (runs(), await ticks())


async def test_two_workers_enqueue_each_cron_job_once_per_tick(settings: Any, redis_pool: Any) -> None:
    """Every cron job (status sweep, deadline check, digest, purge) of two workers' schedulers at
    the same tick: arq's unique cron job id (its name and the tick) lets one enqueue it."""
    await redis_pool.delete("arq:queue")
    tick = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    workers = []
    for _ in range(2):
        kwargs = worker_settings(settings)
        kwargs.pop("redis_settings")
        kwargs.update(redis_pool=redis_pool, handle_signals=False, on_startup=None, on_shutdown=None)
        kwargs["cron_jobs"] = [dataclasses.replace(c, next_run=tick) for c in kwargs["cron_jobs"]]
        workers.append(Worker(**kwargs))
    names = {c.name for c in workers[0].cron_jobs}
    assert names >= {
        "cron:poll_filings",
        "cron:flag_overdue_filings",
        "cron:notify_digest",
        "cron:purge",
    }
    assert all(c.unique for c in workers[0].cron_jobs)
    now = tick - timedelta(milliseconds=100)
    await asyncio.gather(*(w.run_cron(now, 0.5) for w in workers))
    stamp = int(tick.timestamp() * 1000)
    # this tick's jobs (a worker of an earlier test still stopping may have queued one of its own)
    queued = sorted(
        j.decode() for j in await redis_pool.zrange("arq:queue", 0, -1) if j.decode().endswith(f":{stamp}")
    )
    assert queued == sorted(f"{name}:{stamp}" for name in names)
    await redis_pool.delete("arq:queue", *(f"arq:job:{j}" for j in queued))
