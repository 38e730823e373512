"""PostgreSQL restarted under traffic (issue 17, scenario 3): `chorus web` and `chorus worker` run as
processes against a PostgreSQL server of the test's own, which is restarted (``pg_ctl restart -m
fast``) while victims keep reporting. Requests caught by the restart answer 503 problem+json with
Retry-After and leave nothing half-written; the web process's pool reconnects by itself and the
next requests succeed; the worker's relay and jobs resume.

PostgreSQL only, and only on the PostgreSQL pass (tests/run_suites.py): the scenario is a database
server going away, which a SQLite file does not do; the private server makes the test valid
whatever database the run itself uses, and running it once keeps `make test` short.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.integration.cases_support import ident, report_body
from tests.integration.faults_support import (
    PrivatePostgres,
    PrivateRedis,
    assert_unavailable,
    eventually,
    mail_to,
    migrate,
    pg_binary,
    sql,
    start_worker,
    verified_user,
)
from tests.support import PASSWORD, Mailbox
from tests.toolkit import start_web, stop_process

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(BACKEND != "postgres", reason="the PostgreSQL pass runs it (its own server)"),
]


@dataclass
class Stack:
    pg: PrivatePostgres
    database_url: str
    base: str
    folder: Path


@pytest.fixture(scope="module")
async def stack(mailbox: Mailbox, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    if pg_binary("initdb") is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed here")
    folder = tmp_path_factory.mktemp("pg-faults")
    pg = PrivatePostgres().start()
    redis = PrivateRedis(folder / "redis").start()
    procs = []
    try:
        url = await pg.create_database("chorus")
        env = {
            **os.environ,
            "CHORUS_DATABASE_URL": url,
            "CHORUS_REDIS_URL": redis.url,
            "CHORUS_DATABASE_POOL_SIZE": "4",
            "CHORUS_OUTBOX_RELAY_SECONDS": "0.2",
        }
        await asyncio.to_thread(migrate, env)
        web, base = await asyncio.to_thread(start_web, log=folder / "web.log", env=env)
        procs.append(web)
        procs.append(await asyncio.to_thread(start_worker, folder / "worker.log", env))
        yield Stack(pg, url, base, folder)
    finally:
        for proc in procs:
            stop_process(proc)
        redis.stop()
        pg.stop()


def logs(stack: Stack) -> str:
    return "".join(
        f"\n--- {name}\n" + (stack.folder / name).read_text(errors="replace")[-2500:]
        for name in ("web.log", "worker.log")
        if (stack.folder / name).exists()
    )


async def test_a_restart_under_traffic_answers_503_writes_nothing_half_and_recovers(
    stack: Stack, mailbox: Mailbox
) -> None:
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        victim = await verified_user(client, mailbox, "pg-victim@example.com")
        answers: list[tuple[int, httpx.Response]] = []
        after: list[int] = []  # the answers to requests sent after the restart
        restarted = asyncio.Event()
        after_restart_ok = 0
        counter = iter(range(100_000))

        async def keep_reporting() -> None:
            nonlocal after_restart_ok
            while after_restart_ok < 20:
                k = next(counter)
                body = report_body(f"重启店铺 {k}", [ident("qq", f"{20000000 + k}")])
                sent_after = restarted.is_set()  # sent once the server was up again
                r = await client.post("/api/v1/reports", json=body, headers=victim)
                answers.append((k, r))
                if sent_after:
                    after.append(r.status_code)
                    after_restart_ok += r.status_code == 201

        traffic = [asyncio.create_task(keep_reporting()) for _ in range(4)]
        assert await eventually(lambda: _true(len(answers) >= 8), 60), logs(stack)
        await asyncio.to_thread(stack.pg.restart)
        restarted.set()
        await asyncio.wait_for(asyncio.gather(*traffic), 180)

        statuses = [r.status_code for _, r in answers]
        assert set(statuses) <= {201, 503}, [r.text for _, r in answers if r.status_code not in (201, 503)]
        for _, r in answers:
            if r.status_code == 503:
                assert_unavailable(r)
        assert 503 in statuses, "no request met the restart" + logs(stack)
        # the pool reconnected by itself: every request sent once the server was back succeeded
        assert after == [201] * len(after), (after, logs(stack))

        # nothing half-written: each merchant a report created has its identifier, one case and
        # the victim's membership; every 201 is there
        rows = await sql(
            stack.database_url,
            """SELECT m.name,
                      (SELECT count(*) FROM merchant_identifier i WHERE i.merchant = m.id) AS identifiers,
                      (SELECT count(*) FROM group_case c WHERE c.merchant = m.id) AS cases,
                      (SELECT count(*) FROM membership s JOIN group_case c ON s."case" = c.id
                        WHERE c.merchant = m.id) AS members
               FROM merchant m""",
        )
        assert all((r["identifiers"], r["cases"], r["members"]) == (1, 1, 1) for r in rows), rows
        stored = {r["name"] for r in rows}
        created = {f"重启店铺 {k}" for k, r in answers if r.status_code == 201}
        assert created <= stored
        # the merchant page of a report answered 201 after the restart shows it to anyone
        r = next(r for _, r in reversed(answers) if r.status_code == 201)
        page = await client.get(f"/api/v1/cases/{r.json()['case_id']}")
        assert page.status_code == 200, page.text

        # the worker resumed: its relay and jobs reach the database again
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": "after-restart@example.com", "password": PASSWORD, "display_name": "Later"},
        )
        assert r.status_code == 201, r.text
        await mail_to(mailbox, "after-restart@example.com", why=lambda: logs(stack))


async def test_while_the_server_is_down_health_and_api_say_503_and_come_back(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        await asyncio.to_thread(stack.pg._pg_ctl, "stop", "-m", "fast")
        try:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"] == "error"
            r = await client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": PASSWORD})
            assert_unavailable(r)
            page = await client.get("/merchants/424242")  # a page read from the database
            assert page.status_code == 503, page.text[:500]
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["retry-after"].isdigit()
        finally:
            await asyncio.to_thread(stack.pg._pg_ctl, "start")
        started = time.monotonic()

        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        assert await eventually(healthy, 60), f"not healthy {time.monotonic() - started:.0f} s later"
        r = await client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": PASSWORD})
        assert r.status_code == 401, r.text


async def _true(value: bool) -> bool:
    return value
