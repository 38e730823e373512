"""The admins' regulator registry in the browser (issue 13 item 8): /admin/regulators lists what
listRegulators lists (channel, address, API key configured or not, calendar, time limits and the
rules they come from); a regulator is added and edited through forms whose fields are the API's,
validated by the API's schemas and use cases: each refusal on its field (an address unfit for its
channel, an http:// or private address in production, a credentials variable outside
CHORUS_REGULATOR_KEY_*), nothing written. The API key itself never appears. Admins only."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest

from chorus.regulators.tables import Regulator
from tests.integration.cases_support import person, staff
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.integration.test_regulator_ssrf import production
from tests.support import PASSWORD, as_user, http_client, login, text_of

pytestmark = pytest.mark.usefixtures("clean")

FORM = {
    "name": "某市市场监督管理局",
    "jurisdiction": "中国 某省 某市",
    "channel": "email",
    "address": " Complaints@AMR.example.gov.cn ",
    "locale": "zh-CN",
    "credentials_env": "",
    "template_kind": "samr",
    "contact_disclosure": "masked",
    "calendar": "CN",
    "accept_working_days": "7",
    "finish_working_days": "45",
    "min_poll_seconds": "600",
    "note": "《市场监督管理投诉举报处理暂行办法》第十四条",
}


def field_error(html: str, field: str) -> str | None:
    """The message under a field (``<small id="f-<field>-error">``), if any."""
    found = re.search(rf'<small id="f-{field}-error" class="field-error">([^<]*)</small>', html)
    return unescape(found.group(1)) if found else None


async def rows() -> list[dict[str, Any]]:
    return [dict(r) for r in await Regulator.select().order_by(Regulator.id)]


async def form_token(client: Any, path: str = "/admin/regulators/new") -> str:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    return csrf_of(Page(r.text))


async def test_an_admin_reads_the_registry(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    body = {k: v for k, v in FORM.items() if v} | {"channel": "http", "address": "https://gw.example.com/v1"}
    body |= {
        "credentials_env": "CHORUS_REGULATOR_KEY_GW",
        "accept_working_days": 7,
        "finish_working_days": 45,
    }
    r = await client.post("/api/v1/regulators", json=body, headers=admin.headers)
    assert r.status_code == 201, r.text
    reg = r.json()
    await as_user(client, admin)
    r = await client.get("/admin/regulators")
    assert r.status_code == 200 and "no-store" in r.headers.get("cache-control", "")
    said = text_of(r.text)
    assert "投诉受理机构" in said and 'href="/admin/regulators/new"' in r.text
    for seeded in await rows():  # the seeded registry, each with its edit link
        assert seeded["name"] in said and f'href="/admin/regulators/{seeded["id"]}"' in r.text
    card = text_of(r.text[r.text.index(f'id="regulator-{reg["id"]}"') :].split("</article>", 1)[0])
    assert FORM["name"] in card and FORM["jurisdiction"] in card
    assert "HTTP 接口（协议 v1）" in card and "https://gw.example.com/v1" in card
    assert "已配置（保存在服务器的环境变量中）" in card and "CHORUS_REGULATOR_KEY_GW" not in card
    assert "7 个工作日内决定是否受理，45 个工作日内办结" in card
    assert "第十四条" in card  # the rule the limits come from, as the registry holds it
    assert "中国（含调休）" in card and "打码" in card and "市场监督管理部门" in card


async def test_an_admin_adds_a_regulator(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    r = await client.get("/admin/regulators/new")
    page = Page(r.text)
    (form,) = [f for f in page.forms if f.get("action") == "/admin/regulators"]
    assert form.get("method") == "post"
    for name in FORM:
        assert re.search(rf'<label for="f-{name}">', r.text), name  # every field labelled, API names
    assert "CHORUS_REGULATOR_KEY_" in text_of(r.text)  # the hint says which variables may hold a key
    before = len(await rows())

    r = await client.post("/admin/regulators", data={**FORM, "_csrf_token": csrf_of(page)})
    assert r.status_code == 303, r.text
    (added,) = [x for x in await rows() if x["name"] == FORM["name"]]
    assert r.headers["location"] == f"/admin/regulators#regulator-{added['id']}"
    assert len(await rows()) == before + 1
    assert added["address"] == "Complaints@amr.example.gov.cn"  # normalized as the API does
    assert (added["accept_working_days"], added["finish_working_days"]) == (7, 45)
    assert (added["credentials_env"], added["min_poll_seconds"]) == (None, 600)
    r = await client.get("/admin/regulators")
    assert "已添加该机构，组织者现在可以选择它。" in r.text
    assert FORM["name"] in r.text and "第十四条" in r.text
    listed = (await client.get("/api/v1/regulators")).json()["items"]
    assert FORM["name"] in [x["name"] for x in listed]  # organizers can choose it


async def test_bad_fields_are_refused_on_their_field_and_nothing_is_written(
    client: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    token = await form_token(client)
    before = await rows()
    for change, field, message in (
        ({"address": "not-an-address"}, "address", "电子邮件渠道的地址必须是有效的邮箱。"),
        (
            {"channel": "http", "address": "ftp://gw.example.com"},
            "address",
            "HTTP 渠道的地址必须是 http(s) 网址。",
        ),
        (
            {"credentials_env": "CHORUS_SECRET_KEY"},
            "credentials_env",
            "只能填写以 CHORUS_REGULATOR_KEY_ 开头、后面是大写字母、数字或下划线的变量名。",
        ),
        ({"name": ""}, "name", "请填写此项。"),
        ({"accept_working_days": "七"}, "accept_working_days", "格式不对，请检查后重试。"),
        ({"finish_working_days": "0"}, "finish_working_days", "数值太小。"),
        ({"min_poll_seconds": "0"}, "min_poll_seconds", "数值太小。"),
        ({"channel": "fax"}, "channel", "请从列表中选择一项。"),
    ):
        r = await client.post("/admin/regulators", data={**FORM, **change, "_csrf_token": token})
        assert r.status_code == 422, (change, r.text[:500])
        assert field_error(r.text, field) == message, (change, field_error(r.text, field))
        assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', r.text), change
        assert 'id="form-error"' in r.text
        page = Page(r.text)
        assert page.field("jurisdiction") == FORM["jurisdiction"]  # what was typed stays
    # a regulator of the same name and jurisdiction: 409, said on the name
    await client.post("/admin/regulators", data={**FORM, "_csrf_token": token})
    before = await rows()
    r = await client.post("/admin/regulators", data={**FORM, "_csrf_token": token})
    assert r.status_code == 409 and field_error(r.text, "name") == "该机构（名称与辖区相同）已存在。"
    assert await rows() == before


async def test_production_refuses_plain_http_and_private_addresses_on_their_field(settings: Any) -> None:
    from chorus.accounts import service as accounts

    prod = production(settings, secure_cookies=False)  # the test client speaks plain HTTP
    await accounts.create_admin(email="admin@example.com", password=PASSWORD, display_name="A", settings=prod)
    async with http_client(prod) as client:
        await as_user(client, await login(client, "admin@example.com"))
        token = await form_token(client)
        before = await rows()
        gateway = {**FORM, "channel": "http", "credentials_env": "CHORUS_REGULATOR_KEY_GW"}
        for address, message in (
            ("http://8.8.8.8/v1", "生产环境中，HTTP 渠道的地址必须以 https:// 开头。"),
            ("https://10.0.0.1/v1", "该地址指向 10.0.0.1"),
            ("https://127.0.0.1/v1", "该地址指向 127.0.0.1"),
        ):
            r = await client.post(
                "/admin/regulators", data={**gateway, "address": address, "_csrf_token": token}
            )
            assert r.status_code == 422, r.text[:500]
            assert (field_error(r.text, "address") or "").startswith(message), field_error(r.text, "address")
        assert await rows() == before
        # editing an existing one to a private address is refused the same way
        samr = next(x for x in before if x["slug"] == "cn-12315")
        edit = f"/admin/regulators/{samr['id']}"
        same = {"name": samr["name"], "jurisdiction": samr["jurisdiction"], "channel": "http"}
        r = await client.post(
            edit, data={**FORM, **same, "address": "https://192.168.1.20/v1", "_csrf_token": token}
        )
        assert r.status_code == 422 and (field_error(r.text, "address") or "").startswith(
            "该地址指向 192.168.1.20"
        )
        assert await rows() == before


async def test_an_admin_edits_a_regulator(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    token = await form_token(client)
    gateway = {
        **FORM,
        "channel": "http",
        "address": "https://gw.example.com/v1",
        "credentials_env": "CHORUS_REGULATOR_KEY_GW",
    }
    assert (await client.post("/admin/regulators", data={**gateway, "_csrf_token": token})).status_code == 303
    other = {**FORM, "name": "另一个局"}
    assert (await client.post("/admin/regulators", data={**other, "_csrf_token": token})).status_code == 303
    (reg,) = [x for x in await rows() if x["name"] == FORM["name"]]
    url = f"/admin/regulators/{reg['id']}"

    r = await client.get(url)
    assert r.status_code == 200
    page = Page(r.text)
    (form,) = [f for f in page.forms if f.get("action") == url]
    assert form.get("method") == "post"
    assert page.field("name") == FORM["name"] and page.field("address") == "https://gw.example.com/v1"
    assert page.field("credentials_env") == "CHORUS_REGULATOR_KEY_GW"  # the variable's name, never a key
    assert page.field("accept_working_days") == "7"
    assert 'value="http" selected' in r.text

    sent = {n: page.field(n) or "" for n in ("name", "jurisdiction", "address", "credentials_env")}
    sent |= {
        n: page.field(n) or "" for n in ("accept_working_days", "finish_working_days", "min_poll_seconds")
    }
    sent |= {"channel": "http", "locale": "zh-CN", "note": FORM["note"], "template_kind": "samr"}
    sent |= {"contact_disclosure": "masked", "calendar": "CN"}
    # refused: the name another regulator has here (409), a bad address, a number too large
    before = await rows()
    for change, field, status in (
        ({"name": "另一个局"}, "name", 409),
        ({"address": "mailto:x@example.com"}, "address", 422),
        ({"accept_working_days": "400"}, "accept_working_days", 422),
    ):
        r = await client.post(url, data={**sent, **change, "_csrf_token": token})
        assert r.status_code == status and field_error(r.text, field), (change, r.text[:400])
        assert Page(r.text).field(field) == change[field]  # what was typed stays
    assert await rows() == before

    change = {"address": "https://gw2.example.com/v2/", "finish_working_days": "", "credentials_env": ""}
    change |= {"note": "新的规则：第二十一条", "calendar": "CN", "min_poll_seconds": "3600"}
    r = await client.post(url, data={**sent, **change, "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/regulators#regulator-{reg['id']}"
    after = next(x for x in await rows() if x["id"] == reg["id"])
    assert after["address"] == "https://gw2.example.com/v2"
    assert (after["finish_working_days"], after["credentials_env"], after["accept_working_days"]) == (
        None,
        None,
        7,
    )
    assert after["note"] == "新的规则：第二十一条" and after["slug"] == reg["slug"]
    assert after["min_poll_seconds"] == 3600
    r = await client.get("/admin/regulators")
    assert "已保存修改。" in r.text and "7 个工作日内决定是否受理" in text_of(r.text)
    assert "未配置：不带密钥发送" in text_of(r.text) and "至少每 3,600 秒查询一次进度" in text_of(r.text)
    assert (await client.get("/admin/regulators/999999")).status_code == 404


async def test_only_admins_get_in(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    user = await person(client, mailbox, worker, "u@example.com", "普通用户")
    reg = (await rows())[0]
    gets = ["/admin/regulators", "/admin/regulators/new", f"/admin/regulators/{reg['id']}"]
    before = await rows()
    for who in (user, moderator):
        await as_user(client, who)
        token = csrf_of(Page((await client.get("/")).text))
        for path in gets:
            r = await client.get(path)
            assert r.status_code == 403 and "您没有权限查看这个页面。" in r.text, path
        for path in ("/admin/regulators", f"/admin/regulators/{reg['id']}"):
            r = await client.post(path, data={**FORM, "_csrf_token": token})
            assert r.status_code == 403, path
    await as_user(client, None)
    for path in gets:
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/admin/regulators"), (
            path
        )
    assert await rows() == before


async def test_empty_registry_and_english(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    r = await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=admin.headers)
    assert r.status_code == 200, r.text
    body = {
        "name": "Test Gateway",
        "jurisdiction": "Testland",
        "channel": "email",
        "address": "c@example.com",
    }
    body |= {"accept_working_days": 7, "finish_working_days": 45}
    assert (await client.post("/api/v1/regulators", json=body, headers=admin.headers)).status_code == 201
    await as_user(client, admin)
    r = await client.get("/admin/regulators")
    said = text_of(r.text)
    assert "Regulators" in said and "Decides on acceptance within 7 working days, concludes within 45" in said
    r = await client.get("/admin/regulators/new")
    assert (
        "Environment variable holding the key" in r.text and "never typed or shown in the browser" in r.text
    )
    await Regulator.delete(force=True)
    r = await client.get("/admin/regulators")
    assert "There are no regulators yet, so organizers cannot file complaints." in text_of(r.text)
    assert 'href="/admin/regulators/new"' in r.text


async def test_time_limit_rules_are_shown_added_refused_on_their_row_and_removed(
    client: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    # the seeded rules of the 12315 platform, with their citation, period and standing
    samr = next(x for x in await rows() if x["slug"] == "cn-12315")
    r = await client.get("/admin/regulators")
    card = text_of(r.text[r.text.index(f'id="regulator-{samr["id"]}"') :].split("</article>", 1)[0])
    assert "时限规则" in card and "决定是否受理：7 个工作日" in card and "第十四条" in card
    assert "2022年11月1日 至 2026年4月14日 有效" in card and "自 2026年4月15日 起有效" in card
    assert "未经核实" in card and "（条款未找到）" in card
    assert "办结：60 天（自然日）" in card

    token = await form_token(client)
    assert (await client.post("/admin/regulators", data={**FORM, "_csrf_token": token})).status_code == 303
    (reg,) = [x for x in await rows() if x["name"] == FORM["name"]]
    url = f"/admin/regulators/{reg['id']}"
    r = await client.get(url)
    assert 'name="time_limits[0].limit"' in r.text and 'name="time_limits[1].limit"' not in r.text
    assert "<summary>添加一条规则</summary>" in r.text
    base = {k: v for k, v in FORM.items()}
    rule = {
        "time_limits[0].phase": "acceptance",
        "time_limits[0].limit": "10",
        "time_limits[0].unit": "working_days",
        "time_limits[0].rule": "《测试办法》",
        "time_limits[0].article": "第五条",
        "time_limits[0].valid_from": "2026-01-01",
        "time_limits[0].valid_to": "",
        "time_limits[0].source_url": "https://law.example.gov.cn/test",
        "time_limits[0].text_excerpt": "十个工作日内决定是否受理。",
        "time_limits[0].confirmed": "true",
        "time_limits[0].note": "",
    }
    r = await client.post(url, data={**base, **rule, "_csrf_token": token})
    assert r.status_code == 303, r.text[:500]
    (stored,) = [x for x in (await client.get("/api/v1/regulators")).json()["items"] if x["id"] == reg["id"]]
    assert stored["time_limits"] == [
        {
            "phase": "acceptance",
            "rule": "《测试办法》",
            "article": "第五条",
            "text_excerpt": "十个工作日内决定是否受理。",
            "source_url": "https://law.example.gov.cn/test",
            "valid_from": "2026-01-01",
            "valid_to": None,
            "limit": 10,
            "unit": "working_days",
            "confirmed": True,
            "note": "",
        }
    ]
    r = await client.get(url)
    page = Page(r.text)
    assert (
        page.field("time_limits[0].limit") == "10" and page.field("time_limits[0].valid_from") == "2026-01-01"
    )
    assert re.search(r'id="f-time_limits-0-confirmed"[^>]*checked', r.text)
    assert 'name="time_limits[1].limit"' in r.text  # a blank row to add another

    # refused, each on its row: a second rule without its limit; two acceptance rules at once
    before = await rows()
    second = {k.replace("[0]", "[1]"): v for k, v in rule.items()} | {"time_limits[1].limit": ""}
    r = await client.post(url, data={**base, **rule, **second, "_csrf_token": token})
    assert r.status_code == 422 and field_error(r.text, "time_limits-1-limit") == "请填写此项。"
    assert field_error(r.text, "time_limits-0-limit") is None
    second["time_limits[1].limit"] = "12"
    r = await client.post(url, data={**base, **rule, **second, "_csrf_token": token})
    assert r.status_code == 422 and 'id="f-time_limits-error"' in r.text
    # a blank row in between holds no rule and shifts no error
    blank = {k.replace("[0]", "[1]"): "" for k in rule}
    third = {k.replace("[0]", "[2]"): v for k, v in rule.items()} | {"time_limits[2].phase": "conclusion"}
    third["time_limits[2].valid_from"] = "2026-13-01"
    r = await client.post(url, data={**base, **rule, **blank, **third, "_csrf_token": token})
    assert (
        r.status_code == 422 and field_error(r.text, "time_limits-2-valid_from") == "格式不对，请检查后重试。"
    )
    assert Page(r.text).field("time_limits[2].valid_from") == "2026-13-01"
    assert await rows() == before

    # removed: the rule is gone, the undated limits apply again
    r = await client.post(url, data={**base, **rule, "time_limits[0].remove": "true", "_csrf_token": token})
    assert r.status_code == 303, r.text[:500]
    (stored,) = [x for x in (await client.get("/api/v1/regulators")).json()["items"] if x["id"] == reg["id"]]
    assert stored["time_limits"] == []
