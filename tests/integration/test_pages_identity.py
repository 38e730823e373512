"""/settings/identity, as a browser without JavaScript uses it (issue 14 item 8): what each
regulator requires of a complainant with its source, the details given only with the separate
consent ticked (a refusal next to its field, nothing kept), shown back to their owner only,
withdrawn with one button; zh-CN and en."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.accounts.tables import MemberIdentity
from tests.integration.cases_support import get_ok, person
from tests.integration.test_pages_accounts import field_error, flash, follow
from tests.integration.test_pages_notifications import sign_in
from tests.integration.test_pages_settings import post_form, selected
from tests.support import row_counts

pytestmark = pytest.mark.usefixtures("clean")

FORM = {
    "real_name": "王小明",
    "phone": "138 0013 8000",
    "id_type": "cn_resident_id",
    "id_number": "11010519491231002X",
    "address": "北京市朝阳区建国路88号",
    "consent_version": "1",
}


async def test_a_member_gives_withdraws_and_is_refused_in_words(
    client: Any, mailbox: Any, worker: Any
) -> None:
    ann = await person(client, mailbox, worker, "ann@example.com", "安妮")
    sign_in(client, ann)
    r = await client.get("/settings/identity")
    assert r.status_code == 200
    # what the 12315 platform requires, its source, and that it is not yet checked
    assert "全国12315平台" in r.text and "真实姓名、电话号码、通讯地址" in r.text
    assert "总局令第121号" in r.text and "尚未与官方文本核对" in r.text  # the rule in force today
    assert "身份证件号码属于敏感个人信息" in r.text  # the consent's words, shown before ticking it
    assert selected(r.text, "id_type") == (None, ["cn_resident_id", "passport", "other"])  # none chosen

    # without the consent ticked: said next to the box, nothing kept, what was typed stays
    rows = await row_counts()
    r = await post_form(client, "/settings/identity", "/settings/identity", FORM)
    assert r.status_code == 422
    assert field_error(r, "consent") == "请勾选同意：没有您的单独同意，我们不会保存这些信息。"
    assert 'value="王小明"' in r.text
    r = await post_form(
        client,
        "/settings/identity",
        "/settings/identity",
        {**FORM, "id_number": "110105194912310021", "consent": "true"},
    )
    assert r.status_code == 422 and "校验码" in (field_error(r, "id_number") or "")
    assert await row_counts() == rows

    # with it: kept, shown back to her, encrypted
    r = await post_form(client, "/settings/identity", "/settings/identity", {**FORM, "consent": "true"})
    page = await follow(client, r)
    assert flash(page) == "已保存您的身份信息。"
    assert 'value="王小明"' in page.text and "您已提供：真实姓名、电话号码、证件号码、通讯地址" in page.text
    got = await get_ok(client, "/api/v1/me/identity", ann.headers)
    assert got["phone"] == "+8613800138000" and got["id_number"] == "11010519491231002X"
    row = await MemberIdentity.select().first()
    assert row is not None and "王小明" not in str(row)

    # in English too, for a member whose language is English
    r = await client.put("/api/v1/me/preferences", headers=ann.headers, json={"locale": "en"})
    assert r.status_code == 200, r.text
    r = await client.get("/settings/identity")
    assert "Your details as a complainant" in r.text and "not yet checked against the official text" in r.text
    r = await client.put("/api/v1/me/preferences", headers=ann.headers, json={"locale": "zh-CN"})

    # withdrawn: gone
    r = await post_form(client, "/settings/identity", "/settings/identity/delete", {})
    page = await follow(client, r)
    assert flash(page) == "已删除您的身份信息。" and 'value="王小明"' not in page.text
    assert await MemberIdentity.count() == 0
