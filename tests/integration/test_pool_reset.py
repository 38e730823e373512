"""The PostgreSQL pool hands a connection to its next user without asyncpg's reset query
(chorus.db._keep_session): a use that failed half-way must still leave nothing behind for the
next request: no open transaction, no lock held (a report of a new merchant holds its keys)."""

from __future__ import annotations

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
