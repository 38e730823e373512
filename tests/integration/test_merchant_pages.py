"""The merchant pages over HTTP (issue 12, items 1 and 2): the check at / and /merchants?q=
finds a reported merchant by its name, QQ, shop link or phone and says so in plain words, as
a whole page without JavaScript or as the results alone for htmx; nothing found gives tips and a
first-report button; the warning page /merchants/{id} shows what the public API shows (personal
identifiers masked), its cases and filings in words, and an Open Graph title for sharing."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chorus.web.pages import Formats
from tests.integration.authorization_support import represent
from tests.integration.cases_support import get_ok, ident, person, report, report_body
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.integration.test_moderation import accepted
from tests.integration.test_pages_foundation import Page

pytestmark = pytest.mark.usefixtures("clean")

EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true"}
PHONE = "13800138000"
BANK_CARD = "6222021234567890128"  # passes Luhn
ZH = Formats("zh-CN")


async def star_shop(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """星辰卡盟 reported by Alice (QQ, phone, Taobao shop; ¥199) and by Bob under another name with
    the same QQ (¥300): one merchant, one case of two."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    first = await report(
        client,
        alice,
        report_body(
            "星辰卡盟", [ident("qq", "12345678"), ident("phone", PHONE), ident("shop", "taobao:123456")]
        ),
    )
    second = await report(client, bob, report_body("晨星游戏", [ident("qq", "1234 5678")], amount="300.00"))
    assert (second["merchant_id"], second["case_id"]) == (first["merchant_id"], first["case_id"])
    return first


def results_of(text: str) -> list[str]:
    """The merchants listed, by their warning page's address."""
    return re.findall(r'<h3><a href="(/merchants/\d+)">', text)


def join_link(text: str, merchant_id: int) -> dict[str, list[str]]:
    """The query of the join button of the listed merchant."""
    block = text.split(f'<a href="/merchants/{merchant_id}">', 1)[1].split("</article>", 1)[0]
    (href,) = re.findall(r'<a href="(/report[^"]*)" role="button">', block)
    return parse_qs(urlsplit(html.unescape(href)).query)


async def check(client: Any, q: str, headers: dict[str, str] | None = None) -> str:
    r = await client.get("/merchants", params={"q": q}, headers=headers or {})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    return str(r.text)


@pytest.mark.parametrize(
    ("q", "matched", "kind"),
    [
        ("星辰卡盟", "匹配：商家名称", None),
        ("晨星游戏", "匹配：商家名称", None),  # the name Bob knew it by
        ("12345678", "匹配：同一个QQ 号", "qq"),
        ("https://shop123456.taobao.com/", "匹配：同一个店铺链接", "shop"),
        ("138 0013 8000", "匹配：同一个电话号码", "phone"),
    ],
)
async def test_the_check_finds_the_merchant_by_name_qq_shop_link_and_phone(
    client: Any, mailbox: Any, worker: Any, q: str, matched: str, kind: str | None
) -> None:
    first = await star_shop(client, mailbox, worker)
    text = await check(client, q)
    assert results_of(text) == [f"/merchants/{first['merchant_id']}"]
    assert "找到 1 个被举报的商家" in text
    assert "2 位受害者举报了这个商家，总损失 ¥499.00。" in text
    assert "正在征集受害者" in text and "还没有向监管部门提交投诉" in text
    assert matched in text
    assert "也叫：晨星游戏" in text
    # join: the report wizard prefilled with the merchant, and the identifier the person typed
    expected = {"name": ["星辰卡盟"]} | ({"kind": [kind], "value": [q]} if kind else {})
    assert join_link(text, first["merchant_id"]) == expected
    assert "我也被骗了，加入投诉" in text
    # the check lists no identifier of the merchant (they are on the warning page, masked)
    assert "****" not in text and (kind == "phone" or PHONE not in text)


async def test_typing_gets_the_results_alone_and_the_form_works_without_javascript(
    client: Any, mailbox: Any, worker: Any
) -> None:
    first = await star_shop(client, mailbox, worker)
    url = f"/merchants/{first['merchant_id']}"
    # its Taobao shop in words on the warning page, not as the key "taobao:123456"
    warning = (await client.get(url)).text
    assert "淘宝店铺 <code>123456</code>" in warning and "taobao:123456" not in warning
    assert "Taobao shop <code>123456</code>" in (await client.get(url, headers=EN)).text

    # without JavaScript: the GET form, answered by a whole page with the results under the box
    page = await check(client, "星辰")
    doc = Page(page)
    assert doc.lang == "zh-CN" and doc.inline == 0 and doc.style_attributes == 0
    assert doc.title.startswith("「星辰」的查询结果")
    (form,) = [f for f in doc.forms if f.get("action") == "/merchants"]
    assert (form.get("method") or "").lower() == "get"
    (box,) = [i for i in doc.inputs if i.get("name") == "q"]
    assert box["value"] == "星辰" and box["type"] == "search"
    assert re.search(rf'<label for="{box["id"]}">', page)
    # as one types, htmx asks the same address for the results and keeps it in the history
    assert box["hx-get"] == "/merchants" and box["hx-target"] == "#check-results"
    assert box["hx-trigger"] == "input changed delay:300ms, search"
    assert box["hx-push-url"] == "true"
    assert results_of(page.split('id="check-results"', 1)[1]) == [url]

    # htmx: the results alone, the same words
    r = await client.get("/merchants", params={"q": "星辰"}, headers=HTMX)
    assert r.status_code == 200 and "HX-Request" in r.headers["vary"]
    fragment = r.text
    assert (
        "<html" not in fragment and "<form" not in fragment and "<header" not in fragment.split("<article")[0]
    )
    assert results_of(fragment) == [url]
    assert "2 位受害者举报了这个商家，总损失 ¥499.00。" in fragment
    # a history restore (back button, cache gone) asks for the whole page
    r = await client.get(
        "/merchants", params={"q": "星辰"}, headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert r.text.lstrip().startswith("<!DOCTYPE html>")

    # the home page carries the same box, its results container empty
    home = (await client.get("/")).text
    assert 'id="check-results"' in home and results_of(home) == []
    (box,) = [i for i in Page(home).inputs if i.get("name") == "q"]
    assert box["hx-get"] == "/merchants" and box["value"] == ""


async def test_nothing_found_gives_tips_and_a_first_report_button(client: Any) -> None:
    text = await check(client, "不存在的小店")
    assert "还没有人举报「不存在的小店」" in text
    assert results_of(text) == []
    for tip in ("担保交易", "绝不私下转账", "聊天记录"):
        assert tip in text
    (href,) = re.findall(r'<a href="(/report[^"]*)" role="button">第一个举报</a>', text)
    assert parse_qs(urlsplit(html.unescape(href)).query) == {"name": ["不存在的小店"]}

    # an identifier goes to the wizard as what it is
    fragment = await check(client, "87654321", HTMX)
    (href,) = re.findall(r'<a href="(/report[^"]*)" role="button">', fragment)
    assert parse_qs(urlsplit(html.unescape(href)).query) == {"kind": ["qq"], "value": ["87654321"]}
    fragment = await check(client, PHONE, HTMX)
    (href,) = re.findall(r'<a href="(/report[^"]*)" role="button">', fragment)
    assert parse_qs(urlsplit(html.unescape(href)).query) == {"kind": ["phone"], "value": [PHONE]}

    # an item's link: the shop's own link may find more
    text = await check(client, "https://item.taobao.com/item.htm?id=1")
    assert "这是商品链接" in text

    en = await check(client, "Nobody Shop", EN)
    assert "No one has reported “Nobody Shop” yet" in en and "escrow" in en
    assert "Be the first to report it" in en


@pytest.mark.parametrize("q", ["", " ", "a", "星"])
async def test_an_empty_or_too_short_query_is_a_hint(client: Any, q: str) -> None:
    for headers in ({}, HTMX):
        text = await check(client, q, headers)
        assert "请输入至少 2 个字符" in text
        assert "还没有人举报" not in text
    r = await client.get("/merchants")
    assert r.status_code == 200 and "请输入至少 2 个字符" in r.text


async def test_a_long_or_odd_query_is_answered_in_words(client: Any) -> None:
    for q in ("星" * 1000, "<script>alert(1)</script>", "%' OR 1=1 --", "\u202e反转"):
        text = await check(client, q)
        assert "还没有人举报" in text
        assert "<script>alert" not in text


async def test_the_results_in_english(client: Any, mailbox: Any, worker: Any) -> None:
    await star_shop(client, mailbox, worker)
    text = await check(client, "12345678", EN)
    assert Page(text).lang == "en"
    assert "2 victims reported this merchant, total loss CN¥499.00." in text
    assert "Matched: the same QQ number" in text and "gathering victims" in text
    assert "I was cheated too: join the complaint" in text


async def filed_and_accepted(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """蓝月卡盟's case (three members) joined by Dave, who adds a phone and a bank card; filed with
    全国12315平台 and accepted."""
    s = await seeded_case(client, mailbox, worker)
    dave = await person(client, mailbox, worker, "dave@example.com", "Dave")
    joined = await report(
        client,
        dave,
        report_body(
            "蓝月游戏", [ident("qq", "55667788"), ident("phone", PHONE), ident("bank_card", BANK_CARD)]
        ),
    )
    assert joined["case_id"] == s["case"]
    await consent(client, s, "org", "ann")
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints",
        headers=s["org"],
        json={"regulator_id": await regulator_id(client)},
    )
    assert r.status_code == 201, r.text
    await represent(client, s["case"], s["org"], r.json()["id"], s["ann"])  # 12315 expects them
    r = await client.post(
        f"/api/v1/cases/{s['case']}/filings", headers=s["org"], json={"complaint_id": r.json()["id"]}
    )
    assert r.status_code == 202, r.text
    r = await client.post(
        f"/api/v1/filings/{r.json()['id']}/events",
        headers=s["org"],
        json={"status": "accepted", "note": "已受理"},
    )
    assert r.status_code == 201, r.text
    return {**s, "merchant": joined["merchant_id"]}


async def test_the_warning_page_says_what_the_api_says_with_personal_identifiers_masked(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await filed_and_accepted(client, mailbox, worker)
    api = await get_ok(client, f"/api/v1/merchants/{s['merchant']}")
    case = await get_ok(client, f"/api/v1/cases/{s['case']}")
    r = await client.get(f"/merchants/{s['merchant']}")
    assert r.status_code == 200
    text = r.text
    doc = Page(text)
    assert doc.lang == "zh-CN" and doc.inline == 0 and doc.style_attributes == 0
    assert "<h1>蓝月卡盟</h1>" in text and "也叫：蓝月游戏" in text

    # identifiers exactly as the API shows them: the personal ones masked, never whole
    kinds = {i["kind"] for i in api["identifiers"]}
    assert {"qq", "phone", "bank_card", "alipay"} <= kinds
    for i in api["identifiers"]:
        assert f"<code>{html.escape(i['value'])}</code>" in text, i
    for whole in (PHONE, "+86" + PHONE, "138 0013 8000", BANK_CARD, "55667788", "pay@bluemoon-shop.com"):
        assert whole not in text, whole
    assert "**** **** **** 0128" in text and "银行卡号" in text

    # members, loss, case status and filings in words
    loss = " + ".join(ZH.money(Decimal(t["amount"]), t["currency"]) for t in case["total_loss"])
    assert case["member_count"] == 4
    assert f"4 位受害者举报了这个商家，总损失 {loss}。" in text
    assert "正在投诉" in text  # the case is filing
    today = ZH.date(datetime.now(UTC))
    assert f"{today} 提交至 全国12315平台" in text and "已受理" in text
    assert f'href="/cases/{s["case"]}"' in text
    assert "我也被骗了，加入投诉" in text and "/report?name=" in text

    # shared in a chat: what it is, before anyone opens it
    assert doc.meta["og:title"] == "⚠ 蓝月卡盟 — 4 位受害者举报了这个商家"
    assert doc.meta["og:description"].startswith(f"总损失 {loss}。")
    assert doc.meta["og:url"].endswith(f"/merchants/{s['merchant']}") and doc.meta["og:type"] == "article"
    assert doc.title.startswith("⚠ 蓝月卡盟")

    # and the check says the same in one line
    text = await check(client, "55667788")
    assert f"4 位受害者举报了这个商家，总损失 {loss}。" in text
    assert re.search(rf"他们的投诉自 {today} 起已提交至全国12315平台[^，]*，当前状态：已受理。", text)


async def test_the_warning_page_in_english(client: Any, mailbox: Any, worker: Any) -> None:
    s = await filed_and_accepted(client, mailbox, worker)
    text = (await client.get(f"/merchants/{s['merchant']}", headers=EN)).text
    doc = Page(text)
    assert doc.lang == "en"
    assert doc.meta["og:title"] == "⚠ 蓝月卡盟 — 4 victims reported this merchant"
    assert "Filed with 全国12315平台" in text and "accepted" in text and "bank card number" in text
    assert BANK_CARD not in text


async def test_a_merchant_reported_once_reads_in_the_singular(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    a = await report(client, alice, report_body("Lonely Cards", [ident("domain", "lonely-cards.com")]))
    text = (await client.get(f"/merchants/{a['merchant_id']}", headers=EN)).text
    assert Page(text).meta["og:title"] == "⚠ Lonely Cards — 1 victim reported this merchant"
    assert "1 victim reported this merchant, loss CN¥199.00." in text
    assert "lonely-cards.com" in text  # a domain is not personal: shown whole
    text = await check(client, "https://www.lonely-cards.com/shop", EN)
    assert "Matched: the same domain" in text
    query = join_link(text, a["merchant_id"])
    assert query == {
        "name": ["Lonely Cards"],
        "kind": ["url"],
        "value": ["https://www.lonely-cards.com/shop"],
    }


async def test_an_unknown_merchant_is_the_404_page(client: Any) -> None:
    for path in ("/merchants/987654", "/merchants/99999999999999999999", "/merchants/0"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.headers["content-type"].startswith("text/html")
        assert "找不到这个页面" in r.text


async def test_a_merged_merchant_leads_to_the_merchant_it_became(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await accepted(client, mailbox, worker, settings)
    a, b = world["a"], world["b"]
    r = await client.get(f"/merchants/{b['merchant_id']}")
    assert r.status_code == 301 and r.headers["location"] == f"/merchants/{a['merchant_id']}"
    text = (await client.get(r.headers["location"])).text
    assert "3 位受害者举报了这个商家，总损失 ¥309.00。" in text
    # the source's case, emptied into the survivor's, is not shown twice
    assert f"案件 #{b['case_id']}" not in text and f"案件 #{a['case_id']}" in text
    # the check no longer lists the merged merchant, only the survivor
    assert results_of(await check(client, "晨星游戏")) == [f"/merchants/{a['merchant_id']}"]
