"""The PostgreSQL pool hands a connection to its next user without asyncpg's reset query
(chorus.db._keep_session): a use that failed half-way must still leave nothing behind for the
next request: no open transaction, no lock held (a report of a new merchant holds its keys)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from chorus import db
from chorus.merchants.tables import Merchant
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.usefixtures("clean"),
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        BACKEND != "postgres", reason="the pool is PostgreSQL's (the PostgreSQL pass runs it)"
    ),
]

KEY = 4_242_424_242


async def test_a_transaction_failing_midway_leaves_its_connection_clean_for_the_next_user(
    settings: object,
) -> None:
    engine = db.engine()
    pool = engine.pool
    assert pool is not None
    for _ in range(3):  # whichever connection the pool hands out next
        with pytest.raises(RuntimeError):
            async with db.transaction():
                await Merchant.raw("SELECT pg_advisory_xact_lock({})", KEY)
                await Merchant.raw("SET LOCAL statement_timeout = 1234")
                raise RuntimeError("the report failed half-way")
    async with pool.acquire() as con:
        assert not con.is_in_transaction()
        assert await con.fetchval("SHOW statement_timeout") != "1234ms"
    other = await asyncpg.connect(engine.config["dsn"])
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", KEY)  # the key is free
        await other.execute("SELECT pg_advisory_unlock($1)", KEY)
        stuck = await other.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
        assert stuck == 0
    finally:
        await other.close()


async def test_a_connection_the_server_ended_under_a_transaction_is_not_the_tasks_transaction_after(
    settings: object,
) -> None:
    # One long task, as the worker's outbox relay is: a restart of the server ended its
    # connection in a transaction; once the server answers again, its next transaction works.
    with pytest.raises(Exception) as ended:
        async with db.transaction():
            await Merchant.raw("SELECT pg_terminate_backend(pg_backend_pid())")
    assert db.is_unavailable(ended.value), repr(ended.value)
    async with db.transaction():
        await Merchant.raw("INSERT INTO merchant (name, created_at) VALUES ({}, now())", "后来的店")
    assert [r["name"] for r in await Merchant.select(Merchant.name)] == ["后来的店"]


# A connection never given back leaves the reads after waiting for one for ever: the test fails
# after this long instead of hanging the run (not a measure of speed: each read takes milliseconds)
LOST = 60


async def _all_back(pool: asyncpg.Pool) -> None:
    """Once the releases still under way (chorus.db._release_soon) are done, every connection of
    the pool is idle again."""
    await asyncio.gather(*db._releasing)
    assert pool.get_idle_size() == pool.get_size()


async def test_reads_outside_a_transaction_give_every_connection_back(settings: object) -> None:
    # A read's connection goes back to the pool after the caller has its rows: many reads in a
    # row and at once, some failing, leave the pool whole, and every read saw its own answer.
    pool = db.engine().pool
    assert pool is not None
    size = pool.get_max_size()
    async with asyncio.timeout(LOST):
        for n in range(3 * size):
            assert await db.fetch(Merchant, "SELECT {}::int AS n", n) == [{"n": n}]
            with pytest.raises(asyncpg.PostgresError):
                await db.fetch(Merchant, "SELECT 1 / {}::int AS n", 0)
        reads = (db.fetch_rows(Merchant, "SELECT {}::int", n) for n in range(4 * size))
        answers = await asyncio.gather(*reads)
    assert [rows[0][0] for rows in answers] == list(range(4 * size))
    await _all_back(pool)


async def test_a_read_on_a_connection_the_server_ended_is_followed_by_working_ones(settings: object) -> None:
    pool = db.engine().pool
    assert pool is not None
    with pytest.raises(Exception) as ended:
        await db.fetch(Merchant, "SELECT pg_terminate_backend(pg_backend_pid())")
    assert db.is_unavailable(ended.value), repr(ended.value)
    async with asyncio.timeout(LOST):
        for n in range(2 * pool.get_max_size()):
            assert await db.fetch(Merchant, "SELECT {}::int AS n", n) == [{"n": n}]
    await _all_back(pool)
