"""Benchmark: a mixed workload of simulated users against `chorus web` and `chorus worker` as an
operator runs them (issue 17), with a bare Litestar "hello world" measured in the same run.

    .venv/bin/python -m bench.load                                  # 200 users, 5 minutes (the issue's)
    .venv/bin/python -m bench.load --users 40 --duration 60 --warmup 10 --bare-seconds 15
    .venv/bin/python -m bench.load --backend sqlite ...             # the embedded default's database

1. A throw-away PostgreSQL database (``--backend sqlite``: a SQLite file) and Redis database
   (tests/toolkit.Sandbox); ``chorus migrate`` and ``chorus seed-demo``; ``chorus web --workers 2``
   (one port, uvicorn's supervisor) and two ``chorus worker`` processes (``--web-workers`` /
   ``--workers``).
2. ``--users`` verified accounts (made through the services, each logged in), and each reports a shop
   of its own through the API (so it has a case to upload to and others can join).
3. Each simulated user, in a loop for ``--duration`` seconds (``--think-ms`` between requests): 70%
   public reads (the case and merchant pages and their API: the demo's and the users' own), 20%
   reports (half a new shop, half joining another user's case), 10% evidence uploads of 100 KB–2 MB
   (an MP4-looking file, incompressible, never the same bytes twice) to its own case.
4. Then the bare app (uvicorn, one process) under the same users and the same client for
   ``--bare-seconds``: the ceiling the mix is compared with.

Prints requests/s, p50/p95/p99 per endpoint (after ``--warmup``), errors (non-2xx answers and failed
requests; goal 0), the servers' RSS over time (goal: flat after warm-up), the client's own CPU time
(one asyncio process: when it nears the wall time, the client is the limit). Asserts nothing; exit
status 1 only when the platform does not start.

Accounts are made with the test suite's cheap password hashes (CHORUS_TEST_CHEAP_PASSWORD_HASHES):
logins are set-up here, not part of the mix.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench._measure import percentile, proc_kb
from bench.http import BARE_APP, spawn, wait_http
from tests.toolkit import Sandbox, chorus_command, free_port, start_chorus, stop_process

PASSWORD = "load-password-1"
QUERY = "星辰"  # the demo shop (chorus seed-demo)
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


@dataclass
class Sample:
    label: str
    seconds: float
    status: int  # 0: the request failed (connection, timeout)
    at: float


@dataclass
class User:
    index: int
    headers: dict[str, str]
    case_id: int = 0
    merchant_id: int = 0
    qq: str = ""
    joined: set[int] = field(default_factory=set)
    reports: int = 0


@dataclass
class World:
    base: str
    demo_case: int
    demo_merchant: int
    users: list[User]
    noise: bytes  # 2 MB of random bytes, sliced for uploads


class Recorder:
    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.started = time.perf_counter()
        self.measuring_from = 0.0

    def add(self, label: str, seconds: float, status: int) -> None:
        self.samples.append(Sample(label, seconds, status, time.perf_counter()))


# --- the users' actions ------------------------------------------------------------------------


def report_body(name: str, qq: str) -> dict[str, Any]:
    return {
        "merchant": {"name": name, "identifiers": [{"kind": "qq", "value": qq}]},
        "loss": {"amount": f"{random.randint(20, 2000)}.00", "currency": "CNY"},
        "incident_date": (date.today() - timedelta(days=random.randint(1, 60))).isoformat(),
    }


def shop_qq(user: int, k: int) -> str:
    return str(1_000_000_000 + user * 10_000 + k)  # 10 digits, unique per user and report


async def timed(rec: Recorder, client: Any, label: str, method: str, url: str, **kw: Any) -> Any:
    t = time.perf_counter()
    try:
        r = await client.request(method, url, **kw)
    except Exception:
        rec.add(label, time.perf_counter() - t, 0)
        return None
    rec.add(label, time.perf_counter() - t, r.status_code)
    return r


async def public_read(rec: Recorder, client: Any, world: World) -> None:
    if random.random() < 0.5:
        case_id, merchant_id = world.demo_case, world.demo_merchant
    else:
        other = random.choice(world.users)
        case_id, merchant_id = other.case_id, other.merchant_id
    choice = random.randrange(5)
    if choice == 0:
        await timed(rec, client, "GET /api/v1/cases/{id}", "GET", f"/api/v1/cases/{case_id}")
    elif choice == 1:
        await timed(rec, client, "GET /cases/{id} (page)", "GET", f"/cases/{case_id}")
    elif choice == 2:
        await timed(rec, client, "GET /api/v1/merchants/{id}", "GET", f"/api/v1/merchants/{merchant_id}")
    elif choice == 3:
        await timed(rec, client, "GET /merchants/{id} (page)", "GET", f"/merchants/{merchant_id}")
    else:
        await timed(rec, client, "GET /api/v1/merchants?q=", "GET", "/api/v1/merchants", params={"q": QUERY})


async def report_or_join(rec: Recorder, client: Any, world: World, user: User) -> None:
    candidates = [u for u in world.users if u is not user and u.case_id not in user.joined]
    if random.random() < 0.5 and candidates:
        other = random.choice(candidates)
        user.joined.add(other.case_id)
        body = report_body(f"压测商店 {other.index}", other.qq)
        await timed(
            rec,
            client,
            "POST /api/v1/reports (join)",
            "POST",
            "/api/v1/reports",
            json=body,
            headers=user.headers,
        )
        return
    user.reports += 1
    body = report_body(f"新商店 {user.index}-{user.reports}", shop_qq(user.index, user.reports))
    await timed(
        rec, client, "POST /api/v1/reports (new)", "POST", "/api/v1/reports", json=body, headers=user.headers
    )


async def upload(rec: Recorder, client: Any, world: World, user: User) -> None:
    size = random.randint(100 * 1024, 2 * 1024 * 1024)
    start = random.randrange(len(world.noise) - size + 1)
    data = MP4_HEAD + os.urandom(16) + world.noise[start : start + size - len(MP4_HEAD) - 16]
    await timed(
        rec,
        client,
        "POST /api/v1/cases/{id}/evidence",
        "POST",
        f"/api/v1/cases/{user.case_id}/evidence",
        headers=user.headers,
        data={"kind": "other"},
        files={"file": ("order.mp4", data, "video/mp4")},
    )


async def simulate(rec: Recorder, client: Any, world: World, user: User, until: float, think: float) -> None:
    while time.perf_counter() < until:
        roll = random.random()
        if roll < 0.70:
            await public_read(rec, client, world)
        elif roll < 0.90:
            await report_or_join(rec, client, world, user)
        else:
            await upload(rec, client, world, user)
        if think:
            await asyncio.sleep(random.uniform(0, 2 * think))


async def hello(rec: Recorder, client: Any, until: float) -> None:
    while time.perf_counter() < until:
        await timed(rec, client, "GET / (bare Litestar)", "GET", "/")


# --- set-up ------------------------------------------------------------------------------------


async def make_users(n: int, base: str) -> World:
    """``n`` verified, logged-in accounts (services), each reporting a shop of its own (API)."""
    import httpx

    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.accounts.schemas import UserCreate
    from chorus.settings import get_settings

    settings = get_settings()
    users: list[User] = []
    async with db.connected(settings):
        for i in range(n):
            email = f"load{i}@example.com"
            await accounts.register(
                data=UserCreate(email=email, password=PASSWORD, display_name=f"用户{i}"),
                settings=settings,
                verified=True,
            )
            _, token = await accounts.login(email=email, password=PASSWORD, settings=settings)
            users.append(User(i, {"Authorization": f"Bearer {token}"}, qq=shop_qq(i, 0)))
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        found = (await client.get("/api/v1/merchants", params={"q": QUERY})).json()["items"]
        demo = next(m for m in found if m.get("open_case_id"))

        async def first_report(u: User) -> None:
            r = await client.post(
                "/api/v1/reports", json=report_body(f"压测商店 {u.index}", u.qq), headers=u.headers
            )
            r.raise_for_status()
            u.case_id, u.merchant_id = r.json()["case_id"], r.json()["merchant_id"]

        for start in range(0, n, 20):
            await asyncio.gather(*(first_report(u) for u in users[start : start + 20]))
    return World(base, demo["open_case_id"], demo["id"], users, os.urandom(2 * 1024 * 1024 + 64))


# --- memory over time --------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class RssOverTime:
    """Every ``interval`` s: RSS (MB) of each web process (the supervisor's children) and worker."""

    def __init__(self, web_pid: int, worker_pids: list[int], interval: float) -> None:
        self.web_pid, self.worker_pids, self.interval = web_pid, worker_pids, interval
        self.rows: list[tuple[float, list[float], list[float]]] = []
        self.t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        def mb(pid: int) -> float:
            try:
                return proc_kb(pid) / 1024
            except (OSError, RuntimeError):
                return float("nan")

        web = [mb(p) for p in sorted(children(self.web_pid))]
        self.rows.append((time.perf_counter() - self.t0, web, [mb(p) for p in self.worker_pids]))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()


# --- the run -----------------------------------------------------------------------------------


async def drive(base: str, users: int, seconds: float, work: Any) -> Recorder:
    import httpx

    rec = Recorder()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(work(rec, client, i, until) for i in range(users)))
    return rec


def summarize(rec: Recorder, since: float, wall: float) -> tuple[list[tuple[Any, ...]], int, int]:
    by_label: dict[str, list[Sample]] = defaultdict(list)
    for s in rec.samples:
        if s.at >= since:
            by_label[s.label].append(s)
    rows = []
    total = errors = 0
    for label in sorted(by_label):
        ss = by_label[label]
        ms = sorted(s.seconds * 1000 for s in ss)
        bad = [s.status for s in ss if not 200 <= s.status < 400]
        statuses = Counter(bad)
        rows.append(
            (label, len(ss), len(ss) / wall, percentile(ms, 0.5), percentile(ms, 0.95), percentile(ms, 0.99),
             len(bad), ", ".join(f"{k or 'failed'}×{v}" for k, v in sorted(statuses.items())))
        )  # fmt: skip
        total += len(ss)
        errors += len(bad)
    return rows, total, errors


def print_rows(rows: list[tuple[Any, ...]]) -> None:
    print(f"   {'endpoint':36} {'n':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, n, rps, p50, p95, p99, bad, detail in rows:
        print(f"   {label:36} {n:7d} {rps:8.1f} {p50:8.1f} {p95:8.1f} {p99:8.1f} {bad:7d}  {detail}")


def main() -> int:
    args = parse_args()
    box = Sandbox.start(backend=args.backend, prefix="chorus_bench_load")
    tmp = Path(tempfile.mkdtemp(prefix="chorus-bench-load-"))
    extra = {
        "CHORUS_LOG_LEVEL": "WARNING",
        "CHORUS_AUTH_RATE_LIMIT": "100000/minute",
        "CHORUS_TEST_CHEAP_PASSWORD_HASHES": "1",
        "CHORUS_DATABASE_POOL_SIZE": str(args.pool),
    }
    box.enter(extra)
    env = {**os.environ}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
              f"{args.users} users for {args.duration:g} s (warm-up {args.warmup:g} s), think {args.think_ms:g} ms; "
              f"chorus web --workers {args.web_workers}, {args.workers} chorus worker, "
              f"{'PostgreSQL' if args.backend == 'postgres' else 'SQLite (the embedded default)'}")  # fmt: skip
        for cmd in (("migrate",), ("seed-demo",)):
            done = subprocess.run(chorus_command(*cmd), env=env, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"chorus {cmd[0]} failed:\n{done.stdout}\n{done.stderr}")
                return 1
        port = free_port()
        web_log = tmp / "web.log"
        web = start_chorus(
            ["web", "--port", str(port), "--workers", str(args.web_workers)], log=web_log, env=env
        )
        procs.append(web)
        base = f"http://127.0.0.1:{port}"
        wait_http(web, f"{base}/healthz", web_log, timeout=180)
        for i in range(args.workers):
            procs.append(start_chorus(["worker"], log=tmp / f"worker-{i}.log", env=env))
        time.sleep(2)  # every web process up (healthz answered by the first)

        t = time.perf_counter()
        world = asyncio.run(make_users(args.users, base))
        print(
            f"   set-up: {args.users} accounts and their reports in {time.perf_counter() - t:.1f} s",
            flush=True,
        )

        rss = RssOverTime(web.pid, [p.pid for p in procs[1:]], args.sample_seconds)
        rss.sample()
        think = args.think_ms / 1000

        async def user_loop(rec: Recorder, client: Any, i: int, until: float) -> None:
            await simulate(rec, client, world, world.users[i], until, think)

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        rec = asyncio.run(drive(base, args.users, args.duration, user_loop))
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        rss.stop()
        since = rec.started + args.warmup
        rows, total, errors = summarize(rec, since, wall - args.warmup)

        # the ceiling: a bare Litestar app, same users, same client, same machine, right after
        (tmp / "bare_app.py").write_text(textwrap.dedent(BARE_APP))
        bare_port = free_port()
        bare_log = tmp / "bare.log"
        bare = spawn(
            [sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log"],
            env=env, log=bare_log, cwd=tmp,
        )  # fmt: skip
        procs.append(bare)
        wait_http(bare, f"http://127.0.0.1:{bare_port}/", bare_log)

        async def hello_loop(rec: Recorder, client: Any, i: int, until: float) -> None:
            await hello(rec, client, until)

        bare_rec = asyncio.run(
            drive(f"http://127.0.0.1:{bare_port}", args.users, args.bare_seconds, hello_loop)
        )
        bare_rows, _, _ = summarize(bare_rec, bare_rec.started + 1, args.bare_seconds - 1)

        print(f"\n== mixed workload, after the warm-up ({wall - args.warmup:.0f} s)")
        print_rows(rows)
        mixed_rps = total / (wall - args.warmup)
        print(f"   {'all':36} {total:7d} {mixed_rps:8.1f}   errors {errors} (goal 0)")
        print("\n== bare Litestar hello world (uvicorn, one process), same users and client")
        print_rows(bare_rows)
        bare_rps = bare_rows[0][2] if bare_rows else float("nan")
        print(f"   mixed workload / bare: {mixed_rps / bare_rps:.3f}")
        client_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        print(f"   load client CPU {client_cpu:.1f} s over {wall:.0f} s of the mix (one asyncio process)")
        print("\n== server RSS over time (MB)")
        print(f"   {'t s':>6}  web processes{'':8}  workers")
        for at, web_mb, worker_mb in rss.rows:
            print(
                f"   {at:6.0f}  {' '.join(f'{m:7.1f}' for m in web_mb):21}  {' '.join(f'{m:7.1f}' for m in worker_mb)}"
            )
        print(
            f"   (load average at the end {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs shared with the load client)"
        )
        return 0
    finally:
        for p in procs:
            stop_process(p)
        shutil.rmtree(tmp, ignore_errors=True)
        box.finish()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=200, help="concurrent simulated users")
    p.add_argument("--duration", type=float, default=300.0, help="seconds of the mixed workload")
    p.add_argument("--warmup", type=float, default=30.0, help="first seconds left out of the figures")
    p.add_argument("--bare-seconds", type=float, default=30.0, help="seconds against the bare app")
    p.add_argument("--think-ms", type=float, default=0.0, help="mean pause of a user between requests")
    p.add_argument("--web-workers", type=int, default=2, help="chorus web --workers")
    p.add_argument("--workers", type=int, default=2, help="chorus worker processes")
    p.add_argument(
        "--backend",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="the database (sqlite: one file)",
    )
    p.add_argument("--pool", type=int, default=10, help="CHORUS_DATABASE_POOL_SIZE of each process")
    p.add_argument("--sample-seconds", type=float, default=10.0, help="RSS sampling interval")
    args = p.parse_args()
    args.warmup = min(args.warmup, args.duration / 2)
    return args


if __name__ == "__main__":
    sys.exit(main())
