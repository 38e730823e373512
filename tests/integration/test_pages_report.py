"""The report wizard (/report) as a browser without JavaScript and htmx use it: form posts that
end on the case page with the member's number, refusals in words on their fields with nothing
written, the live identifier check with what a match matched on, two names with one QQ ending in
one case, the statement's sanitized preview, the join button's prefill."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from chorus.web.auth import SESSION_COOKIE
from tests.integration.cases_support import TABLES, Person, person, unverified_person
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import row_counts, text_of

INCIDENT = (date.today() - timedelta(days=3)).isoformat()
HTMX = {"HX-Request": "true"}


async def signed_in(client: Any, who: Person) -> str:
    """Browse as ``who`` (session cookie); returns the CSRF field of the empty wizard."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, who.headers["Authorization"].removeprefix("Bearer "))
    r = await client.get("/report")
    assert r.status_code == 200, r.text
    return csrf_of(Page(r.text))


def form(csrf: str, name: str, *rows: tuple[str, str], **fields: str) -> dict[str, str]:
    """The wizard's fields as a browser posts them (three identifier rows, empty ones too)."""
    data = {
        "_csrf_token": csrf,
        "merchant.name": name,
        "loss.amount": "199.00",
        "loss.currency": "CNY",
        "incident_date": INCIDENT,
        "order_refs": "",
        "statement": "",
        "_action": "submit",
    }
    for i in range(max(3, len(rows))):
        kind, value = rows[i] if i < len(rows) else ("", "")
        data[f"merchant.identifiers[{i}].kind"] = kind
        data[f"merchant.identifiers[{i}].value"] = value
    return {**data, **fields}


def field_error(html: str, field_id: str) -> str:
    """The text of the error shown under a field (``<small id="<field_id>-error">``)."""
    found = re.search(rf'<small id="{re.escape(field_id)}-error" class="field-error">([^<]*)</small>', html)
    assert found, f"no error shown for {field_id}"
    return found[1]


def check_region(html: str, row: int) -> str:
    """The identifier row's live region (what the check says)."""
    found = re.search(
        rf'<div id="check-{row}" class="identifier-check" aria-live="polite">(.*?)</div>\s*</div>', html, re.S
    )
    assert found, f"no check region for row {row}"
    return found[1]


async def my_case_ids(client: Any, who: Person) -> list[int]:
    r = await client.get("/api/v1/me/cases", headers=who.headers)
    assert r.status_code == 200, r.text
    return [c["case_id"] for c in r.json()["items"]]


# --- who may report ---------------------------------------------------------------------------


async def test_anonymous_visitors_log_in_first_and_unverified_people_are_told_to_verify(client: Any) -> None:
    r = await client.get("/report?name=x")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/report%3Fname%3Dx"
    who = await unverified_person(client, "unverified-report@example.com")
    client.cookies.set(SESSION_COOKIE, who.headers["Authorization"].removeprefix("Bearer "))
    r = await client.get("/report")
    assert r.status_code == 403 and "请先验证您的邮箱" in r.text
    assert '<form method="post" action="/report"' not in r.text


async def test_the_empty_wizard_names_its_fields_as_the_api_does(
    client: Any, mailbox: Any, worker: Any
) -> None:
    who = await person(client, mailbox, worker, "empty-wizard@example.com")
    await signed_in(client, who)
    r = await client.get("/report")
    page = Page(r.text)
    assert page.lang == "zh-CN" and "举报商家" in page.title
    assert page.inline == 0 and page.style_attributes == 0
    names = {i.get("name") for i in page.inputs}
    assert {
        "merchant.name",
        "loss.amount",
        "loss.currency",
        "incident_date",
        "order_refs",
        "statement",
    } <= names
    for row in range(3):
        assert {f"merchant.identifiers[{row}].kind", f"merchant.identifiers[{row}].value"} <= names
    assert "merchant.identifiers[3].kind" not in names
    # every field has a visible label
    for field in page.inputs:
        if field.get("type") != "hidden" and field.get("id"):
            assert f'<label for="{field["id"]}">' in r.text, field
    kinds = re.findall(
        r'<option value="([a-z_]*)"',
        r.text.split('id="f-merchant-identifiers-0-kind"')[1].split("</select>")[0],
    )
    assert kinds[0] == "" and {"shop", "qq", "wechat", "phone", "alipay", "bank_card"} <= set(kinds)
    assert "/static/js/report.js" in page.scripts


async def test_prefilled_from_the_join_button(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "prefill@example.com")
    await signed_in(client, who)
    r = await client.get("/report", params={"name": "星辰数码", "kind": "qq", "value": "123456789"})
    page = Page(r.text)
    assert page.field("merchant.name") == "星辰数码"
    assert page.field("merchant.identifiers[0].value") == "123456789"
    assert re.search(r'<option value="qq" selected>', r.text)
    # the prefilled identifier is checked at once (no JavaScript needed)
    assert "QQ 号格式正确" in check_region(r.text, 0)


# --- reporting without JavaScript -------------------------------------------------------------


async def test_a_report_through_the_form_lands_on_its_case_with_the_members_number(
    client: Any, mailbox: Any, worker: Any
) -> None:
    first = await person(client, mailbox, worker, "first-form@example.com", name="甲")
    second = await person(client, mailbox, worker, "second-form@example.com", name="乙")
    csrf = await signed_in(client, first)
    statement = "在闲鱼上看到广告。\r\n\r\n- 付款后**拉黑**"
    r = await client.post(
        "/report",
        data=form(
            csrf,
            "星辰数码",
            ("qq", "123456789"),
            ("shop", ""),
            ("phone", "138 0013 8000"),
            order_refs="A-1001\r\n\r\nA-1002\r\n",
            statement=statement,
        ),
    )
    assert r.status_code == 303, r.text
    (case_id,) = await my_case_ids(client, first)
    assert r.headers["location"] == f"/cases/{case_id}"
    shown = await client.get(r.headers["location"])
    assert "您是第 1 位受害者" in shown.text  # the opener; the notice is shown once
    again = await client.get(r.headers["location"])
    assert "下一步：上传证据" not in again.text
    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=first.headers)).json()
    assert mine["role"] == "organizer" and mine["loss"] == {"amount": "199.00", "currency": "CNY"}
    assert mine["incident_date"] == INCIDENT and mine["order_refs"] == ["A-1001", "A-1002"]
    assert mine["statement"] == "在闲鱼上看到广告。\n\n- 付款后**拉黑**"
    assert {(i["kind"], i["value"]) for i in mine["identifiers"]} == {
        ("qq", "123456789"),
        ("phone", "+8613800138000"),
    }

    csrf = await signed_in(client, second)
    r = await client.post(
        "/report", data=form(csrf, "星辰数码", ("phone", "13800138000"), **{"loss.amount": "50"})
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}"
    assert "您是这个案件的第 2 位受害者" in (await client.get(r.headers["location"])).text


async def test_a_bad_qq_is_refused_on_its_field_in_words_and_nothing_is_written(
    client: Any, mailbox: Any, worker: Any
) -> None:
    who = await person(client, mailbox, worker, "bad-qq@example.com")
    csrf = await signed_in(client, who)
    before = await row_counts(TABLES)
    # the bad QQ in the third row (the second is empty): the error is on the third row
    r = await client.post(
        "/report", data=form(csrf, "星辰数码", ("qq", "123456789"), ("", ""), ("qq", "12ab"))
    )
    assert r.status_code == 422
    region = text_of(check_region(r.text, 2))
    assert "QQ 号无效" in region and "5–11 位数字" in region
    assert "invalid_identifier" not in r.text and "errors." not in r.text
    assert re.search(r'id="f-merchant-identifiers-2-value"[^>]*aria-invalid="true"', r.text)
    assert not re.search(r'id="f-merchant-identifiers-0-value"[^>]*aria-invalid', r.text)
    assert "QQ 号格式正确" in check_region(r.text, 0)  # the good one says so
    assert "有几项需要修改" in r.text  # above the form
    page = Page(r.text)
    assert page.field("merchant.identifiers[2].value") == "12ab" and page.field("merchant.name") == "星辰数码"
    assert await row_counts(TABLES) == before
    assert await my_case_ids(client, who) == []


async def test_every_refusal_is_shown_at_once_on_its_field(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "all-refusals@example.com")
    csrf = await signed_in(client, who)
    before = await row_counts(TABLES)
    future = (date.today() + timedelta(days=30)).isoformat()
    data = form(
        csrf, "", ("qq", "0123"), ("", "no-kind-chosen"), incident_date=future, **{"loss.amount": "-5"}
    )
    data["order_refs"] = "x" * 101
    r = await client.post("/report", data=data)
    assert r.status_code == 422
    assert field_error(r.text, "f-merchant-name") == "请填写此项。"
    assert field_error(r.text, "f-loss-amount") == "金额必须大于零。"
    assert field_error(r.text, "f-incident_date") == "日期不能晚于今天。"
    assert "订单号" in field_error(r.text, "f-order_refs")
    assert "QQ 号无效" in check_region(r.text, 0)
    assert "请选择这一项是什么" in field_error(r.text, "f-merchant-identifiers-1-kind")
    assert await row_counts(TABLES) == before
    # in English for an English reader
    assert (
        await client.post("/locale", data={"locale": "en", "next": "/report", "_csrf_token": csrf})
    ).status_code == 303
    r = await client.post("/report", data=data)
    assert field_error(r.text, "f-merchant-name") == "Please fill this in."
    assert "QQ number" in text_of(check_region(r.text, 0))


async def test_reporting_twice_is_refused_above_the_form(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "twice@example.com")
    csrf = await signed_in(client, who)
    data = form(csrf, "双次商家", ("qq", "22334455"))
    assert (await client.post("/report", data=data)).status_code == 303
    before = await row_counts(TABLES)
    r = await client.post("/report", data=data)
    assert r.status_code == 409 and "您已经加入了这个案件" in r.text
    assert await row_counts(TABLES) == before


async def test_add_another_row_and_preview_without_javascript(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "no-js@example.com")
    csrf = await signed_in(client, who)
    before = await row_counts(TABLES)
    data = form(csrf, "星辰数码", ("qq", "123456789"), statement="**很急** <script>alert(1)</script>")
    r = await client.post("/report", data={**data, "_action": "add"})
    assert r.status_code == 200
    page = Page(r.text)
    assert page.field("merchant.identifiers[3].value") == ""  # one more row
    assert (
        page.field("merchant.identifiers[0].value") == "123456789"
        and page.field("merchant.name") == "星辰数码"
    )
    assert re.search(r'id="f-merchant-identifiers-3-kind"[^>]*autofocus', r.text)
    # four rows posted, one more added
    more = {**data, "merchant.identifiers[3].kind": "", "merchant.identifiers[3].value": "", "_action": "add"}
    assert Page((await client.post("/report", data=more)).text).field("merchant.identifiers[4].value") == ""
    r = await client.post("/report", data={**data, "_action": "preview"})
    assert r.status_code == 200
    assert "<strong>很急</strong>" in r.text
    assert "<script>alert" not in r.text and Page(r.text).inline == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text  # the textarea keeps what was typed
    assert await row_counts(TABLES) == before


# --- htmx partials ------------------------------------------------------------------------------


async def test_the_live_check_says_valid_or_invalid_in_words(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "live-check@example.com")
    await signed_in(client, who)
    csrf = client.cookies.get("csrftoken")
    headers = {**HTMX, "x-csrftoken": csrf}
    r = await client.post(
        "/report/identifier",
        data={"merchant.identifiers[1].kind": "phone", "merchant.identifiers[1].value": "138-0013-8000"},
        headers=headers,
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert 'data-state="valid"' in r.text and 'data-row="1"' in r.text
    assert (
        "电话号码格式正确" in r.text and "+8613800138000" in r.text and "还没有人举报过这个电话号码" in r.text
    )
    r = await client.post(
        "/report/identifier",
        data={"merchant.identifiers[0].kind": "qq", "merchant.identifiers[0].value": "12ab"},
        headers=headers,
    )
    assert r.status_code == 200 and 'data-state="invalid"' in r.text
    assert "QQ 号无效：QQ 号应为 5–11 位数字且不以 0 开头" in r.text
    r = await client.post(
        "/report/identifier",
        data={"merchant.identifiers[0].kind": "", "merchant.identifiers[0].value": "12345"},
        headers=headers,
    )
    assert "请选择这一项是什么" in r.text
    r = await client.post(
        "/report/identifier",
        data={"merchant.identifiers[0].kind": "other", "merchant.identifiers[0].value": "某某群"},
        headers=headers,
    )
    assert 'data-state="valid"' in r.text and "只供组织者参考" in r.text
    # the partials need the CSRF header like any write, and a verified account
    assert (
        await client.post("/report/identifier", data={"merchant.identifiers[0].value": "1"})
    ).status_code == 403


async def test_two_names_one_qq_one_case_the_second_sees_the_match_first(
    client: Any, mailbox: Any, worker: Any
) -> None:
    first = await person(client, mailbox, worker, "qq-first@example.com", name="甲")
    second = await person(client, mailbox, worker, "qq-second@example.com", name="乙")
    csrf = await signed_in(client, first)
    r = await client.post("/report", data=form(csrf, "星辰数码", ("qq", "987654321")))
    assert r.status_code == 303
    (case_id,) = await my_case_ids(client, first)

    await signed_in(client, second)
    r = await client.post(
        "/report/identifier",
        data={"merchant.identifiers[0].kind": "qq", "merchant.identifiers[0].value": " 987654321 "},
        headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken")},
    )
    said = text_of(r.text)
    assert "同一个QQ 号，已有 1 位受害者" in said  # what matched, and how many
    assert "星辰数码" in said and "提交后您将加入这个案件" in said
    # the join button's link shows the same before anything is typed
    r = await client.get("/report", params={"kind": "qq", "value": "987654321"})
    assert "同一个QQ 号，已有 1 位受害者" in text_of(check_region(r.text, 0))
    csrf = csrf_of(Page(r.text))
    r = await client.post(
        "/report", data=form(csrf, "星辰卡盟", ("qq", "987654321"), **{"loss.amount": "88"})
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}"
    assert await my_case_ids(client, second) == [case_id]
    summary = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert summary["member_count"] == 2
    # and a third person now reads "2 victims"
    r = await client.get("/report", params={"kind": "qq", "value": "987654321"})
    assert "已有 2 位受害者" in text_of(r.text)


async def test_the_preview_is_the_sanitized_markdown(client: Any, mailbox: Any, worker: Any) -> None:
    who = await person(client, mailbox, worker, "preview@example.com")
    await signed_in(client, who)
    statement = (
        "# 经过\n\n**付款** 之后被拉黑\n\n- 第一天\n- 第二天\n\n"
        '<script>alert(1)</script><img src=x onerror="alert(2)">[链接](javascript:alert(3))'
    )
    r = await client.post(
        "/report/preview",
        data={"statement": statement},
        headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken")},
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert "<h1>经过</h1>" in r.text and "<strong>付款</strong>" in r.text and "<li>第一天</li>" in r.text
    lowered = r.text.lower()
    assert (
        "<script" not in lowered
        and "onerror" not in lowered
        and "javascript:" not in lowered
        and "<img" not in lowered
    )
    empty = await client.post(
        "/report/preview",
        data={"statement": "  "},
        headers={**HTMX, "x-csrftoken": client.cookies.get("csrftoken")},
    )
    assert "还没有内容可以预览" in empty.text


async def test_the_notice_takes_only_a_number_from_its_cookie(client: Any, mailbox: Any, worker: Any) -> None:
    """The flash cookie names a catalog text and integer parameters: an edited cookie can change
    the number, never put words or markup on the page."""
    who = await person(client, mailbox, worker, "flash@example.com")
    await signed_in(client, who)
    client.cookies.set("chorus_flash", "page.report.flash.joined~n:7")
    assert "您是这个案件的第 7 位受害者" in (await client.get("/report")).text
    for forged in (
        "page.report.flash.joined~n:<b>x</b>",
        "page.report.flash.joined~n:-1",
        "errors.internal",
        "page.no.such",
    ):
        client.cookies.set("chorus_flash", forged)
        r = await client.get("/report")
        assert 'class="notice notice-ok" role="status"' not in r.text, forged
