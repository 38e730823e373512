"""Helpers shared by the tests: a real SMTP server, table cleanup, running jobs, users.
(Set-up shared with the benchmarks, such as ``http_client``, lives in tests/toolkit.py.)"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from html import unescape
from typing import TYPE_CHECKING, Any, Protocol

from aiosmtpd.controller import Controller

from tests.toolkit import http_client as http_client  # tests import it from here too

if TYPE_CHECKING:
    from piccolo.table import Table

PASSWORD = "correct horse battery"


@dataclass
class Mailbox:
    """Messages received by the test SMTP server."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def start_smtp(port: int) -> tuple[Mailbox, Controller]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    return box, controller


def body_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def token_from(msg: EmailMessage) -> str:
    found = re.search(r"[?&]token=([A-Za-z0-9._\-]+)", body_of(msg))
    assert found, "no token link in the e-mail"
    return found.group(1)


async def truncate_all() -> None:
    """Empty every table (ids start again at 1), as one script on one connection: a test suite
    does this thousands of times."""
    from piccolo.engine.postgres import PostgresEngine
    from piccolo.engine.sqlite import SQLiteEngine
    from piccolo.table import sort_table_classes

    from chorus import db
    from chorus.piccolo_app import APP_CONFIG

    # children before parents, so foreign keys never block a delete
    names = [t._meta.tablename for t in reversed(sort_table_classes(list(APP_CONFIG.table_classes)))]
    # rows pointing at rows of their own table (merges) would block the deletes
    unlink = 'UPDATE "merchant" SET "merged_into" = NULL; UPDATE "group_case" SET "merged_into" = NULL;'
    deletes = " ".join(f'DELETE FROM "{name}";' for name in names)
    engine = db.engine()
    if isinstance(engine, SQLiteEngine):
        conn = await engine.get_connection()
        try:
            await conn.executescript(f"BEGIN IMMEDIATE; {unlink} {deletes} COMMIT;")
        finally:
            await conn.close()
    else:
        # DELETE, not TRUNCATE: on tables of a few rows it is several times faster (TRUNCATE
        # makes new files for every table); the sequences start again at 1 as TRUNCATE's
        # RESTART IDENTITY did
        restart = (
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema();"
        )
        assert isinstance(engine, PostgresEngine) and engine.pool is not None
        async with engine.pool.acquire() as conn:
            await conn.execute(f"BEGIN; {unlink} {deletes} {restart} COMMIT;")


async def row_counts(tables: Mapping[str, type[Table]] | None = None) -> dict[str, int]:
    """Rows per table, by name (``tables``: every table of the app, by table name), counted in
    one statement, one snapshot: a refused request must have written none of them. (A count per
    table was a statement each, and on SQLite a connection and a thread each: the authorization
    matrix counted all 36 tables twice in each of its 1,000 cells.)"""
    from chorus.piccolo_app import APP_CONFIG

    named = tables if tables is not None else {t._meta.tablename: t for t in APP_CONFIG.table_classes}
    items = list(named.items())
    sql = " UNION ALL ".join(
        f'SELECT {i} AS n, count(*) AS c FROM "{table._meta.tablename}"' for i, (_, table) in enumerate(items)
    )
    counted = {int(r["n"]): int(r["c"]) for r in await items[0][1].raw(sql)}
    return {name: counted[i] for i, (name, _) in enumerate(items)}


async def run_jobs(redis_pool: Any, settings: Any, *, relay: bool = True) -> int:
    """Relay the outbox, then run a burst worker; returns the number of jobs completed."""
    from arq.worker import Worker

    from chorus import jobs
    from workers.settings import worker_settings

    if relay:
        while await jobs.relay_once(redis_pool) > 0:
            pass
    kwargs = worker_settings(settings)
    kwargs.update(
        redis_pool=redis_pool,
        burst=True,
        poll_delay=0.01,
        handle_signals=False,
        on_startup=None,
        on_shutdown=None,
        ctx={"settings": settings},
    )
    kwargs.pop("redis_settings")
    # Cron jobs fire by the wall clock (a test at minute 47 would also poll the filings): tests
    # enqueue those jobs explicitly instead.
    kwargs["cron_jobs"] = []
    w = Worker(**kwargs)
    await w.main()  # burst: returns when the queue is empty; the shared pool stays open
    await w.run_check()
    return int(w.jobs_complete)


async def register(
    client: Any, email_addr: str, *, name: str = "Tester", locale: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"email": email_addr, "password": PASSWORD, "display_name": name}
    if locale:
        body["locale"] = locale
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def login(client: Any, email_addr: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in; returns the Authorization header for bearer requests."""
    r = await client.post("/api/v1/auth/login", json={"email": email_addr, "password": password})
    assert r.status_code == 200, r.text
    client.cookies.clear()  # tests choose explicitly between bearer and cookie
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def verified_user(
    client: Any, mailbox: Mailbox, worker: Any, email_addr: str, name: str = "Tester"
) -> dict[str, str]:
    """Register, follow the e-mailed link, log in: the bearer header of a verified user."""
    await register(client, email_addr, name=name)
    await worker()
    (msg,) = mailbox.to(email_addr)
    r = await client.post("/api/v1/auth/verify", json={"token": token_from(msg)})
    assert r.status_code == 200, r.text
    return await login(client, email_addr)


def assert_problem(r: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


class HasHeaders(Protocol):
    headers: dict[str, str]


async def as_user(client: Any, who: HasHeaders | Mapping[str, str] | None) -> None:
    """The client's browser signed in as this user (their session cookie), or signed out. ``who``:
    a person (``cases_support.Person``) or their bearer header."""
    from chorus.web.auth import SESSION_COOKIE

    client.cookies.clear()
    if who is not None:
        headers = who if isinstance(who, Mapping) else who.headers
        client.cookies.set(SESSION_COOKIE, headers["Authorization"].removeprefix("Bearer "))


def text_of(html: str) -> str:
    """What a page (or a part of it) says: its text without tags, entities read, spaces folded."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
