"""The moderators' pages (issue 13 item 7): /moderation shows each open merge proposal with both
merchants side by side (names, aliases, identifiers masked as the API masks them, member counts,
first report) and decides it with the moderation service the API calls (merge keeping the chosen
merchant; reject only with a reason, refused on its field otherwise, nothing changed); a direct
merge found by the merchant search and confirmed on a page that says what will happen; claimed
identifiers and names confirmed one by one. Nobody but moderators (and admins) gets in."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from tests.integration.cases_support import (
    TABLES,
    get_ok,
    ident,
    person,
    report,
    report_body,
    staff,
)
from tests.integration.test_claimed_identifiers import LEGIT_NAME, scam_case_with_a_claim
from tests.integration.test_moderation import open_proposals, two_merchants_and_a_proposal
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, row_counts, text_of

pytestmark = pytest.mark.usefixtures("clean")


def section(html: str, ident_: str) -> str:
    """The element with this id, up to the next element with an id of the same kind."""
    start = html.index(f'id="{ident_}"')
    end = html.find('<article class="proposal"', start + 1)
    return html[start : end if end > 0 else len(html)]


async def token(client: Any, path: str = "/moderation") -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(Page(r.text))


async def test_a_moderator_compares_the_pair_and_merges_their_cases(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = w["a"], w["b"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)

    await as_user(client, moderator)
    r = await client.get("/moderation")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "no-store" in r.headers.get("cache-control", "")
    html = r.text
    # the header leads moderators here (admins also to the registry)
    assert 'href="/moderation" aria-current="page"' in html and 'href="/admin"' not in html
    card = section(html, f"proposal-{proposal['id']}")
    sides = re.findall(r'<div class="side">(.*?)</dl>', card, re.S)
    assert len(sides) == 2, card
    left, right = text_of(sides[0]), text_of(sides[1])
    assert "星辰卡盟" in left and f"#{a['merchant_id']}" in left
    assert "晨星游戏" in right and f"#{b['merchant_id']}" in right
    assert "QQ 号" in left and "电话号码" in right
    # identifiers masked as the public API masks them, never in full
    shown_a = [
        i["value"] for i in (await get_ok(client, f"/api/v1/merchants/{a['merchant_id']}"))["identifiers"]
    ]
    shown_b = [
        i["value"] for i in (await get_ok(client, f"/api/v1/merchants/{b['merchant_id']}"))["identifiers"]
    ]
    assert all(v in sides[0] for v in shown_a) and all(v in sides[1] for v in shown_b)
    assert "12345678" not in html and "13800138000" not in html
    # member counts and the first report's day
    assert f"案件 #{a['case_id']}" in left and "3 人" in left  # Alice, Bob, Carol
    assert f"案件 #{b['case_id']}" in right and "2 人" in right  # Bob, Alice
    assert re.search(r"首次被举报 \d{4}年\d{1,2}月\d{1,2}日", left), left
    assert "两边共有的标识类型：" in text_of(card) and "电话号码" in text_of(card)
    # the decision form: keep the older merchant by default, a reason box, two buttons
    page = Page(html)
    (form,) = [f for f in page.forms if f.get("action") == f"/moderation/proposals/{proposal['id']}/merge"]
    assert form.get("method") == "post"
    assert re.search(rf'name="target_id" value="{a["merchant_id"]}" checked', card)
    assert f'formaction="/moderation/proposals/{proposal["id"]}/reject"' in card
    assert re.search(r'<label for="f-p\d+-note">理由</label>', card)

    r = await client.post(
        f"/moderation/proposals/{proposal['id']}/merge",
        data={"target_id": str(a["merchant_id"]), "note": "同一个QQ", "_csrf_token": csrf_of(page)},
    )
    assert r.status_code == 303 and r.headers["location"] == "/moderation", r.text
    after = await client.get("/moderation")
    assert f"已合并：案件 #{a['case_id']} 现在共有 3 位成员。" in text_of(after.text)
    assert "目前没有待处理的合并提议。" in after.text  # the empty state, with what to do next
    assert 'href="/moderation/merge"' in after.text
    # the cases are one: B's members are in A's case
    assert (await get_ok(client, f"/api/v1/merchants/{b['merchant_id']}"))["merged_into"] == a["merchant_id"]
    assert (await get_ok(client, f"/api/v1/cases/{b['case_id']}"))["merged_into"] == a["case_id"]
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}"))[
        "member_count"
    ] == 3  # Bob and Alice were in both
    assert await open_proposals(client, moderator) == []
    (merged,) = await open_proposals(client, moderator, status="merged")
    assert merged["id"] == proposal["id"]


async def test_a_rejection_needs_a_reason_and_changes_nothing_without_one(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await two_merchants_and_a_proposal(client, mailbox, worker)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    (proposal,) = await open_proposals(client, moderator)
    await as_user(client, moderator)
    csrf = await token(client)
    url = f"/moderation/proposals/{proposal['id']}/reject"

    before = await row_counts(TABLES)
    for note in ("", "   "):
        r = await client.post(
            url, data={"target_id": str(w["a"]["merchant_id"]), "note": note, "_csrf_token": csrf}
        )
        assert r.status_code == 422, r.text
        card = section(r.text, f"proposal-{proposal['id']}")
        error = re.search(r'<small id="(f-p\d+-note)-error" class="field-error">([^<]+)</small>', card)
        assert error and error.group(2) == "请填写此项。", card
        assert re.search(rf'<textarea id="{error.group(1)}"[^>]*aria-invalid="true"', card)
        assert 'id="form-error"' in card  # announced above the form
    assert await row_counts(TABLES) == before
    assert [p["id"] for p in await open_proposals(client, moderator)] == [proposal["id"]]

    r = await client.post(url, data={"note": "不同的店，只是QQ相同", "_csrf_token": csrf})
    assert r.status_code == 303, r.text
    assert "已驳回该提议，两个商家保持分开。" in (await client.get("/moderation")).text
    (rejected,) = await open_proposals(client, moderator, status="rejected")
    assert rejected["id"] == proposal["id"]
    for key in ("a", "b"):
        assert (await get_ok(client, f"/api/v1/merchants/{w[key]['merchant_id']}"))["merged_into"] is None
    # deciding it again: the proposal is gone from the list, the refusal said above it (409)
    r = await client.post(url.replace("/reject", "/merge"), data={"_csrf_token": csrf})
    assert r.status_code == 409
    assert "该合并提议已经处理过了。" in r.text and 'id="form-error"' in r.text


async def test_only_moderators_and_admins_get_in(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await two_merchants_and_a_proposal(client, mailbox, worker)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    admin = await staff(client, settings, "root@example.com", "admin")
    (proposal,) = await open_proposals(client, moderator)
    a, b = w["a"]["merchant_id"], w["b"]["merchant_id"]
    gets = [
        "/moderation",
        "/moderation/merge?qa=星辰",
        f"/moderation/merge/confirm?source_id={b}&target_id={a}",
    ]
    gets.append(f"/moderation/merchants/{a}")
    posts = {
        f"/moderation/proposals/{proposal['id']}/merge": {"target_id": str(a)},
        f"/moderation/proposals/{proposal['id']}/reject": {"note": "不是"},
        "/moderation/merge": {"source_id": str(b), "target_id": str(a)},
        f"/moderation/merchants/{a}/identifiers/1/confirm": {},
        f"/moderation/merchants/{a}/aliases/1/confirm": {},
    }
    before = await row_counts(TABLES)
    await as_user(client, w["alice"])  # an organizer of both cases, no moderator
    home = (await client.get("/")).text
    csrf = csrf_of(Page(home))
    assert 'href="/moderation"' not in home  # no link to where one may not go
    for path in gets:
        r = await client.get(path)
        assert r.status_code == 403, path
        assert "您没有权限查看这个页面。" in r.text and "星辰卡盟" not in r.text, path
    for path, data in posts.items():
        r = await client.post(path, data={**data, "_csrf_token": csrf})
        assert r.status_code == 403, (path, r.text[:300])
    await as_user(client, None)
    for path in gets:
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/moderation"), path
    assert await row_counts(TABLES) == before

    await as_user(client, admin)  # an admin holds every role
    r = await client.get("/moderation")
    assert r.status_code == 200 and "星辰卡盟" in r.text and "晨星游戏" in r.text
    assert '<a href="/admin">管理</a>' in r.text  # the header leads admins to their desk too


async def test_a_direct_merge_found_by_search_and_confirmed(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await two_merchants_and_a_proposal(client, mailbox, worker)
    a, b = w["a"], w["b"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    await as_user(client, moderator)

    r = await client.get("/moderation/merge")
    assert r.status_code == 200
    assert 'name="qa"' in r.text and 'name="qb"' in r.text and 'name="source_id"' not in r.text

    r = await client.get("/moderation/merge", params={"qa": "13800138000", "qb": "星辰卡盟"})
    assert r.status_code == 200
    page = Page(r.text)
    (pick,) = [f for f in page.forms if f.get("action") == "/moderation/merge/confirm"]
    assert (pick.get("method") or "get").lower() == "get"
    assert re.search(rf'name="source_id" value="{b["merchant_id"]}"', r.text)  # found by its phone
    assert re.search(rf'name="target_id" value="{a["merchant_id"]}"', r.text)
    assert f"进行中的案件 #{b['case_id']}，2 人" in r.text

    # nothing picked, or the same merchant twice: said in words, nothing happens
    r = await client.get("/moderation/merge/confirm", params={"qa": "13800138000", "qb": "星辰卡盟"})
    assert r.status_code == 422
    assert "请选择要并入的商家。" in r.text and "请选择保留的商家。" in r.text
    assert 'name="source_id"' in r.text  # the searches are still there
    same = {"source_id": a["merchant_id"], "target_id": a["merchant_id"]}
    r = await client.get("/moderation/merge/confirm", params=same)
    assert r.status_code == 422 and "不能把商家与其自身合并。" in r.text
    assert (
        await client.get(
            "/moderation/merge/confirm", params={"source_id": 999999, "target_id": a["merchant_id"]}
        )
    ).status_code == 404

    pair = {"source_id": b["merchant_id"], "target_id": a["merchant_id"]}
    r = await client.get("/moderation/merge/confirm", params={**pair, "qa": "13800138000", "qb": "星辰卡盟"})
    assert r.status_code == 200
    said = text_of(r.text)
    assert "把“晨星游戏”并入“星辰卡盟”" in said
    assert f"案件 #{b['case_id']} 的 2 位成员并入案件 #{a['case_id']}（目前 3 人）" in said
    assert "其他成员会收到通知，请他们对新案件的投诉重新表示同意" in said
    assert "合并无法撤销。" in said
    swap = re.search(r'href="(/moderation/merge/confirm\?[^"]+)"', r.text)
    assert swap and f"source_id={a['merchant_id']}" in unescape(swap.group(1))
    page = Page(r.text)
    (confirm,) = [f for f in page.forms if f.get("action") == "/moderation/merge"]
    assert confirm.get("method") == "post"
    assert await open_proposals(client, moderator)  # looking changed nothing

    r = await client.post(
        "/moderation/merge", data={**{k: str(v) for k, v in pair.items()}, "_csrf_token": csrf_of(page)}
    )
    assert r.status_code == 303 and r.headers["location"] == "/moderation", r.text
    assert f"已合并：案件 #{a['case_id']} 现在共有 3 位成员。" in (await client.get("/moderation")).text
    assert (await get_ok(client, f"/api/v1/merchants/{b['merchant_id']}"))["merged_into"] == a["merchant_id"]
    assert (await get_ok(client, f"/api/v1/cases/{a['case_id']}"))[
        "member_count"
    ] == 3  # Bob and Alice were in both
    assert await open_proposals(client, moderator) == []  # the proposal between them is settled

    # the same merge again: refused in words on the confirmation page, nothing changes
    before = await row_counts(TABLES)
    r = await client.post(
        "/moderation/merge", data={**{k: str(v) for k, v in pair.items()}, "_csrf_token": csrf_of(page)}
    )
    assert r.status_code == 409
    assert "该商家已经被合并。" in r.text and "其中一个商家已经被合并过" in r.text
    assert not [f for f in Page(r.text).forms if f.get("action") == "/moderation/merge"]  # no button
    assert await row_counts(TABLES) == before


async def test_claims_are_listed_unmasked_and_confirmed(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    scam = w["scam"]
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    await as_user(client, moderator)
    url = f"/moderation/merchants/{scam['merchant_id']}"
    r = await client.get(url)
    assert r.status_code == 200
    said = text_of(r.text)
    assert "电话号码： +8613912345678" in said or "电话号码： 13912345678" in said, said
    assert f"{LEGIT_NAME}" in said and "Mallory 于" in said
    forms = [f.get("action") or "" for f in Page(r.text).forms]
    (ident_confirm,) = [f for f in forms if "/identifiers/" in f]
    (alias_confirm,) = [f for f in forms if "/aliases/" in f]

    r = await client.post(ident_confirm, data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 303 and r.headers["location"] == url
    r = await client.get(url)
    assert "已确认这个标识" in r.text and "没有等待审核的标识。" in r.text
    page = await get_ok(client, f"/api/v1/merchants/{scam['merchant_id']}")
    assert "phone" in {i["kind"] for i in page["identifiers"]}
    # confirming it again: 409, said above the list
    r2 = await client.post(ident_confirm, data={"_csrf_token": csrf_of(Page(r.text))})
    assert r2.status_code == 409 and "这个标识已经确认过了。" in r2.text
    r = await client.post(alias_confirm, data={"_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 303
    r = await client.get(url)
    assert "没有等待审核的名称。" in r.text
    assert f"也叫：{LEGIT_NAME}" in text_of(r.text)  # the merchant's card shows its names now
    assert LEGIT_NAME in (await get_ok(client, f"/api/v1/merchants/{scam['merchant_id']}"))["aliases"]


async def test_in_english_and_the_link_to_claims(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    w = await scam_case_with_a_claim(client, mailbox, worker)
    other = await person(client, mailbox, worker, "olga@example.com", "Olga")
    o = await report(client, other, report_body("Other Shop", [ident("qq", "87654321")]))
    from chorus.merchants import service as merchants

    await merchants.propose_merge(w["scam"]["merchant_id"], o["merchant_id"], ["qq:87654321"])
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    r = await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=moderator.headers)
    assert r.status_code == 200, r.text
    await as_user(client, moderator)
    r = await client.get("/moderation")
    assert r.status_code == 200
    said = text_of(r.text)
    assert "Open merge proposals" in said and "Merchant A" in said and "Which merchant stays" in said
    assert f'href="/moderation/merchants/{w["scam"]["merchant_id"]}"' in r.text
    assert "2 claimed identifiers or names to review" in said
    r = await client.get("/moderation/merge", params={"qa": "Scam", "qb": "nothing-like-this"})
    assert "No merchant matches “nothing-like-this”" in text_of(r.text)
