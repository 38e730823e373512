"""The CSRF cookie a safe request hands out is written by Chorus's own middleware (fast path of
Litestar's double-submit check): the same header Litestar writes, a token Litestar's check
accepts, and a caller's existing cookie kept."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.datastructures import Cookie

from tests.integration.cases_support import PASSWORD, person

pytestmark = pytest.mark.usefixtures("clean")


async def test_a_page_hands_out_litestars_own_csrf_cookie_whose_token_its_check_accepts(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    await person(client, mailbox, worker, "alice@example.com", "Alice")
    client.cookies.clear()
    page = await client.get("/login")
    assert page.status_code == 200
    token = page.cookies["csrftoken"]
    expected = Cookie(
        key="csrftoken", value=token, path="/", secure=settings.cookies_secure, httponly=False, samesite="lax"
    ).to_header(header="")
    assert page.headers.get_list("set-cookie") == [expected]
    # the page's form carries the same token
    assert f'value="{token}"' in page.text
    # a second visit with the cookie keeps it: no new cookie
    again = await client.get("/login")
    assert "set-cookie" not in again.headers
    # the token is one Litestar's check accepts for a cookie-authenticated write, and a forged one is refused
    login = await client.post("/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers={"x-csrftoken": token + "0"})).status_code == 403
    assert (await client.post("/api/v1/auth/logout", headers={"x-csrftoken": token})).status_code == 204


async def test_each_first_time_caller_gets_a_token_of_its_own(client: Any) -> None:
    tokens = set()
    for _ in range(3):
        client.cookies.clear()
        r = await client.get("/login")
        tokens.add(r.cookies["csrftoken"])
    assert len(tokens) == 3
