"""Filings sent by the worker through a regulator's HTTP channel (protocol v1), against a stand-in
gateway on a real socket: one submission per filing whatever the retries, refusals shown to
organizers, status followed by polling."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest

from chorus.evidence.service import storage_for
from chorus.filings.tables import Filing
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filings import build, file
from tests.regulator_standin import Standin, running
from tests.support import PASSWORD, login, run_jobs

pytestmark = pytest.mark.usefixtures("clean")
KEY_ENV = "CHORUS_TEST_STANDIN_KEY"


@pytest.fixture
async def gateway() -> Any:
    standin = Standin()
    os.environ[KEY_ENV] = standin.api_key
    try:
        async with running(standin) as s:
            yield s
    finally:
        os.environ.pop(KEY_ENV, None)


async def http_regulator(client: Any, settings: Any, base_url: str) -> int:
    from chorus.accounts import service as accounts

    await accounts.create_admin(
        email="admin@example.com", password=PASSWORD, display_name="A", settings=settings
    )
    admin = await login(client, "admin@example.com")
    r = await client.post(
        "/api/v1/regulators",
        headers=admin,
        json={
            "name": "某市市场监督管理局（接口）",
            "jurisdiction": "某市",
            "channel": "http",
            "address": base_url,
            "credentials_env": KEY_ENV,
            "accept_working_days": 7,
            "finish_working_days": 45,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def filed(client: Any, mailbox: Any, worker: Any, settings: Any, gateway: Standin) -> dict[str, Any]:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await http_regulator(client, settings, gateway.base_url)
    s["complaint"] = await build(client, s, reg)
    r = await file(client, s, s["complaint"]["id"])
    assert r.status_code == 202, r.text
    s["filing"] = r.json()["id"]
    return s


def quick(settings: Any, **changes: Any) -> Any:
    return settings.model_copy(
        update={"filing_retry_seconds": 0.05, "filing_http_timeout_seconds": 1.0, **changes}
    )


async def test_the_worker_files_once_and_the_regulator_answers(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))

    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()
    assert got["status"] == "received" and got["reference"] == "REG-0001"
    assert [(e["status"], e["source"]) for e in got["events"]] == [
        ("queued", "organizer"),
        ("submitted", "worker"),
        ("received", "regulator"),
    ]
    assert got["deadline"] is not None  # the acceptance clock runs
    (post,) = gateway.posts
    assert post["headers"]["idempotency-key"] == str(s["filing"])
    body = post["body"]
    complaint = (await client.get(f"/api/v1/complaints/{s['complaint']['id']}", headers=s["org"])).json()
    assert body["body_markdown"] == complaint["markdown"] and "<h1" in body["body_html"]
    assert body["complainant_count"] == 3 and body["external_id"] == f"chorus-filing-{s['filing']}"
    assert body["total_loss"] == [
        {"amount": "420.00", "currency": "CNY"},
        {"amount": "40.00", "currency": "USD"},
    ]
    assert (
        body["merchant"]["name"] == "蓝月卡盟"
        and {"kind": "qq", "value": "55667788"} in body["merchant"]["identifiers"]
    )
    assert len(body["evidence"]) == 2  # the receipts of the two members who consented
    assert all(e["filename"].startswith("evidence/") and e["size"] > 0 for e in body["evidence"])
    # the bundle as filed is kept, and it is what the hash says
    row = await Filing.select(Filing.bundle_sha256).where(Filing.id == s["filing"]).first()
    assert row is not None and body["bundle_sha256"] == row["bundle_sha256"]
    blob = storage_for(settings).path_for(row["bundle_sha256"])  # type: ignore[attr-defined]
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == row["bundle_sha256"]

    # the job again (a rerun after a crash): nothing is sent twice
    await redis_pool.enqueue_job("submit_filing", filing_id=s["filing"])
    await run_jobs(redis_pool, quick(settings), relay=False)
    assert len(gateway.posts) == 1

    # the regulator moves on; the worker's poll sees it
    gateway.set_status("REG-0001", "accepted", "已受理，转调解")
    await redis_pool.enqueue_job("poll_filings")
    await run_jobs(redis_pool, quick(settings), relay=False)
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()
    assert got["status"] == "accepted" and got["events"][-1]["source"] == "regulator"
    assert got["events"][-1]["note"] == "已受理，转调解"
    await redis_pool.enqueue_job("poll_filings")  # nothing new: nothing recorded
    await run_jobs(redis_pool, quick(settings), relay=False)
    assert len((await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()["events"]) == 4


async def test_server_errors_and_timeouts_are_retried_under_the_same_key(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [503, "slow", 502]
    gateway.slow_seconds = 3.0
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "received" and got["reference"] == "REG-0001"
    keys = {p["headers"]["idempotency-key"] for p in gateway.posts}
    assert len(gateway.posts) == 4 and keys == {str(s["filing"])}
    assert len(gateway.complaints) == 1  # filed once
    notes = [e["note"] for e in got["events"] if e["source"] == "worker"]
    assert notes[:3] == ["retry:1", "retry:2", "retry:3"]


async def test_a_refusal_fails_the_filing_with_the_servers_message(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [422]
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and got["message"] == "scripted answer 422"
    assert len(gateway.posts) == 1
    # ended: the organizers may file the same version again
    r = await file(client, s, s["complaint"]["id"])
    assert r.status_code == 202, r.text


async def test_a_server_that_stays_down_fails_the_filing_after_the_last_try(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = [500, 500, 500, 500]
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings, filing_submit_attempts=3))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and "500" in got["message"]
    assert len(gateway.posts) == 3 and not gateway.complaints


async def test_a_missing_api_key_fails_without_sending(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)
    os.environ.pop(KEY_ENV)
    await run_jobs(redis_pool, quick(settings))
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    assert got["status"] == "failed" and KEY_ENV in got["message"]
    assert gateway.posts == []
