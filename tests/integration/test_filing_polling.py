"""The status sweep as configuration (issue 14 item 1): CHORUS_STATUS_POLL_SECONDS sets how often
the workers' cron asks regulators' HTTP channels; each regulator's ``min_poll_seconds`` is the
least time between two polls of one filing; overlapping sweeps never ask about one filing twice,
and two workers run each tick once. Against the protocol-v1 stand-in on a real socket, counting
the requests it saw; real arq workers on the real Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import structlog.testing
from arq.worker import Worker
from pydantic import ValidationError

from chorus.filings.tables import Filing
from chorus.settings import Settings
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import add_regulator, filing_of, quick
from tests.integration.test_filings import build, file
from tests.integration.test_regulator_ssrf import production
from tests.regulator_standin import KEY_ENV, Standin
from tests.support import as_user, assert_problem, login, run_jobs

pytestmark = pytest.mark.usefixtures("clean")


async def http_regulator(client: Any, settings: Any, gateway: Standin, name: str, **fields: Any) -> int:
    """An admin adds a regulator whose HTTP channel is the stand-in."""
    return await add_regulator(
        client,
        settings,
        name=name,
        channel="http",
        address=gateway.base_url,
        credentials_env=KEY_ENV,
        **fields,
    )


async def live_filings(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin, *, count: int
) -> dict[str, Any]:
    """One case filed with ``count`` HTTP regulators, all served by the stand-in, and sent by the
    worker (each acknowledged: received). ``s["filings"]``: their ids; ``s["regulators"]``."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    s["regulators"], s["filings"] = [], []
    for n in range(count):
        reg = await http_regulator(client, settings, gateway, f"某市市场监督管理局（接口 {n}）")
        s["regulators"].append(reg)
        r = await file(client, s, (await build(client, s, reg))["id"])
        assert r.status_code == 202, r.text
        s["filings"].append(r.json()["id"])
    await run_jobs(redis_pool, quick(settings))
    assert len(gateway.complaints) == count
    s["admin"] = await login(client, "admin@example.com")
    return s


async def sweep(redis_pool: Any, settings: Any, at: datetime, *, workers: int = 1) -> list[dict[str, int]]:
    """The sweep job as the cron enqueues it, as if run at ``at``, on ``workers`` burst workers at
    once (each enqueued under its own job id, as overlapping ticks would be). Their results."""
    ids = [f"sweep-{at.timestamp()}-{n}" for n in range(workers)]
    for job_id in ids:
        await redis_pool.enqueue_job("poll_filings", at=at.isoformat(), _job_id=job_id)
    await asyncio.gather(*(run_jobs(redis_pool, quick(settings), relay=False) for _ in range(workers)))
    from arq.jobs import Job

    return [await Job(job_id, redis_pool).result(timeout=5) for job_id in ids]


async def test_a_filing_is_not_polled_again_within_its_regulators_interval_then_is(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await live_filings(client, mailbox, worker, settings, redis_pool, gateway, count=1)
    r = await client.patch(
        f"/api/v1/regulators/{s['regulators'][0]}", headers=s["admin"], json={"min_poll_seconds": 600}
    )
    assert r.status_code == 200 and r.json()["min_poll_seconds"] == 600, r.text
    t = datetime.now(UTC)
    (first,) = await sweep(redis_pool, settings, t)
    assert gateway.reads == ["REG-0001"] and first["asked"] == 1
    gateway.set_status("REG-0001", "accepted", "已受理")
    (early,) = await sweep(redis_pool, settings, t + timedelta(seconds=599))
    assert gateway.reads == ["REG-0001"]
    assert early == {"due": 0, "claimed": 0, "asked": 0, "moved": 0, "unanswered": 0}
    assert (await filing_of(client, s["ann"], s["filings"][0]))["status"] == "received"
    (due,) = await sweep(redis_pool, settings, t + timedelta(seconds=600))
    assert gateway.reads == ["REG-0001", "REG-0001"] and due["moved"] == 1
    got = await filing_of(client, s["ann"], s["filings"][0])
    assert got["status"] == "accepted" and got["events"][-1]["note"] == "已受理"


async def test_two_sweeps_at_once_ask_about_each_filing_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await live_filings(client, mailbox, worker, settings, redis_pool, gateway, count=3)
    for ref in gateway.complaints:
        gateway.set_status(ref, "accepted")
    results = await sweep(redis_pool, settings, datetime.now(UTC), workers=2)
    assert sorted(gateway.reads) == ["REG-0001", "REG-0002", "REG-0003"]
    assert sum(r["claimed"] for r in results) == 3 and sum(r["moved"] for r in results) == 3
    for filing_id in s["filings"]:  # one status change each, recorded once
        got = await filing_of(client, s["ann"], filing_id)
        assert [e["status"] for e in got["events"]] == ["queued", "submitted", "received", "accepted"]


async def test_two_workers_run_each_tick_of_the_sweeps_cron_once(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    """Two real workers with the cron of CHORUS_STATUS_POLL_SECONDS=2 run until a tick has passed
    on both: each tick ran on one of them, and each filing was asked about once."""
    from workers.settings import poll_cron, worker_settings

    await live_filings(client, mailbox, worker, settings, redis_pool, gateway, count=2)
    fast = quick(settings, status_poll_seconds=2)
    made = []
    for _ in range(2):
        kwargs = worker_settings(fast)
        kwargs.pop("redis_settings")
        kwargs.update(
            redis_pool=redis_pool,
            poll_delay=0.05,
            handle_signals=False,
            on_startup=None,
            on_shutdown=None,
            ctx={"settings": fast},
            cron_jobs=[poll_cron(fast)],  # its own cron object: arq keeps the next run on it
        )
        made.append(Worker(**kwargs))
    running = [asyncio.create_task(w.main()) for w in made]
    try:
        deadline = asyncio.get_running_loop().time() + 60
        first_tick: datetime | None = None
        while True:
            assert not any(t.done() for t in running), [t.exception() for t in running if t.done()]
            ticks = await redis_pool.keys("arq:result:cron:poll_filings:*")
            busy = any(not t.done() for w in made for t in w.tasks.values())
            if ticks and first_tick is None:
                first_tick = max(w.cron_jobs[0].next_run for w in made)  # a tick both will have seen
            if (
                first_tick is not None
                and not busy
                and all(w.cron_jobs[0].next_run > first_tick for w in made)
                and len(await redis_pool.keys("arq:result:cron:poll_filings:*")) >= 2
            ):
                break
            assert asyncio.get_running_loop().time() < deadline, "the cron never ran twice"
            await asyncio.sleep(0.1)
    finally:
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    ticks = await redis_pool.keys("arq:result:cron:poll_filings:*")
    assert sum(w.jobs_complete for w in made) == len(ticks)  # no tick ran twice
    assert sum(w.jobs_failed for w in made) == 0
    assert sorted(gateway.reads) == ["REG-0001", "REG-0002"]  # later ticks: within the interval


async def test_a_refused_address_leaves_the_filing_due(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    """A request netguard refused was never sent: the filing is not held back by the interval."""
    s = await live_filings(client, mailbox, worker, settings, redis_pool, gateway, count=1)
    await redis_pool.enqueue_job("poll_filings", _job_id="production-sweep")
    await run_jobs(redis_pool, production(settings), relay=False)
    assert gateway.reads == []
    row = await Filing.select(Filing.next_poll_at).where(Filing.id == s["filings"][0]).first()
    assert row is not None and row["next_poll_at"] is None
    (again,) = await sweep(redis_pool, settings, datetime.now(UTC))
    assert gateway.reads == ["REG-0001"] and again["asked"] == 1


async def test_an_unanswered_question_is_shown_to_the_organizers_until_the_server_answers(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    """The regulator's server forgets the reference (404): nothing moves, no event is added, the
    organizers' filings page says the last question went unanswered, with the server's words;
    the next answer clears it and is recorded."""
    s = await live_filings(client, mailbox, worker, settings, redis_pool, gateway, count=1)
    filing = s["filings"][0]
    before = await filing_of(client, s["org"], filing)
    kept = gateway.complaints.pop("REG-0001")
    t = datetime.now(UTC)
    with structlog.testing.capture_logs() as logged:
        (first,) = await sweep(redis_pool, settings, t)
    assert (first["asked"], first["unanswered"], first["moved"]) == (1, 1, 0)
    # the operator's log names the filing and the HTTP status, never the server's words
    (line,) = [e for e in logged if e["event"] == "filing.status_unanswered"]
    assert (line["filing_id"], line["status_code"]) == (filing, 404)
    assert "no such complaint" not in str(line)
    got = await filing_of(client, s["org"], filing)
    assert got["status"] == "received" and got["message"] == "404: no such complaint"
    assert got["events"] == before["events"]
    page = f"/cases/{s['case']}/organize/filings"
    await as_user(client, s["org"])
    r = await client.get(page)
    assert r.status_code == 200, r.text
    notice = r.text.split('class="notice notice-warning filing-unanswered"', 1)[1].split("</div>", 1)[0]
    assert "对方的系统没有正常回答" in notice and "404: no such complaint" in notice

    # asked again after the interval, the same answer: the notice stays as it was
    (second,) = await sweep(redis_pool, settings, t + timedelta(seconds=300))
    assert (second["asked"], second["unanswered"]) == (1, 1)
    got = await filing_of(client, s["org"], filing)
    assert got["message"] == "404: no such complaint" and got["events"] == before["events"]

    gateway.complaints["REG-0001"] = kept
    gateway.set_status("REG-0001", "accepted", "已受理")
    (again,) = await sweep(redis_pool, settings, t + timedelta(seconds=600))
    assert (again["asked"], again["unanswered"], again["moved"]) == (1, 0, 1)
    got = await filing_of(client, s["org"], filing)
    assert got["status"] == "accepted" and got["message"] == ""
    r = await client.get(page)
    assert r.status_code == 200 and "filing-unanswered" not in r.text
    await as_user(client, None)


def test_the_poll_period_must_divide_the_clock() -> None:
    from chorus.settings import poll_clock_times
    from workers.settings import poll_cron

    assert Settings(status_poll_seconds=900).status_poll_seconds == 900
    assert Settings().status_poll_seconds == 900  # the default: every 15 minutes
    for bad in (0, 7, 45, 5400, 86401, -1):
        with pytest.raises(ValidationError) as caught:
            Settings(status_poll_seconds=bad)
        assert caught.value.errors()[0]["loc"] == ("status_poll_seconds",)
    with pytest.raises(ValidationError, match="divide a minute, an hour or a day"):
        Settings(status_poll_seconds=45)
    assert poll_clock_times(5) == {"second": {0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55}}
    every_15_minutes = poll_cron(Settings())
    assert every_15_minutes.minute == {2, 17, 32, 47} and every_15_minutes.second == {0}
    assert every_15_minutes.unique and every_15_minutes.name == "cron:poll_filings"
    assert every_15_minutes.keep_result_s is not None and every_15_minutes.keep_result_s >= 1800
    assert poll_cron(Settings(status_poll_seconds=21600)).hour == {0, 6, 12, 18}


async def test_admins_set_a_regulators_poll_interval_within_bounds(
    client: Any, settings: Any, gateway: Standin
) -> None:
    from chorus.regulators.tables import Regulator

    reg = await http_regulator(client, settings, gateway, "某市市场监督管理局（接口）")
    admin = await login(client, "admin@example.com")
    listed = (await client.get("/api/v1/regulators")).json()["items"]
    assert next(r for r in listed if r["id"] == reg)["min_poll_seconds"] == 300  # the default
    for bad in (0, -5, 7 * 86400 + 1, None, "often"):
        r = await client.patch(f"/api/v1/regulators/{reg}", headers=admin, json={"min_poll_seconds": bad})
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == ["min_poll_seconds"], problem
    row = await Regulator.select(Regulator.min_poll_seconds).where(Regulator.id == reg).first()
    assert row == {"min_poll_seconds": 300}  # nothing changed
    r = await client.patch(f"/api/v1/regulators/{reg}", headers=admin, json={"min_poll_seconds": 60})
    assert r.status_code == 200 and r.json()["min_poll_seconds"] == 60, r.text

    other = {"jurisdiction": "某市", "channel": "http", "address": gateway.base_url}
    r = await client.post(
        "/api/v1/regulators", headers=admin, json={**other, "name": "乙", "min_poll_seconds": 0}
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["min_poll_seconds"]
    assert await Regulator.count().where(Regulator.name == "乙") == 0  # nothing half-written
    r = await client.post(
        "/api/v1/regulators", headers=admin, json={**other, "name": "乙", "min_poll_seconds": 30}
    )
    assert r.status_code == 201 and r.json()["min_poll_seconds"] == 30, r.text
