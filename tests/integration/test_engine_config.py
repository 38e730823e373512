"""The database engine is the one the settings name: create_app(settings) serves from
settings.database_url, not from CHORUS_DATABASE_URL, and importing chorus chooses nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import http_client, login, register


@pytest.fixture
async def rebind(clean: None, settings: Any) -> AsyncIterator[None]:
    """Give the tables back to the run's database after a test configured another one."""
    from chorus import db

    yield
    db.configure(settings)


@pytest.mark.usefixtures("rebind")
async def test_app_serves_from_the_database_its_settings_name(tmp_path: Path, settings: Any) -> None:
    from chorus import db
    from chorus.accounts.tables import User

    other_file = tmp_path / "other.sqlite"
    other = settings.model_copy(update={"database_url": f"sqlite:///{other_file}"})
    assert other.database_url != os.environ["CHORUS_DATABASE_URL"]
    async with db.connected(other):
        await db.migrate()

    async with http_client(other) as c:
        await register(c, "elsewhere@example.com", name="Elsewhere")
        auth = await login(c, "elsewhere@example.com")
        me = await c.get("/api/v1/me", headers=auth)
        assert me.status_code == 200 and me.json()["email"] == "elsewhere@example.com"

    with sqlite3.connect(other_file) as conn:
        rows = conn.execute("SELECT email FROM app_user").fetchall()
    assert rows == [("elsewhere@example.com",)]
    # The run's own database (CHORUS_DATABASE_URL) never saw the account.
    db.configure(settings)
    assert not await User.exists().where(User.email == "elsewhere@example.com")


@pytest.mark.usefixtures("rebind")
async def test_app_on_an_unmigrated_database_refuses_to_start(tmp_path: Path, settings: Any) -> None:
    from chorus import db
    from chorus.accounts.tables import User

    empty = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/empty.sqlite"})
    with pytest.raises(BaseException) as failed:
        async with http_client(empty):
            pass
    assert _leaves(failed.value) and all(isinstance(e, db.PendingMigrations) for e in _leaves(failed.value))
    db.configure(settings)
    assert await User.count() == 0  # nothing was written anywhere


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups: the lifespan's task group wraps them."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def test_importing_chorus_chooses_no_engine(tmp_path: Path) -> None:
    code = (
        "import os, chorus, chorus.app, chorus.db as db\n"
        "assert 'PICCOLO_CONF' not in os.environ, os.environ.get('PICCOLO_CONF')\n"
        "try:\n"
        "    db.engine()\n"
        "except db.NotConfigured:\n"
        "    print('not configured')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PICCOLO_CONF"}
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "not configured"
