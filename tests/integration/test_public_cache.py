"""The public cache (issue 15): the public reads are answered to anonymous callers from Redis,
shared by every process, with ETag / If-None-Match and a Cache-Control a CDN may honour; a change
(a report, a merge, a filing's new status) shows at once in the process that made it and within
``freshness.REFRESH_SECONDS`` in every other; nothing personal is ever kept or served."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import pytest

from chorus import freshness
from chorus.merchants.tables import Merchant
from tests.integration.cases_support import ident, person, report, report_body
from tests.integration.test_filings import filed_v1
from tests.integration.test_moderation import PROPOSALS, open_proposals, two_merchants_and_a_proposal
from tests.support import http_client

pytestmark = pytest.mark.usefixtures("clean")

SHOP = "星辰卡盟"
SEARCH = f"/api/v1/merchants?q={quote('星辰')}"


async def star_shop(client: Any, mailbox: Any, worker: Any) -> tuple[dict[str, Any], Any]:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liddell")
    first = await report(client, alice, report_body(SHOP, [ident("qq", "12345678")]))
    return first, alice


async def anonymous(client: Any, url: str, **headers: str) -> Any:
    client.cookies.clear()
    return await client.get(url, headers=headers)


def public_reads(first: dict[str, Any]) -> list[str]:
    m, c = first["merchant_id"], first["case_id"]
    return [
        f"/api/v1/cases/{c}",
        SEARCH,
        f"/api/v1/merchants/{m}",
        f"/merchants?q={quote('星辰')}",
        f"/merchants/{m}",
    ]


async def test_public_reads_carry_an_etag_and_answer_304(client: Any, mailbox: Any, worker: Any) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    for url in public_reads(first):
        r = await anonymous(client, url)
        assert r.status_code == 200, (url, r.text)
        etag = r.headers["etag"]
        assert r.headers["cache-control"] in ("public, max-age=5", "private, max-age=5"), url
        again = await client.get(url, headers={"If-None-Match": etag})  # the csrftoken cookie kept
        assert again.status_code == 304 and again.content == b"", url
        assert again.headers["etag"] == etag
        other = await client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content, url
    # a caller that already has its CSRF cookie is handed no cookie: a CDN may keep the answer
    r = await client.get(f"/api/v1/cases/{first['case_id']}")
    assert "set-cookie" not in r.headers and r.headers["cache-control"] == "public, max-age=5"


async def test_a_report_shows_at_once(client: Any, mailbox: Any, worker: Any) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    case_url, merchant_url = f"/api/v1/cases/{first['case_id']}", f"/api/v1/merchants/{first['merchant_id']}"
    before = await anonymous(client, case_url)
    assert before.json()["member_count"] == 1
    assert (await anonymous(client, SEARCH)).json()["items"][0]["member_count"] == 1
    page = await anonymous(client, f"/merchants/{first['merchant_id']}")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    await report(client, bob, report_body("晨星游戏", [ident("qq", "1234 5678")], amount="300.00"))
    after = await anonymous(client, case_url, **{"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.json()["member_count"] == 2
    assert after.headers["etag"] != before.headers["etag"]
    assert (await anonymous(client, SEARCH)).json()["items"][0]["member_count"] == 2
    merchant = (await anonymous(client, merchant_url)).json()
    assert [c["member_count"] for c in merchant["cases"]] == [2]
    assert (await anonymous(client, f"/merchants/{first['merchant_id']}")).text != page.text


async def test_a_merge_shows_at_once(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    from tests.integration.cases_support import staff

    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = world["a"], world["b"]
    source_url = f"/api/v1/merchants/{b['merchant_id']}"
    assert (await anonymous(client, source_url)).json()["merged_into"] is None
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)
    r = await client.post(f"{PROPOSALS}/{proposal['id']}/merge", json={}, headers=moderator.headers)
    assert r.status_code == 200, r.text
    target = r.json()["id"]
    merged = (await anonymous(client, source_url)).json()
    assert merged["merged_into"] == target == a["merchant_id"]
    page = await anonymous(client, f"/merchants/{b['merchant_id']}")  # the page leads to the target
    assert page.status_code == 301 and page.headers["location"] == f"/merchants/{target}"


async def test_a_filing_status_change_shows_at_once(client: Any, mailbox: Any, worker: Any) -> None:
    s, _, _, filing_id = await filed_v1(client, mailbox, worker)
    url = f"/api/v1/cases/{s['case']}"
    assert [f["status"] for f in (await anonymous(client, url)).json()["filings"]] == ["queued"]
    r = await client.post(
        f"/api/v1/filings/{filing_id}/events",
        headers=s["org"],
        json={"status": "submitted", "note": "已提交"},
    )
    assert r.status_code == 201, r.text
    assert [f["status"] for f in (await anonymous(client, url)).json()["filings"]] == ["submitted"]


async def test_nothing_personal_is_kept_or_served(client: Any, mailbox: Any, worker: Any) -> None:
    first, alice = await star_shop(client, mailbox, worker)
    token = alice.headers["Authorization"].removeprefix("Bearer ")
    cookie = {"Cookie": f"chorus_session={token}"}
    for url in public_reads(first):
        client.cookies.clear()
        member = await client.get(url, headers=cookie)
        assert member.status_code == 200, url
        assert "etag" not in member.headers, url
        if url.startswith("/api/"):
            assert member.headers["cache-control"] == "no-store"
            by_bearer = await client.get(url, headers=alice.headers)
            assert by_bearer.headers["cache-control"] == "no-store" and "etag" not in by_bearer.headers
        else:
            assert 'action="/logout"' in member.text  # her own header
        public = await anonymous(client, url)
        assert public.headers["cache-control"].endswith("max-age=5"), url
        for personal in ("/logout", alice.email, "/me/cases", "/settings"):
            assert personal not in public.text, (url, personal)
        # and the anonymous copy is never what she is served
        member_again = await client.get(url, headers=cookie)
        assert "etag" not in member_again.headers
        if not url.startswith("/api/"):
            assert 'action="/logout"' in member_again.text


async def test_each_caller_gets_its_own_csrf_token_in_a_cached_page(
    client: Any, mailbox: Any, worker: Any
) -> None:
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/merchants/{first['merchant_id']}"
    tokens, etags = [], []
    for _ in range(2):
        client.cookies.clear()
        r = await client.get(url)
        (token,) = set(re.findall(r'name="_csrf_token" value="([^"]+)"', r.text))
        assert r.cookies["csrftoken"] == token  # the cookie it was handed matches the page's forms
        assert r.headers["cache-control"] == "private, max-age=5"  # a CDN never keeps a handed-out cookie
        tokens.append(token)
        etags.append(r.headers["etag"])
    assert tokens[0] != tokens[1] and etags[0] != etags[1]


async def test_processes_share_the_cache_in_redis(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A second app (another process's) answers from what the first kept in Redis, and sees the
    first one's changes within REFRESH_SECONDS. (Both keep answers a minute: on a loaded machine
    making an app can take longer than the default five seconds.)"""
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/api/v1/merchants/{first['merchant_id']}"
    minute = settings.model_copy(update={"public_cache_seconds": 60})
    async with http_client(minute) as one, http_client(minute) as other:
        kept = await one.get(url)
        # renamed behind every cache's back (no transaction: nothing says it changed)
        await Merchant.update({Merchant.name: "改过的名字"}).where(Merchant.id == first["merchant_id"])
        shared = await other.get(url)
        assert shared.json()["name"] == SHOP and shared.headers["etag"] == kept.headers["etag"]
        # a report through the first app: the second sees it within REFRESH_SECONDS
        bob = await person(one, mailbox, worker, "bob@example.com", "Bob")
        await report(one, bob, report_body("晨星游戏", [ident("qq", "1234 5678")]))
        await asyncio.sleep(freshness.REFRESH_SECONDS + 0.1)
        fresh = (await other.get(url)).json()
        assert fresh["name"] == "改过的名字" and [c["member_count"] for c in fresh["cases"]] == [2]


async def test_nothing_cached_outlives_its_seconds(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """What no commit announced (a change made outside the app) is gone after
    CHORUS_PUBLIC_CACHE_SECONDS (here 1), which is also the max-age given to CDNs."""
    first, _ = await star_shop(client, mailbox, worker)
    url = f"/api/v1/merchants/{first['merchant_id']}"
    async with http_client(settings.model_copy(update={"public_cache_seconds": 1})) as short:
        r = await short.get(url)
        assert r.headers["cache-control"].endswith("max-age=1")
        await Merchant.update({Merchant.name: "改过的名字"}).where(Merchant.id == first["merchant_id"])
        assert (await short.get(url)).json()["name"] == SHOP
        await asyncio.sleep(1.1)
        assert (await short.get(url)).json()["name"] == "改过的名字"


async def test_a_change_to_one_case_leaves_the_other_cases_cached(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Scoped invalidation: a report to case A makes A's summary, A's merchant page and the
    search again, and leaves B's summary and merchant page as they were kept (both merchants
    renamed behind every cache's back, so what is served shows which answers were made again).
    A loss changed in B then makes B's again, and A's stays kept."""
    minute = settings.model_copy(update={"public_cache_seconds": 60})
    async with http_client(minute) as app:
        alice = await person(app, mailbox, worker, "alice@example.com", "Alice")
        carol = await person(app, mailbox, worker, "carol@example.com", "Carol")
        a = await report(app, alice, report_body(SHOP, [ident("qq", "12345678")]))
        b = await report(app, carol, report_body("月光小铺", [ident("qq", "87654321")]))
        bob = await person(
            app, mailbox, worker, "bob@example.com", "Bob"
        )  # (signing up changes nothing public)
        urls = {
            key: (
                f"/api/v1/cases/{c['case_id']}",
                f"/api/v1/merchants/{c['merchant_id']}",
                f"/merchants/{c['merchant_id']}",
            )
            for key, c in (("a", a), ("b", b))
        }
        kept = {url: await anonymous(app, url) for pair in urls.values() for url in pair}
        for c, name in ((a, "改名甲"), (b, "改名乙")):
            await Merchant.update({Merchant.name: name}).where(Merchant.id == c["merchant_id"])

        await report(app, bob, report_body(SHOP, [ident("qq", "12345678")], amount="300.00"))
        case_a = await anonymous(app, urls["a"][0])
        assert case_a.json()["member_count"] == 2 and case_a.json()["merchant"]["name"] == "改名甲"
        assert (await anonymous(app, urls["a"][1])).json()["name"] == "改名甲"
        assert "改名甲" in (await anonymous(app, urls["a"][2])).text
        for url in urls["b"][:2]:  # B's answers are the ones kept: the old name, the same ETag, 304
            again = await anonymous(app, url, **{"If-None-Match": kept[url].headers["etag"]})
            assert again.status_code == 304, url
            assert (await anonymous(app, url)).text == kept[url].text
        page_b = (await anonymous(app, urls["b"][2])).text  # (a page's ETag is the caller's own)
        assert "月光小铺" in page_b and "改名乙" not in page_b

        r = await app.patch(
            f"/api/v1/cases/{b['case_id']}/membership",
            json={"loss": {"amount": "1000.00", "currency": "CNY"}},
            headers=carol.headers,
        )
        assert r.status_code == 200, r.text
        case_b = (await anonymous(app, urls["b"][0])).json()
        assert case_b["merchant"]["name"] == "改名乙"
        assert case_b["total_loss"] == [{"amount": "1000.00", "currency": "CNY"}]
        assert "改名乙" in (await anonymous(app, urls["b"][2])).text
        assert (await anonymous(app, urls["a"][0])).text == case_a.text  # A's kept as it was


async def test_a_change_outside_the_public_reads_empties_no_cache(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A consent, a sign-in or the outbox relay commit without saying what they changed would
    empty every cache; they say they change nothing public, and the kept answer stays."""
    minute = settings.model_copy(update={"public_cache_seconds": 60})
    async with http_client(minute) as app:
        first, alice = await star_shop(app, mailbox, worker)
        url = f"/api/v1/cases/{first['case_id']}"
        kept = await anonymous(app, url)
        await Merchant.update({Merchant.name: "改过的名字"}).where(Merchant.id == first["merchant_id"])
        r = await app.patch(
            url + "/membership", json={"statement": "我付了钱没收到货"}, headers=alice.headers
        )
        assert r.status_code == 200, r.text
        await worker()  # the jobs a report queued, relayed and run
        await person(app, mailbox, worker, "dave@example.com", "Dave")
        assert (await anonymous(app, url)).text == kept.text


# --- what each write shows anew, and what it leaves kept ------------------------------------------
# Each test below keeps the public answers in an app that keeps them a minute, renames every
# merchant behind every cache's back (no transaction: nothing says it changed), then makes one
# change: an answer it shows anew carries the new names at once, an answer it leaves alone is the
# one kept (the same body, 304 to its ETag; a page, whose ETag is the caller's own, the old name).

MINUTE = {"public_cache_seconds": 60}


async def keep(app: Any, urls: list[str]) -> dict[str, Any]:
    kept = {}
    for url in urls:
        kept[url] = await anonymous(app, url)
        assert kept[url].status_code == 200, (url, kept[url].text)
    return kept


async def rename_all_behind_the_caches() -> dict[int, str]:
    """Every merchant gets the name 改名<id>; returns id → new name."""
    names = {}
    for row in await Merchant.select(Merchant.id):
        names[row["id"]] = f"改名{row['id']}"
        await Merchant.update({Merchant.name: names[row["id"]]}).where(Merchant.id == row["id"])
    return names


async def assert_still_kept(app: Any, kept: dict[str, Any], urls: list[str], old_name: str = "") -> None:
    for url in urls:
        if url.startswith("/api/"):
            again = await anonymous(app, url, **{"If-None-Match": kept[url].headers["etag"]})
            assert again.status_code == 304, url
            assert (await anonymous(app, url)).text == kept[url].text, url
        else:
            page = (await anonymous(app, url)).text
            assert old_name in page and "改名" not in page, url


def urls_of(c: dict[str, Any]) -> tuple[str, str, str]:
    """The case's summary, its merchant's API answer and its merchant's page."""
    return (
        f"/api/v1/cases/{c['case_id']}",
        f"/api/v1/merchants/{c['merchant_id']}",
        f"/merchants/{c['merchant_id']}",
    )


OTHER_SHOP = "月光小铺"


async def other_shop(app: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """A merchant and case no test below touches."""
    dave = await person(app, mailbox, worker, "dave@example.com", "Dave")
    return await report(app, dave, report_body(OTHER_SHOP, [ident("qq", "87654321")]))


async def test_a_merge_of_two_open_cases_shows_both_at_once_and_leaves_other_cases_kept(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Accepting a merge proposal folds B's open case into A's: both cases, both merchants and
    the search are shown anew at once; an unrelated merchant's case and pages stay kept."""
    from tests.integration.cases_support import staff

    async with http_client(settings.model_copy(update=MINUTE)) as app:
        world = await two_merchants_and_a_proposal(app, mailbox, worker)
        a, b = world["a"], world["b"]
        other = await other_shop(app, mailbox, worker)
        moderator = await staff(app, settings, "mod@example.com", "moderator")
        search_b = f"/api/v1/merchants?q={quote('晨星游戏')}"
        urls = [*urls_of(a), *urls_of(b), search_b, *urls_of(other)]
        kept = await keep(app, urls)
        assert kept[urls_of(b)[0]].json()["status"] == "gathering"
        names = await rename_all_behind_the_caches()

        (proposal,) = await open_proposals(app, moderator)
        r = await app.post(f"{PROPOSALS}/{proposal['id']}/merge", json={}, headers=moderator.headers)
        assert r.status_code == 200, r.text
        target = (await anonymous(app, urls_of(a)[0])).json()
        assert target["member_count"] == 3 and target["merchant"]["name"] == names[a["merchant_id"]]
        assert target["timeline"][-2:] != kept[urls_of(a)[0]].json()["timeline"][-2:]
        assert {"merged", "merchant_merged"} <= {e["kind"] for e in target["timeline"]}
        source = (await anonymous(app, urls_of(b)[0])).json()
        assert (source["status"], source["merged_into"]) == ("closed", a["case_id"])
        assert source["merchant"] == {"id": a["merchant_id"], "name": names[a["merchant_id"]]}
        merchant_a = (await anonymous(app, urls_of(a)[1])).json()
        assert merchant_a["name"] == names[a["merchant_id"]] and "晨星游戏" in merchant_a["aliases"]
        assert (await anonymous(app, urls_of(b)[1])).json()["merged_into"] == a["merchant_id"]
        assert names[a["merchant_id"]] in (await anonymous(app, urls_of(a)[2])).text
        page_b = await anonymous(app, urls_of(b)[2])
        assert page_b.status_code == 301 and page_b.headers["location"] == f"/merchants/{a['merchant_id']}"
        (found,) = (await anonymous(app, search_b)).json()["items"]
        assert (found["id"], found["open_case_id"]) == (a["merchant_id"], a["case_id"])

        await assert_still_kept(app, kept, list(urls_of(other)), OTHER_SHOP)


async def test_a_merchant_merge_moves_the_case_at_once_and_leaves_other_merchants_kept(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A direct merge into a merchant whose case is closed: the source's open case now belongs
    to the target (its summary names the target), the target's page lists it, the source's page
    leads there and the search finds the target by the source's name; an unrelated merchant stays
    kept, and so does the target's closed case, which the merge did not change."""
    from tests.integration.cases_support import staff

    async with http_client(settings.model_copy(update=MINUTE)) as app:
        alice = await person(app, mailbox, worker, "alice@example.com", "Alice")
        bob = await person(app, mailbox, worker, "bob@example.com", "Bob")
        old = await report(app, alice, report_body("Old Shop", [ident("domain", "old-shop.com")]))
        r = await app.post(
            f"/api/v1/cases/{old['case_id']}/status", json={"status": "closed"}, headers=alice.headers
        )
        assert r.status_code == 200, r.text
        new = await report(app, bob, report_body("New Shop", [ident("domain", "new-shop.com")]))
        other = await other_shop(app, mailbox, worker)
        moderator = await staff(app, settings, "mod@example.com", "moderator")
        search_new = "/api/v1/merchants?q=new-shop.com"
        urls = [*urls_of(old), *urls_of(new), search_new, *urls_of(other)]
        kept = await keep(app, urls)
        names = await rename_all_behind_the_caches()

        r = await app.post(
            "/api/v1/moderation/merchants/merge",
            json={"source_id": new["merchant_id"], "target_id": old["merchant_id"]},
            headers=moderator.headers,
        )
        assert r.status_code == 200, r.text
        moved = (await anonymous(app, urls_of(new)[0])).json()
        assert moved["merchant"] == {"id": old["merchant_id"], "name": names[old["merchant_id"]]}
        target = (await anonymous(app, urls_of(old)[1])).json()
        assert {c["id"] for c in target["cases"]} == {old["case_id"], new["case_id"]}
        assert (await anonymous(app, urls_of(new)[1])).json()["merged_into"] == old["merchant_id"]
        assert names[old["merchant_id"]] in (await anonymous(app, urls_of(old)[2])).text
        (found,) = (await anonymous(app, search_new)).json()["items"]
        assert (found["id"], found["open_case_id"]) == (old["merchant_id"], new["case_id"])

        await assert_still_kept(app, kept, list(urls_of(other)), OTHER_SHOP)
        await assert_still_kept(app, kept, [urls_of(old)[0]])


async def test_closing_a_case_shows_at_once_there_and_on_the_tied_merchants_page(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Closing B's case shows at once on its summary, its merchant's answers, the search and the
    page of merchant A, tied to B by an open merge proposal (A's reappearance alert now names B's
    closed case); A's own case and an unrelated merchant stay kept."""
    async with http_client(settings.model_copy(update=MINUTE)) as app:
        world = await two_merchants_and_a_proposal(app, mailbox, worker)
        a, b, bob = world["a"], world["b"], world["bob"]
        other = await other_shop(app, mailbox, worker)
        search_b = f"/api/v1/merchants?q={quote('晨星游戏')}"
        urls = [*urls_of(a), *urls_of(b), search_b, *urls_of(other)]
        kept = await keep(app, urls)
        assert kept[urls_of(a)[1]].json()["reappeared"] is None
        names = await rename_all_behind_the_caches()

        r = await app.post(
            f"/api/v1/cases/{b['case_id']}/status", json={"status": "closed"}, headers=bob.headers
        )
        assert r.status_code == 200, r.text
        closed = (await anonymous(app, urls_of(b)[0])).json()
        assert closed["status"] == "closed" and closed["merchant"]["name"] == names[b["merchant_id"]]
        assert [c["status"] for c in (await anonymous(app, urls_of(b)[1])).json()["cases"]] == ["closed"]
        assert names[b["merchant_id"]] in (await anonymous(app, urls_of(b)[2])).text
        found = {m["id"]: m for m in (await anonymous(app, search_b)).json()["items"]}
        assert found[b["merchant_id"]]["open_case_id"] is None
        tied = (await anonymous(app, urls_of(a)[1])).json()
        assert [e["case_id"] for e in tied["reappeared"]["earlier"]] == [b["case_id"]]
        assert names[a["merchant_id"]] in (await anonymous(app, urls_of(a)[2])).text

        await assert_still_kept(app, kept, [urls_of(a)[0]])
        await assert_still_kept(app, kept, list(urls_of(other)), OTHER_SHOP)


async def test_a_moderator_confirming_a_claim_shows_on_the_merchant_at_once(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A claimed phone and name confirmed by a moderator show at once on the merchant's answers
    and in the search; the merchant's case summary (which shows neither) and an unrelated
    merchant stay kept."""
    from tests.integration.cases_support import staff
    from tests.integration.test_claimed_identifiers import LEGIT_NAME, claims_url, scam_case_with_a_claim

    async with http_client(settings.model_copy(update=MINUTE)) as app:
        w = await scam_case_with_a_claim(app, mailbox, worker)
        scam = w["scam"]
        other = await other_shop(app, mailbox, worker)
        moderator = await staff(app, settings, "mod@example.com", "moderator")
        claims = (await app.get(claims_url(scam["merchant_id"]), headers=moderator.headers)).json()
        (claimed,), (alias,) = claims["identifiers"], claims["aliases"]
        search_phone = "/api/v1/merchants?q=13912345678"
        urls = [*urls_of(scam), search_phone, *urls_of(other)]
        kept = await keep(app, urls)
        assert kept[search_phone].json()["items"] == []
        assert [i["kind"] for i in kept[urls_of(scam)[1]].json()["identifiers"]] == ["domain"]
        names = await rename_all_behind_the_caches()

        base = f"/api/v1/merchants/{scam['merchant_id']}"
        r = await app.post(f"{base}/identifiers/{claimed['id']}/confirm", headers=moderator.headers)
        assert r.status_code == 200, r.text
        merchant = (await anonymous(app, urls_of(scam)[1])).json()
        assert merchant["name"] == names[scam["merchant_id"]]
        assert sorted(i["kind"] for i in merchant["identifiers"]) == ["domain", "phone"]
        assert [m["id"] for m in (await anonymous(app, search_phone)).json()["items"]] == [
            scam["merchant_id"]
        ]
        await assert_still_kept(app, kept, [urls_of(scam)[0], *urls_of(other)], OTHER_SHOP)

        r = await app.post(f"{base}/aliases/{alias['id']}/confirm", headers=moderator.headers)
        assert r.status_code == 200, r.text
        assert LEGIT_NAME in (await anonymous(app, urls_of(scam)[1])).json()["aliases"]
        assert LEGIT_NAME in (await anonymous(app, urls_of(scam)[2])).text
        await assert_still_kept(app, kept, [urls_of(scam)[0], *urls_of(other)], OTHER_SHOP)


async def test_a_member_leaving_shows_at_once_and_leaves_other_cases_kept(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    async with http_client(settings.model_copy(update=MINUTE)) as app:
        first, _ = await star_shop(app, mailbox, worker)
        bob = await person(app, mailbox, worker, "bob@example.com", "Bob")
        await report(app, bob, report_body(SHOP, [ident("qq", "12345678")], amount="300.00"))
        other = await other_shop(app, mailbox, worker)
        urls = [*urls_of(first), SEARCH, *urls_of(other)]
        kept = await keep(app, urls)
        assert kept[urls_of(first)[0]].json()["member_count"] == 2
        names = await rename_all_behind_the_caches()

        r = await app.delete(f"/api/v1/cases/{first['case_id']}/membership", headers=bob.headers)
        assert r.status_code == 204, r.text
        case = (await anonymous(app, urls_of(first)[0])).json()
        assert case["member_count"] == 1 and case["merchant"]["name"] == names[first["merchant_id"]]
        assert case["total_loss"] == [{"amount": "199.00", "currency": "CNY"}]
        assert [c["member_count"] for c in (await anonymous(app, urls_of(first)[1])).json()["cases"]] == [1]
        assert names[first["merchant_id"]] in (await anonymous(app, urls_of(first)[2])).text
        assert (await anonymous(app, SEARCH)).json()["items"][0]["member_count"] == 1

        await assert_still_kept(app, kept, list(urls_of(other)), OTHER_SHOP)


async def test_a_login_and_an_evidence_upload_leave_every_cached_answer_kept(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from tests.integration.test_account_lifecycle import png, upload
    from tests.support import login

    async with http_client(settings.model_copy(update=MINUTE)) as app:
        first, alice = await star_shop(app, mailbox, worker)
        urls = public_reads(first)
        kept = await keep(app, urls)
        await rename_all_behind_the_caches()

        await login(app, alice.email)
        await upload(app, first["case_id"], alice, png(7), "付款截图")
        await assert_still_kept(app, kept, urls, SHOP)


async def test_a_filing_of_a_merged_case_shows_at_once_on_the_case_it_was_folded_into(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A case with a filing is folded into another merchant's case by a merge; the filing's new
    status shows at once on the surviving case's summary, which lists it too."""
    from tests.integration.cases_support import staff

    async with http_client(settings.model_copy(update=MINUTE)) as app:
        s, _, _, filing_id = await filed_v1(app, mailbox, worker)
        r = await app.post(
            "/api/v1/reports",
            headers=s["bob"],
            json=report_body("别家小店", [ident("qq", "99001122")], amount="10.00"),
        )
        assert r.status_code == 201, r.text
        other = r.json()
        source = (await anonymous(app, f"/api/v1/cases/{s['case']}")).json()["merchant"]["id"]
        moderator = await staff(app, settings, "mod@example.com", "moderator")
        r = await app.post(
            "/api/v1/moderation/merchants/merge",
            json={"source_id": source, "target_id": other["merchant_id"]},
            headers=moderator.headers,
        )
        assert r.status_code == 200, r.text
        url = f"/api/v1/cases/{other['case_id']}"
        assert [(f["id"], f["status"]) for f in (await anonymous(app, url)).json()["filings"]] == [
            (filing_id, "queued")
        ]
        r = await app.post(
            f"/api/v1/filings/{filing_id}/events",
            headers=s["org"],
            json={"status": "submitted", "note": "已提交"},
        )
        assert r.status_code == 201, r.text
        assert [f["status"] for f in (await anonymous(app, url)).json()["filings"]] == ["submitted"]


async def test_a_name_link_rejected_shows_at_once_and_one_confirmed_changes_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Reports reaching merchant A by its QQ under two other names are link proposals (the names
    listed meanwhile). Confirming one changes nothing public: every answer stays kept. Rejecting
    the other takes the name off A's answers and the search at once; A's case stays kept."""
    from tests.integration.cases_support import staff

    links = "/api/v1/moderation/link-proposals"
    async with http_client(settings.model_copy(update=MINUTE)) as app:
        first, _ = await star_shop(app, mailbox, worker)
        for email, name in (("carol@example.com", "月光卡铺"), ("erin@example.com", "银河游戏")):
            who = await person(app, mailbox, worker, email, email[:4])
            await report(app, who, report_body(name, [ident("qq", "12345678")]))
        moderator = await staff(app, settings, "mod@example.com", "moderator")
        moon, galaxy = (await app.get(links, headers=moderator.headers)).json()["items"]
        search_galaxy = f"/api/v1/merchants?q={quote('银河游戏')}"
        urls = [*urls_of(first), search_galaxy]
        kept = await keep(app, urls)
        assert "银河游戏" in kept[urls_of(first)[1]].json()["aliases"]
        assert [m["id"] for m in kept[search_galaxy].json()["items"]] == [first["merchant_id"]]
        await rename_all_behind_the_caches()

        r = await app.post(f"{links}/{moon['id']}/confirm", headers=moderator.headers)
        assert r.status_code == 204, r.text
        await assert_still_kept(app, kept, urls, SHOP)

        r = await app.post(f"{links}/{galaxy['id']}/reject", headers=moderator.headers)
        assert r.status_code == 204, r.text
        merchant = (await anonymous(app, urls_of(first)[1])).json()
        assert "银河游戏" not in merchant["aliases"] and "月光卡铺" in merchant["aliases"]
        assert (await anonymous(app, search_galaxy)).json()["items"] == []
        await assert_still_kept(app, kept, [urls_of(first)[0]])
