"""Issue 9, item 7: the client address behind trusted proxies only, and credential rate limits
per address and per account e-mail (counters in the real Redis)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from chorus.accounts.tables import AuthSession, User
from chorus.jobs import OutboxRow
from tests.support import PASSWORD, assert_problem, http_client, register

pytestmark = pytest.mark.usefixtures("clean")

PROXY = ("10.0.0.5", 41000)  # a reverse proxy on another host
WRONG = {"password": "not the password"}


@asynccontextmanager
async def app_client(
    settings: Any, peer: tuple[str, int], **changes: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with ``changes`` to its settings, reached from ``peer`` (the TCP peer address)."""
    async with http_client(settings.model_copy(update=changes)) as started:
        # the app http_client started (lifespan running), seen from another address
        transport = httpx.ASGITransport(app=started._transport.app, client=peer)  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url=str(started.base_url)) as c:
            yield c


def via(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def login(c: httpx.AsyncClient, email: str, headers: dict[str, str], password: str = PASSWORD) -> Any:
    return await c.post("/api/v1/auth/login", json={"email": email, "password": password}, headers=headers)


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(settings: Any) -> None:
    async with app_client(settings, ("198.51.100.20", 5000), auth_rate_limit="3/minute") as c:
        for i in range(3):
            r = await login(c, f"u{i}@example.com", via(f"192.0.2.{i + 1}"), WRONG["password"])
            assert_problem(r, 401)
        # a fresh address in the header changes nothing: the peer itself has used its three
        r = await login(c, "u9@example.com", via("192.0.2.99"), WRONG["password"])
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) > 0


async def test_forwarded_for_from_a_trusted_proxy_is_honoured(settings: Any, caplog: Any) -> None:
    caplog.set_level("INFO")
    async with app_client(settings, PROXY, auth_rate_limit="3/minute", trusted_proxies="10.0.0.0/8") as c:
        for i in range(3):
            assert_problem(await login(c, f"a{i}@example.com", via("198.51.100.1"), "x" * 10), 401)
        assert_problem(await login(c, "a9@example.com", via("198.51.100.1"), "x" * 10), 429, "rate_limited")
        # another client behind the same proxy has a bucket of its own
        assert_problem(await login(c, "b@example.com", via("198.51.100.2"), "x" * 10), 401)
        # what the client wrote left of the proxy's entry proves nothing: still 198.51.100.1
        spoofed = via("203.0.113.250, 198.51.100.1")
        assert_problem(await login(c, "a8@example.com", spoofed, "x" * 10), 429, "rate_limited")
        # through two trusted proxies: the right-most address that is not a proxy
        two_hops = via("198.51.100.1, 10.0.0.9")
        assert_problem(await login(c, "a7@example.com", two_hops, "x" * 10), 429, "rate_limited")
    logged = [
        r.getMessage()
        for r in caplog.records
        if r.name == "chorus.access" and "/auth/login" in r.getMessage()
    ]
    assert logged and all("client=198.51.100." in line for line in logged), logged
    assert not any("10.0.0.5" in line or "203.0.113.250" in line for line in logged)


async def test_an_account_hammered_from_rotating_addresses_gets_429(settings: Any) -> None:
    async with app_client(
        settings,
        PROXY,
        trusted_proxies="10.0.0.5",
        auth_rate_limit="100/minute",
        auth_account_rate_limit="5/hour",
    ) as c:
        await register(c, "victim@example.com")
        await register(c, "bystander@example.com")
        for i in range(5):
            r = await login(c, "VICTIM@example.com ", via(f"192.0.2.{i + 10}"), WRONG["password"])
            assert_problem(r, 401, "invalid_credentials")
        sessions = await AuthSession.count()
        # from yet another address, even the right password: the account is resting
        r = await login(c, "victim@example.com", via("192.0.2.200"))
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) > 3000  # the rest of the hour
        assert "set-cookie" not in r.headers and await AuthSession.count() == sessions
        # other accounts are untouched, from the same addresses
        assert (await login(c, "bystander@example.com", via("192.0.2.10"))).status_code == 200


async def test_a_successful_login_clears_the_failures(settings: Any) -> None:
    async with app_client(settings, PROXY, trusted_proxies="10.0.0.5", auth_account_rate_limit="3/hour") as c:
        await register(c, "forgetful@example.com")
        for _ in range(2):
            assert_problem(await login(c, "forgetful@example.com", {}, WRONG["password"]), 401)
        assert (await login(c, "forgetful@example.com", {})).status_code == 200
        c.cookies.clear()
        for _ in range(2):
            assert_problem(await login(c, "forgetful@example.com", {}, WRONG["password"]), 401)
        assert (await login(c, "forgetful@example.com", {})).status_code == 200


async def test_mail_sending_endpoints_are_limited_per_account(settings: Any) -> None:
    async with app_client(
        settings,
        PROXY,
        trusted_proxies="10.0.0.5",
        auth_rate_limit="100/minute",
        auth_account_rate_limit="3/hour",
    ) as c:
        await register(c, "mailbomb@example.com")  # 1st request naming this address to register
        body = {"email": "mailbomb@example.com", "password": PASSWORD, "display_name": "X"}
        for i in range(2):
            r = await c.post("/api/v1/auth/register", json=body, headers=via(f"192.0.2.{i + 1}"))
            assert_problem(r, 409, "email_taken")
        r = await c.post("/api/v1/auth/register", json=body, headers=via("192.0.2.9"))
        assert_problem(r, 429, "rate_limited")

        outbox = await OutboxRow.count()
        for i in range(3):
            r = await c.post(
                "/api/v1/auth/resend-verification",
                json={"email": "mailbomb@example.com"},
                headers=via(f"192.0.2.{i + 20}"),
            )
            assert r.status_code == 202
        assert await OutboxRow.count() == outbox + 3
        r = await c.post(
            "/api/v1/auth/resend-verification",
            json={"email": "Mailbomb@example.com"},
            headers=via("192.0.2.99"),
        )
        assert_problem(r, 429, "rate_limited")
        assert await OutboxRow.count() == outbox + 3  # no fourth mail queued
        assert await User.count() == 1


async def test_limits_keep_working_when_redis_is_unreachable(settings: Any) -> None:
    """Counters fall back to the process's memory: still limited, never a 500."""
    async with app_client(
        settings,
        ("198.51.100.30", 5000),
        redis_url="redis://127.0.0.1:1/0",  # nothing listens there
        auth_rate_limit="2/minute",
    ) as c:
        for _ in range(2):
            assert_problem(await login(c, "nobody@example.com", {}, "x" * 10), 401)
        assert_problem(await login(c, "nobody@example.com", {}, "x" * 10), 429, "rate_limited")
