"""What the fault tests (test_faults_*.py, issue 17) share: a PostgreSQL server and a Redis server
of their own, which they may stop and restart (the machine's shared 127.0.0.1:5432 and 6379 serve
other test runs and are never touched), `chorus web` / `chorus worker` started as processes, and
a user made over HTTP alone (the test process's own chorus is bound to the run's sandbox database,
not to these servers).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import PASSWORD, Mailbox, token_from
from tests.toolkit import chorus_command, free_port, start_chorus, stop_process, wait_for_port

PG_BIN_DIRS = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def pg_binary(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    return next((d / name for d in PG_BIN_DIRS if (d / name).exists()), None)


def _as_postgres(args: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its commands as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PrivateRedis:
    """redis-server on a port of its own, with an append-only file in ``folder``: what was queued
    before a restart is there after it, as on a server configured as docs/operator-guide.md says."""

    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.folder.mkdir(parents=True, exist_ok=True)
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        with (self.folder / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, proc=self.proc, timeout=20)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)  # SIGTERM: Redis writes its append-only file and exits
            self.proc = None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster (initdb, trust authentication) in a folder of its own directly under
    the temporary directory (the ``postgres`` user must reach it), on a port of its own."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chorus-faults-pg-")))
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres(list(args)), check=True, capture_output=True, timeout=120)

    def start(self) -> PrivatePostgres:
        initdb, pg_ctl = pg_binary("initdb"), pg_binary("pg_ctl")
        assert initdb and pg_ctl, "PostgreSQL's initdb and pg_ctl are needed for the fault tests"
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            str(initdb), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"
        )
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *extra: str) -> None:
        pg_ctl = pg_binary("pg_ctl")
        assert pg_ctl
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(pg_ctl),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def restart(self) -> None:
        """A fast restart: open connections are ended, transactions in flight roll back."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        if (self.data / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    async def create_database(self, name: str) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.url(), timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


async def sql(url: str, query: str, *args: Any) -> list[Any]:
    """Rows of ``query`` on the database at ``url`` (asyncpg directly)."""
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def migrate(env: Mapping[str, str]) -> None:
    done = subprocess.run(
        chorus_command("migrate"), env=dict(env), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr


def start_worker(log: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """`chorus worker`, returned once it logged its start-up (its relay and cron run from then)."""
    start = log.stat().st_size if log.exists() else 0
    proc = start_chorus(["worker"], log=log, env=env)
    deadline = time.monotonic() + 120
    while b"worker.started" not in log.read_bytes()[start:]:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"chorus worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return proc


def terminate(proc: subprocess.Popen[Any], timeout: float = 60) -> int:
    """SIGTERM and the exit code (a process still alive after ``timeout`` fails the test)."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 60, every: float = 0.1) -> bool:
    """Poll ``check`` until it holds or ``within`` seconds have passed; returns whether it held."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)


async def mail_to(
    mailbox: Mailbox, address: str, count: int = 1, within: float = 90, why: Callable[[], str] = str
) -> list[Any]:
    """The messages to ``address`` once ``count`` arrived; ``why`` adds to the failure (the
    processes' logs)."""

    async def arrived() -> bool:
        return len(mailbox.to(address)) >= count

    assert await eventually(arrived, within), f"{count} message(s) to {address} did not arrive{why()}"
    return mailbox.to(address)


async def verified_user(client: httpx.AsyncClient, mailbox: Mailbox, address: str) -> dict[str, str]:
    """Register over HTTP, follow the e-mailed link (sent by the running `chorus worker`), log in:
    the user's bearer header."""
    r = await client.post(
        "/api/v1/auth/register", json={"email": address, "password": PASSWORD, "display_name": "Tester"}
    )
    assert r.status_code == 201, r.text
    (msg,) = await mail_to(mailbox, address)
    r = await client.post("/api/v1/auth/verify", json={"token": token_from(msg)})
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/auth/login", json={"email": address, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.cookies.clear()  # bearer requests, as an API client makes them (no CSRF cookie)
    return {"Authorization": f"Bearer {r.json()['token']}"}


def assert_unavailable(r: httpx.Response) -> None:
    """A 503 as a client is promised it: problem+json, code ``unavailable``, Retry-After."""
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    assert r.json()["code"] == "unavailable", r.text
    assert r.headers["retry-after"].isdigit(), r.headers
