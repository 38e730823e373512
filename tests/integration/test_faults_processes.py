"""Processes killed and stopped in the middle of work (issue 17, scenarios 1 and 6), with `chorus
worker` and `chorus web` started as processes on the run's database and Redis:

- a worker killed with SIGKILL between the regulator's answer to a filing and its record: the
  next worker files again under the same Idempotency-Key, so the regulator holds one complaint and
  the filing one reference (the fan-out killed halfway is test_notify_channels' killed_fan_out);
- a worker sent SIGTERM in that same moment finishes the job before it exits (arq's
  job_completion_wait, workers.settings.SHUTDOWN_GRACE_SECONDS);
- `chorus web` sent SIGTERM while a request is still arriving answers it, then exits;
- a worker killed between handing an outbox row's job to Redis and marking the row sent: the next
  relay hands it over again under the same job id and the e-mail goes once (PostgreSQL only: a
  table lock freezes the relay at that point);
- a worker killed while rendering a complaint version's page: the next worker renders it once,
  members are told once, no temporary page file is left (PostgreSQL only, a table lock again; the
  removal of a temporary file left by a kill between writing and renaming it: tests/unit
  test_complaint_cache).

Both backends otherwise: what the processes do with the database is part of what is tested.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest

from chorus import jobs
from chorus.accounts.tables import User
from chorus.filings.tables import Filing, FilingEvent
from chorus.notifications.tables import InboxEntry
from tests.conftest import BACKEND, DATABASE_URL
from tests.integration.faults_support import eventually, start_worker
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.integration.test_filing_channels import filed
from tests.regulator_standin import KEY_ENV, Standin, running
from tests.support import PASSWORD
from tests.toolkit import start_web, stop_process
from workers.settings import FUNCTIONS, IN_PROGRESS_MARGIN, POLL_TIMEOUT

pytestmark = pytest.mark.usefixtures("clean")


@dataclass
class Holding(Standin):
    """A regulator that, while ``hold`` is set, takes a complaint (records it and its answer under
    the Idempotency-Key) and then holds the answer back until ``hold`` is released: the moment
    between the regulator's answer and the worker's record of it."""

    hold: asyncio.Event | None = None
    received: asyncio.Event = field(default_factory=asyncio.Event)

    async def interfere(self) -> tuple[int, dict[str, Any]] | None:
        if self.hold is None:
            return None
        post = self.posts[-1]
        answer = self.receive(post["headers"]["idempotency-key"], post["body"])
        self.received.set()
        await self.hold.wait()
        return answer


@pytest.fixture
async def regulator() -> AsyncIterator[Holding]:
    standin = Holding(hold=asyncio.Event())
    os.environ[KEY_ENV] = str(standin.api_key)
    try:
        async with running(standin) as s:
            yield s  # type: ignore[misc]
    finally:
        os.environ.pop(KEY_ENV, None)


async def filing_status(filing_id: int) -> str:
    row = await Filing.select(Filing.status).where(Filing.id == filing_id).first()
    assert row is not None
    return str(row["status"])


async def submitted(filing_id: int) -> list[dict[str, Any]]:
    return list(
        await FilingEvent.select(FilingEvent.status, FilingEvent.source).where(
            (FilingEvent.filing == filing_id) & (FilingEvent.status == "submitted")
        )
    )


def worker_env() -> dict[str, str]:
    return {**os.environ, "CHORUS_OUTBOX_RELAY_SECONDS": "0.2"}


async def test_a_worker_killed_between_the_regulators_answer_and_its_record_files_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, regulator: Holding, tmp_path: Any
) -> None:
    s = await filed(client, mailbox, worker, settings, regulator)
    log = tmp_path / "worker.log"
    first = await asyncio.to_thread(start_worker, log, worker_env())
    try:
        await asyncio.wait_for(regulator.received.wait(), 120)
        first.kill()  # SIGKILL: the regulator has the complaint, the worker never hears back
        await asyncio.to_thread(first.wait, 10)
    finally:
        stop_process(first)
    assert regulator.hold is not None
    regulator.hold.set()
    regulator.hold = None  # from now on the regulator answers at once
    assert await filing_status(s["filing"]) == "queued"  # nothing of the answer was recorded

    # arq reruns a job a killed worker held once its in-progress mark expires (the job's timeout
    # + 10 s, ChorusWorker: 610 s for a submission): the test lets that time pass by deleting it
    marks = [k async for k in redis_pool.scan_iter(match="arq:in-progress:*")]
    assert marks, "the killed worker held no job"
    await redis_pool.delete(*marks)

    second = await asyncio.to_thread(start_worker, log, worker_env())
    try:

        async def recorded() -> bool:
            return await filing_status(s["filing"]) != "queued"

        assert await eventually(recorded, 120), log.read_text()[-3000:]
    finally:
        stop_process(second)
    keys = {p["headers"]["idempotency-key"] for p in regulator.posts}
    assert len(regulator.posts) == 2 and len(keys) == 1, regulator.posts  # sent again, same key
    assert list(regulator.complaints) == ["REG-0001"]  # one complaint at the regulator
    got = await Filing.select(Filing.status, Filing.reference).where(Filing.id == s["filing"]).first()
    assert got == {"status": "received", "reference": "REG-0001"}
    assert len(await submitted(s["filing"])) == 1


async def test_a_worker_stopped_with_sigterm_finishes_the_submission_in_flight(
    client: Any, mailbox: Any, worker: Any, settings: Any, regulator: Holding, tmp_path: Any
) -> None:
    s = await filed(client, mailbox, worker, settings, regulator)
    log = tmp_path / "worker.log"
    proc = await asyncio.to_thread(start_worker, log, worker_env())
    try:
        await asyncio.wait_for(regulator.received.wait(), 120)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(1)  # the worker is stopping: it takes no new job, waits for this one
        assert proc.poll() is None, log.read_text()[-3000:]
        assert regulator.hold is not None
        regulator.hold.set()
        code = await asyncio.to_thread(proc.wait, 60)
    finally:
        stop_process(proc)
    assert code == 0, log.read_text()[-3000:]
    assert len(regulator.posts) == 1
    got = await Filing.select(Filing.status, Filing.reference).where(Filing.id == s["filing"]).first()
    assert got == {"status": "received", "reference": "REG-0001"}, log.read_text()[-3000:]
    assert len(await submitted(s["filing"])) == 1


async def test_web_stopped_with_sigterm_answers_the_request_in_flight_then_exits(tmp_path: Any) -> None:
    proc, base = await asyncio.to_thread(start_web, log=tmp_path / "web.log", env=os.environ)
    try:
        body = (f'{{"email": "slow@example.com", "password": "{PASSWORD}", "display_name": "Slow"}}').encode()
        sigterm_sent = asyncio.Event()

        async def slowly() -> AsyncIterable[bytes]:
            yield body[:10]
            await asyncio.sleep(0.5)  # the request has begun: now the server is told to stop
            proc.send_signal(signal.SIGTERM)
            sigterm_sent.set()
            await asyncio.sleep(1.5)
            yield body[10:]

        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            r = await c.post(
                "/api/v1/auth/register", content=slowly(), headers={"content-type": "application/json"}
            )
        assert sigterm_sent.is_set()
        assert r.status_code == 201, r.text
        code = await asyncio.to_thread(proc.wait, 60)
        # uvicorn ends a graceful shutdown by raising the signal it caught again: the exit status
        # says "stopped by SIGTERM", which is what systemd expects of a unit it stops
        assert code in (0, -signal.SIGTERM), (tmp_path / "web.log").read_text()[-3000:]
        assert await User.exists().where(User.email == "slow@example.com")
        with pytest.raises(httpx.ConnectError):  # and it no longer takes requests
            httpx.get(f"{base}/healthz", timeout=5)
    finally:
        stop_process(proc)


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgres", reason="holds the outbox with a PostgreSQL table lock")
async def test_a_worker_killed_between_handing_a_job_to_redis_and_marking_it_sent_sends_once(
    client: Any, mailbox: Any, redis_pool: Any, tmp_path: Any
) -> None:
    """The outbox relay killed mid-way: the job is in Redis, its row not marked sent. The test
    freezes the relay there with a lock on the outbox table that lets the relay claim rows
    (SELECT ... FOR UPDATE) but not mark them (UPDATE), then kills the worker."""
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": "relay@example.com", "password": PASSWORD, "display_name": "Relay"},
    )
    assert r.status_code == 201, r.text
    (row,) = await jobs.OutboxRow.select(jobs.OutboxRow.job_id).where(jobs.OutboxRow.sent_at.is_null())
    job_id = row["job_id"]
    log = tmp_path / "worker.log"
    lock = await asyncpg.connect(DATABASE_URL)
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE outbox IN SHARE MODE")
            first = await asyncio.to_thread(start_worker, log, worker_env())
            try:

                async def handed_over() -> bool:
                    return bool(await redis_pool.exists(f"arq:job:{job_id}", f"arq:result:{job_id}"))

                assert await eventually(handed_over, 60), log.read_text()[-3000:]
                first.kill()
                await asyncio.to_thread(first.wait, 10)
            finally:
                stop_process(first)
    finally:
        await lock.close()

    async def unsent() -> bool:
        return await jobs.pending_count() == 1

    assert await unsent()  # the killed relay's mark was never committed
    second = await asyncio.to_thread(start_worker, log, worker_env())
    try:

        async def relayed_and_mailed() -> bool:
            return await jobs.pending_count() == 0 and len(mailbox.to("relay@example.com")) >= 1

        assert await eventually(relayed_and_mailed, 120), log.read_text()[-3000:]
        await asyncio.sleep(2)  # a second run of the job would have mailed by now
    finally:
        stop_process(second)
    assert len(mailbox.to("relay@example.com")) == 1


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgres", reason="holds the render with a PostgreSQL table lock")
async def test_a_worker_killed_while_rendering_a_complaint_page_renders_it_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, tmp_path: Any
) -> None:
    """A complaint version's page render killed mid-job: a lock on the complaint table (ACCESS
    EXCLUSIVE: no read) holds `chorus worker`'s render job at its read of the version, the test
    kills the worker there; the next worker renders the page once, the version stays one
    version, its members are told of it once, and no temporary page file is left."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints",
        headers=s["org"],
        json={"regulator_id": await regulator_id(client)},
    )
    assert r.status_code == 201, r.text
    built = r.json()
    render_timeout = next(f.timeout_s for f in FUNCTIONS if f.name == jobs.Job.render_complaint_page.value)
    assert render_timeout is not None and render_timeout + IN_PROGRESS_MARGIN < POLL_TIMEOUT
    pages = settings.var_dir / "cache" / "complaint-pages"
    page_files = f"{built['id']}-{built['sha256']}-*.html"
    log = tmp_path / "worker.log"
    lock = await asyncpg.connect(DATABASE_URL)
    try:
        async with lock.transaction():
            await lock.execute("LOCK TABLE complaint IN ACCESS EXCLUSIVE MODE")
            first = await asyncio.to_thread(start_worker, log, worker_env())
            try:

                async def rendering() -> bool:
                    # held, and marked in progress for the render's own timeout (+10 s), not arq's
                    # longest one: the job runs again that much after a kill
                    left = await redis_pool.pttl(f"arq:in-progress:complaint-page:{built['id']}")
                    return bool(0 < left <= (render_timeout + IN_PROGRESS_MARGIN) * 1000)

                assert await eventually(rendering, 60), log.read_text()[-3000:]
                first.kill()
                await asyncio.to_thread(first.wait, 10)
            finally:
                stop_process(first)
    finally:
        await lock.close()
    assert not pages.exists() or not list(pages.glob(page_files))  # killed before the page was put

    # the killed job runs again once its in-progress mark expires: the test deletes the marks
    marks = [k async for k in redis_pool.scan_iter(match="arq:in-progress:*")]
    await redis_pool.delete(*marks)
    second = await asyncio.to_thread(start_worker, log, worker_env())
    try:

        async def rendered() -> bool:
            told = await InboxEntry.count().where(InboxEntry.kind == "complaint.version_awaits_consent")
            mailed = sum("联合投诉书" in str(m["Subject"]) for m in mailbox.messages)
            return pages.exists() and len(list(pages.glob(page_files))) == 1 and told >= 2 and mailed >= 2

        assert await eventually(rendered, 120), log.read_text()[-3000:]
        await asyncio.sleep(2)  # a second run of either job would have shown by now
    finally:
        stop_process(second)
    assert len(list(pages.glob(page_files))) == 1
    assert list(pages.glob(".*.tmp")) == []  # no temporary page file left
    # one version, and its page is the whole text, served from the cache the worker filled
    versions = (await client.get(f"/api/v1/cases/{s['case']}/complaints", headers=s["org"])).json()["items"]
    assert [v["id"] for v in versions] == [built["id"]]
    r = await client.get(f"/api/v1/complaints/{built['id']}/html", headers=s["org"])
    assert r.status_code == 200, r.text
    assert r.content == next(pages.glob(page_files)).read_bytes()
    assert built["sha256"] in r.text and r.text.rstrip().endswith("</html>")
    # the two named members are told of the version once each (inbox and e-mail), none twice
    told = await InboxEntry.select(InboxEntry.user).where(
        InboxEntry.kind == "complaint.version_awaits_consent"
    )
    assert len(told) == len({t["user"] for t in told}) == 2
    for who in ("org@example.com", "ann@example.com"):
        about = [m for m in mailbox.to(who) if "联合投诉书第 1 版" in str(m["Subject"])]
        assert len(about) == 1, [str(m["Subject"]) for m in mailbox.to(who)]
