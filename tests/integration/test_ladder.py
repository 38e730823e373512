"""Each member's path to a refund (issue 16 item 3): the steps for how a member paid and where
they bought, as data (data/escalation_ladder.json), with the 12315 step's name, address and time
limits read from the regulator registry; a member's progress (not started, done, refused, on a
day) round-trips through GET /api/v1/cases/{id}/ladder and PUT …/ladder/{step}; organizers get
counts per step (GET …/ladder-summary), never who; the case page shows the member their next
step and the organizers' page the counts. 4xx: not a member 403, unknown case 404, a step not on
the member's path 404, a bad state or day 422, nothing written."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chorus.ladder import steps as ladder
from chorus.ladder.tables import LadderProgress
from tests.integration.cases_support import INCIDENT, get_ok, ident, person, report, report_body, staff
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, assert_problem, text_of

pytestmark = pytest.mark.usefixtures("clean")

CN_ALL = [s.id for s in ladder.data().sets["cn"].steps]


async def case_of_two(client: Any, mailbox: Any, worker: Any) -> tuple[Any, Any, int]:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice Liu")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob Wang")
    opened = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "12345678")]))
    return alice, bob, opened["case_id"]


async def put(client: Any, who: Any, case_id: int, step: str, body: Any) -> Any:
    return await client.put(f"/api/v1/cases/{case_id}/ladder/{step}", json=body, headers=who.headers)


async def describe(client: Any, who: Any, case_id: int, **fields: str) -> None:
    r = await client.patch(f"/api/v1/cases/{case_id}/membership", json=fields, headers=who.headers)
    assert r.status_code == 200, r.text


def plus_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def test_a_members_ladder_follows_how_they_paid_and_their_progress_round_trips(
    client: Any, mailbox: Any, worker: Any
) -> None:
    _, bob, case_id = await case_of_two(client, mailbox, worker)
    url = f"/api/v1/cases/{case_id}/ladder"

    mine = await get_ok(client, url, bob.headers)
    assert mine["set"] == "cn" and mine["example"] is False
    assert mine["paid_with"] is None and mine["bought_on"] is None
    assert [s["id"] for s in mine["steps"]] == CN_ALL  # not said: every step
    assert mine["next_step"] == "cn-merchant"
    assert all(
        s["progress"] == {"state": "not_started", "happened_on": None, "updated_at": None}
        for s in mine["steps"]
    )

    await describe(client, bob, case_id, paid_with="alipay", bought_on="taobao")
    mine = await get_ok(client, url, bob.headers)
    assert (mine["paid_with"], mine["bought_on"]) == ("alipay", "taobao")
    assert [s["id"] for s in mine["steps"]] == [
        "cn-merchant",
        "cn-taobao",
        "cn-alipay",
        "cn-12315",
        "cn-police",
        "cn-court",
    ]
    by_id = {s["id"]: s for s in mine["steps"]}
    assert by_id["cn-taobao"]["title"] == "在淘宝申请售后或投诉商家"  # the member's language (zh-CN)
    assert by_id["cn-alipay"]["evidence"] == ["payment_receipt", "chat_log"]
    assert (
        by_id["cn-alipay"]["window"]["limit"] is None and by_id["cn-alipay"]["window"]["confirmed"] is False
    )
    # the court's three years, with their source, counted from the incident date the member gave
    court = by_id["cn-court"]["window"]
    assert (court["limit"], court["unit"], court["article"]) == (3, "years", "第一百八十八条")
    assert court["source_url"].startswith("https://") and "诉讼时效期间为三年" in court["text_excerpt"]
    assert court["until"] == plus_years(date.fromisoformat(INCIDENT), 3).isoformat()
    # 12315's window is the rule in force today, exactly as the data has it
    today = datetime.now(UTC).date()
    expected = ladder.find_step("cn-12315").window_on(today)  # type: ignore[union-attr]
    assert (by_id["cn-12315"]["window"] or {}).get("rule") == (expected.rule if expected else None)

    r = await put(client, bob, case_id, "cn-merchant", {"state": "done", "happened_on": "2026-11-01"})
    assert r.status_code == 200, r.text
    assert r.json()["progress"]["state"] == "done" and r.json()["progress"]["happened_on"] == "2026-11-01"
    r = await put(client, bob, case_id, "cn-taobao", {"state": "refused"})  # today when not given
    assert r.status_code == 200, r.text
    mine = await get_ok(client, url, bob.headers)
    states = {s["id"]: (s["progress"]["state"], s["progress"]["happened_on"]) for s in mine["steps"]}
    assert states["cn-merchant"] == ("done", "2026-11-01")
    assert states["cn-taobao"][0] == "refused"
    assert states["cn-taobao"][1] in {today.isoformat(), (today + timedelta(days=1)).isoformat()}
    assert states["cn-alipay"] == ("not_started", None)
    assert mine["next_step"] == "cn-alipay"

    r = await put(client, bob, case_id, "cn-merchant", {"state": "not_started"})
    assert r.status_code == 200 and r.json()["progress"]["state"] == "not_started"
    mine = await get_ok(client, url, bob.headers)
    assert mine["next_step"] == "cn-merchant"
    assert await LadderProgress.count() == 1  # only the refusal is kept


async def test_the_12315_step_reads_the_regulator_registry(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """One fact in one place: the step's name, address and time limits are the registry's, and
    an admin's change there is what the member sees next."""
    _, bob, case_id = await case_of_two(client, mailbox, worker)
    registry = {r["id"]: r for r in (await get_ok(client, "/api/v1/regulators"))["items"]}
    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", bob.headers)
    step = next(s for s in mine["steps"] if s["id"] == "cn-12315")
    reg = registry[step["regulator"]["id"]]
    assert step["regulator"]["name"] == reg["name"] == "全国12315平台（国家市场监督管理总局）"
    assert step["regulator"]["address"] == reg["address"]
    assert step["regulator"]["time_limits"] == reg["time_limits"]

    admin = await staff(client, settings, "admin@example.com", "admin")
    r = await client.patch(
        f"/api/v1/regulators/{reg['id']}",
        json={"address": "https://www.12315.cn/cuser/"},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", bob.headers)
    step = next(s for s in mine["steps"] if s["id"] == "cn-12315")
    assert step["regulator"]["address"] == "https://www.12315.cn/cuser/"


async def test_refusals_answer_their_4xx_and_write_nothing(client: Any, mailbox: Any, worker: Any) -> None:
    alice, bob, case_id = await case_of_two(client, mailbox, worker)
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol")
    url = f"/api/v1/cases/{case_id}/ladder"

    assert (await client.get(url)).status_code == 401
    assert_problem(await client.get(url, headers=carol.headers), 403, "not_a_member")
    assert_problem(await put(client, carol, case_id, "cn-merchant", {"state": "done"}), 403, "not_a_member")
    assert_problem(
        await client.get("/api/v1/cases/999999/ladder", headers=bob.headers), 404, "case_not_found"
    )
    assert_problem(
        await put(client, bob, case_id, "cn-nowhere", {"state": "done"}), 404, "ladder_step_not_found"
    )
    assert_problem(
        await put(client, bob, case_id, "uk-chargeback", {"state": "done"}), 404, "ladder_step_not_found"
    )
    await describe(client, bob, case_id, paid_with="alipay")
    # a step for another way of paying is not on the member's path
    assert_problem(
        await put(client, bob, case_id, "cn-wechatpay", {"state": "done"}), 404, "ladder_step_not_found"
    )
    assert_problem(await put(client, bob, case_id, "cn-merchant", {"state": "finished"}), 422)
    assert_problem(await put(client, bob, case_id, "cn-merchant", {}), 422)
    future = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    problem = assert_problem(
        await put(client, bob, case_id, "cn-merchant", {"state": "done", "happened_on": future}),
        422,
        "date_in_future",
    )
    assert problem["errors"][0]["field"] == "happened_on"
    r = await client.patch(
        f"/api/v1/cases/{case_id}/membership", json={"paid_with": "bitcoin"}, headers=bob.headers
    )
    problem = assert_problem(r, 422, "ladder_choice_invalid")
    assert problem["errors"][0]["field"] == "paid_with"
    assert_problem(
        await client.get(f"/api/v1/cases/{case_id}/ladder-summary", headers=bob.headers),
        403,
        "organizers_only",
    )
    assert await LadderProgress.count() == 0
    mine = await get_ok(client, url, bob.headers)
    assert mine["paid_with"] == "alipay" and mine["next_step"] == "cn-merchant"
    # "" clears what was said
    await describe(client, bob, case_id, paid_with="")
    assert (await get_ok(client, url, bob.headers))["paid_with"] is None
    assert alice  # the organizer is untouched


async def test_organizers_see_counts_per_step_never_who(client: Any, mailbox: Any, worker: Any) -> None:
    alice, bob, case_id = await case_of_two(client, mailbox, worker)
    carol = await person(client, mailbox, worker, "carol@example.com", "Carol Zhang")
    await report(client, carol, report_body("星辰卡盟", [ident("qq", "12345678")]))
    await describe(client, bob, case_id, paid_with="alipay", bought_on="taobao")
    await describe(client, carol, case_id, paid_with="wechat_pay")
    assert (
        await put(client, bob, case_id, "cn-merchant", {"state": "done", "happened_on": "2026-11-02"})
    ).status_code == 200
    assert (await put(client, carol, case_id, "cn-merchant", {"state": "done"})).status_code == 200
    assert (await put(client, carol, case_id, "cn-wechatpay", {"state": "refused"})).status_code == 200

    r = await client.get(f"/api/v1/cases/{case_id}/ladder-summary", headers=alice.headers)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert (summary["members"], summary["described"], summary["finished"]) == (3, 2, 0)
    counts = {s["id"]: (s["applies"], s["done"], s["refused"], s["next_for"]) for s in summary["steps"]}
    assert counts["cn-merchant"] == (3, 2, 0, 1)  # alice has not started
    # bob bought on taobao; alice and carol did not say where: every platform's step is theirs,
    # and taobao's, the first after the merchant, is next for bob and carol
    assert counts["cn-taobao"] == (3, 0, 0, 2)
    assert counts["cn-pinduoduo"] == (2, 0, 0, 0)
    assert counts["cn-wechatpay"] == (2, 0, 1, 0)  # carol (refused) and alice (not said)
    assert "cn-alipay" in counts and counts["cn-alipay"][0] == 2
    # counts only: no member's id, name, e-mail or day anywhere in the answer
    text = r.text
    for word in ("Bob", "Carol", "bob@example.com", "carol@example.com", "2026-11-02", "user", "membership"):
        assert word not in text, word
    assert set(summary) == {"case_id", "set", "members", "described", "finished", "steps"}
    assert all(
        set(s) == {"id", "stage", "title", "applies", "done", "refused", "next_for"} for s in summary["steps"]
    )


async def test_the_ladder_sets_are_public_data(client: Any) -> None:
    sets = (await get_ok(client, "/api/v1/ladders"))["items"]
    assert {(s["name"], s["default"], s["example"]) for s in sets} == {
        ("cn", True, False),
        ("uk-example", False, True),
    }
    uk = await get_ok(client, "/api/v1/ladders/uk-example", {"Accept-Language": "en"})
    assert uk["example"] is True and uk["steps"][0]["stage"] == "merchant"
    court = next(s for s in uk["steps"] if s["id"] == "uk-small-claims")
    assert court["window"]["limit"] == 6 and court["window"]["article"] == "section 5"
    assert court["title"].startswith("Example")
    assert all(s["progress"] is None for s in uk["steps"])
    assert_problem(await client.get("/api/v1/ladders/nowhere"), 404, "ladder_set_not_found")


def step_open(html: str, step: str) -> bool:
    """Whether the case page shows this ladder step opened (its details and progress form)."""
    found = re.search(rf'<li id="ladder-{step}"[^>]*>\s*<details( open)?>', html)
    assert found, step
    return found.group(1) is not None


def in_the_box(html: str, case_id: int, step: str) -> bool:
    """Whether this step is the member's next: its details and its one progress form in the
    "你的下一步" box, its line in the list pointing there."""
    box = html.split('id="ladder-next"', 1)[1].split('class="ladder-steps"', 1)[0]
    line = re.search(
        rf'<li id="ladder-{step}"[^>]*>\s*<p class="ladder-step-next"><a href="#ladder-next">', html
    )
    form = f'action="/cases/{case_id}/ladder/{step}"'
    return line is not None and form in box and html.count(form) == 1


async def test_the_case_page_shows_the_member_their_next_step_and_organizers_the_counts(
    client: Any, mailbox: Any, worker: Any
) -> None:
    from chorus.web.auth import SESSION_COOKIE

    alice, bob, case_id = await case_of_two(client, mailbox, worker)

    async def browse_as(who: Any) -> str:
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, who.headers["Authorization"].removeprefix("Bearer "))
        r = await client.get(f"/cases/{case_id}")
        assert r.status_code == 200, r.text
        return r.text

    html = await browse_as(bob)
    assert 'id="ladder"' in html
    next_part = text_of(html.split('id="ladder-next"', 1)[1].split("</div>", 1)[0])
    assert "先向商家书面要求退款" in next_part
    # Chinese punctuation in Chinese sentences, each put together in the catalog
    words = text_of(html.split('<section id="ladder"', 1)[1].split("</section>", 1)[0])
    assert "你的下一步：先向商家书面要求退款" in words
    assert "依据：《中华人民共和国民法典》第一百八十八条（未经官方文本核实）" in words
    assert re.search(r"时限未查明（[^）]+）：请尽早办理", words)
    assert ": " not in words and " (" not in words, words
    assert re.search(r"（来自监管机构登记）：决定是否受理：\d+ 个工作日", html), "no space after ："
    csrf = csrf_of(Page(html))

    r = await client.post(
        f"/cases/{case_id}/ladder",
        data={"_csrf_token": csrf, "paid_with": "wechat_pay", "bought_on": "pinduoduo"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/cases/{case_id}#ladder")
    r = await client.post(
        f"/cases/{case_id}/ladder/cn-merchant",
        data={"_csrf_token": csrf, "state": "done", "happened_on": "2026-11-03"},
    )
    assert r.status_code == 303, r.text
    html = (await client.get(f"/cases/{case_id}")).text
    text = text_of(html)
    # the notice is where the browser lands (#ladder), under the part's heading, not at the top
    # of the page out of sight; shown once
    above, part = html.split('<section id="ladder"', 1)
    assert "进度已保存" in part.split('id="ladder-next"', 1)[0] and "进度已保存" not in above
    assert "进度已保存" not in (await client.get(f"/cases/{case_id}")).text
    next_part = text_of(html.split('id="ladder-next"', 1)[1].split("</div>", 1)[0])
    assert "在拼多多申请售后或投诉商家" in next_part  # the next step now
    assert "在微信支付发起交易投诉" in text and "在支付宝发起交易投诉" not in text
    assert "已完成" in text

    # a bad state through the form: the page again, the refusal above the part, nothing written
    r = await client.post(
        f"/cases/{case_id}/ladder/cn-pinduoduo", data={"_csrf_token": csrf, "state": "maybe"}
    )
    assert r.status_code == 422 and 'id="form-error"' in r.text
    # each step is one line until opened: the next one's details and form are in the box above
    # the list; a step whose form was refused is open again, so its form is in sight
    assert in_the_box(html, case_id, "cn-pinduoduo") and not step_open(html, "cn-wechatpay")
    assert not in_the_box(html, case_id, "cn-wechatpay")
    r = await client.post(
        f"/cases/{case_id}/ladder/cn-wechatpay",
        data={"_csrf_token": csrf, "state": "done", "happened_on": "2999-01-01"},
    )
    assert r.status_code == 422 and 'id="form-error"' in r.text
    assert step_open(r.text, "cn-wechatpay") and in_the_box(r.text, case_id, "cn-pinduoduo")
    assert not step_open(r.text, "cn-court")
    r = await client.post(f"/cases/{case_id}/ladder/cn-alipay", data={"_csrf_token": csrf, "state": "done"})
    assert r.status_code == 404 and "你的维权路径上没有这一步" in r.text
    assert await LadderProgress.count() == 1

    # the organizers' page: counts, never who
    r = await client.get(f"/cases/{case_id}/organize/ladder")
    assert r.status_code == 403
    await browse_as(alice)
    r = await client.get(f"/cases/{case_id}/organize/ladder")
    assert r.status_code == 200, r.text
    row = text_of(r.text.split('id="ladder-count-cn-merchant"', 1)[1].split("</tr>", 1)[0])
    assert row.split()[-4:] == ["2", "1", "0", "1"]
    assert "Bob" not in r.text and "bob@example.com" not in r.text and "2026-11-03" not in r.text


async def test_the_shop_link_a_member_reported_says_where_they_bought_until_they_say(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    shop = ident("shop", "https://mobile.yangkeduo.com/mall_page.html?mall_id=778899")
    opened = await report(client, alice, report_body("星辰卡盟", [shop]))
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "12345678")], case_id=opened["case_id"]))
    case_id = opened["case_id"]

    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", alice.headers)
    assert (mine["bought_on"], mine["bought_on_suggested"]) == (None, "pinduoduo")
    marketplaces = [s["id"] for s in mine["steps"] if s["stage"] == "marketplace"]
    assert marketplaces == ["cn-pinduoduo"]
    assert_problem(
        await put(client, alice, case_id, "cn-taobao", {"state": "done"}), 404, "ladder_step_not_found"
    )
    # bob named no shop: every platform's step
    theirs = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", bob.headers)
    assert theirs["bought_on_suggested"] is None
    assert len([s for s in theirs["steps"] if s["stage"] == "marketplace"]) == 6

    summary = await get_ok(client, f"/api/v1/cases/{case_id}/ladder-summary", alice.headers)
    counts = {s["id"]: s["applies"] for s in summary["steps"]}
    assert counts["cn-pinduoduo"] == 2 and counts["cn-taobao"] == 1 and summary["described"] == 1

    await describe(client, alice, case_id, bought_on="taobao")  # what she says wins
    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", alice.headers)
    assert [s["id"] for s in mine["steps"] if s["stage"] == "marketplace"] == ["cn-taobao"]


async def test_the_account_a_member_paid_into_says_how_they_paid_until_they_say(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Alice reported the merchant's Alipay account she paid into: her steps are a direct
    transfer's (not a checkout's complaint at Alipay or WeChat Pay), and her page says why, the
    choice made for her; what she says wins. Bob reported a QQ number only: every step."""
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    paid_into = ident("alipay", "13800138000")
    opened = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678"), paid_into]))
    case_id = opened["case_id"]
    await report(client, bob, report_body("星辰卡盟", [ident("qq", "12345678")], case_id=case_id))

    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", alice.headers)
    assert (mine["paid_with"], mine["paid_with_suggested"]) == (None, "transfer")
    payments = [s["id"] for s in mine["steps"] if s["stage"] == "payment"]
    assert payments == ["cn-transfer"]
    assert_problem(
        await put(client, alice, case_id, "cn-alipay", {"state": "done"}), 404, "ladder_step_not_found"
    )
    assert (await put(client, alice, case_id, "cn-transfer", {"state": "done"})).status_code == 200
    theirs = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", bob.headers)
    assert theirs["paid_with_suggested"] is None
    assert len([s for s in theirs["steps"] if s["stage"] == "payment"]) == 4

    summary = await get_ok(client, f"/api/v1/cases/{case_id}/ladder-summary", alice.headers)
    counts = {s["id"]: (s["applies"], s["done"]) for s in summary["steps"]}
    assert counts["cn-transfer"] == (2, 1) and counts["cn-alipay"] == (1, 0) and summary["described"] == 1

    await as_user(client, alice)
    html = (await client.get(f"/cases/{case_id}")).text
    await as_user(client, None)
    form = html.split('class="ladder-profile"', 1)[1].split("</form>", 1)[0]
    assert "你举报了商家的收款账户，所以先按“直接转账（银行、支付宝或微信转账）”显示步骤" in text_of(form)
    assert re.search(r'<option value="transfer" selected>', form)
    assert 'aria-describedby="ladder-paid-with-hint"' in form

    await describe(client, alice, case_id, paid_with="alipay")  # what she says wins
    mine = await get_ok(client, f"/api/v1/cases/{case_id}/ladder", alice.headers)
    assert [s["id"] for s in mine["steps"] if s["stage"] == "payment"] == ["cn-alipay"]
