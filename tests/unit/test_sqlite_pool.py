"""SQLite connections kept open between statements (chorus.sqlitepool), on a real SQLite file: a
kept connection reads what others committed since, a refused statement or a failed transaction
leaves nothing behind for the next user of the connection, foreign keys hold on every one, a
cancelled statement's connection is not used again, and a process that stopped the database
exits (the connections' threads do not keep it alive)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from piccolo.engine.sqlite import TransactionType
from piccolo.querystring import QueryString

from chorus.sqlitepool import PooledSQLiteEngine

SCHEMA = """
CREATE TABLE shop (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE report (id INTEGER PRIMARY KEY, shop INTEGER NOT NULL REFERENCES shop (id), note TEXT);
INSERT INTO shop (id, name) VALUES (1, 'Star cards');
"""


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[PooledSQLiteEngine]:
    path = tmp_path / "pool.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
        conn.execute("PRAGMA journal_mode=WAL")
    found = PooledSQLiteEngine(str(path), timeout=30)
    await found.open_pool()
    yield found
    await found.close_pool()


def outside(engine: PooledSQLiteEngine, sql: str) -> list[tuple[object, ...]]:
    """What another connection (another process, say) reads: only what was committed."""
    with sqlite3.connect(engine.path) as conn:
        return conn.execute(sql).fetchall()


async def run(engine: PooledSQLiteEngine, sql: str, *args: object) -> list[dict[str, object]]:
    result: list[dict[str, object]] = await engine.run_querystring(QueryString(sql, *args))
    return result


async def test_a_kept_connection_reads_what_was_committed_since(engine: PooledSQLiteEngine) -> None:
    assert await run(engine, "SELECT count(*) AS n FROM report") == [{"n": 0}]
    assert len(engine.idle) == 1  # kept, not closed
    with sqlite3.connect(engine.path) as conn:
        conn.execute("INSERT INTO report (shop, note) VALUES (1, 'never delivered')")
    assert await run(engine, "SELECT note FROM report") == [{"note": "never delivered"}]
    assert len(engine.idle) == 1  # the same one again


async def test_foreign_keys_hold_on_kept_connections_in_and_out_of_transactions(
    engine: PooledSQLiteEngine,
) -> None:
    for _ in range(2):  # a fresh connection, then the kept one
        with pytest.raises(sqlite3.IntegrityError):
            await run(engine, "INSERT INTO report (shop, note) VALUES ({}, 'x')", 99)
    with pytest.raises(sqlite3.IntegrityError):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            await run(engine, "INSERT INTO report (shop, note) VALUES ({}, 'x')", 99)
    assert outside(engine, "SELECT count(*) FROM report") == [(0,)]
    # the connection that refused is fine: the next statement is written, and committed at once
    await run(engine, "INSERT INTO report (shop, note) VALUES ({}, {})", 1, "paid 300")
    assert outside(engine, "SELECT note FROM report") == [("paid 300",)]


async def test_a_failed_transaction_leaves_nothing_for_the_next_user(engine: PooledSQLiteEngine) -> None:
    with pytest.raises(RuntimeError, match="changed my mind"):
        async with engine.transaction(transaction_type=TransactionType.immediate):
            await run(engine, "INSERT INTO report (shop, note) VALUES (1, 'half')")
            raise RuntimeError("changed my mind")
    assert outside(engine, "SELECT count(*) FROM report") == [(0,)]
    assert len(engine.idle) == 1 and not engine.idle[0].in_transaction
    # the next statement on that connection is not inside a left-over transaction: others see it
    await run(engine, "INSERT INTO report (shop, note) VALUES (1, 'whole')")
    assert outside(engine, "SELECT note FROM report") == [("whole",)]
    # and a writer elsewhere is not locked out by it
    with sqlite3.connect(engine.path, timeout=0) as conn:
        conn.execute("INSERT INTO report (shop, note) VALUES (1, 'elsewhere')")
    assert outside(engine, "SELECT count(*) FROM report") == [(2,)]


async def test_many_writers_at_once_all_land(engine: PooledSQLiteEngine) -> None:
    async def report(n: int) -> None:
        async with engine.transaction(transaction_type=TransactionType.immediate):
            await run(engine, "INSERT INTO report (shop, note) VALUES (1, {})", f"victim {n}")
            await run(engine, "UPDATE shop SET name = {} WHERE id = 1", f"Star cards ({n})")

    await asyncio.gather(*(report(n) for n in range(40)))
    assert outside(engine, "SELECT count(DISTINCT note) FROM report") == [(40,)]
    assert 1 <= len(engine.idle) <= engine.idle_limit
    assert not any(c.in_transaction for c in engine.idle)


async def test_a_cancelled_statement_stops_and_its_connection_is_not_used_again(
    engine: PooledSQLiteEngine,
) -> None:
    await run(engine, "SELECT 1")
    (kept,) = engine.idle
    slow = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000000) "
        "SELECT count(*) FROM c"
    )
    task = asyncio.create_task(run(engine, slow))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task  # interrupted: a hundred million rows (tens of seconds of work) are not counted
    assert kept not in engine.idle  # closed, never handed out again
    assert await run(engine, "SELECT name FROM shop") == [{"name": "Star cards"}]


async def test_without_an_open_pool_each_statement_has_its_own_connection(tmp_path: Path) -> None:
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SCHEMA)
    found = PooledSQLiteEngine(str(path))
    assert await run(found, "SELECT name FROM shop") == [{"name": "Star cards"}]
    assert found.idle == []
    await found.open_pool()
    await run(found, "SELECT 1")
    await found.close_pool()
    assert found.idle == []
    assert await run(found, "SELECT count(*) AS n FROM shop") == [{"n": 1}]
    assert found.idle == []  # closed pool: nothing kept


def test_a_process_that_stopped_the_database_exits(tmp_path: Path) -> None:
    """As many connections are kept as the settings' pool size. Each holds a thread that is not a
    daemon: ``db.stop`` closes them, or the interpreter would wait for them forever at exit."""
    script = textwrap.dedent(
        f"""
        import asyncio
        from piccolo.querystring import QueryString
        from chorus import db
        from chorus.settings import Settings

        async def main():
            settings = Settings(database_url="sqlite:///{tmp_path}/exit.sqlite", database_pool_size=2)
            async with db.connected(settings):
                engine = db.engine()
                await asyncio.gather(*(engine.run_querystring(QueryString("SELECT 1")) for _ in range(5)))
                # five at once had five connections; CHORUS_DATABASE_POOL_SIZE of them are kept
                assert len(engine.idle) == 2, engine.idle
            assert engine.idle == []
            print("stopped")

        asyncio.run(main())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped"
