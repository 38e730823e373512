"""The admins' regulator page, continued (issue 18 item 8): the edit form sets how a regulator is
reached (``routed_by``: through another's channel, or its own) and whether it expects each
complainant's written authorization, as selects that work without JavaScript; a form of one button
deactivates and reactivates it (the registry marks it, organizers no longer see it); a shipped
regulator says which of its fields admins changed and keep. Admins only."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.regulators.tables import Regulator
from tests.integration.cases_support import person, staff
from tests.integration.test_pages_admin import field_error, form_token
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, text_of

pytestmark = pytest.mark.usefixtures("clean")


async def row(slug: str) -> dict[str, Any]:
    found = await Regulator.select().where(Regulator.slug == slug).first()
    assert found is not None
    return dict(found)


def chosen(html: str, name: str) -> str | None:
    """The selected option of the select named ``name``."""
    found = re.search(rf'<select id="[^"]*" name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    option = re.search(r'<option value="([^"]*)" selected>', found.group(1)) if found else None
    return option.group(1) if option else None


def edited(page: Page, html: str) -> dict[str, str]:
    """The edit form's fields as the page shows them (what a browser would send back)."""
    names = (
        "name",
        "jurisdiction",
        "channel",
        "address",
        "locale",
        "template_kind",
        "contact_disclosure",
        "credentials_env",
        "min_poll_seconds",
        "calendar",
        "accept_working_days",
        "finish_working_days",
        "note",
        "routed_by",
        "authorization_required",
    )
    values = {n: chosen(html, n) or page.field(n) or "" for n in names}
    note = re.search(r'<textarea id="f-note" name="note"[^>]*>(.*?)</textarea>', html, re.S)
    return values | {"note": unescape(note.group(1)) if note else ""}


def edit_form(html: str) -> str:
    """The edit form alone (the header's language switch has a field named ``locale`` too)."""
    start = html.index('<form method="post" action="/admin/regulators/')
    return html[start : html.index("</form>", start)]


async def edit_values(client: Any, regulator_id: int) -> dict[str, str]:
    html = edit_form((await client.get(f"/admin/regulators/{regulator_id}")).text)
    return edited(Page(html), html)


async def test_routing_and_authorization_are_edited_on_the_form(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    token = await form_token(client)
    samr, bureau, cca = await row("cn-12315"), await row("cn-gd-sz-amr"), await row("cn-cca")
    url = f"/admin/regulators/{bureau['id']}"
    r = await client.get(url)
    assert r.status_code == 200
    assert '<label for="f-routed_by">' in r.text and '<label for="f-authorization_required">' in r.text
    assert (
        chosen(r.text, "routed_by") == str(samr["id"]) and chosen(r.text, "authorization_required") == "true"
    )
    assert "独立渠道（直接向它提交）" in r.text and f'<option value="{bureau["id"]}"' not in r.text
    assert "这是 Chorus 预置的机构" in text_of(r.text)

    sent = edited(Page(edit_form(r.text)), edit_form(r.text)) | {
        "routed_by": "",
        "authorization_required": "false",
    }
    r = await client.post(url, data={**sent, "_csrf_token": token})
    assert r.status_code == 303, re.findall(r'<small id="(f-[^"]*)" class="field-error">', r.text)
    after = await row("cn-gd-sz-amr")
    assert (after["routed_by"], after["authorization_required"]) == (None, False)
    assert after["note"] == bureau["note"]
    r = await client.get(url)
    said = text_of(r.text)
    assert "管理员改过、更新时保持不变的项：需要投诉人的授权委托书、经哪个渠道提交。" in said

    # routed through 12315: allowed; through a bureau (itself routed): refused on its field
    r = await client.post(
        f"/admin/regulators/{cca['id']}",
        data={
            **await edit_values(client, cca["id"]),
            "routed_by": str(samr["id"]),
        }
        | {"_csrf_token": token},
    )
    assert r.status_code == 303  # a channel of its own standing: allowed
    other = await row("cn-gd-amr")
    before = await row("cn-cca")
    r = await client.post(
        f"/admin/regulators/{cca['id']}",
        data={
            **await edit_values(client, cca["id"]),
            "routed_by": str(other["id"]),
        }
        | {"_csrf_token": token},
    )
    assert r.status_code == 422 and field_error(r.text, "routed_by"), r.text[:500]
    assert await row("cn-cca") == before


async def test_an_admin_deactivates_and_reactivates_a_regulator(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    user = await person(client, mailbox, worker, "u@example.com", "普通用户")
    alipay = await row("cn-alipay-disputes")
    url = f"/admin/regulators/{alipay['id']}"
    action = f"{url}/active"

    await as_user(client, user)  # not an admin: refused, nothing changes
    token = csrf_of(Page((await client.get("/")).text))
    assert (await client.post(action, data={"active": "false", "_csrf_token": token})).status_code == 403

    await as_user(client, admin)
    r = await client.get(url)
    page = Page(r.text)
    (form,) = [f for f in page.forms if f.get("action") == action]
    assert form.get("method") == "post" and 'name="active" value="false"' in r.text
    assert "停用该机构" in r.text
    r = await client.post(action, data={"active": "false", "_csrf_token": csrf_of(page)})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/regulators#regulator-{alipay['id']}"
    assert (await row("cn-alipay-disputes"))["active"] is False
    assert await AuditEntry.count().where(AuditEntry.action == "regulator.deactivated") == 1

    r = await client.get("/admin/regulators")
    assert "已停用该机构，组织者不能再选择它。" in r.text
    card = text_of(r.text[r.text.index(f'id="regulator-{alipay["id"]}"') :].split("</article>", 1)[0])
    assert "已停用" in card  # still on the registry, marked
    listed = (await client.get("/api/v1/regulators")).json()["items"]
    assert alipay["id"] not in [x["id"] for x in listed]

    r = await client.get(url)
    assert "该机构已停用" in r.text and 'name="active" value="true"' in r.text
    assert (
        await client.post(
            "/admin/regulators/999999/active", data={"active": "false", "_csrf_token": csrf_of(Page(r.text))}
        )
    ).status_code == 404
    r = await client.post(action, data={"active": "", "_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 422 and (await row("cn-alipay-disputes"))["active"] is False
    r = await client.post(action, data={"active": "true", "_csrf_token": csrf_of(Page(r.text))})
    assert r.status_code == 303 and (await row("cn-alipay-disputes"))["active"] is True
    assert "已重新启用该机构" in (await client.get("/admin/regulators")).text


async def test_an_admin_restores_shipped_fields_on_the_page(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    cca = await row("cn-cca")
    r = await client.patch(
        f"/api/v1/regulators/{cca['id']}",
        json={"note": "管理员的说明", "min_poll_seconds": 600},
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    await as_user(client, admin)
    url = f"/admin/regulators/{cca['id']}"
    r = await client.get(url)
    # only fields the shipped data sets are offered (the poll interval is the admins' alone)
    assert 'name="restore_shipped.note"' in r.text and "restore_shipped.min_poll_seconds" not in r.text
    assert "管理员改过、更新时保持不变的项：规则与出处。" in text_of(r.text)
    token = csrf_of(Page(r.text))
    r = await client.post(f"{url}/restore", data={"_csrf_token": token})
    assert r.status_code == 422 and "请至少勾选一项。" in r.text
    r = await client.post(f"{url}/restore", data={"restore_shipped.note": "true", "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == url
    after = await row("cn-cca")
    assert after["note"] == cca["note"] and after["min_poll_seconds"] == 600
    r = await client.get(url)
    assert "已恢复为预置信息。" in r.text and 'name="restore_shipped.note"' not in r.text


async def test_each_shipped_regulator_shows_where_its_facts_were_read(client: Any, settings: Any) -> None:
    """Issue 18 item 9: an admin sees a shipped regulator's sources, a link where one was read and
    "未经核实" on what no source read confirmed; a marketplace's channel has its own template kind."""
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    r = await client.get("/admin/regulators")
    assert r.status_code == 200

    def card(slug_id: int) -> str:
        return r.text[r.text.index(f'id="regulator-{slug_id}"') :].split("</article>", 1)[0]

    app = card((await row("cn-antifraud-app"))["id"])
    assert "信息出处 1 条" in text_of(app) and "未经核实" not in text_of(app)
    assert 'href="http://news.cnhubei.com/content/2021-03/25/content_13697655.html"' in app
    cca = text_of(card((await row("cn-cca"))["id"]))
    assert "信息出处 2 条" in cca and "2 条未经核实" in cca and "很少直接处理个人投诉" in cca
    taobao = text_of(card((await row("cn-taobao-complaints"))["id"]))
    assert "电商平台" in taobao and "未经核实" in taobao
