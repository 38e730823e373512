"""Database engine choice (SQLite file | PostgreSQL), transactions, pools and migrations.

The engine is chosen once, explicitly: ``configure(settings)`` (called by ``start``, so by the
app's lifespan, the worker's start-up and every CLI command) builds the engine for
``settings.database_url`` and binds every table of the app to it. Nothing is read from the
environment on import.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import structlog
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString
from piccolo.table import Table

from chorus.settings import Settings
from chorus.sqlitepool import PooledSQLiteEngine

log = structlog.get_logger(__name__)

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
        # Connections are kept open between statements while the engine is started (sqlitepool),
        # up to the pool size; more are opened when more statements run at once.
        return PooledSQLiteEngine(str(path), idle=settings.database_pool_size, timeout=30)
    if scheme in ("postgres", "postgresql"):
        return PostgresEngine(config={"dsn": url})
    raise ValueError(f"Unsupported CHORUS_DATABASE_URL scheme {scheme!r}")


class NotConfigured(RuntimeError):
    """A query was about to run before ``configure(settings)`` chose the engine."""

    def __init__(self) -> None:
        super().__init__("chorus.db.configure(settings) has not been called in this process")


_engines: dict[str, Engine] = {}  # type: ignore[type-arg]  # one per database URL, built on first use
_current: Engine | None = None  # type: ignore[type-arg]


def configure(settings: Settings) -> Engine:  # type: ignore[type-arg]
    """Choose the engine for ``settings.database_url`` and bind every table of the app to it.

    Piccolo tables look their engine up once (``Table._meta.db``) and keep it; binding them here
    means no table ever falls back to Piccolo's environment-driven ``engine_finder``. Cheap and
    idempotent for the URL already configured. One process talks to one database at a time.
    """
    global _current
    db = _engines.get(settings.database_url)
    if db is None:
        db = _engines[settings.database_url] = make_engine(settings)
    if db is not _current:
        _bind(db)
        _current = db
    return db


def _bind(db: Engine) -> None:  # type: ignore[type-arg]
    from piccolo.apps.migrations.tables import Migration

    # The table modules import this one (chorus.jobs does), so the app's table list is read when
    # an engine is bound, not when this module is imported.
    from chorus.piccolo_app import APP_CONFIG

    tables: list[type[Table]] = [*APP_CONFIG.table_classes, Migration]
    for table in tables:
        table._meta.db = db


def engine() -> Engine:  # type: ignore[type-arg]
    """The engine ``configure`` chose."""
    if _current is None:
        raise NotConfigured()
    return _current


def is_configured() -> bool:
    return _current is not None


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


def transaction() -> Any:
    """A write transaction; on SQLite an IMMEDIATE one so writers queue instead of deadlocking.
    Once the outermost one commits, the :func:`on_commit` hooks run."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        return _Committing(db.transaction(transaction_type=TransactionType.immediate))
    return _Committing(db.transaction())


# What the outermost transaction changed that the public reads show (see :func:`changed`).
Changes = frozenset[str] | None
_commit_hooks: list[Callable[[Changes], Awaitable[None]]] = []
_in_transaction: ContextVar[bool] = ContextVar("chorus_in_transaction", default=False)


class _Said:
    """What a transaction said it changed (``scopes`` None: it said nothing)."""

    def __init__(self) -> None:
        self.scopes: set[str] | None = None


_changes: ContextVar[_Said | None] = ContextVar("chorus_transaction_changes", default=None)


def on_commit(hook: Callable[[Changes], Awaitable[None]], *, remove: bool = False) -> None:
    """Run ``hook(changes)`` after every committed (outermost) :func:`transaction` of this
    process, e.g. to tell caches of what the database holds that it changed
    (:mod:`chorus.freshness`): ``changes`` is what the transaction said it changed
    (:func:`changed`), None when it said nothing (it may have changed anything). With
    ``remove``, no longer. A hook must not raise."""
    if remove:
        if hook in _commit_hooks:
            _commit_hooks.remove(hook)
    elif hook not in _commit_hooks:
        _commit_hooks.append(hook)


def changed(*scopes: str) -> None:
    """Inside a :func:`transaction`: it changes what the public reads of these scopes show
    (names from :mod:`chorus.freshness`); called with none, it changes nothing they show. A
    transaction that never calls this is taken to have changed anything. Outside a
    transaction: nothing."""
    said = _changes.get()
    if said is not None:
        said.scopes = (said.scopes or set()) | set(scopes)


class _Committing:
    """Piccolo's transaction, and the commit hooks once the outermost one committed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._token: Token[bool] | None = None
        self._said: Token[_Said | None] | None = None
        self._outer: Any = None  # Piccolo's current transaction before this one

    async def __aenter__(self) -> Any:
        if not _in_transaction.get():
            self._token = _in_transaction.set(True)
            self._said = _changes.set(_Said())
        self._outer = self._inner.engine.current_transaction.get()
        return await self._inner.__aenter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            suppressed = await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            # Piccolo forgets its transaction only once the rollback or commit and the return of
            # the connection to the pool went through. A connection the server dropped fails
            # there (asyncpg's reset on release), and the task kept the dead transaction as its
            # current one: every later transaction of a long-lived task (the worker's outbox
            # relay) was "nested" in it and failed, for good (test_pool_reset).
            current = self._inner.engine.current_transaction
            if current.get() is not self._outer:
                current.set(self._outer)
            said = _changes.get()
            if self._token is not None:
                _in_transaction.reset(self._token)
            if self._said is not None:
                _changes.reset(self._said)
        if self._token is not None and exc_type is None:
            scopes = said.scopes if said is not None else None
            changes: Changes = frozenset(scopes) if scopes is not None else None
            for hook in list(_commit_hooks):
                await hook(changes)
        return suppressed


def placeholders(count: int) -> str:
    """``{}, {}, …``: where a raw statement (:func:`fetch`) takes ``count`` arguments, e.g. in IN (…).
    Hot reads are written as raw statements: building a Piccolo query costs more than PostgreSQL
    takes to answer an indexed one (its ForeignKey columns call dir() on each attribute read)."""
    return ", ".join("{}" for _ in range(count))


@functools.lru_cache(maxsize=1024)
def _numbered(sql: str, count: int) -> str:
    """A raw statement's ``{}`` placeholders as PostgreSQL's ``$1, $2, …``, translated by
    Piccolo's own QueryString, once per text."""
    text, _ = QueryString(sql, *range(count)).compile_string(engine_type="postgres")
    return text


async def _records(found: Engine, sql: str, args: Sequence[Any]) -> list[Any] | None:  # type: ignore[type-arg]
    """PostgreSQL: the asyncpg records of a raw statement (``{}`` placeholders), on the transaction's
    connection or one of the pool, its text translated once. None elsewhere (SQLite, no pool)."""
    if not isinstance(found, PostgresEngine):
        return None
    text = _numbered(sql, len(args))
    transaction = found.current_transaction.get()
    if transaction is not None:
        return await transaction.connection.fetch(text, *args)  # type: ignore[no-any-return]
    pool = found.pool
    if pool is None:
        return None
    connection = await pool.acquire()
    try:
        records: list[Any] = await connection.fetch(text, *args)
    except BaseException:
        await pool.release(connection)
        raise
    _release_soon(pool, connection)
    return records


_releasing: set[asyncio.Task[None]] = set()  # the releases under way (a task must be held)


def _release_soon(pool: Any, connection: Any) -> None:
    """Give ``connection`` back to ``pool`` in a task of its own, not awaited: the caller has its
    rows. asyncpg's release runs in a shielded task of its own anyway, and waiting for it (two
    turns of the event loop) cost a statement outside a transaction 60 µs, half of a held
    connection's SELECT 1 (bench.resolve's host). The connection is back one turn later; the
    pool's close waits for it; a release that fails (a connection the server dropped) is logged
    and that connection closed by asyncpg, as when it was awaited."""
    task = asyncio.get_running_loop().create_task(pool.release(connection))
    _releasing.add(task)
    task.add_done_callback(_released)


def _released(task: asyncio.Task[None]) -> None:
    _releasing.discard(task)
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("pool_release_failed", error=type(error).__name__)


async def fetch(table: type[Table], sql: str, *args: Any) -> list[dict[str, Any]]:
    """``table.raw(sql, *args)``'s rows (``{}`` placeholders) as dicts: how a raw statement is run.

    On PostgreSQL the statement goes straight to asyncpg: Piccolo's query object and its compiling
    of the text on each call cost 60 µs a statement, a third of an indexed read (bench.resolve's
    host). On SQLite it is ``table.raw``, which runs it as Piccolo's SQLite engine needs."""
    records = await _records(table._meta.db, sql, args)
    if records is None:
        rows: list[dict[str, Any]] = await table.raw(sql, *args)
        return rows
    return [dict(record) for record in records]


def json_value(value: Any) -> Any:
    """A JSON column's value: Piccolo returns them as text unless a query asks ``load_json``."""
    return json.loads(value) if isinstance(value, str) else value


async def fetch_rows(table: type[Table], sql: str, *args: Any) -> list[Sequence[Any]]:
    """``table.raw(sql, *args)``'s rows (``{}`` placeholders) as tuples, in the order of its
    columns: :func:`fetch` without a dict built per row. On PostgreSQL the text goes straight to
    asyncpg, with no Piccolo query object made for it (its QueryString alone cost a resolve 10 µs,
    bench.resolve), and asyncpg's records are used as they come."""
    records = await _records(table._meta.db, sql, args)
    if records is not None:
        return records
    rows: list[dict[str, Any]] = await table.raw(sql, *args)
    return [tuple(row.values()) for row in rows]


async def fetch_tuples(query: Any) -> list[Sequence[Any]]:
    """The rows of a plain Piccolo select as tuples, in the order its columns were selected.

    The values ``await query`` gives, without a dict built per row (on PostgreSQL asyncpg's
    records are used as they come): for the reads of tens of thousands of rows that
    assembling a large case's complaint makes. A raw statement's: :func:`fetch_rows`."""
    (querystring,) = query.querystrings
    result = await query.table._meta.db.run_querystring(querystring)
    if isinstance(query.table._meta.db, SQLiteEngine):
        return [tuple(row.values()) for row in result]
    return list(result)


RowReader = Callable[[], Coroutine[Any, Any, list[Sequence[Any]]]]


@asynccontextmanager
async def cursor(sql: str, *args: Any, chunk: int) -> AsyncIterator[RowReader]:
    """PostgreSQL: the rows of ``sql`` (``$n`` placeholders), ``chunk`` at a time, through a
    server-side cursor on a connection of the pool held in a read-only transaction while the
    block runs. Yields a function giving the next rows (as asyncpg records; [] once all are
    read): for reads of tens of thousands of rows used a few thousand at a time, never all held."""
    found = engine()
    if not isinstance(found, PostgresEngine):
        raise RuntimeError("db.cursor is for PostgreSQL")
    pool = found.pool
    connection = await (pool.acquire() if pool is not None else found.get_new_connection())
    try:
        async with connection.transaction(readonly=True):
            rows = await connection.cursor(sql, *args)

            async def next_rows() -> list[Sequence[Any]]:
                return list(await rows.fetch(chunk))

            yield next_rows
    finally:
        if pool is not None:
            await pool.release(connection)
        else:
            await connection.close()


async def put_long_text(table: type[Table], column: str, row_id: int, chunks: Iterable[str]) -> None:
    """Inside a transaction: set a text column of one row (by id) to the chunks joined. PostgreSQL
    gets them through COPY, a chunk at a time, into a temporary table dropped at once: a text
    sent as one parameter is held three times over while it goes (its UTF-8 in the string, the
    message, the socket's buffer: some 25 MB for a 10,000-member complaint). SQLite, in this
    process, takes it as one string."""
    found = engine()
    name = table._meta.tablename
    if isinstance(found, SQLiteEngine):
        await table.raw(f'UPDATE "{name}" SET "{column}" = {{}} WHERE id = {{}}', "".join(chunks), row_id)  # noqa: S608
        return
    transaction = found.current_transaction.get()
    if transaction is None:
        raise RuntimeError("db.put_long_text runs inside a transaction")
    connection = transaction.connection
    await connection.execute("CREATE TEMPORARY TABLE chorus_text_part (n integer, part text) ON COMMIT DROP")
    # the parts kept as they are, not compressed on the way in and uncompressed on the way out
    await connection.execute("ALTER TABLE chorus_text_part ALTER COLUMN part SET STORAGE EXTERNAL")
    await connection.copy_records_to_table(
        "chorus_text_part", records=enumerate(chunks), columns=("n", "part")
    )
    await connection.execute(
        f'UPDATE "{name}" SET "{column}" = '  # noqa: S608
        "(SELECT coalesce(string_agg(part, '' ORDER BY n), '') FROM chorus_text_part) WHERE id = $1",
        row_id,
    )
    await connection.execute("DROP TABLE chorus_text_part")


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


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached for now, not that a query is wrong:
    the server restarting or refusing connections (PostgreSQL), a connection it closed under a
    query, or SQLite's lock held past the busy timeout. Requests answer 503 with Retry-After
    (chorus.web.problems), jobs are retried later (workers.settings)."""
    if isinstance(exc, ConnectionError):  # refused, reset, broken pipe
        return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    try:
        import asyncpg.exceptions as pg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        return False
    if isinstance(
        exc,
        pg.PostgresConnectionError  # the connection failed or was lost
        | pg.OperatorInterventionError  # shutting down, starting up, crashed
        | pg.TooManyConnectionsError,
    ):
        return True
    if isinstance(exc, pg.InterfaceError):
        return "closed" in str(exc)
    # a pooled connection the server dropped under a query, met before asyncpg noticed the loss
    return isinstance(exc, pg.InternalClientError) and "cannot switch to state" in str(exc)


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


_users: dict[str, int] = {}  # start() calls not yet matched by stop(), per database URL


async def _keep_session(connection: Any) -> None:
    """How the pool resets a connection between two users: beyond what asyncpg always does (an
    open transaction rolled back, listeners dropped), nothing. Chorus leaves no session state
    behind (no SET outside a transaction, no LISTEN, no session-level advisory lock, no cursor
    outside a transaction), so asyncpg's default reset query (pg_advisory_unlock_all, CLOSE
    ALL, UNLISTEN *, RESET ALL) is not sent: that round trip after every statement outside a
    transaction cost more than most of the statements themselves (0.4 ms against 0.1 ms)."""


async def start(settings: Settings) -> None:
    """Configure the engine for ``settings``, then open its pool (PostgreSQL), or set the journal
    mode and start keeping connections open (SQLite). One process may hold several users (app
    and worker)."""
    db = configure(settings)
    url = settings.database_url
    _users[url] = _users.get(url, 0) + 1
    if _users[url] > 1:
        return
    if isinstance(db, PostgresEngine):
        size = settings.database_pool_size
        await db.start_connection_pool(min_size=min(2, size), max_size=size, reset=_keep_session)
    elif isinstance(db, PooledSQLiteEngine):
        await db.open_pool()
        # WAL lets readers go on while one writer writes; it persists in the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop(settings: Settings | None = None) -> None:
    """Undo one ``start`` (of ``settings``' database; by default the configured one): the pool
    closes with its last user."""
    db = engine() if settings is None else _engines[settings.database_url]
    url = next(u for u, e in _engines.items() if e is db)
    _users[url] = max(0, _users.get(url, 0) - 1)
    if _users[url]:
        return
    if isinstance(db, PostgresEngine):
        await db.close_connection_pool()
    elif isinstance(db, PooledSQLiteEngine):
        await db.close_pool()  # its connections' threads would otherwise keep the process alive


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[None]:
    await start(settings)
    try:
        yield
    finally:
        await stop(settings)


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
        with _piccolo_finds_configured_engine():
            result = await run_forwards(app_name="all")
        if not result.success:
            raise RuntimeError(f"Migration failed: {result.message}")
    return pending


@contextmanager
def _piccolo_finds_configured_engine() -> Iterator[None]:
    """Piccolo's migration runner finds its apps and engine through a configuration module
    (``PICCOLO_CONF``), not through the tables: point it, while it runs, at the package's
    module, whose ``DB`` is the engine ``configure`` chose."""
    engine()  # fail here, clearly, when nothing is configured
    saved = os.environ.get("PICCOLO_CONF")
    os.environ["PICCOLO_CONF"] = "chorus.piccolo_conf"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PICCOLO_CONF", None)
        else:
            os.environ["PICCOLO_CONF"] = saved
