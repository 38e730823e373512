"""Redis restarted under traffic (issue 17, scenario 2): `chorus web` and `chorus worker` run as
processes against a Redis server of the test's own (append-only file on, as docs/operator-guide.md
asks), which is stopped and started again. While it is away the API keeps answering: reports,
logins (the rate limits count in the process's memory), evidence uploads, registrations (their
e-mail waits in the outbox); /healthz says Redis is away. Once it is back, every e-mail is
delivered exactly once, both the one that waited in the outbox and the one already queued in
Redis, and the worker is still running.

Run on the SQLite pass only, with a database file of its own: what is tested is Redis going away,
which does not depend on the database engine; once keeps `make test` short.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND
from tests.integration.cases_support import ident, report_body
from tests.integration.faults_support import (
    PrivateRedis,
    eventually,
    mail_to,
    migrate,
    start_worker,
    terminate,
    verified_user,
)
from tests.integration.test_account_lifecycle import png
from tests.support import PASSWORD, Mailbox
from tests.toolkit import start_web, stop_process

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="the SQLite pass runs it (its own database)")

# The worker's relay, run once in a process of its own (the worker is stopped at that moment):
# the outbox's rows handed over to Redis, as the worker's loop does.
RELAY_ONCE = """
import asyncio
from arq.connections import create_pool
from chorus import db, jobs
from chorus.settings import get_settings
from workers.settings import redis_settings

async def main() -> None:
    settings = get_settings()
    await db.start(settings)
    redis = await create_pool(redis_settings(settings.redis_url))
    print(await jobs.relay_once(redis))
    await redis.aclose()
    await db.stop(settings)

asyncio.run(main())
"""


@dataclass
class Stack:
    redis: PrivateRedis
    env: dict[str, str]
    base: str
    folder: Path
    procs: dict[str, subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
async def stack(mailbox: Mailbox, tmp_path_factory: Any) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("redis-faults")
    redis = PrivateRedis(folder / "redis").start()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        env = {
            **os.environ,
            "CHORUS_DATABASE_URL": f"sqlite:///{folder}/chorus.sqlite",
            "CHORUS_REDIS_URL": redis.url,
            "CHORUS_STORAGE_DIR": str(folder / "storage"),
            "CHORUS_OUTBOX_RELAY_SECONDS": "0.2",
        }
        await asyncio.to_thread(migrate, env)
        procs["web"], base = await asyncio.to_thread(start_web, log=folder / "web.log", env=env)
        procs["worker"] = await asyncio.to_thread(start_worker, folder / "worker.log", env)
        yield Stack(redis, env, base, folder, procs)
    finally:
        for proc in procs.values():
            stop_process(proc)
        redis.stop()


def logs(stack: Stack) -> str:
    return "".join(
        f"\n--- {name}\n" + (stack.folder / name).read_text(errors="replace")[-2500:]
        for name in ("web.log", "worker.log")
        if (stack.folder / name).exists()
    )


async def register(client: httpx.AsyncClient, address: str) -> None:
    body = {"email": address, "password": PASSWORD, "display_name": "Tester"}
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text


async def test_the_api_answers_while_redis_is_away_and_every_mail_goes_once_after(
    stack: Stack, mailbox: Mailbox
) -> None:
    async with httpx.AsyncClient(base_url=stack.base, timeout=30) as client:
        victim = await verified_user(client, mailbox, "redis-victim@example.com")

        # a job already queued in Redis when it restarts: relayed while no worker runs, so it is
        # still waiting in Redis's queue when Redis stops and starts again
        assert terminate(stack.procs["worker"]) == 0, logs(stack)
        await register(client, "queued@example.com")
        relayed = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", RELAY_ONCE],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert relayed.stdout.strip().splitlines()[-1] == "1", relayed.stdout + relayed.stderr
        await asyncio.to_thread(stack.redis.stop)
        await asyncio.to_thread(stack.redis.start)
        stack.procs["worker"] = await asyncio.to_thread(start_worker, stack.folder / "worker.log", stack.env)
        await mail_to(mailbox, "queued@example.com")

        # traffic while Redis is away, the worker running
        await asyncio.to_thread(stack.redis.stop)
        try:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert (health.json()["redis"], health.json()["database"]) == ("error", "ok")
            r = await client.post(
                "/api/v1/reports", json=report_body("断线店铺", [ident("qq", "31415926")]), headers=victim
            )
            assert r.status_code == 201, r.text
            case_id = r.json()["case_id"]
            r = await client.get(f"/api/v1/cases/{case_id}")
            assert r.status_code == 200, r.text
            r = await client.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=victim,
                data={"kind": "payment_receipt", "description": "付款截图", "visibility": "members"},
                files={"file": ("receipt.png", png(7), "image/png")},
            )
            assert r.status_code == 201, r.text
            evidence_id = r.json()["id"]
            r = await client.post(
                "/api/v1/auth/login", json={"email": "redis-victim@example.com", "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            client.cookies.clear()
            r = await client.post(
                "/api/v1/auth/login", json={"email": "redis-victim@example.com", "password": "wrong-password"}
            )
            assert r.status_code == 401, r.text
            await register(client, "during@example.com")  # its e-mail waits in the outbox
            await asyncio.sleep(1)  # the worker's relay meets Redis away a few times
            assert mailbox.to("during@example.com") == []
        finally:
            await asyncio.to_thread(stack.redis.start)

        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        assert await eventually(healthy, 30)
        await mail_to(mailbox, "during@example.com")
        # the worker lived through it (or nothing would have been sent); nothing went twice
        assert stack.procs["worker"].poll() is None, logs(stack)
        await asyncio.sleep(1)
        assert len(mailbox.to("queued@example.com")) == 1
        assert len(mailbox.to("during@example.com")) == 1
        assert len(mailbox.to("redis-victim@example.com")) == 1
        r = await client.get(f"/api/v1/cases/{case_id}/evidence", headers=victim)
        assert r.status_code == 200, r.text
        assert evidence_id in [e["id"] for e in r.json()["items"]], r.text
