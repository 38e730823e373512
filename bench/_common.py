"""Shared set-up for the benchmarks in bench/ (a helper module, not a benchmark).

A benchmark script does, in this order:

    from _common import BenchRun
    run = BenchRun.start(keep_db=args.keep_db)   # throw-away PostgreSQL database, Redis db,
                                                 # CHORUS_* environment: BEFORE importing chorus
    try:
        ...                                      # now `import chorus...` is safe
        asyncio.run(main(run))                   # await migrate(); async with http_client(): ...
    finally:
        run.finish()                             # drops the database (unless keep_db)

Everything here talks to the real local services (PostgreSQL 127.0.0.1:5432 with trust
auth, Redis 127.0.0.1:6379); nothing is mocked. Override with CHORUS_BENCH_PG_ADMIN_URL
and CHORUS_BENCH_REDIS_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CHORUS_BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_CLAIM_KEY = "chorus:test-run"  # the same claim key tests/conftest.py uses per Redis db number


# --- PostgreSQL ---------------------------------------------------------------------------


def _admin(sql: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def create_database(prefix: str = "chorus_bench") -> tuple[str, str]:
    """CREATE DATABASE <prefix>_<random>; returns (name, url)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Redis ----------------------------------------------------------------------------------


def _redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def claim_redis_db(run_id: str) -> tuple[str | None, int | None]:
    """A Redis database number nobody else (test run, other bench) is using: highest first,
    claimed with the same NX key tests/conftest.py uses, so the two never share one."""
    if os.environ.get("CHORUS_BENCH_REDIS_URL"):
        return os.environ["CHORUS_BENCH_REDIS_URL"], None
    if not _redis_answers():
        return None, None
    import redis

    for number in range(15, 0, -1):
        if redis.Redis(port=6379, db=number).set(REDIS_CLAIM_KEY, f"bench-{run_id}", nx=True, ex=3 * 3600):
            return f"redis://127.0.0.1:6379/{number}", number
    return None, None


def release_redis_db(number: int | None, run_id: str) -> None:
    if number is None:
        return
    import redis

    client = redis.Redis(port=6379, db=number)
    if client.get(REDIS_CLAIM_KEY) == f"bench-{run_id}".encode():
        client.flushdb()  # only this run used it; also drops the claim


# --- one benchmark run ---------------------------------------------------------------------


@dataclass
class BenchRun:
    """A throw-away database + Redis db + CHORUS_* environment for one benchmark process."""

    run_id: str
    db_name: str
    database_url: str
    redis_url: str | None
    redis_number: int | None
    tmp: Path
    keep_db: bool = False
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(cls, *, keep_db: bool = False, prefix: str = "chorus_bench", **env: str) -> BenchRun:
        if any(m == "chorus" or m.startswith("chorus.") for m in sys.modules):
            raise RuntimeError("BenchRun.start() must run before chorus is imported (settings are cached)")
        run_id = secrets.token_hex(4)
        name, url = create_database(prefix)
        redis_url, number = claim_redis_db(run_id)
        tmp = Path(tempfile.mkdtemp(prefix=f"chorus-bench-{run_id}-"))
        os.environ.update(
            {
                "CHORUS_ENV": "development",
                "CHORUS_DATABASE_URL": url,
                "CHORUS_SECRET_KEY": "bench-secret-" + run_id,
                "CHORUS_VAR_DIR": str(tmp / "var"),
                "CHORUS_STORAGE_DIR": str(tmp / "var" / "storage"),
                "CHORUS_PUBLIC_URL": "http://chorus.example.com",
                # the access log (one line per request) is not what we measure
                "CHORUS_LOG_LEVEL": "WARNING",
                **env,
            }
        )
        if redis_url:
            os.environ["CHORUS_REDIS_URL"] = redis_url
        else:
            os.environ.pop("CHORUS_REDIS_URL", None)
        if str(REPO / "src") not in sys.path:
            sys.path.insert(0, str(REPO / "src"))
        return cls(run_id, name, url, redis_url, number, tmp, keep_db)

    def finish(self) -> None:
        release_redis_db(self.redis_number, self.run_id)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.keep_db:
            print(f"\n--keep-db: database kept: {self.database_url}")
            print(f"  drop it with: psql {PG_ADMIN_URL} -c 'DROP DATABASE \"{self.db_name}\" WITH (FORCE)'")
        else:
            drop_database(self.db_name)


async def migrate_quietly() -> list[str]:
    """chorus.db.migrate() without Piccolo's progress output; returns the ids applied."""
    from chorus import db

    with contextlib.redirect_stdout(io.StringIO()):
        return await db.migrate()


@contextlib.asynccontextmanager
async def http_client(settings: Any) -> AsyncIterator[Any]:
    """The whole app (middleware, lifespan, handlers) over httpx's ASGI transport in this
    event loop, as tests/support.py does: the PostgreSQL pool belongs to this loop."""
    import logging

    import httpx

    from chorus.app import create_app

    app = create_app(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        stop.set()
        await task


# --- loading ----------------------------------------------------------------------------------


async def copy_rows(conn: Any, table: str, columns: Sequence[str], records: Iterable[tuple[Any, ...]]) -> int:
    """COPY records into ``table`` (asyncpg binary COPY); returns the row count."""
    status = await conn.copy_records_to_table(table, columns=list(columns), records=records)
    return int(status.split()[-1])


async def reset_sequences(conn: Any, tables: Iterable[str]) -> None:
    """After COPY with explicit ids: the next serial id follows the largest one."""
    for table in tables:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'COALESCE((SELECT max(id) FROM "{table}"), 0) + 1, false)'
        )


# --- numbers ------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); q in [0, 1]."""
    if not sorted_values:
        return math.nan
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def latency_stats(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50": percentile(ms, 0.50),
        "p90": percentile(ms, 0.90),
        "p99": percentile(ms, 0.99),
        "max": ms[-1] if ms else math.nan,
        "mean": sum(ms) / len(ms) if ms else math.nan,
    }


def fmt_stats(stats: dict[str, float]) -> str:
    return (
        f"p50 {stats['p50']:7.2f}  p90 {stats['p90']:7.2f}  p99 {stats['p99']:7.2f}  "
        f"max {stats['max']:7.2f}  mean {stats['mean']:7.2f}  ms  (n={int(stats['n'])})"
    )


class Phase:
    """`with Phase("load"):` prints the phase and how long it took."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.seconds = 0.0

    def __enter__(self) -> Phase:
        print(f"\n== {self.title}", flush=True)
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t
        print(f"   ({self.seconds:.1f} s)", flush=True)


if __name__ == "__main__":  # `make bench` runs every bench/*.py: this one is only a helper
    print("bench/_common.py: shared helpers, nothing to run")
