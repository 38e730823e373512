"""A migration tested on a database that already holds rows: a database of its own, migrated
to just before the migration, with rows written as the old schema held them."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from chorus import db
from chorus.piccolo_app import APP_CONFIG
from tests.conftest import BACKEND, RUN_ID
from tests.toolkit import create_database, drop_database


def previous_migration(migration: str) -> str:
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    ids = sorted(manager.get_migration_ids(modules))
    return ids[ids.index(migration) - 1]


@contextlib.asynccontextmanager
async def database_before(
    migration: str,
    rows: Sequence[str],
    tables: Sequence[str],
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Any]:
    """The run's engine on a database of its own, migrated to just before ``migration``, with
    ``rows`` (SQL statements) in it; on PostgreSQL the id sequences of ``tables`` continue after
    the rows' ids. The run's database is given back afterwards."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    name = f"chorus_test_{RUN_ID}_{migration[:10].replace('-', '')}_{migration[11:19].replace(':', '')}"
    if BACKEND == "postgres":
        url = await asyncio.to_thread(create_database, name)  # it runs its own event loop
    else:
        url = f"sqlite:///{tmp_path}/old.sqlite"
    old = settings.model_copy(update={"database_url": url})
    try:
        async with db.connected(old):
            monkeypatch.setenv("PICCOLO_CONF", "chorus.piccolo_conf")
            with contextlib.redirect_stdout(io.StringIO()):
                result = await run_forwards(app_name="chorus", migration_id=previous_migration(migration))
            assert result.success, result.message
            monkeypatch.delenv("PICCOLO_CONF")
            assert migration in await db.pending_migrations()
            for sql in rows:
                await db.engine().run_ddl(sql)
            if BACKEND == "postgres":  # rows added later take the next free ids
                for table in tables:
                    await db.engine().run_ddl(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                        f'(SELECT max(id) FROM "{table}"))'
                    )
            yield old
    finally:
        db.configure(settings)
        if BACKEND == "postgres":
            await asyncio.to_thread(drop_database, name)
