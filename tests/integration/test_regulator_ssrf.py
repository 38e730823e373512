"""What the server may send where through a regulator's HTTP channel (issue 9, item 5): API keys
only from CHORUS_REGULATOR_KEY_* variables; in production https:// to public addresses only, on
creation and again at every request (DNS rebinding); at most so much of an answer read and stored.

The stand-in regulator listens on 127.0.0.1 (tests run in development, where loopback is allowed);
the production rules run with production-like settings and are refused before any connection:
nothing is ever sent to a non-loopback address."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.filings.tables import FilingEvent
from chorus.regulators.tables import Regulator
from chorus.settings import Env
from tests.integration.test_filing_channels import filed, quick
from tests.integration.test_filings import file
from tests.regulator_standin import Standin
from tests.support import PASSWORD, assert_problem, http_client, login, run_jobs

pytestmark = pytest.mark.usefixtures("clean")


def production(settings: Any, **changes: Any) -> Any:
    """The test settings as a production deployment would have them (secret and SMTP are set)."""
    return settings.model_copy(
        update={
            "env": Env.production,
            "public_url": "https://chorus.example.com",
            "filing_retry_seconds": 0.05,
            "filing_http_timeout_seconds": 1.0,
            **changes,
        }
    )


async def filing(client: Any, s: dict[str, Any]) -> dict[str, Any]:
    return dict((await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json())


async def test_api_keys_are_read_only_from_regulator_key_variables(client: Any, settings: Any) -> None:
    from chorus.accounts import service as accounts

    await accounts.create_admin(
        email="admin@example.com", password=PASSWORD, display_name="A", settings=settings
    )
    admin = await login(client, "admin@example.com")
    body = {"name": "网关", "jurisdiction": "某市", "channel": "http", "address": "https://gw.example.com/v1"}
    before = await Regulator.count()
    for name in ("CHORUS_SECRET_KEY", "CHORUS_DATABASE_URL", "CHORUS_SMTP_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        r = await client.post("/api/v1/regulators", headers=admin, json={**body, "credentials_env": name})
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == ["credentials_env"], problem
        assert "CHORUS_REGULATOR_KEY_" in problem["errors"][0]["message"]
    assert await Regulator.count() == before
    r = await client.post(
        "/api/v1/regulators", headers=admin, json={**body, "credentials_env": "CHORUS_REGULATOR_KEY_GW"}
    )
    assert r.status_code == 201 and r.json()["has_credentials"] is True


async def test_a_stored_regulator_naming_another_variable_fails_its_filing_unsent(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)
    # a row from before the rule (or written around the API) names the server's own secret
    await Regulator.update({Regulator.credentials_env: "CHORUS_SECRET_KEY"}).where(
        Regulator.channel == "http"
    )
    await run_jobs(redis_pool, quick(settings))
    got = await filing(client, s)
    assert got["status"] == "failed"
    assert got["message"].startswith("credentials_refused: CHORUS_SECRET_KEY")
    assert "CHORUS_REGULATOR_KEY_" in got["message"]
    assert settings.signing_key() not in str(got)
    assert gateway.posts == []  # nothing was sent, let alone the secret


async def test_production_refuses_plain_http_and_non_public_hosts_on_create(settings: Any) -> None:
    from chorus.accounts import service as accounts

    prod = production(settings)
    await accounts.create_admin(email="admin@example.com", password=PASSWORD, display_name="A", settings=prod)
    async with http_client(prod) as client:
        admin = await login(client, "admin@example.com")
        body = {"jurisdiction": "某市", "channel": "http", "credentials_env": "CHORUS_REGULATOR_KEY_GW"}
        before = await Regulator.count()
        for i, (address, code) in enumerate(
            [
                ("http://8.8.8.8/v1", "regulator_address_https"),
                ("https://127.0.0.1/v1", "regulator_address_blocked"),
                ("https://localhost:8443/v1", "regulator_address_blocked"),  # a name for loopback
                ("https://10.0.0.1/v1", "regulator_address_blocked"),
                ("https://192.168.1.20/v1", "regulator_address_blocked"),
                ("https://169.254.169.254/latest/meta-data", "regulator_address_blocked"),
                ("https://100.100.100.200/latest", "regulator_address_blocked"),
                ("https://[::1]/v1", "regulator_address_blocked"),
                ("https://[::ffff:10.0.0.1]/v1", "regulator_address_blocked"),
            ]
        ):
            r = await client.post(
                "/api/v1/regulators", headers=admin, json={**body, "name": f"网关{i}", "address": address}
            )
            problem = assert_problem(r, 422, code)
            assert problem["errors"][0]["field"] == "address"
        assert await Regulator.count() == before
        # an e-mail or manual channel sends nothing by HTTP; a public https address is fine (only
        # resolved: nothing is sent when a regulator is added)
        r = await client.post(
            "/api/v1/regulators",
            headers=admin,
            json={**body, "name": "公网", "address": "https://8.8.8.8/v1"},
        )
        assert r.status_code == 201, r.text


async def test_production_checks_the_address_again_at_submission(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)  # added in development: the stand-in
    await run_jobs(redis_pool, production(settings))
    got = await filing(client, s)
    assert got["status"] == "failed" and got["message"].startswith("address_blocked: https:// is required")
    assert gateway.posts == []

    # the name behind an https address now resolves to loopback (as after DNS rebinding)
    port = gateway.base_url.split(":")[2].split("/")[0]
    await Regulator.update({Regulator.address: f"https://localhost:{port}/v1"}).where(
        Regulator.channel == "http"
    )
    r = await file(client, s, s["complaint"]["id"])  # the failed filing ended: file again
    assert r.status_code == 202, r.text
    s["filing"] = r.json()["id"]
    await run_jobs(redis_pool, production(settings))
    got = await filing(client, s)
    assert got["status"] == "failed"
    assert "leads to 127.0.0.1 (loopback)" in got["message"], got["message"]
    assert gateway.posts == []
    events = await FilingEvent.select(FilingEvent.note).where(FilingEvent.filing == s["filing"])
    assert "address_blocked:loopback" in [e["note"] for e in events]


async def test_production_polls_no_blocked_address(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    assert (await filing(client, s))["status"] == "received"
    gateway.set_status("REG-0001", "accepted")
    await redis_pool.enqueue_job("poll_filings")
    await run_jobs(redis_pool, production(settings), relay=False)
    assert gateway.reads == [] and (await filing(client, s))["status"] == "received"
    await redis_pool.enqueue_job("poll_filings")
    await run_jobs(redis_pool, quick(settings), relay=False)  # development: the stand-in is asked
    assert gateway.reads == ["REG-0001"] and (await filing(client, s))["status"] == "accepted"


async def test_the_worker_connects_to_the_address_it_resolved(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    """A host name is resolved once and the connection made to that address; the server still
    sees the name it was addressed by."""
    gateway.base_url = gateway.base_url.replace("127.0.0.1", "localhost")
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    assert (await filing(client, s))["status"] == "received"
    (post,) = gateway.posts
    assert post["headers"]["host"] == gateway.base_url.split("/")[2]  # localhost:<port>


async def test_an_answer_longer_than_the_cap_fails_the_attempt(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    assert settings.filing_http_max_answer_bytes == 64 * 1024
    gateway.script = ["huge:201"]
    gateway.huge_bytes = 100 * 1024
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = await filing(client, s)
    assert got["status"] == "failed" and got["message"] == "answer_too_large: more than 65536 bytes"
    assert got["reference"] is None and len(gateway.posts) == 1

    # a larger cap reads it; what is stored of the regulator's message is still cut short
    gateway.script = ["huge:201"]
    r = await file(client, s, s["complaint"]["id"])
    s["filing"] = r.json()["id"]
    await run_jobs(redis_pool, quick(settings, filing_http_max_answer_bytes=256 * 1024))
    got = await filing(client, s)
    assert got["status"] == "received" and got["reference"] == "REG-HUGE"
    assert max(len(e["note"]) for e in got["events"]) == 2000


async def test_a_server_error_with_a_huge_page_is_retried_without_reading_it_all(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = ["huge:503"]
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = await filing(client, s)
    assert got["status"] == "received" and len(gateway.posts) == 2
    assert next(e["note"] for e in got["events"] if e["source"] == "worker") == "retry:1"


async def test_a_long_refusal_is_stored_cut_short(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    gateway.script = ["long:422"]  # a refusal whose message is 20,000 characters (under the cap)
    s = await filed(client, mailbox, worker, settings, gateway)
    await run_jobs(redis_pool, quick(settings))
    got = await filing(client, s)
    assert got["status"] == "failed" and got["message"] == "y" * 2000
