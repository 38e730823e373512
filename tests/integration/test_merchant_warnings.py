"""Public warnings (issue 16 item 4): GET /api/v1/merchants/{id} and the warning page say when
the merchant was last reported (a day, never who) and carry a reappearance alert computed from
the data (a closed case followed by new reports; a merchant tied by a strong identifier to one
whose case is closed, with the names it used); the Atom feed of newly reported merchants
(/feeds/merchants.atom) validates as Atom and holds no personal data; the merchant pages point
to it from their <head>."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from defusedxml import ElementTree

from tests.integration.cases_support import get_ok, ident, person, report, report_body

pytestmark = pytest.mark.usefixtures("clean")

EN = {"Accept-Language": "en"}
ATOM = "{http://www.w3.org/2005/Atom}"
FEED_LINK = '<link rel="alternate" type="application/atom+xml" href="/feeds/merchants.atom"'


def today_in_china() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


async def close(client: Any, who: Any, case_id: int) -> None:
    r = await client.post(f"/api/v1/cases/{case_id}/status", json={"status": "closed"}, headers=who.headers)
    assert r.status_code == 200, r.text


async def test_a_reported_merchant_says_when_it_was_last_reported_and_no_alert(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    first = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    page = await get_ok(client, f"/api/v1/merchants/{first['merchant_id']}")
    assert page["last_reported"] == today_in_china()
    assert page["reappeared"] is None
    assert "Alice" not in str(page) and "alice@example.com" not in str(page)

    r = await client.get(f"/merchants/{first['merchant_id']}", headers=EN)
    assert r.status_code == 200
    assert "Last reported " in r.text
    assert "This merchant is back" not in r.text
    assert FEED_LINK in r.text


async def test_a_merchant_reported_again_after_its_case_closed_shows_the_alert_and_its_new_name(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    first = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await close(client, alice, first["case_id"])
    page = await get_ok(client, f"/api/v1/merchants/{first['merchant_id']}")
    assert page["reappeared"] is None  # closed, and nobody reported it since

    again = await report(client, bob, report_body("月光卡盟", [ident("qq", "1234 5678")], amount="80"))
    assert again["merchant_id"] == first["merchant_id"] and again["case_id"] != first["case_id"]
    page = await get_ok(client, f"/api/v1/merchants/{first['merchant_id']}")
    assert page["reappeared"] == {
        "code": "reappeared",
        "earlier": [
            {
                "merchant_id": first["merchant_id"],
                "name": "星辰卡盟",
                "case_id": first["case_id"],
                "member_count": 1,
                "closed_on": today_in_china(),
                "matched_on": [],
            }
        ],
        "other_names": ["月光卡盟"],
    }
    assert page["last_reported"] == today_in_china()

    text = (await client.get(f"/merchants/{first['merchant_id']}")).text
    assert "这个商家又出现了" in text
    assert f"它的案件 #{first['case_id']} 已于" in text and "之后又有人举报了它" in text
    assert "它用过的其他名字：月光卡盟" in text
    assert "Bob" not in text and "Alice" not in text


async def test_a_merchant_tied_by_a_qq_to_a_closed_case_names_the_old_merchant(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """A (QQ) is reported and its case closed; B (phone) is reported; Carol's report names both
    identifiers: it joins A (the older) and proposes merging A and B on B's phone (nothing is
    merged). B's page warns that it uses the phone of 星辰卡盟, whose case is closed."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    a = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await close(client, alice, a["case_id"])
    b = await report(client, bob, report_body("晨星游戏", [ident("phone", "13800138000")]))
    c = await report(
        client, carol, report_body("星辰", [ident("qq", "12345678"), ident("phone", "+86 138 0013 8000")])
    )
    assert c["merchant_id"] == a["merchant_id"]

    page_b = await get_ok(client, f"/api/v1/merchants/{b['merchant_id']}", headers=EN)
    alert = page_b["reappeared"]
    assert alert is not None
    (earlier,) = alert["earlier"]
    assert earlier["merchant_id"] == a["merchant_id"]
    assert earlier["name"] == "星辰卡盟"
    assert earlier["case_id"] == a["case_id"]
    assert earlier["member_count"] == 1
    assert earlier["matched_on"] == ["phone"]
    assert "星辰卡盟" in alert["other_names"]
    assert page_b["name"] == "晨星游戏"  # nothing merged
    text = (await client.get(f"/merchants/{b['merchant_id']}", headers=EN)).text
    assert "This merchant is back" in text
    assert f"It uses the same phone number as “星辰卡盟”, whose case #{a['case_id']} is closed" in text
    assert f'<a href="/merchants/{a["merchant_id"]}">星辰卡盟</a>' in text


async def test_an_unknown_merchant_is_404(client: Any) -> None:
    r = await client.get("/api/v1/merchants/999999")
    assert r.status_code == 404


def parse_feed(body: bytes) -> Any:
    root = ElementTree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        element = root.find(f"{ATOM}{required}")
        assert element is not None and (element.text or "").strip(), required
    datetime.fromisoformat(root.findtext(f"{ATOM}updated") or "")
    assert root.find(f"{ATOM}author/{ATOM}name") is not None  # feed-level author (RFC 4287 4.1.1)
    self_links = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    feed_id = root.findtext(f"{ATOM}id", "")
    assert feed_id.endswith("/feeds/merchants.atom")
    assert [link.get("href") for link in self_links] == [feed_id]
    return root


def entries(root: Any) -> list[dict[str, Any]]:
    out = []
    for entry in root.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{required}") or "").strip(), required
        link = entry.find(f"{ATOM}link")
        assert link is not None and link.get("href")
        datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "")
        out.append(
            {
                "id": entry.findtext(f"{ATOM}id"),
                "title": entry.findtext(f"{ATOM}title"),
                "href": link.get("href"),
                "summary": entry.findtext(f"{ATOM}summary"),
                "categories": [c.get("term") for c in entry.findall(f"{ATOM}category")],
            }
        )
    return out


async def test_the_feed_of_newly_reported_merchants_is_atom_without_personal_data(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    r = await client.get("/feeds/merchants.atom")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    assert entries(parse_feed(r.content)) == []  # nobody reported anything yet: still a valid feed

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob Wang")
    star = await report(
        client,
        alice,
        report_body(
            "星辰卡盟",
            [ident("qq", "2876543210"), ident("shop", "https://shop104857611.taobao.com/?spm=a1")],
        ),
    )
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "2876543210")], amount="80"))
    moon = await report(
        client, bob, report_body("月光商城", [ident("shop", "https://mall.jd.com/index-1000001.html")])
    )

    r = await client.get("/feeds/merchants.atom", headers=EN)
    assert r.status_code == 200
    feed = entries(parse_feed(r.content))
    base = settings.public_url.rstrip("/")
    assert [(e["title"], e["href"]) for e in feed] == [
        ("月光商城", f"{base}/merchants/{moon['merchant_id']}"),  # newest first
        ("星辰卡盟", f"{base}/merchants/{star['merchant_id']}"),
    ]
    assert [e["categories"] for e in feed] == [["jd"], ["taobao"]]
    assert feed[0]["summary"].startswith("Sells on: JD. First reported ")
    assert "reported by 1 person" in feed[0]["summary"]
    assert "reported by 2–4 people" in feed[1]["summary"]
    body = r.text
    for personal in ("Alice", "Bob", "@example.com", "2876543210", "199.00", "CNY"):
        assert personal not in body, personal

    zh = (await client.get("/feeds/merchants.atom")).content.decode()
    assert "Chorus：新被举报的商家" in zh and "平台：京东。" in zh and "举报人数：2–4 人" in zh


async def test_the_merchant_pages_point_to_the_feed(client: Any, mailbox: Any, worker: Any) -> None:
    for path in ("/", "/merchants?q=%E6%98%9F%E8%BE%B0"):
        r = await client.get(path)
        assert r.status_code == 200
        assert FEED_LINK in r.text, path
    assert re.search(r'<a href="/feeds/merchants.atom"', (await client.get("/merchants/1")).text) is None
