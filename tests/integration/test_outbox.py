"""The transactional outbox: Redis down means jobs wait, and nothing is lost or doubled."""

from __future__ import annotations

from typing import Any

import pytest
from arq.connections import ArqRedis

from chorus import jobs
from chorus.jobs import OutboxRow
from tests.support import PASSWORD, http_client, run_jobs

pytestmark = pytest.mark.usefixtures("clean")

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def test_register_while_redis_is_down_then_exactly_one_mail(
    settings: Any, mailbox: Any, redis_pool: Any
) -> None:
    down = settings.model_copy(update={"redis_url": DEAD_REDIS})
    async with http_client(down) as c:
        r = await c.post(
            "/api/v1/auth/register",
            json={"email": "patient@example.com", "password": PASSWORD, "display_name": "P"},
        )
        assert r.status_code == 201
        health = await c.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "database": "ok", "redis": "error", "storage": "ok"}

    # the relay cannot reach Redis: the job waits in the outbox
    dead_pool = ArqRedis.from_url(DEAD_REDIS, socket_connect_timeout=1)
    try:
        assert await jobs.relay_once(dead_pool) == 0
    finally:
        await dead_pool.aclose()
    row = await OutboxRow.select().first()
    assert row["sent_at"] is None and row["attempts"] == 1 and row["last_error"]
    assert await jobs.pending_count() == 1
    assert mailbox.to("patient@example.com") == []

    # Redis is back: the relay hands the job over, the worker sends exactly one e-mail
    assert await run_jobs(redis_pool, settings) == 1
    assert await jobs.pending_count() == 0
    assert len(mailbox.to("patient@example.com")) == 1

    # a second relay pass and worker run change nothing
    assert await run_jobs(redis_pool, settings) == 0
    assert len(mailbox.to("patient@example.com")) == 1


async def test_a_job_relayed_twice_runs_once(settings: Any, mailbox: Any, redis_pool: Any) -> None:
    async with http_client(settings) as c:
        r = await c.post(
            "/api/v1/auth/register",
            json={"email": "twice@example.com", "password": PASSWORD, "display_name": "T"},
        )
        assert r.status_code == 201
    # simulate a relay that enqueued and then crashed before marking the row sent
    assert await jobs.relay_once(redis_pool) == 1
    await OutboxRow.update({OutboxRow.sent_at: None}, force=True)
    assert await jobs.relay_once(redis_pool) == 1
    assert await run_jobs(redis_pool, settings, relay=False) == 1
    assert len(mailbox.to("twice@example.com")) == 1


async def test_a_job_run_twice_sends_once(settings: Any, mailbox: Any, redis_pool: Any) -> None:
    from chorus.accounts import service
    from chorus.accounts.tables import User

    async with http_client(settings) as c:
        await c.post(
            "/api/v1/auth/register",
            json={"email": "again@example.com", "password": PASSWORD, "display_name": "A"},
        )
    user = await User.select(User.id, User.verify_nonce).first()
    # arq may run a job more than once: the effect happens once
    assert await service.send_verification_email(
        user_id=user["id"], nonce=user["verify_nonce"], settings=settings
    )
    assert not await service.send_verification_email(
        user_id=user["id"], nonce=user["verify_nonce"], settings=settings
    )
    assert len(mailbox.to("again@example.com")) == 1


async def test_failed_registration_leaves_no_job(settings: Any) -> None:
    async with http_client(settings) as c:
        body = {"email": "one@example.com", "password": PASSWORD, "display_name": "O"}
        assert (await c.post("/api/v1/auth/register", json=body)).status_code == 201
        assert (await c.post("/api/v1/auth/register", json=body)).status_code == 409
    assert await OutboxRow.count() == 1


async def test_development_mail_without_smtp_lands_in_var_outbox(
    settings: Any, redis_pool: Any, tmp_path: Any
) -> None:
    dev = settings.model_copy(update={"smtp_host": None, "var_dir": tmp_path})
    async with http_client(dev) as c:
        r = await c.post(
            "/api/v1/auth/register",
            json={"email": "local@example.com", "password": PASSWORD, "display_name": "L", "locale": "en"},
        )
        assert r.status_code == 201
    assert await run_jobs(redis_pool, dev) == 1
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 1
    text = files[0].read_bytes().decode()
    assert "To: local@example.com" in text
    assert "verify?token=" in text
