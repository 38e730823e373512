"""Accounts over HTTP against the real database, Redis, arq worker and SMTP server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from chorus.accounts.tables import AuthSession, User
from chorus.jobs import OutboxRow
from tests.support import (
    PASSWORD,
    assert_problem,
    body_of,
    login,
    register,
    token_from,
    verified_user,
)

pytestmark = pytest.mark.usefixtures("clean")


async def counts() -> tuple[int, int, int]:
    return (await User.count(), await OutboxRow.count(), await AuthSession.count())


async def test_register_verify_login_me_logout(client: Any, mailbox: Any, worker: Any) -> None:
    user = await register(client, "li.lei@example.com", name="李雷")
    assert user["email"] == "li.lei@example.com"
    assert user["email_verified"] is False
    assert user["roles"] == ["user"]
    assert user["locale"] == "zh-CN"
    assert "password" not in str(user) and "hash" not in str(user)

    assert await worker() == 1
    (msg,) = mailbox.to("li.lei@example.com")
    assert "李雷" in body_of(msg)  # zh-CN template by default
    assert "验证" in str(msg["Subject"])
    token = token_from(msg)
    assert body_of(msg).count("http://chorus.example.com/verify?token=") == 1

    # unverified users may log in
    r = await client.post("/api/v1/auth/login", json={"email": "LI.LEI@example.com", "password": PASSWORD})
    assert r.status_code == 200
    assert r.json()["user"]["email_verified"] is False
    client.cookies.clear()

    r = await client.post("/api/v1/auth/verify", json={"token": token})
    assert r.status_code == 200
    assert r.json()["email_verified"] is True

    headers = await login(client, "li.lei@example.com")
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200
    me = r.json()
    assert set(me) >= {"id", "email", "display_name", "locale", "roles"}
    assert me["email_verified"] is True

    r = await client.post("/api/v1/auth/logout", headers=headers)
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/me", headers=headers), 401, "not_authenticated")


async def test_english_user_gets_english_mail(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "ann@example.com", name="Ann", locale="en")
    await worker()
    (msg,) = mailbox.to("ann@example.com")
    assert "Hello Ann" in body_of(msg)
    assert "verify" in str(msg["Subject"]).lower()


async def test_session_cookie_and_csrf(client: Any, mailbox: Any, worker: Any) -> None:
    await verified_user(client, mailbox, worker, "cookie@example.com")
    r = await client.post("/api/v1/auth/login", json={"email": "cookie@example.com", "password": PASSWORD})
    assert r.status_code == 200
    assert "chorus_session" in r.cookies
    set_cookie = r.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie

    # the cookie alone authenticates reads
    r = await client.get("/api/v1/me")
    assert r.status_code == 200
    csrf = client.cookies.get("csrftoken")
    assert csrf, "a safe request hands out the CSRF cookie"

    # an unsafe cookie-authenticated request without the header is refused, and does nothing
    assert_problem(await client.post("/api/v1/auth/logout"), 403, "csrf")
    assert (await client.get("/api/v1/me")).status_code == 200
    assert_problem(await client.post("/api/v1/auth/logout", headers={"x-csrftoken": "forged"}), 403, "csrf")
    assert (await client.get("/api/v1/me")).status_code == 200

    # with the header it works, and the session is gone afterwards
    r = await client.post("/api/v1/auth/logout", headers={"x-csrftoken": csrf})
    assert r.status_code == 204
    assert_problem(await client.get("/api/v1/me"), 401)


async def test_bearer_requests_need_no_csrf(client: Any, mailbox: Any, worker: Any) -> None:
    headers = await verified_user(client, mailbox, worker, "bearer@example.com")
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204


async def test_wrong_password_and_unknown_email_answer_alike(client: Any) -> None:
    await register(client, "known@example.com")
    before = await counts()
    a = await client.post(
        "/api/v1/auth/login", json={"email": "known@example.com", "password": "wrong-password"}
    )
    b = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"}
    )
    body_a, body_b = assert_problem(a, 401), assert_problem(b, 401)
    assert body_a == body_b
    assert await counts() == before


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"password": PASSWORD, "display_name": "X"}, {"email"}),
        ({"email": "x@example.com", "display_name": "X"}, {"password"}),
        ({"email": "not-an-email", "password": PASSWORD, "display_name": "X"}, {"email"}),
        ({"email": "x@example.com", "password": "short", "display_name": "X"}, {"password"}),
        ({"email": "x@example.com", "password": PASSWORD, "display_name": ""}, {"display_name"}),
        ({"email": "x@example.com", "password": PASSWORD, "display_name": "X", "locale": "fr"}, {"locale"}),
    ],
)
async def test_register_rejects_bad_fields(client: Any, payload: dict[str, Any], fields: set[str]) -> None:
    before = await counts()
    body = assert_problem(await client.post("/api/v1/auth/register", json=payload), 422, "validation")
    reported = {e["field"] for e in body["errors"]}
    assert fields <= reported, body
    assert all(e["message"] for e in body["errors"])
    assert await counts() == before


async def test_register_ignores_privileged_fields(client: Any) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "sneaky@example.com",
            "password": PASSWORD,
            "display_name": "S",
            "roles": ["admin"],
            "email_verified": True,
        },
    )
    assert r.status_code == 201
    assert r.json()["roles"] == ["user"]
    assert r.json()["email_verified"] is False


async def test_register_rejects_malformed_json(client: Any) -> None:
    before = await counts()
    r = await client.post(
        "/api/v1/auth/register",
        content=b'{"email": "x@example.com",',
        headers={"content-type": "application/json"},
    )
    assert_problem(r, 400)
    assert await counts() == before


async def test_duplicate_email_is_409_and_writes_nothing(client: Any) -> None:
    await register(client, "dup@example.com")
    before = await counts()
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": " DUP@example.com ", "password": PASSWORD, "display_name": "Y"},
    )
    body = assert_problem(r, 409, "email_taken")
    assert body["errors"][0]["field"] == "email"
    assert await counts() == before


async def test_verify_rejects_bad_expired_and_reused_tokens(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    await register(client, "tok@example.com")
    await worker()
    token = token_from(mailbox.to("tok@example.com")[0])

    assert_problem(await client.post("/api/v1/auth/verify", json={"token": "garbage"}), 422, "token_invalid")
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    assert_problem(await client.post("/api/v1/auth/verify", json={"token": tampered}), 422, "token_invalid")
    assert_problem(await client.post("/api/v1/auth/verify", json={}), 422, "validation")

    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - (settings.verify_token_hours + 1) * 3600

    user = await User.select(User.id, User.verify_nonce).where(User.email == "tok@example.com").first()
    old = URLSafeTimedSerializer(settings.signing_key(), salt="verify-email", signer=PastSigner).dumps(
        {"u": user["id"], "n": user["verify_nonce"]}
    )
    assert_problem(await client.post("/api/v1/auth/verify", json={"token": old}), 422, "token_expired")
    assert (await User.select(User.email_verified_at).where(User.id == user["id"]).first())[
        "email_verified_at"
    ] is None

    assert (await client.post("/api/v1/auth/verify", json={"token": token})).status_code == 200
    assert_problem(await client.post("/api/v1/auth/verify", json={"token": token}), 422, "token_invalid")


async def test_resend_verification_supersedes_old_link(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "again@example.com")
    await worker()
    first = token_from(mailbox.to("again@example.com")[0])
    r = await client.post("/api/v1/auth/resend-verification", json={"email": "again@example.com"})
    assert r.status_code == 202
    # unknown addresses get the same answer and nothing is queued
    before = await OutboxRow.count()
    r = await client.post("/api/v1/auth/resend-verification", json={"email": "ghost@example.com"})
    assert r.status_code == 202
    assert await OutboxRow.count() == before
    await worker()
    msgs = mailbox.to("again@example.com")
    assert len(msgs) == 2
    second = token_from(msgs[1])
    assert_problem(await client.post("/api/v1/auth/verify", json={"token": first}), 422, "token_invalid")
    assert (await client.post("/api/v1/auth/verify", json={"token": second})).status_code == 200


async def test_login_rate_limit(settings: Any, clean: None) -> None:
    from tests.support import http_client

    limited = settings.model_copy(update={"auth_rate_limit": "3/minute"})
    async with http_client(limited) as c:
        before = await counts()
        for _ in range(3):
            r = await c.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "whatever"})
            assert r.status_code == 401
        r = await c.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "whatever"})
        assert_problem(r, 429, "rate_limited")
        r = await c.post(
            "/api/v1/auth/register",
            json={"email": "rl@example.com", "password": PASSWORD, "display_name": "R"},
        )
        assert_problem(r, 429, "rate_limited")
        assert await counts() == before
        # other endpoints are not limited
        assert (await c.get("/healthz")).status_code == 200


async def test_roles_are_admin_only(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    from chorus.accounts import service

    await service.create_admin(
        email="root@example.com", password=PASSWORD, display_name="Root", settings=settings
    )
    admin = await login(client, "root@example.com")
    user_headers = await verified_user(client, mailbox, worker, "plain@example.com")
    me = (await client.get("/api/v1/me", headers=user_headers)).json()

    url = f"/api/v1/admin/users/{me['id']}/roles"
    assert_problem(await client.put(url, json={"roles": ["moderator"]}), 401)
    assert_problem(await client.put(url, json={"roles": ["admin"]}, headers=user_headers), 403, "forbidden")
    assert_problem(await client.put(url, json={"roles": ["overlord"]}, headers=admin), 422, "validation")
    assert_problem(
        await client.put("/api/v1/admin/users/999999/roles", json={"roles": ["moderator"]}, headers=admin),
        404,
    )
    r = await client.put(url, json={"roles": ["moderator"]}, headers=admin)
    assert r.status_code == 200
    assert r.json()["roles"] == ["moderator", "user"]
    assert (await client.get("/api/v1/me", headers=user_headers)).json()["roles"] == ["moderator", "user"]


async def test_passwords_and_tokens_never_reach_the_logs(
    client: Any, mailbox: Any, worker: Any, caplog: Any
) -> None:
    caplog.set_level("INFO")  # the configured level (CHORUS_LOG_LEVEL)
    secret = "Unforgettable-Passphrase-42"
    r = await client.post(
        "/api/v1/auth/register", json={"email": "quiet@example.com", "password": secret, "display_name": "Q"}
    )
    assert r.status_code == 201
    await worker()
    token = token_from(mailbox.to("quiet@example.com")[0])
    await client.post("/api/v1/auth/verify", json={"token": token})
    r = await client.post("/api/v1/auth/login", json={"email": "quiet@example.com", "password": secret})
    bearer = r.json()["token"]
    await client.get("/api/v1/me", headers={"Authorization": f"Bearer {bearer}"})
    # our records and the libraries we run (arq, litestar); not the test's own SMTP server
    logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("mail.log", "httpx")))
    assert "request_id=" in logs or '"request_id"' in logs  # the access log did run
    assert "send_verification_email" in logs  # and so did the worker's
    for needle in (secret, token, bearer, "quiet@example.com"):
        assert needle not in logs


async def test_request_id_is_echoed(client: Any) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert r.headers["x-request-id"] == "abc12345-trace"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id\r\n"})
    assert r.headers["x-request-id"] != "bad id"
    assert len(r.headers["x-request-id"]) == 32


async def test_accept_language_picks_error_language(client: Any) -> None:
    r = await client.get("/api/v1/me", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert assert_problem(r, 401)["title"] == "Not authenticated"
    r = await client.get("/api/v1/me")
    assert assert_problem(r, 401)["title"] == "需要登录"
