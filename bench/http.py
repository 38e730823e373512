"""Benchmark: public reads over HTTP, as an operator runs the app, against a bare Litestar app.

    .venv/bin/python -m bench.http                       # ~10 min: every public read, 1 and 2 workers, pinned, the race
    .venv/bin/python -m bench.http --duration 3 --no-race
    .venv/bin/python -m bench.http --src /tmp/chorus-head  # the same bench against another checkout

1. A throw-away PostgreSQL database and Redis database (tests/toolkit.Sandbox); ``chorus migrate``
   and ``chorus seed-demo`` as an operator runs them (the demo data: the 星辰 shop and its case).
2. ``chorus web --workers N`` (N = 1, then 2) and a bare Litestar "hello world" under uvicorn (one
   process, uvicorn's defaults, as ``chorus web`` uses them), each driven by ``wrk -t2 -c50``
   (installed with apt-get when missing; without it a Python load generator of the same shape).
   The bare app and the endpoint are measured in alternating slices, so both see the same load;
   then the p99 of each is read from one run of --p99-seconds (8): in a run of a few seconds the
   p99 is that of its own start (50 connections opened at once), for the bare app too.
   Then one worker again, pinned: the server and the bare app on one CPU, wrk on another (taskset),
   so that the p99 measured is the server's and not the time wrk held its CPU (--no-pin skips it).
3. Prints endpoint | workers | req/s | bare | ratio | p99 | CPUs | scaling (2 workers over 1, and
   the bare app's own with as many workers: how far this machine lets any app scale), and the
   report race of ``bench.resolve`` (200 simultaneous reports of one new merchant, a small data set),
   with the app in that process and against ``chorus web`` with the most workers measured.

Anonymous requests without cookies, as a crowd arriving from a shared link sends them. Prints
numbers; asserts nothing (exit status 1 only when an endpoint does not answer 200).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bench._measure import steal_seconds, tree_cpu_seconds
from tests.toolkit import Sandbox, free_port, stop_process

GOAL_RATIO = 0.3
GOAL_P99_MS = 50.0
GOAL_SCALING = 1.6
QUERY = "星辰"  # the demo shop (chorus seed-demo)

BARE_APP = """
from litestar import Litestar, get


@get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


app = Litestar(route_handlers=[hello])
"""


@dataclass
class Result:
    rps: float
    p99_ms: float
    non_2xx: int
    errors: int


# --- load generation -----------------------------------------------------------------------------


def ensure_wrk() -> str | None:
    """wrk's path, installing Debian's package when missing (None: not installable here)."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt:
        print("   wrk is missing: apt-get install -y wrk", flush=True)
        quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run([apt, "install", "-y", "wrk"], env=env, check=False, **quiet).returncode:
            subprocess.run([apt, "update"], env=env, check=False, **quiet)
            subprocess.run([apt, "install", "-y", "wrk"], env=env, check=False, **quiet)
    return shutil.which("wrk")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m[1]) * _UNITS[m[2]] if m else float("nan")


def on_cpus(cpus: set[int] | None, cmd: list[str]) -> list[str]:
    """``cmd`` run on ``cpus`` (with every process and thread it starts); as it is for None."""
    return cmd if cpus is None else ["taskset", "-c", ",".join(str(c) for c in sorted(cpus)), *cmd]


def set_cpus(pid: int, cpus: set[int]) -> None:
    """Every thread of a running process onto ``cpus``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def run_wrk(
    wrk: str, url: str, *, threads: int, connections: int, seconds: float, cpus: set[int] | None = None
) -> Result:
    out = subprocess.run(
        on_cpus(
            cpus, [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
        ),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Result(
        rps=float(rps[1]) if rps else 0.0,
        p99_ms=_ms(p99[1]) if p99 else float("nan"),
        non_2xx=int(non2xx[1]) if non2xx else 0,
        errors=sum(int(x) for x in sock.groups()) if sock else 0,
    )


def run_python_load(url: str, *, connections: int, seconds: float) -> Result:
    """wrk's shape without wrk: ``connections`` keep-alive HTTP/1.1 connections each sending the
    next request as soon as the answer arrived, for ``seconds``; one asyncio process (slower
    than wrk, so ratios, not absolute numbers, are what it is good for)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    latencies: list[float] = []
    bad = errors = 0

    async def conn(deadline: float) -> None:
        nonlocal bad, errors
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            errors += 1
            return
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if length:
                    await reader.readexactly(int(length[1]))
                else:  # chunked
                    while True:
                        size = int((await reader.readline()).strip(), 16)
                        await reader.readexactly(size + 2)
                        if size == 0:
                            break
                latencies.append(time.perf_counter() - t)
                bad += not 200 <= status < 400
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            writer.close()

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(conn(t0 + seconds) for _ in range(connections)))
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
    return Result(rps=len(ms) / wall, p99_ms=p99, non_2xx=bad, errors=errors)


class Load:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.cpus: set[int] | None = None  # where wrk runs (None: anywhere)
        self.wrk = None if args.python_load else ensure_wrk()
        print(f"   load generator: {self.wrk or 'Python (asyncio)'}", flush=True)

    def __call__(self, url: str, seconds: float | None = None) -> Result:
        seconds = self.args.duration if seconds is None else seconds
        if self.wrk:
            return run_wrk(
                self.wrk,
                url,
                threads=self.args.threads,
                connections=self.args.connections,
                seconds=seconds,
                cpus=self.cpus,
            )
        return run_python_load(url, connections=self.args.connections, seconds=seconds)


def combine(parts: list[Result]) -> Result:
    """Slices of equal length as one measurement: mean rate, the worst p99, the sums."""
    return Result(
        rps=sum(p.rps for p in parts) / len(parts),
        p99_ms=max(p.p99_ms for p in parts),
        non_2xx=sum(p.non_2xx for p in parts),
        errors=sum(p.errors for p in parts),
    )


@dataclass
class Cores:
    """CPUs busy while the endpoint was measured (CPU seconds over wall seconds)."""

    server: float  # the chorus web process and its workers
    wrk: float  # the load generator
    steal: float  # share of the machine's CPU time its host gave to others


def interleaved(
    load: Load,
    url: str,
    bare_url: str,
    args: argparse.Namespace,
    server_pid: int,
    bare_multi_url: str | None = None,
) -> tuple[Result, Result, Cores, Result | None]:
    """The endpoint and the bare app in alternating slices (``--rounds`` of each): on a machine
    others load too, both see the same conditions, and the ratio is what stays meaningful. Also
    the CPUs the server and wrk used in the endpoint's slices (on 2 CPUs, what wrk takes is what
    2 workers cannot have), and the share of the time the machine's CPUs were stolen meanwhile
    (its host ran something else: a stall no program here can avoid, which shows in every p99).
    ``bare_multi_url``: the bare app with as many workers as the server, in slices of its own."""
    seconds = max(1.0, args.duration / args.rounds)
    app_parts, bare_parts, multi_parts = [], [], []
    wall, stolen = time.monotonic(), steal_seconds()
    app_wall = server_cpu = wrk_cpu = 0.0
    for _ in range(args.rounds):
        bare_parts.append(load(bare_url, seconds))
        if bare_multi_url:
            multi_parts.append(load(bare_multi_url, seconds))
        t, cpu, children = time.monotonic(), tree_cpu_seconds(server_pid), _children_cpu()
        app_parts.append(load(url, seconds))
        app_wall += time.monotonic() - t
        server_cpu += tree_cpu_seconds(server_pid) - cpu
        wrk_cpu += _children_cpu() - children
    steal = (steal_seconds() - stolen) / ((time.monotonic() - wall) * len(os.sched_getaffinity(0)))
    cores = Cores(server_cpu / app_wall, wrk_cpu / app_wall, steal)
    return combine(app_parts), combine(bare_parts), cores, combine(multi_parts) if multi_parts else None


_SPIN = "import time\nn, end = 0, time.perf_counter() + {seconds}\nwhile time.perf_counter() < end:\n    n += 1\nprint(n)"


def machine_scaling(seconds: float = 3.0) -> float:
    """How much more CPU-bound work 2 processes get done than 1 in the same time on this machine:
    the ceiling of any 2-worker scaling here (virtual CPUs that are one core's hyperthreads on the
    host, or shared with other guests, give less than 2)."""

    def work(processes: int) -> int:
        spin = [sys.executable, "-c", _SPIN.format(seconds=seconds)]
        running = [subprocess.Popen(spin, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        return sum(int(p.communicate()[0]) for p in running)

    return work(2) / work(1)


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (each wrk run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- processes --------------------------------------------------------------------------------------


def wait_http(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 90) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def spawn(
    cmd: list[str], *, env: dict[str, str], log: Path, cwd: Path | None = None, cpus: set[int] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(on_cpus(cpus, cmd), stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd)


def start_uvicorn(
    app: str,
    *,
    cwd: Path,
    env: dict[str, str],
    log: Path,
    workers: int = 1,
    started: list[subprocess.Popen[bytes]] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """``app`` (``module:attribute`` in ``cwd``) under uvicorn with ``workers`` processes on a free
    port, once its ``/`` answers 200; the process (also added to ``started``) and its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]  # fmt: skip
    proc = spawn(cmd, env=env, log=log, cwd=cwd)
    if started is not None:
        started.append(proc)
    url = f"http://127.0.0.1:{port}/"
    wait_http(proc, url, log)
    return proc, url


def chorus(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chorus.cli", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"chorus {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# --- the run ------------------------------------------------------------------------------------------


def endpoints(base: str) -> list[tuple[str, str]]:
    """(label, URL) of every public read, with the demo's ids (found through the API)."""
    import httpx

    found = httpx.get(f"{base}/api/v1/merchants", params={"q": QUERY}, timeout=30).json()["items"]
    merchant = next(m for m in found if m.get("open_case_id"))
    mid, cid = merchant["id"], merchant["open_case_id"]
    q = quote(QUERY)
    return [
        (f"GET /api/v1/cases/{cid}", f"{base}/api/v1/cases/{cid}"),
        (f"GET /api/v1/merchants?q={QUERY}", f"{base}/api/v1/merchants?q={q}"),
        (f"GET /api/v1/merchants/{mid}", f"{base}/api/v1/merchants/{mid}"),
        (f"GET /merchants?q={QUERY}", f"{base}/merchants?q={q}"),
        (f"GET /merchants/{mid}", f"{base}/merchants/{mid}"),
    ]


def report_race(env: dict[str, str], web_workers: int = 0) -> str:
    """The race of ``bench.resolve`` (its own sandbox, a small data set): its reports/s line; the
    app in that process, or ``chorus web --workers web_workers``."""
    cmd = [sys.executable, "-m", "bench.resolve", "--identifiers", "20000", "--race-only", "--race", "200"]
    cmd += ["--race-web", str(web_workers)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=Path.cwd())
    out = done.stdout.splitlines()
    # each round's CPU line, the rounds and the figure (the median round after the first)
    lines = [ln.strip() for ln in out if ln.startswith("race ") or "per report:" in ln or " rounds: " in ln]
    if not lines:
        return f"bench.resolve gave no race figure (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    return "\n   ".join(dict.fromkeys(lines))


def main() -> int:
    args = parse_args()
    box = Sandbox.start(backend="postgres", prefix="chorus_bench_http")
    tmp = Path(tempfile.mkdtemp(prefix="chorus-bench-http-"))
    procs: list[subprocess.Popen[bytes]] = []
    # logs as production writes them (CHORUS_ENV=production's default: JSON, one line per request)
    env = {**os.environ, **box.chorus_env({"CHORUS_LOG_JSON": "true"})}
    if args.src:
        src = Path(args.src).resolve()
        env["PYTHONPATH"] = os.pathsep.join([str(src / "src"), str(src)])
    try:
        print(f"database {box.database_url}   redis {box.redis_url}   code {args.src or 'this checkout'}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; wrk -t{args.threads} -c{args.connections}, "
              f"{args.duration:g} s per measurement in {args.rounds} slices; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        chorus(env, "migrate")
        chorus(env, "seed-demo")
        load = Load(args)

        (tmp / "bare_app.py").write_text(textwrap.dedent(BARE_APP))

        def start_bare(workers: int) -> tuple[subprocess.Popen[bytes], str]:
            """The bare app under uvicorn with ``workers`` processes, answering."""
            proc, url = start_uvicorn("bare_app:app", cwd=tmp, env=env, log=tmp / f"bare-{workers}.log",
                                      workers=workers, started=procs)  # fmt: skip
            return proc, url

        bare, bare_url = start_bare(1)
        load(bare_url, 1)  # warm

        ceiling = machine_scaling()
        print(f"   this machine: 2 processes do {ceiling:.2f}x the CPU-bound work of one", flush=True)
        rows: list[Row] = []
        status = 0
        every_cpu = os.sched_getaffinity(0)
        runs = [(workers, False) for workers in args.workers]
        if args.pin and len(every_cpu) >= 2:
            runs.append((1, True))
        for workers, pinned in runs:
            # pinned: the server (and the bare app) on one CPU, wrk on another: what the app's p99
            # is when the load generator does not take the server's CPU away from it
            server_cpus = {min(every_cpu)} if pinned else every_cpu
            load.cpus = every_cpu - server_cpus if pinned else None
            set_cpus(bare.pid, server_cpus)
            port = free_port()
            log = tmp / f"web-{workers}{'-pinned' if pinned else ''}.log"
            web = spawn(
                [sys.executable, "-m", "chorus.cli", "web", "--port", str(port), "--workers", str(workers)],
                env=env,
                log=log,
                cpus=server_cpus if pinned else None,
            )
            procs.append(web)
            base = f"http://127.0.0.1:{port}"
            wait_http(web, f"{base}/healthz", log)
            bare_multi_url = None
            if workers > 1:
                # the bare app with as many workers: how far this machine lets any app scale
                bare_multi, bare_multi_url = start_bare(workers)
                time.sleep(2)  # every worker up (healthz answered by the first)
            import httpx

            for label, url in endpoints(base):
                answer = httpx.get(url, timeout=30)
                if answer.status_code != 200:
                    print(f"   {label}: {answer.status_code} {answer.text[:200]}")
                    status = 1
                    continue
                load(url, 1)  # warm: connections, caches, the interpreter's first paths
                result, bare_result, cores, multi = interleaved(
                    load, url, bare_url, args, web.pid, bare_multi_url
                )
                # the p99 of a steady stream: one longer run each (a run of a few seconds has a
                # p99 set by its own start, 50 connections opened at once: the bare app's own was
                # 37-110 ms in 2-second runs, 10-16 ms in 8-second ones, measured here)
                steady, bare_steady = load(url, args.p99_seconds), load(bare_url, args.p99_seconds)
                rows.append(
                    Row(label, workers, pinned, result, bare_result, cores, steady, bare_steady, multi)
                )
                print(
                    f"   {label:36} {workers}w{'p' if pinned else ' '} {result.rps:8.0f} req/s  bare {bare_result.rps:8.0f}  "
                    f"p99 {steady.p99_ms:6.1f} ms (bare {bare_steady.p99_ms:.1f}; in the slices "
                    f"{result.p99_ms:.1f} and {bare_result.p99_ms:.1f}); CPUs: server {cores.server:.2f}, "
                    f"wrk {cores.wrk:.2f}; steal {cores.steal:.1%}"
                    + (f"; bare with {workers} workers {multi.rps:.0f} req/s" if multi else "")
                    + (f"  non-2xx {result.non_2xx}" if result.non_2xx else "")
                    + (f"  socket errors {result.errors}" if result.errors else ""),
                    flush=True,
                )
            stop_process(web)
            procs.remove(web)
            if bare_multi_url:
                stop_process(bare_multi)
                procs.remove(bare_multi)
        set_cpus(bare.pid, every_cpu)
        load.cpus = None

        ceiling_after = machine_scaling()
        print_table(rows)
        print(
            f"this machine: 2 processes did {ceiling:.2f}x (before) and {ceiling_after:.2f}x (after) the "
            "CPU-bound work of one: the ceiling of the scaling column"
        )
        if args.race:
            race_env = {k: v for k, v in env.items() if not k.startswith("CHORUS_")}
            race_env["CHORUS_TEST_REDIS_URL"] = box.redis_url  # this run's Redis database (servers stopped)
            for web_workers in sorted({0, max(args.workers)}):
                where = f"chorus web --workers {web_workers}" if web_workers else "the app in one process"
                print(
                    f"\n== report race (python -m bench.resolve --identifiers 20000 --race-only "
                    f"--race 200 --race-web {web_workers}: {where})",
                    flush=True,
                )
                print("   " + report_race(race_env, web_workers))
        return status
    finally:
        for p in procs:
            stop_process(p)
        shutil.rmtree(tmp, ignore_errors=True)
        box.finish()


@dataclass
class Row:
    label: str
    workers: int
    pinned: bool  # the server on one CPU, wrk on the other
    result: Result
    bare: Result
    cores: Cores
    steady: Result  # one --p99-seconds run of the endpoint: its p99 is the table's
    bare_steady: Result
    bare_multi: Result | None  # the bare app with as many workers (2 and more)


def print_table(rows: list[Row]) -> None:
    single = {r.label: r.result.rps for r in rows if r.workers == 1 and not r.pinned}
    print(
        f"\n{'endpoint':36} | {'workers':>8} | {'req/s':>8} | {'bare':>8} | {'ratio':>5} | {'p99 ms':>7} | "
        f"{'bare p99':>8} | {'server/wrk CPUs':>15} | {'steal':>5} | scaling"
    )
    print("-" * 133)
    for row in rows:
        r, bare, label, workers = row.result, row.bare, row.label, row.workers
        p99, bare_p99 = row.steady.p99_ms, row.bare_steady.p99_ms
        ratio = r.rps / bare.rps if bare.rps else float("nan")
        scaling = f"{r.rps / single[label]:.2f}x" if workers > 1 and single.get(label) else ""
        if scaling and row.bare_multi and bare.rps:
            scaling += f" (bare {row.bare_multi.rps / bare.rps:.2f}x)"
        marks = []
        if workers == 1:
            marks.append("ok" if ratio >= GOAL_RATIO else f"<{GOAL_RATIO}")
        marks.append("" if p99 < GOAL_P99_MS else f"p99>={GOAL_P99_MS:g}")
        if workers > 1 and scaling:
            marks.append("" if r.rps / single[label] >= GOAL_SCALING else f"<{GOAL_SCALING}x")
        note = " ".join(m for m in marks if m)
        shown = f"{workers} pinned" if row.pinned else str(workers)
        print(
            f"{label:36} | {shown:>8} | {r.rps:8.0f} | {bare.rps:8.0f} | {ratio:5.2f} | {p99:7.1f} | "
            f"{bare_p99:8.1f} | {row.cores.server:7.2f}/{row.cores.wrk:<7.2f} | {row.cores.steal:5.1%} | "
            f"{scaling:20} {note}"
        )
    print(f"(goals: ratio >= {GOAL_RATIO} with one worker, p99 < {GOAL_P99_MS:g} ms, "
          f"2 workers >= {GOAL_SCALING}x one; bare = a Litestar hello world, one uvicorn process; "
          "scaling (bare Nx): the bare app with as many workers over one, in the same slices; "
          "pinned: the server and the bare app on one CPU, wrk on the other; p99: of one run of "
          "--p99-seconds each; server/wrk CPUs: CPU seconds per second of the endpoint's slices; steal: "
          "the share of the CPUs' time the host gave to others meanwhile)")  # fmt: skip


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--duration", type=float, default=6.0, help="seconds per measurement")
    p.add_argument("--rounds", type=int, default=3, help="alternating slices of app and bare app")
    p.add_argument("--p99-seconds", type=float, default=8.0, help="the run of each that the p99 is read from")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2],
                   help="worker counts to measure, comma-separated (default 1,2)")  # fmt: skip
    p.add_argument("--src", help="run the app of another checkout (its src/ first on PYTHONPATH)")
    p.add_argument("--python-load", action="store_true", help="the Python load generator even if wrk exists")
    p.add_argument("--no-race", dest="race", action="store_false", help="skip the report race")
    p.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="skip the one-worker run with the server and wrk on CPUs of their own",
    )
    return p.parse_args()


if __name__ == "__main__":
    sys.exit(main())
