"""Piccolo's SQLite engine, with its connections kept open and used again.

Piccolo's ``SQLiteEngine`` opens a connection (and with it a thread: aiosqlite runs each
connection on one) for every statement outside a transaction and for every transaction, sets
``PRAGMA foreign_keys`` on it, and closes it afterwards; inside a transaction it sends that
``PRAGMA`` again before every statement. Measured on this project's 2-core host, a one-row
``SELECT`` by primary key costs 1.5 ms that way against 0.3 ms on an open connection: most of a
page's time on the embedded default (``make run``) went to opening connections.

:class:`PooledSQLiteEngine` keeps the connections it opened, once the pool is open
(:meth:`~PooledSQLiteEngine.open_pool`, by ``chorus.db.start``), and hands an idle one to the
next statement or transaction; :meth:`~PooledSQLiteEngine.close_pool` (``chorus.db.stop``)
closes them. It never waits for a connection: when none is idle it opens one, as Piccolo did,
and keeps at most ``idle`` of them afterwards. A connection goes back only in the state it
came in (autocommit, no transaction open): one left inside a transaction, or whose statement
was cancelled mid-way (the statement is interrupted), is closed instead. Before the pool opens
and after it closes, each statement has a connection of its own, exactly as in Piccolo. The
connections are plain autocommit ones (``isolation_level=None``): a statement outside a
transaction sees everything committed before it, as on a fresh connection.
"""

from __future__ import annotations

from typing import Any

from aiosqlite import Connection
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType
from piccolo.table import Table

IDLE = 10  # connections kept open per engine (per process) once used (CHORUS_DATABASE_POOL_SIZE)


class PooledSQLiteEngine(SQLiteEngine):
    def __init__(self, path: str, *, idle: int = IDLE, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.idle_limit = idle
        self.idle: list[Connection] = []
        self.pooling = False

    async def open_pool(self) -> None:
        self.pooling = True

    async def close_pool(self) -> None:
        self.pooling = False
        idle, self.idle = self.idle, []
        for connection in idle:
            await connection.close()

    async def borrow(self) -> Connection:
        """An idle connection, or a new one (``PRAGMA foreign_keys`` on, rows as dicts)."""
        if self.idle:
            return self.idle.pop()
        return await self.get_connection()

    async def give_back(self, connection: Connection, *, clean: bool) -> None:
        """Keep ``connection`` for the next statement if the pool is open, it is ``clean`` (its
        last use ended, or failed with an error SQLite reported) and no transaction is open on it;
        close it otherwise."""
        if clean and self.pooling and not connection.in_transaction and len(self.idle) < self.idle_limit:
            self.idle.append(connection)
        else:
            await connection.close()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        if not self.pooling:
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self.borrow()
        clean = False
        try:
            result = await self._run_in_existing_connection(connection, query, args, query_type, table)
            clean = True
            return result
        except Exception:
            clean = True  # SQLite answered (a constraint, a lock timeout): the connection is fine
            raise
        finally:
            if not clean:
                # cancelled (the caller went away, a timeout): stop the statement where it is,
                # rather than let it run on unseen; the connection is then closed, not kept
                await connection.interrupt()
            await self.give_back(connection, clean=clean)

    async def _run_in_existing_connection(
        self,
        connection: Connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: type[Table] | None = None,
    ) -> Any:
        """As Piccolo's, without sending ``PRAGMA foreign_keys = 1`` before each statement:
        every connection of this engine has it from :meth:`get_connection` (and SQLite ignores
        it inside a transaction anyway)."""
        async with connection.execute(query, args or []) as cursor:
            response = await cursor.fetchall()
            if query_type == "insert" and self.get_version_sync() < 3.35:
                # no RETURNING before SQLite 3.35 (as Piccolo does)
                assert table is not None
                pk = await self._get_inserted_pk(cursor, table)
                return [{table._meta.primary_key._meta.db_column_name: pk}]
            return response

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)


class PooledTransaction(SQLiteTransaction):
    """Piccolo's transaction, on a connection of the pool, given back (or closed) at the end —
    also when the commit or the rollback fails, where Piccolo's left it open."""

    engine: PooledSQLiteEngine

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        self.connection = await self.engine.borrow()
        try:
            await self.begin()  # type: ignore[no-untyped-call]
        except BaseException as error:
            # BEGIN IMMEDIATE waited out the busy timeout: nothing began (Piccolo's leaked the connection)
            await self.engine.give_back(self.connection, clean=isinstance(error, Exception))
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        clean = False
        try:
            if exception:
                if not self._rolled_back:  # it may have been rolled back by hand
                    await self.rollback()  # type: ignore[no-untyped-call]
            elif not self._committed and not self._rolled_back:
                await self.commit()  # type: ignore[no-untyped-call]
            clean = True
        except Exception:
            clean = True  # SQLite refused the commit; in_transaction decides whether it is kept
            raise
        finally:
            await self.engine.give_back(self.connection, clean=clean)
            self.engine.current_transaction.reset(self.context)
        return exception is None
