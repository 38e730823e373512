"""Database engine choice (SQLite file | PostgreSQL), transactions, pools and migrations."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from chorus.settings import Settings

T = TypeVar("T")


class PendingMigrations(RuntimeError):
    """The schema is behind the code."""

    def __init__(self, pending: list[str]) -> None:
        self.pending = pending
        super().__init__(
            f"{len(pending)} database migration(s) not applied ({', '.join(pending)}). "
            "Run `chorus migrate` first."
        )


def sqlite_path(url: str) -> Path:
    """`sqlite:///var/x.sqlite` → var/x.sqlite; `sqlite:////abs/x.sqlite` → /abs/x.sqlite."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise ValueError(f"Unsupported SQLite URL {url!r}: use sqlite:///relative or sqlite:////abs")
    return Path(rest[3:])


def make_engine(settings: Settings) -> Engine:  # type: ignore[type-arg]
    """Pick Piccolo's engine from CHORUS_DATABASE_URL."""
    url = settings.database_url
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: writers queue behind IMMEDIATE transactions instead of failing.
        return SQLiteEngine(path=str(path), timeout=30)
    if scheme in ("postgres", "postgresql"):
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"Unsupported CHORUS_DATABASE_URL scheme {scheme!r}")


def engine() -> Engine:  # type: ignore[type-arg]
    from chorus.piccolo_conf import DB

    return DB


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


def transaction() -> Any:
    """A write transaction; on SQLite an IMMEDIATE one so writers queue instead of deadlocking."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


def json_value(value: Any) -> Any:
    """A JSON column's value: Piccolo returns them as text unless a query asks ``load_json``."""
    return json.loads(value) if isinstance(value, str) else value


async def fetch_tuples(query: Any) -> list[Sequence[Any]]:
    """The rows of a plain Piccolo select as tuples, in the order its columns were selected.

    The values ``await query`` gives, without a dict built per row (on PostgreSQL asyncpg's
    records are used as they come): for the reads of tens of thousands of rows that
    assembling a large case's complaint makes.
    """
    (querystring,) = query.querystrings
    result = await query.table._meta.db.run_querystring(querystring)
    if isinstance(query.table._meta.db, SQLiteEngine):
        return [tuple(row.values()) for row in result]
    return list(result)


def json_values(values: Sequence[Any]) -> list[Any]:
    """Many JSON column values at once: one parse of them all instead of one per row (a
    10,000-member case has 20,000 of them)."""
    if all(isinstance(v, str) for v in values):
        return json.loads(f"[{','.join(values)}]") if values else []
    return [json_value(v) for v in values]


def is_unique_violation(exc: BaseException) -> bool:
    """True for a unique-constraint violation on either engine."""
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE" in str(exc)
    try:
        from asyncpg.exceptions import UniqueViolationError
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    return isinstance(exc, UniqueViolationError)


class StaleRead(Exception):
    """What the use case read changed under it (seen once it held a lock): run it again."""


async def retry_on_conflict(fn: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run a use case again when a concurrent writer won a unique-constraint race, or changed
    a row the use case had read before locking it."""
    for attempt in range(attempts):
        try:
            return await fn()
        except Exception as exc:
            retryable = is_unique_violation(exc) or isinstance(exc, StaleRead)
            if not retryable or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


_users = 0  # start() calls not yet matched by stop(): one process may hold app and worker


async def start(settings: Settings) -> None:
    """Open the pool (PostgreSQL) or set the journal mode (SQLite) for this event loop."""
    global _users
    _users += 1
    if _users > 1:
        return
    db = engine()
    if isinstance(db, PostgresEngine):
        size = settings.database_pool_size
        await db.start_connection_pool(min_size=min(2, size), max_size=size)
    elif isinstance(db, SQLiteEngine):
        # WAL lets readers go on while one writer writes; it persists in the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    global _users
    _users = max(0, _users - 1)
    if _users:
        return
    db = engine()
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[None]:
    await start(settings)
    try:
        yield
    finally:
        await stop()


async def pending_migrations() -> list[str]:
    """Migration ids present in migrations/ but not yet applied."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.tables import Migration

    from chorus.piccolo_app import APP_CONFIG

    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    known = manager.get_migration_ids(modules)
    if not await Migration.table_exists().run():
        return known
    ran = set(await Migration.get_migrations_which_ran(app_name=APP_CONFIG.app_name))
    return [m for m in known if m not in ran]


async def check_migrations() -> None:
    pending = await pending_migrations()
    if pending:
        raise PendingMigrations(pending)


async def migrate() -> list[str]:
    """Apply every pending migration; returns the ids applied."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    pending = await pending_migrations()
    if pending:
        result = await run_forwards(app_name="all")
        if not result.success:
            raise RuntimeError(f"Migration failed: {result.message}")
    return pending
