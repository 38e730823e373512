"""Shop links as people paste them, end to end (issue 16 item 1): an item link is refused on its
field in words that ask for the shop's page (the API's 422 problem and the report wizard, zh-CN
and en), nothing written; a JD app link or a share text names the shop, and two spellings of one
shop make one merchant."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.i18n import t
from tests.integration.cases_support import TABLES, ident, person, report, report_body
from tests.integration.test_pages_report import check_region, form, signed_in
from tests.support import assert_problem, row_counts, text_of

pytestmark = pytest.mark.usefixtures("clean")

ITEM = "https://item.taobao.com/item.htm?id=600000000000&spm=a21n57.1.0.0"
JD_APP = (
    "openApp.jdMobile://virtual?params=%7B%22category%22%3A%22jump%22%2C%22des%22%3A%22jshopMain"
    "%22%2C%22shopId%22%3A%221000001%22%7D"
)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_an_item_link_is_refused_on_its_field_asking_for_the_shops_page(
    client: Any, mailbox: Any, worker: Any, locale: str
) -> None:
    who = await person(client, mailbox, worker, "item@example.com")
    before = await row_counts(TABLES)
    body = report_body("星辰卡盟", [ident("qq", "12345678"), ident("shop", ITEM)])
    r = await client.post("/api/v1/reports", json=body, headers={**who.headers, "Accept-Language": locale})
    problem = assert_problem(r, 422, "invalid_identifiers")
    (error,) = problem["errors"]
    assert error["field"] == "merchant.identifiers[1].value"
    assert t("identifier.reason.item_link_not_shop", locale) in error["message"]
    assert ("请打开店铺首页" if locale == "zh-CN" else "open the shop's page") in error["message"]
    assert await row_counts(TABLES) == before


async def test_the_report_wizard_says_so_under_the_link(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "wizard-item@example.com")
    csrf = await signed_in(client, who)
    before = await row_counts(TABLES)
    r = await client.post("/report", data=form(csrf, "星辰卡盟", ("shop", ITEM)))
    assert r.status_code == 422
    assert "请打开店铺首页（在商品页点店铺名）" in text_of(check_region(r.text, 0))
    assert await row_counts(TABLES) == before


async def test_an_app_link_and_a_share_text_of_one_shop_make_one_merchant(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    first = await report(client, alice, report_body("京东星辰店", [ident("shop", JD_APP)]))
    shared = "【京东】https://shop.m.jd.com/shop/home?shopId=1000001&utm_source=iosapp 点击打开"
    second = await report(client, bob, report_body("星辰旗舰", [ident("shop", shared)], amount="80"))
    assert (second["merchant_id"], second["case_id"]) == (first["merchant_id"], first["case_id"])
    page = (await client.get(f"/api/v1/merchants/{first['merchant_id']}")).json()
    assert {"kind": "shop", "value": "jd:1000001"} in page["identifiers"]
