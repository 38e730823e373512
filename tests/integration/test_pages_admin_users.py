"""The admins' desk (/admin), staff roles (/admin/users) and staff activity (/admin/activity).
The desk says what waits (mail in the quarantine, open moderation proposals) and how big the
registry and the staff are, each with its page; an admin typing /admin no longer lands on a 404.
Roles are granted and withdrawn on a form per account (the API's setUserRoles): staff are
listed, anyone else is found only by their exact e-mail address, and the last admin keeps the
role. What staff did is listed in words, with who did it and the page it concerns, and nothing
of what members did. Admins only."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

import pytest

from chorus.regulators.tables import Regulator
from tests.integration.cases_support import ident, person, report, report_body, staff
from tests.integration.test_filing_channels import hand_over
from tests.integration.test_inbound_quarantine import mail
from tests.integration.test_moderation import two_merchants_and_a_proposal
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.integration.test_pages_moderation import token as page_token
from tests.support import as_user, text_of

pytestmark = pytest.mark.usefixtures("clean")


def card(html: str, user_id: int) -> str:
    """One account's card (``<article id="user-<id>">``) on the roles page."""
    start = html.index(f'id="user-{user_id}"')
    return html[start : html.index("</article>", start)]


async def roles_of(client: Any, who: Any) -> list[str]:
    r = await client.get("/api/v1/me", headers=who.headers)
    assert r.status_code == 200, r.text
    roles: list[str] = r.json()["roles"]
    return roles


async def test_the_desk_says_what_waits_and_leads_to_each_page(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    r = await client.get("/admin")
    assert r.status_code == 200 and "no-store" in r.headers.get("cache-control", "")
    said = text_of(r.text)
    regulators = await Regulator.count()
    assert "没有待处理的来信。" in said and "没有待处理的提议。" in said
    assert f"共 {regulators} 个机构，其中 0 个已停用。" in said
    assert "管理员 1 位，审核员 0 位" in said
    for path in ("/admin/quarantine", "/moderation", "/admin/regulators", "/admin/users"):
        assert f'href="{path}"' in r.text
    # the header's one admin link is this page, marked as the current one
    assert '<a href="/admin" aria-current="page">管理</a>' in r.text

    # a message no filing took, a merge proposal, a moderator: the desk counts them
    await as_user(client, None)
    assert (
        await hand_over(client, settings, mail("someone@example.com", "请问进展？", "<d1@x>"))
    ).status_code == 202
    await two_merchants_and_a_proposal(client, mailbox, worker)
    await staff(client, settings, "mod@example.com", "moderator")  # appointed by a second admin
    await Regulator.update({Regulator.active: False}).where(
        Regulator.id == (await Regulator.select(Regulator.id).first())["id"]
    )
    await as_user(client, admin)
    said = text_of((await client.get("/admin")).text)
    assert "待处理：1 封" in said and "没有待处理的来信。" not in said
    assert "待处理：合并提议 1 条，名称关联提议 0 条" in said
    assert f"共 {regulators} 个机构，其中 1 个已停用。" in said
    assert "管理员 2 位，审核员 1 位" in said


async def test_only_admins_reach_the_desk_and_the_roles(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    member = await person(client, mailbox, worker, "member@example.com", "李娜")
    for who in (moderator, member):
        await as_user(client, who)
        for path in ("/admin", "/admin/users"):
            r = await client.get(path)
            assert r.status_code == 403, (path, r.status_code)
        home = (await client.get("/")).text
        assert 'href="/admin"' not in home
    await as_user(client, None)
    r = await client.get("/admin")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/admin"


async def test_an_admin_appoints_a_moderator_found_by_their_address_and_withdraws_the_role(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin", name="王管理")
    member = await person(client, mailbox, worker, "li.na@example.com", "李娜")
    await person(client, mailbox, worker, "other@example.com", "路人")
    await as_user(client, admin)

    r = await client.get("/admin/users")
    said = text_of(r.text)
    # staff are listed with their address; members are not
    assert "现在的工作人员（1 位）" in said and "admin@example.com" in said
    assert f'<h3 id="user-{admin.id}-name">王管理<small class="muted">（您自己）</small></h3>' in r.text
    assert "li.na@example.com" not in said and "other@example.com" not in said

    # found only by the whole address (typed with spaces and capitals)
    found = await client.get("/admin/users?" + urlencode({"email": " Li.Na@Example.com "}))
    mine = text_of(card(found.text, member.id))
    assert "李娜" in mine and "li.na@example.com" in mine and "other@example.com" not in text_of(found.text)
    assert not re.search(r'name="(moderator|admin)" value="true" checked', card(found.text, member.id))
    none = await client.get("/admin/users?email=li.na")
    assert "没有使用 li.na 的账户。请确认对方已经注册。" in text_of(none.text)

    csrf = csrf_of(Page(found.text))
    r = await client.post(f"/admin/users/{member.id}/roles", data={"_csrf_token": csrf, "moderator": "true"})
    assert r.status_code == 303 and r.headers["location"] == f"/admin/users#user-{member.id}"
    assert await roles_of(client, member) == ["moderator", "user"]
    page = await client.get("/admin/users")
    mine = card(page.text, member.id)
    assert "角色已保存。" in text_of(mine) and "角色已保存。" not in text_of(
        page.text[: page.text.index('id="user-')]
    )
    assert 'name="moderator" value="true" checked' in mine and 'name="admin" value="true" checked' not in mine
    assert "现在的工作人员（2 位）" in text_of(page.text)

    # no box ticked: back to a member, whose card is found again by the address
    r = await client.post(f"/admin/users/{member.id}/roles", data={"_csrf_token": csrf})
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/users?email=li.na%40example.com#user-" + str(member.id)
    assert await roles_of(client, member) == ["user"]
    again = await client.get(r.headers["location"].split("#")[0])
    assert "角色已保存。" in text_of(card(again.text, member.id))
    assert "现在的工作人员（1 位）" in text_of(again.text)


async def test_the_last_admin_keeps_the_role_and_a_second_one_may_step_down(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await as_user(client, admin)
    csrf = await page_token(client, "/admin/users")
    r = await client.post(f"/admin/users/{admin.id}/roles", data={"_csrf_token": csrf, "moderator": "true"})
    assert r.status_code == 409
    mine = text_of(card(r.text, admin.id))
    assert "这是平台上唯一的管理员账户：请先任命另一位管理员，再取消这个账户的管理员角色。" in mine
    assert await roles_of(client, admin) == ["admin", "user"]
    r = await client.put(f"/api/v1/admin/users/{admin.id}/roles", json={"roles": []}, headers=admin.headers)
    assert r.status_code == 409 and r.json()["code"] == "last_admin"

    await as_user(client, None)
    second = await staff(client, settings, "second@example.com", "admin")
    await as_user(client, admin)
    csrf = await page_token(client, "/admin/users")
    r = await client.post(f"/admin/users/{second.id}/roles", data={"_csrf_token": csrf, "moderator": "true"})
    assert r.status_code == 303 and await roles_of(client, second) == ["moderator", "user"]
    assert await roles_of(client, admin) == ["admin", "user"]

    # with another admin, one may step down: sent home (the desk is no longer theirs), told so
    await client.post(f"/admin/users/{second.id}/roles", data={"_csrf_token": csrf, "admin": "true"})
    r = await client.post(f"/admin/users/{admin.id}/roles", data={"_csrf_token": csrf, "moderator": "true"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert await roles_of(client, admin) == ["moderator", "user"]
    home = await client.get("/")
    assert "您已不再是管理员。" in text_of(home.text) and 'href="/admin"' not in home.text
    assert (await client.get("/admin")).status_code == 403


async def test_refused_role_forms_change_nothing(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    member = await person(client, mailbox, worker, "li.na@example.com", "李娜")
    await as_user(client, admin)
    csrf = await page_token(client, "/admin/users")
    # no CSRF token; an unknown account; a moderator's own post
    assert (
        await client.post(f"/admin/users/{member.id}/roles", data={"moderator": "true"})
    ).status_code == 403
    assert (await client.post("/admin/users/999999/roles", data={"_csrf_token": csrf})).status_code == 404
    await as_user(client, None)
    moderator = await staff(client, settings, "mod@example.com", "moderator")
    await as_user(client, moderator)
    csrf_mod = csrf_of(Page((await client.get("/settings")).text))
    r = await client.post(f"/admin/users/{member.id}/roles", data={"_csrf_token": csrf_mod, "admin": "true"})
    assert r.status_code == 403
    assert await roles_of(client, member) == ["user"]


async def test_in_english(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=admin.headers)
    await as_user(client, admin)
    said = text_of((await client.get("/admin")).text)
    assert "No mail waiting for a decision." in said and "Admins: 1; moderators: 0" in said
    said = text_of((await client.get("/admin/users")).text)
    assert "Current staff (1)" in said and "Roles" in said and "Admins and moderators" in said
    assert '>Staff <small class="muted">(you)</small></h3>' in (await client.get("/admin/users")).text


async def test_staff_activity_says_who_did_what_and_leaves_members_out(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin", name="王管理")
    member = await person(client, mailbox, worker, "li.na@example.com", "李娜")
    # a member's own doings: not staff activity
    r = await client.put("/api/v1/me/preferences", json={"locale": "zh-CN"}, headers=member.headers)
    assert r.status_code == 200, r.text
    await as_user(client, admin)
    empty = text_of((await client.get("/admin/activity")).text)
    assert "还没有管理操作。" in empty
    csrf = await page_token(client, "/admin/users")
    r = await client.post(f"/admin/users/{member.id}/roles", data={"_csrf_token": csrf, "moderator": "true"})
    assert r.status_code == 303
    regulator = await Regulator.select(Regulator.id, Regulator.name).first()
    assert regulator is not None
    r = await client.patch(
        f"/api/v1/regulators/{regulator['id']}", json={"active": False}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert (
        await hand_over(client, settings, mail("someone@example.com", "请问进展？", "<a1@x>"))
    ).status_code == 202

    page = await client.get("/admin/activity")
    assert page.status_code == 200 and "no-store" in page.headers.get("cache-control", "")
    said = text_of(page.text)
    newest, older = said.index("停用了投诉受理机构"), said.index("把 李娜 的角色设为：审核员。")
    assert newest < older  # newest first
    assert f"停用了投诉受理机构“{regulator['name']}”。" in said and "王管理" in said
    assert f'href="/admin/regulators/{regulator["id"]}"' in page.text
    # the mail the platform quarantined by itself, the member's preferences: not listed
    assert "隔离区的来信" not in said and "li.na@example.com" not in said
    await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=admin.headers)
    said = text_of((await client.get("/admin/activity")).text)
    assert (
        "Set the roles of 李娜: Moderator." in said
        and f"Deactivated the regulator “{regulator['name']}”." in said
    )


async def test_two_admins_taking_the_role_from_each_other_at_once_leave_one_admin(
    client: Any, settings: Any
) -> None:
    first = await staff(client, settings, "first@example.com", "admin")
    second = await staff(client, settings, "second@example.com", "admin")
    for _ in range(5):
        answers = await asyncio.gather(
            client.put(f"/api/v1/admin/users/{second.id}/roles", json={"roles": []}, headers=first.headers),
            client.put(f"/api/v1/admin/users/{first.id}/roles", json={"roles": []}, headers=second.headers),
        )
        # one takes the role; the other is refused: the last admin (409), or no admin any more (403)
        statuses = sorted(r.status_code for r in answers)
        assert statuses in ([200, 403], [200, 409]), [r.text for r in answers]
        roles = [await roles_of(client, who) for who in (first, second)]
        assert sorted(roles) == [["admin", "user"], ["user"]]
        # the one left an admin appoints the other again
        kept, lost = (first, second) if roles[0] == ["admin", "user"] else (second, first)
        r = await client.put(
            f"/api/v1/admin/users/{lost.id}/roles", json={"roles": ["admin"]}, headers=kept.headers
        )
        assert r.status_code == 200, r.text


async def test_a_merge_in_the_activity_names_both_merchants(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    admin = await staff(client, settings, "admin@example.com", "admin", name="王管理")
    a, b = world["a"]["merchant_id"], world["b"]["merchant_id"]
    r = await client.post(
        "/api/v1/moderation/merchants/merge", json={"source_id": b, "target_id": a}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    await as_user(client, admin)
    page = await client.get("/admin/activity")
    said = text_of(page.text)
    assert f"把商家“晨星游戏”（#{b}）合并进了“星辰卡盟”（#{a}）。" in said
    assert f'href="/merchants/{a}"' in page.text


def entry_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li id="entry-(\d+)"', html)]


async def test_staff_activity_a_page_at_a_time_by_person_and_area(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """Fifty entries a page, "older actions" to the rest and back; only one person's (their name
    is a link to them), only one area's; refused filters are a 422 (a number no entry or account
    can have: 404)."""
    wang = await staff(client, settings, "admin@example.com", "admin", name="王管理")
    zhao = await staff(client, settings, "zhao@example.com", "admin", name="赵管理")
    member = await person(client, mailbox, worker, "li.na@example.com", "李娜")
    for i in range(55):  # Wang appoints and withdraws a moderator, 55 times
        roles = ["moderator"] if i % 2 == 0 else []
        r = await client.put(
            f"/api/v1/admin/users/{member.id}/roles", json={"roles": roles}, headers=wang.headers
        )
        assert r.status_code == 200, r.text
    regulator = await Regulator.select(Regulator.id, Regulator.name).first()
    assert regulator is not None
    for active in (False, True):
        r = await client.patch(
            f"/api/v1/regulators/{regulator['id']}", json={"active": active}, headers=zhao.headers
        )
        assert r.status_code == 200, r.text
    await as_user(client, wang)

    first = await client.get("/admin/activity")
    assert first.status_code == 200
    newest = entry_ids(first.text)
    assert len(newest) == 50 and newest == sorted(newest, reverse=True)
    said = text_of(first.text)
    assert "每页 50 条" in said and "回到最新的操作" not in said
    # Zhao's two, newest first, then Wang's
    assert (
        said.index("重新启用了投诉受理机构")
        < said.index("停用了投诉受理机构")
        < said.index("把 李娜 的角色设为")
    )
    older = re.search(r'<a href="([^"]+)" rel="next">更早的操作</a>', first.text)
    assert older is not None
    second = await client.get(older.group(1).replace("&amp;", "&"))
    rest = entry_ids(second.text)
    assert len(rest) == 7 and max(rest) < min(newest)  # 57 in all, none twice
    assert "更早的操作" not in text_of(second.text) and 'href="/admin/activity">回到最新的操作' in second.text

    # only Zhao's: his name on an entry leads there; the form shows him chosen
    assert f'<a href="/admin/activity?by={zhao.id}">赵管理</a>' in first.text
    his = await client.get(f"/admin/activity?by={zhao.id}")
    assert len(entry_ids(his.text)) == 2 and "把 李娜 的角色设为" not in text_of(his.text)
    assert f'<option value="{zhao.id}" selected>赵管理</option>' in his.text
    assert "显示全部操作" in text_of(his.text)
    # the form's "everyone" and "everything" send empty values: the whole log
    assert len(entry_ids((await client.get("/admin/activity?by=&area=")).text)) == 50
    regulators_only = await client.get("/admin/activity?area=regulators")
    assert len(entry_ids(regulators_only.text)) == 2
    assert '<option value="regulators" selected>' in regulators_only.text
    roles_only = await client.get(f"/admin/activity?by={wang.id}&area=roles")
    assert len(entry_ids(roles_only.text)) == 50 and "更早的操作" in text_of(roles_only.text)
    nothing = await client.get(f"/admin/activity?by={wang.id}&area=mail")
    assert nothing.status_code == 200 and entry_ids(nothing.text) == []
    assert "没有符合筛选条件的操作。" in text_of(nothing.text)

    for bad in ("by=someone", "area=payments", "before=yesterday"):
        r = await client.get(f"/admin/activity?{bad}")
        assert r.status_code == 422, bad
    for beyond in ("by=99999999999", "before=99999999999", "before=-1"):  # no id is this number
        r = await client.get(f"/admin/activity?{beyond}")
        assert r.status_code == 404, beyond

    await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=wang.headers)
    said = text_of((await client.get(f"/admin/activity?by={wang.id}&area=mail")).text)
    assert "No action matches these filters." in said and "Show all actions" in said


async def test_decided_proposals_in_the_activity_say_what_they_were_about(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A proposal's entry holds only its number: the log reads the merchants (and the name) it
    was about, with a link to the merchant."""
    world = await two_merchants_and_a_proposal(client, mailbox, worker)
    admin = await staff(client, settings, "admin@example.com", "admin", name="王管理")
    a, b = world["a"]["merchant_id"], world["b"]["merchant_id"]
    dora = await person(client, mailbox, worker, "dora@example.com", "Dora")
    await report(client, dora, report_body("月光卡铺", [ident("qq", "12345678")]))  # 星辰卡盟's QQ
    merges = (await client.get("/api/v1/moderation/merge-proposals", headers=admin.headers)).json()["items"]
    links = (await client.get("/api/v1/moderation/link-proposals", headers=admin.headers)).json()["items"]
    assert len(merges) == 1 and len(links) == 1, links
    merge, link = merges[0]["id"], links[0]["id"]
    r = await client.post(
        f"/api/v1/moderation/merge-proposals/{merge}/reject",
        json={"note": "不是同一家"},
        headers=admin.headers,
    )
    assert r.status_code == 204, r.text
    r = await client.post(f"/api/v1/moderation/link-proposals/{link}/reject", headers=admin.headers)
    assert r.status_code == 204, r.text
    await as_user(client, admin)
    page = await client.get("/admin/activity?area=merchants")
    said = text_of(page.text)
    pair = {f"“星辰卡盟”（#{a}）", f"“晨星游戏”（#{b}）"}
    rejected = re.search(rf"驳回了合并提议 #{merge}：商家(“[^”]+”（#\d+）)和(“[^”]+”（#\d+）)不合并。", said)
    assert rejected is not None and set(rejected.groups()) == pair, said
    assert f"驳回了名称关联提议 #{link}：“月光卡铺”不再作为商家“星辰卡盟”（#{a}）的名称显示。" in said
    assert page.text.count(f'href="/merchants/{a}"') + page.text.count(f'href="/merchants/{b}"') == 2
    await client.put("/api/v1/me/preferences", json={"locale": "en"}, headers=admin.headers)
    said = text_of((await client.get("/admin/activity")).text)
    assert (
        f"Rejected name link proposal #{link}: “月光卡铺” is no longer shown as a name of the merchant"
        in said
    )
