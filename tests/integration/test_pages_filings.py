"""The organizer console's filings page (/cases/{id}/organize/filings): the confirmation says in
words what goes where; filing through the page reaches a protocol-v1 regulator (the stand-in on a
real socket) through a real arq worker, and the page shows what the regulator answered with its
reference and each event's source; manual updates, refused moves in words with nothing written,
withdrawal, an overdue filing with its next step; plain members and outsiders get 403 pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chorus.filings.tables import Filing, FilingEvent
from chorus.i18n import t
from tests.integration.authorization_support import represent
from tests.integration.filing_support import age
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.integration.test_filing_channels import (
    acceptance_reply,
    add_regulator,
    hand_over,
    http_regulator,
    mailed,
    poll,
    quick,
    reply_to,
)
from tests.integration.test_filings import build, written
from tests.integration.test_pages_case import section
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.regulator_standin import Standin
from tests.support import as_user, run_jobs, text_of

pytestmark = pytest.mark.usefixtures("clean")


async def console_case(
    client: Any, mailbox: Any, worker: Any, settings: Any, gateway: Standin
) -> dict[str, Any]:
    """The seeded case (organizer, Ann and Bob with a receipt each; Bob's loss in USD), the
    organizer and Ann consenting, version 1 built for an HTTP (protocol v1) regulator: the
    stand-in. Not filed yet."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    s["regulator"] = await http_regulator(client, settings, gateway.base_url)
    s["v1"] = await build(client, s, s["regulator"])
    s["base"] = f"/cases/{s['case']}/organize/filings"
    return s


def words(html: str) -> str:
    return " ".join(text_of(html).split())


async def get_page(client: Any, who: dict[str, str] | None, path: str, status: int = 200) -> str:
    await as_user(client, who)
    r = await client.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:2000])
    assert r.headers["content-type"].startswith("text/html")
    return str(r.text)


async def post_form(client: Any, path: str, data: dict[str, str], *, page_path: str) -> Any:
    """Post a page form as the browser signed in now does: the CSRF token of a page it loaded."""
    token = csrf_of(Page((await client.get(page_path)).text))
    return await client.post(path, data={**data, "_csrf_token": token})


async def file_through_page(client: Any, s: dict[str, Any]) -> int:
    """The organizer opens the confirmation and presses the button: 303 to the filing."""
    confirm = f"{s['base']}/confirm?complaint_id={s['v1']['id']}"
    r = await post_form(client, s["base"], {"complaint_id": str(s["v1"]["id"])}, page_path=confirm)
    assert r.status_code == 303, r.text
    found = re.fullmatch(rf"{re.escape(s['base'])}#filing-(\d+)", r.headers["location"])
    assert found, r.headers["location"]
    return int(found[1])


async def filed(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> dict[str, Any]:
    """console_case filed through the page, and the worker's jobs run: the stand-in answered."""
    s = await console_case(client, mailbox, worker, settings, gateway)
    await as_user(client, s["org"])
    s["filing"] = await file_through_page(client, s)
    await run_jobs(redis_pool, quick(settings))
    return s


def filing_part(html: str, filing_id: int) -> str:
    return section(html, f"filing-{filing_id}")


# --- the confirmation -----------------------------------------------------------------------------


async def test_the_confirmation_says_what_will_be_sent_where(
    client: Any, mailbox: Any, worker: Any, settings: Any, gateway: Standin
) -> None:
    s = await console_case(client, mailbox, worker, settings, gateway)
    html = await get_page(client, s["org"], s["base"])
    plan = words(section(html, f"plan-{s['v1']['id']}"))
    assert "第 1 版 · 某市市场监督管理局（接口）" in plan
    assert "通过该机构的投诉接口自动发送" in plan
    assert "代表 3 位受害者（其中 2 位署名），附 2 份证据，损失合计 ¥420.00 + US$40.00" in plan
    confirm = f"{s['base']}/confirm?complaint_id={s['v1']['id']}"
    assert f'href="{confirm}"' in html
    assert "还没有提交过投诉" in words(section(html, "filings"))

    page = await get_page(client, s["org"], confirm)
    said = words(page)
    assert "你将把第 1 版投诉书提交给“某市市场监督管理局（接口）”" in said
    assert f"通过该机构的投诉接口（协议 v1）发送到 {gateway.base_url}" in said
    assert "3 位；其中 2 位同意署名" in said and "2 份（同意署名的成员上传的）" in said
    assert "¥420.00 + US$40.00" in said
    assert "不能再修改" in said  # what filing fixes
    (form,) = [f for f in Page(page).forms if f["action"] == s["base"]]
    assert form["method"] == "post"
    assert await Filing.count() == 0  # reading the confirmation wrote nothing
    assert gateway.posts == []
    # both agreed to be named before the text existed: named, but neither has read this version
    assert "读过并同意这一版 0 / 2 位署名成员" in said
    assert "有 2 位署名成员同意署名，但还没有读过并确认这一版的全文" in said
    assert f'href="/cases/{s["case"]}/organize/complaints/{s["v1"]["id"]}#remind"' in page
    for who, left in (("ann", "有 1 位署名成员"), ("org", None)):
        r = await client.post(
            f"/api/v1/cases/{s['case']}/consent",
            headers=s[who],
            json={"consent": True, "complaint_id": s["v1"]["id"]},
        )
        assert r.status_code == 200, r.text
        page = await get_page(client, s["org"], confirm)
        said = words(page)
        assert (left in said) if left else ('id="confirm-unread"' not in page and "还没有读过" not in said)
    assert "读过并同意这一版 2 / 2 位署名成员" in said


async def test_an_e_mail_regulator_is_named_by_its_address_and_a_manual_one_by_its_site(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    by_mail = await add_regulator(
        client, settings, name="某区消费者协会", channel="email", address="complaints@cca.example.org"
    )
    v_mail = await build(client, s, by_mail)
    v_manual = await build(client, s, await regulator_id(client))  # the seeded 12315 platform
    base = f"/cases/{s['case']}/organize/filings"
    said = words(await get_page(client, s["org"], f"{base}/confirm?complaint_id={v_mail['id']}"))
    assert "用电子邮件把投诉书（正文，以及 Markdown 和网页两种附件）发送到 complaints@cca.example.org" in said
    assert "1 位；其中 1 位同意署名" not in said  # the regulator hears of every victim
    assert "3 位；其中 1 位同意署名" in said and "1 份（同意署名的成员上传的）" in said
    said = words(await get_page(client, s["org"], f"{base}/confirm?complaint_id={v_manual['id']}"))
    assert "Chorus 只记录“已提交”这件事，不会发送任何东西" in said and "https://www.12315.cn/" in said


async def test_no_version_yet_says_where_to_build_one(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    html = await get_page(client, s["org"], f"/cases/{s['case']}/organize/filings")
    assert "还没有可以提交的投诉书" in words(section(html, "file"))
    assert f'href="/cases/{s["case"]}/organize/complaints"' in html
    assert 'role="button"' not in section(html, "file")


async def test_an_old_version_s_confirmation_sends_back_to_the_latest(
    client: Any, mailbox: Any, worker: Any, settings: Any, gateway: Standin
) -> None:
    s = await console_case(client, mailbox, worker, settings, gateway)
    v2 = await build(client, s, s["regulator"])
    await as_user(client, s["org"])
    r = await client.get(f"{s['base']}/confirm?complaint_id={s['v1']['id']}")
    assert r.status_code == 303 and r.headers["location"] == s["base"]
    html = (await client.get(s["base"])).text
    assert "那一版已经不是最新版本" in words(html)
    assert f"complaint_id={v2['id']}" in html and f"complaint_id={s['v1']['id']}" not in html
    # the old version posted anyway: refused in words, nothing written
    before = await written()
    r = await post_form(
        client,
        s["base"],
        {"complaint_id": str(s["v1"]["id"])},
        page_path=f"{s['base']}/confirm?complaint_id={v2['id']}",
    )
    assert r.status_code == 409, r.text
    assert "这份投诉已有更新的版本（第 2 版），请提交最新版本" in words(r.text)
    assert await written() == before


# --- filing with a protocol-v1 regulator, through the worker --------------------------------------


async def test_filing_through_the_page_reaches_the_regulator_and_the_page_shows_its_answer(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await console_case(client, mailbox, worker, settings, gateway)
    await as_user(client, s["org"])
    filing_id = await file_through_page(client, s)
    html = (await client.get(s["base"])).text
    assert "已提交到发送队列" in words(html)  # the notice after the redirect
    part = words(filing_part(html, filing_id))
    assert "排队等待提交" in part and "排队中：Chorus 的后台程序会在几分钟内发送" in part
    assert "提交后开始计算" in part
    assert gateway.posts == []  # the page only queued it: the worker sends

    await run_jobs(redis_pool, quick(settings))
    (post,) = gateway.posts
    assert post["headers"]["idempotency-key"] == str(filing_id)
    html = (await client.get(s["base"])).text
    live = filing_part(html, filing_id)
    part = words(live)
    assert "监管部门已登记" in part and "REG-0001" in part
    assert "应在" in part and "前答复是否受理" in part  # the acceptance clock runs
    entries = re.findall(r'<li class="filing-event filing-event-(\w+)">', live)
    assert entries == ["regulator", "worker", "organizer"]  # newest first, each with its source
    assert "来自监管部门" in part and "Chorus 自动记录" in part and "组织者记录" in part
    # the version went: the plan now says a filing is under way instead of offering the button
    assert "这个机构已经有一份还没结束的提交" in words(section(html, "file"))

    # the regulator accepts; the worker's poll records it, and the htmx part shows it alone
    gateway.set_status("REG-0001", "accepted", "已受理，转调解")
    await poll(redis_pool, settings)
    r = await client.get(f"{s['base']}/{filing_id}/live", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "<html" not in r.text and f'id="filing-{filing_id}-live"' in r.text
    assert 'hx-trigger="every 30s"' in r.text
    part = words(r.text)
    assert "状态：已受理" in part and "已受理，转调解" in part and "应在" in part and "前办结" in part
    # without htmx the same address is the page at that filing
    r = await client.get(f"{s['base']}/{filing_id}/live")
    assert r.status_code == 303 and r.headers["location"] == f"{s['base']}#filing-{filing_id}"


async def test_a_manual_update_shows_with_its_source(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    r = await post_form(
        client,
        f"{s['base']}/{s['filing']}/events",
        {"status": "accepted", "reference": "SZ-2026-1107", "note": "电话确认：已受理，转南山所处理。"},
        page_path=s["base"],
    )
    assert r.status_code == 303 and r.headers["location"] == f"{s['base']}#filing-{s['filing']}"
    html = (await client.get(s["base"])).text
    assert "进展已记录" in words(html)
    live = filing_part(html, s["filing"])
    newest = live[live.index('<li class="filing-event') : live.index("</li>")]
    assert 'filing-event-organizer"' in newest
    assert "状态：已受理" in words(newest) and "组织者记录" in words(newest)
    assert "SZ-2026-1107" in words(newest) and "电话确认：已受理，转南山所处理。" in words(newest)
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()
    assert got["reference"] == "SZ-2026-1107" and got["events"][-1]["source"] == "organizer"
    # the status select now offers only what may follow "accepted" (no way back, withdrawal apart)
    update = section(html, f"update-{s['filing']}")
    options = re.findall(r'<option value="(\w*)"', update)
    assert options == ["", "in_mediation", "resolved", "needs_info", "rejected", "closed"]
    # news with the same reference again: the log gives the reference where it first came
    r = await post_form(
        client,
        f"{s['base']}/{s['filing']}/events",
        {"reference": "SZ-2026-1107", "note": "南山所说下周调解。"},
        page_path=s["base"],
    )
    assert r.status_code == 303, r.text
    log = filing_part((await client.get(s["base"])).text, s["filing"]).split('<ol class="filing-timeline">')[
        1
    ]
    assert words(log).count("SZ-2026-1107") == 1
    assert words(log).index("南山所说下周调解") < words(log).index("SZ-2026-1107")


async def e_mail_replies(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> dict[str, Any]:
    """A filing mailed to a regulator, then two replies: the regulator's (它说已受理) and a
    stranger's (proposing nothing). The organizer's browser is signed in."""
    s = await mailed(client, mailbox, worker, settings, redis_pool)
    assert (await hand_over(client, settings, acceptance_reply(s))).status_code == 202
    stranger = reply_to(s["reply_address"], "Re: 投诉", "我也被这家店骗了", "<r9@example.net>")
    stranger = stranger.replace(b"From: complaints@amr.example.gov.cn", b"From: someone@example.net", 1)
    assert b"From: someone@example.net" in stranger
    assert (await hand_over(client, settings, stranger)).status_code == 202
    s["base"] = f"/cases/{s['case']}/organize/filings"
    await as_user(client, s["org"])
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["org"])).json()
    (s["proposal"],) = [e["id"] for e in got["events"] if e["proposed_status"]]
    return s


async def test_e_mail_replies_show_as_they_came_with_their_sender(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await e_mail_replies(client, mailbox, worker, settings, redis_pool)
    html = await get_page(client, s["org"], s["base"])
    live = filing_part(html, s["filing"])
    entries = re.findall(r'<li class="filing-event filing-event-(\w+)">', live)
    assert entries == ["email", "regulator", "worker", "organizer"]
    part = words(live)
    assert "收到回复" in part and "您的投诉已受理，受理编号 AMR-77。" in part
    assert "发件人：someone@example.net" in part and "来自一封邮件（发件地址不属于该机构）" in part
    assert "已用电子邮件发出。" in part  # the worker's note in words, not its code
    assert "sent:email" not in part
    # the regulator's reply was read as saying "accepted": proposed, the status unchanged
    proposal = words(section(live, f"proposal-{s['proposal']}"))
    assert "这封回复看起来是说：“已受理”" in proposal and "只有组织者确认或更正之后" in proposal
    assert re.search(r"<dd><span class=\"status[^>]*>已提交</span>", live)
    assert f'name="confirms_event_id" value="{s["proposal"]}"' in live


async def test_an_organizer_confirms_or_corrects_a_proposed_status(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any
) -> None:
    s = await e_mail_replies(client, mailbox, worker, settings, redis_pool)
    path = f"{s['base']}/{s['filing']}/events"
    # a correction to a status the filing cannot take: refused on that form, in words; nothing written
    before = await FilingEvent.count()
    r = await post_form(
        client,
        path,
        {"confirms_event_id": str(s["proposal"]), "status": "queued", "note": "x"},
        page_path=s["base"],
    )
    assert r.status_code == 409, r.text
    form = section(r.text, f"proposal-{s['proposal']}")
    assert 'id="form-error"' in form and 'aria-invalid="true"' in form
    assert "这份提交现在是“已提交”，不能改为“排队等待提交”" in words(form)
    assert await FilingEvent.count() == before
    # confirmed as proposed (the form's first choice, with its note filled in: one click)
    html = (await client.get(s["base"])).text
    assert "核对了" in section(html, f"proposal-{s['proposal']}")
    r = await post_form(
        client,
        path,
        {"confirms_event_id": str(s["proposal"]), "status": "", "note": "核对了回复：已受理。"},
        page_path=s["base"],
    )
    assert r.status_code == 303, r.text
    html = (await client.get(s["base"])).text
    live = filing_part(html, s["filing"])
    assert "组织者已确认：已受理" in words(section(live, f"proposal-{s['proposal']}"))
    assert 'name="confirms_event_id"' not in live  # answered: no form any more
    assert "回应了一封回复的状态判断" in words(live)
    got = (await client.get(f"/api/v1/filings/{s['filing']}", headers=s["ann"])).json()
    assert got["status"] == "accepted" and got["events"][-1]["confirms_event_id"] == s["proposal"]
    # answering it again: refused in words
    r = await post_form(
        client,
        path,
        {"confirms_event_id": str(s["proposal"]), "status": "", "note": "又一次"},
        page_path=s["base"],
    )
    assert r.status_code == 409
    assert t("errors.filing_proposal_answered", "zh-CN") in words(r.text)


async def test_an_invalid_move_is_refused_in_words_and_nothing_is_written(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    before = await written()
    events = await FilingEvent.count()
    r = await post_form(
        client,
        f"{s['base']}/{s['filing']}/events",
        {"status": "submitted", "reference": "X-1", "note": "写错了"},
        page_path=s["base"],
    )
    assert r.status_code == 409, r.text
    form = section(r.text, f"update-{s['filing']}")
    assert " open" in form.split(">", 1)[0]  # the form comes back open, with what was typed
    assert 'aria-invalid="true"' in form and "写错了" in form
    said = words(form)
    assert "这份提交现在是“监管部门已登记”，不能改为“已提交”" in said
    assert "可以选：已受理、调解中、已解决" in said
    # an empty note: on its field (422)
    r = await post_form(
        client, f"{s['base']}/{s['filing']}/events", {"status": "accepted", "note": "  "}, page_path=s["base"]
    )
    assert r.status_code == 422
    assert "请在备注中说明发生了什么" in words(section(r.text, f"update-{s['filing']}"))
    # a status that is no status at all
    r = await post_form(
        client, f"{s['base']}/{s['filing']}/events", {"status": "approved", "note": "x"}, page_path=s["base"]
    )
    assert r.status_code == 422
    assert await written() == before and await FilingEvent.count() == events
    row = await Filing.select(Filing.status, Filing.reference).where(Filing.id == s["filing"]).first()
    assert row == {"status": "received", "reference": "REG-0001"}


async def test_filing_again_with_a_live_filing_is_refused_in_words(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    before = await written()
    r = await post_form(client, s["base"], {"complaint_id": str(s["v1"]["id"])}, page_path=s["base"])
    assert r.status_code == 409
    assert t("errors.filing_active", "zh-CN") in words(r.text)
    assert await written() == before and len(gateway.posts) == 1


async def test_withdrawing_ends_the_filing_and_the_version_can_be_filed_again(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    html = (await client.get(s["base"])).text
    assert "Chorus 不会通知该机构" in words(section(html, f"withdraw-{s['filing']}"))
    # no reason: refused on the field, nothing written
    before = await written()
    r = await post_form(client, f"{s['base']}/{s['filing']}/withdraw", {"note": ""}, page_path=s["base"])
    assert r.status_code == 422
    form = section(r.text, f"withdraw-{s['filing']}")
    assert 'aria-invalid="true"' in form and "请在备注中说明发生了什么" in words(form)
    assert await written() == before
    r = await post_form(
        client,
        f"{s['base']}/{s['filing']}/withdraw",
        {"note": "改为向区市场监管局投诉。"},
        page_path=s["base"],
    )
    assert r.status_code == 303
    html = (await client.get(s["base"])).text
    part = words(filing_part(html, s["filing"]))
    assert "已撤回" in part and "改为向区市场监管局投诉。" in part and "已结束，不再计算" in part
    assert f'id="withdraw-{s["filing"]}"' not in html  # an ended filing is not withdrawn twice
    assert 'hx-trigger="every' not in filing_part(html, s["filing"])  # nothing more to wait for
    # the regulator is free again: the latest version may be filed (a new filing)
    assert f"complaint_id={s['v1']['id']}" in section(html, "file")
    assert "这一版以前提交过" in words(section(html, "file"))


async def test_an_overdue_filing_says_so_with_the_next_step(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    # time passes: it reached the regulator a month ago, its acceptance deadline passed
    await age(s["filing"], 30)
    html = await get_page(client, s["org"], s["base"])
    part = words(filing_part(html, s["filing"]))
    assert "已超过期限" in part
    assert "下一步：" + t("filing.next_step.ask_acceptance", "zh-CN") in part
    assert "可以先撤回这份提交，再重新提交最新的投诉书" in part


async def test_the_deadline_says_its_rule_and_pauses_while_the_regulator_waits_for_material(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    v1 = await build(client, s, await regulator_id(client))  # the 12315 platform: filed by hand
    await represent(client, s["case"], s["org"])  # 12315 expects a representative (issue 14 item 7)
    base = f"/cases/{s['case']}/organize/filings"
    await as_user(client, s["org"])
    s["base"], s["v1"] = base, v1
    filing_id = await file_through_page(client, s)
    r = await post_form(
        client,
        f"{base}/{filing_id}/events",
        {"status": "received", "reference": "12315-0042", "note": "平台显示已登记。"},
        page_path=base,
    )
    assert r.status_code == 303, r.text
    part = words(filing_part((await client.get(base)).text, filing_id))
    assert "应在" in part and "前答复是否受理" in part
    # the rule in force, as the registry has it (not yet checked against the official text)
    assert "依据：《市场监督管理投诉举报处理办法》" in part and "时限 7 个工作日" in part
    assert "已用 0 个工作日" in part
    assert "这条规定还没有与官方文本核对过" in part
    # the regulator asks for material: the clock pauses, and the page says how it resumes
    r = await post_form(
        client,
        f"{base}/{filing_id}/events",
        {"status": "needs_info", "note": "要求补充付款凭证。"},
        page_path=base,
    )
    assert r.status_code == 303, r.text
    part = words(filing_part((await client.get(base)).text, filing_id))
    assert "暂停计时" in part and "监管部门要求补充材料期间不计时" in part
    assert "前答复是否受理" not in part


async def test_english(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    r = await client.put("/api/v1/me/preferences", headers=s["org"], json={"locale": "en"})
    assert r.status_code == 200, r.text
    html = await get_page(client, s["org"], s["base"])
    part = words(filing_part(html, s["filing"]))
    assert "received by the regulator" in part and "from the regulator" in part and "REG-0001" in part
    assert "decide whether to accept by" in part


# --- who may ---------------------------------------------------------------------------------------


async def test_plain_members_and_outsiders_get_403_pages(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await filed(client, mailbox, worker, settings, redis_pool, gateway)
    base, fid = s["base"], s["filing"]
    before = await written()
    for who in ("ann", "out"):
        await as_user(client, s[who])
        for path in (base, f"{base}/confirm?complaint_id={s['v1']['id']}", f"{base}/{fid}/live"):
            r = await client.get(path, headers={"HX-Request": "true"} if path.endswith("/live") else {})
            assert r.status_code == 403, (who, path, r.status_code)
            assert "REG-0001" not in r.text and gateway.base_url not in r.text
        token = csrf_of(Page((await client.get("/me/cases")).text))
        for path, data in (
            (base, {"complaint_id": str(s["v1"]["id"])}),
            (f"{base}/{fid}/events", {"status": "accepted", "note": "x"}),
            (f"{base}/{fid}/withdraw", {"note": "x"}),
        ):
            r = await client.post(path, data={**data, "_csrf_token": token})
            assert r.status_code == 403, (who, path, r.status_code)
    assert await written() == before
    # signed out: to the login page
    await as_user(client, None)
    r = await client.get(base)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    # a filing of another case through this case's address: not found
    await as_user(client, s["org"])
    r = await client.get(
        f"/cases/{s['case']}/organize/filings/{fid + 1000}/live", headers={"HX-Request": "true"}
    )
    assert r.status_code == 404
