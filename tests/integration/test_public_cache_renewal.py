"""The public cache renews a kept answer shortly before it runs out (issue 15: p99 at 50
connections): one caller makes it again while everyone else is still served the kept one, so
that a crowd reading one address never waits all at once for it to be made again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chorus.merchants.tables import Merchant
from chorus.web.publiccache import REFRESH_AHEAD_SECONDS
from tests.integration.cases_support import PASSWORD, ident, person, report, report_body
from tests.integration.test_public_cache import SHOP, star_shop
from tests.support import http_client

pytestmark = pytest.mark.usefixtures("clean")

SECONDS = 5  # CHORUS_PUBLIC_CACHE_SECONDS here: renewed in its last REFRESH_AHEAD_SECONDS


async def rename(merchant_id: int, name: str) -> None:
    """Behind every cache's back (no transaction: nothing says it changed), so that which
    answer a caller gets shows whether it was kept or made again."""
    await Merchant.update({Merchant.name: name}).where(Merchant.id == merchant_id)


async def test_one_caller_renews_a_kept_answer_before_it_runs_out_and_the_others_are_served_it(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/api/v1/merchants/{first['merchant_id']}"
    async with http_client(settings.model_copy(update={"public_cache_seconds": SECONDS})) as app:
        kept = await app.get(url)
        assert kept.json()["name"] == SHOP
        await rename(first["merchant_id"], "改过的名字")
        assert (await app.get(url)).json()["name"] == SHOP  # kept

        await asyncio.sleep(SECONDS - REFRESH_AHEAD_SECONDS + 0.05)  # less than a second of it left
        one, two = await asyncio.gather(app.get(url), app.get(url))
        assert (one.status_code, two.status_code) == (200, 200)
        # exactly one of them made it again; the other did not wait: it was served the kept one
        assert sorted(r.json()["name"] for r in (one, two)) == sorted([SHOP, "改过的名字"])
        renewed = next(r for r in (one, two) if r.json()["name"] == "改过的名字")
        assert renewed.headers["etag"] != kept.headers["etag"]
        assert renewed.headers["cache-control"] == f"public, max-age={SECONDS}"

        await rename(first["merchant_id"], "第三个名字")
        await asyncio.sleep(1.0)  # past the end of the first answer: the renewed one is served
        again = await app.get(url)
        assert again.json()["name"] == "改过的名字"
        assert again.headers["etag"] == renewed.headers["etag"]
        # and answers 304 to a caller holding it
        assert (await app.get(url, headers={"If-None-Match": renewed.headers["etag"]})).status_code == 304


async def test_a_caller_arriving_after_the_answer_ran_out_gets_it_made_again(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Nothing is served past its seconds, even when nobody renewed it in time."""
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/api/v1/cases/{first['case_id']}"
    async with http_client(settings.model_copy(update={"public_cache_seconds": 1})) as app:
        before = (await app.get(url)).json()
        bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
        await report(client, bob, report_body(SHOP, [ident("qq", "12345678")]))  # through the other app
        await asyncio.sleep(1.1)
        after = await asyncio.gather(*(app.get(url) for _ in range(5)))
        assert before["member_count"] == 1
        assert [r.json()["member_count"] for r in after] == [2] * 5


async def test_an_anonymous_api_read_hands_out_no_cookie_so_shared_caches_may_keep_it(
    client: Any, mailbox: Any, worker: Any
) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    client.cookies.clear()
    for url in (f"/api/v1/cases/{first['case_id']}", f"/api/v1/merchants/{first['merchant_id']}"):
        r = await client.get(url)
        assert r.status_code == 200
        assert "set-cookie" not in r.headers, url  # the first caller too: no CSRF token to hand out
        assert r.headers["cache-control"] == "public, max-age=5", url
    # a page still hands out the CSRF cookie (its forms carry the token)
    page = await client.get(f"/merchants/{first['merchant_id']}")
    assert page.status_code == 200 and "csrftoken" in page.cookies
    # and a signed-in browser's API read does too (its writes with the session cookie need it)
    client.cookies.clear()
    login = await client.post("/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD})
    assert login.status_code == 200 and "csrftoken" not in client.cookies
    me = await client.get("/api/v1/me")
    assert me.status_code == 200 and "csrftoken" in me.cookies
