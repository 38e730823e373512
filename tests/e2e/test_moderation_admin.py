"""Moderators and admins in a real browser (issue 13 items 7, 8): a moderator compares a merge
proposal's two merchants side by side, is told a rejection needs a reason, merges the two cases,
then merges two more merchants found by the search after reading what will happen, and confirms
a claimed identifier; an admin reads the regulator registry, adds a regulator (a bad address
refused on its field first) and edits it. Every state through look(), in zh-CN and en."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import (
    DESKTOP,
    LiveApp,
    User,
    api_login,
    login_browser,
    look,
    report,
    unique_email,
    verified_user,
)
from tests.e2e.test_accounts import expect_refusals
from tests.integration.cases_support import ident, report_body
from tests.support import PASSWORD
from tests.toolkit import chorus_command


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def _operator_admin(app: LiveApp, role: str, name: str) -> User:
    """An admin made by ``chorus create-admin``, as an operator makes one."""
    email = unique_email(role)
    done = subprocess.run(
        chorus_command("create-admin", "--email", email, "--password", PASSWORD, "--name", name),
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return api_login(app, User(email, PASSWORD, name))


def staff_user(app: LiveApp, role: str, *, name: str, locale: str | None = None) -> User:
    """An admin made by ``chorus create-admin`` (as an operator makes one); a moderator is such an
    account that another admin then gives only the moderator role (the last admin keeps theirs)."""
    user = _operator_admin(app, role, name)
    with app.api() as api:
        me = ok(api.get("/api/v1/me", headers=user.headers))
        if role == "moderator":
            appointer = _operator_admin(app, "appointer", "Appointer")
            ok(
                api.put(
                    f"/api/v1/admin/users/{me['id']}/roles",
                    json={"roles": ["moderator"]},
                    headers=appointer.headers,
                )
            )
        if locale:
            ok(api.put("/api/v1/me/preferences", json={"locale": locale}, headers=user.headers))
    return user


def digits(n: int) -> str:
    return str(secrets.choice(range(1, 10))) + "".join(secrets.choice("0123456789") for _ in range(n - 1))


def proposal_pair(app: LiveApp) -> dict[str, Any]:
    """Two shops reported apart (a QQ, a phone), then a report naming both: a merge proposal."""
    suffix = secrets.token_hex(2)
    qq, phone = digits(9), "139" + digits(8)
    alice, bob, carol = (verified_user(app, name=n) for n in ("李雷", "韩梅梅", "王芳"))
    a = report(app, alice, report_body(f"星辰卡盟{suffix}", [ident("qq", qq)]))
    b = report(app, bob, report_body(f"晨星游戏{suffix}", [ident("phone", phone)], amount="80.00"))
    report(app, carol, report_body(f"星辰{suffix}", [ident("qq", qq), ident("phone", phone)], amount="30.00"))
    return {"a": a, "b": b, "names": (f"星辰卡盟{suffix}", f"晨星游戏{suffix}"), "qq": qq, "phone": phone}


def open_proposals(app: LiveApp, who: User) -> list[dict[str, Any]]:
    with app.api() as api:
        return list(ok(api.get("/api/v1/moderation/merge-proposals", headers=who.headers))["items"])


def test_a_moderator_merges_two_cases(new_context: Callable[..., BrowserContext], live_app: LiveApp) -> None:
    moderator = staff_user(live_app, "moderator", name="审核员")
    world = proposal_pair(live_app)
    a, b = world["a"], world["b"]
    (proposal,) = [
        p
        for p in open_proposals(live_app, moderator)
        if {p["merchant_a"]["id"], p["merchant_b"]["id"]} == {a["merchant_id"], b["merchant_id"]}
    ]
    context = new_context()
    login_browser(context, live_app, moderator)
    page = context.new_page()

    page.goto("/moderation")
    expect(page.get_by_role("heading", level=1)).to_have_text("审核")
    card = page.locator(f"#proposal-{proposal['id']}")
    expect(card.locator(".side")).to_have_count(2)
    expect(card.locator(".side").nth(0)).to_contain_text(world["names"][0])
    expect(card.locator(".side").nth(1)).to_contain_text(world["names"][1])
    expect(card).not_to_contain_text(world["qq"])  # masked, as the API shows it
    look(page, "moderation-proposals")

    # a rejection without a reason: refused on the field, nothing decided
    card.get_by_role("button", name="驳回：不是同一个商家").click()
    card = page.locator(f"#proposal-{proposal['id']}")
    expect(card.locator(".field-error")).to_have_text("请填写此项。")
    expect(card.get_by_label("理由")).to_have_attribute("aria-invalid", "true")
    expect_refusals(page, 422)
    look(page, "moderation-reject-needs-reason")
    assert [p["id"] for p in open_proposals(live_app, moderator)].count(proposal["id"]) == 1

    # merge, keeping the older merchant (A): B's case joins A's
    card.get_by_label("理由").fill("同一个QQ，同一批受害者")
    card.get_by_role("button", name="合并", exact=True).click()
    expect(page.locator(".notice-ok")).to_contain_text(f"已合并：案件 #{a['case_id']} 现在共有 3 位成员。")
    with live_app.api() as api:
        assert ok(api.get(f"/api/v1/cases/{b['case_id']}"))["merged_into"] == a["case_id"]
        assert ok(api.get(f"/api/v1/cases/{a['case_id']}"))["member_count"] == 3
    if not open_proposals(live_app, moderator):
        expect(page.get_by_text("目前没有待处理的合并提议。")).to_be_visible()
        look(page, "moderation-empty")

    # a direct merge, in English on a wide screen: two shops nobody tied together
    suffix = secrets.token_hex(2)
    owner_x, owner_y = verified_user(live_app, name="Xavier"), verified_user(live_app, name="Yvonne")
    x = report(
        live_app, owner_x, report_body(f"Sunrise Cards {suffix}", [ident("domain", f"sunrise-{suffix}.com")])
    )
    y = report(
        live_app, owner_y, report_body(f"Sunset Games {suffix}", [ident("domain", f"sunset-{suffix}.com")])
    )
    english = staff_user(live_app, "moderator", name="Moderator", locale="en")
    context_en = new_context(locale="en", viewport=DESKTOP)
    login_browser(context_en, live_app, english)
    page = context_en.new_page()
    page.goto("/moderation/merge")
    page.get_by_label("Merchant to merge away").fill(f"sunset-{suffix}.com")
    page.get_by_label("Merchant that stays").fill(f"Sunrise Cards {suffix}")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Pick the two merchants")).to_be_visible()
    look(page, "moderation-merge-search-en")
    page.get_by_role("button", name="Next: see what will happen").click()  # nothing picked yet
    expect(page.locator("#form-error")).to_contain_text("Some fields need a change")
    expect(page.get_by_text("Choose the merchant to merge away.")).to_be_visible()
    expect_refusals(page, 422)
    look(page, "moderation-merge-pick-error-en")
    # each side lists what its search found: a similar name may be on both sides (PostgreSQL's
    # trigram search finds "Sunset Games …" for "Sunrise Cards …" too), so pick within each side
    away = page.get_by_role("group", name="Which merchant is merged away?")
    stays = page.get_by_role("group", name="Which merchant stays?")
    away.get_by_label(f"Sunset Games {suffix}").check()
    stays.get_by_label(f"Sunrise Cards {suffix}").check()
    page.get_by_role("button", name="Next: see what will happen").click()
    happens = page.locator(".what-happens")
    expect(happens).to_contain_text(f"The 1 member of case #{y['case_id']} joins case #{x['case_id']}")
    expect(happens).to_contain_text("asked to consent again")
    expect(happens).to_contain_text("A merge cannot be undone.")
    look(page, "moderation-merge-confirm-en")
    page.get_by_role(
        "button", name=f"Confirm: merge “Sunset Games {suffix}” into “Sunrise Cards {suffix}”"
    ).click()
    expect(page.locator(".notice-ok")).to_contain_text(f"Merged: case #{x['case_id']} now has 2 members.")
    with live_app.api() as api:
        assert ok(api.get(f"/api/v1/merchants/{y['merchant_id']}"))["merged_into"] == x["merchant_id"]

    # a claim: someone joins the case by its id naming a new phone; the moderator confirms it
    claimer = verified_user(live_app, name="赵六")
    claimed_phone = "137" + digits(8)
    report(live_app, claimer, report_body("客服号", [ident("phone", claimed_phone)], case_id=x["case_id"]))
    page = context.new_page()
    page.goto(f"/moderation/merchants/{x['merchant_id']}")
    shown = f"+86{claimed_phone}"  # unmasked, normalized
    expect(page.locator(".claim code")).to_have_text(shown)
    look(page, "moderation-claims")
    page.get_by_role("button", name=f"确认 电话号码 {shown}").click()
    expect(page.locator(".notice-ok")).to_contain_text("已确认这个标识")
    expect(page.get_by_text("没有等待审核的标识。")).to_be_visible()
    look(page, "moderation-claims-confirmed")


def fill_regulator(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        field = page.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def test_an_admin_adds_and_edits_a_regulator(
    new_context: Callable[..., BrowserContext], live_app: LiveApp
) -> None:
    admin = staff_user(live_app, "admin", name="管理员")
    context = new_context()
    login_browser(context, live_app, admin)
    page = context.new_page()
    page.goto("/admin/regulators")
    expect(page.get_by_role("heading", level=1)).to_have_text("投诉受理机构")
    expect(page.get_by_role("heading", name="全国12315平台（国家市场监督管理总局）")).to_be_visible()
    look(page, "admin-regulators")

    page.get_by_role("button", name="添加机构").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("添加投诉受理机构")
    look(page, "admin-regulator-new")
    name = f"某市市场监督管理局{secrets.token_hex(2)}"
    fill_regulator(
        page,
        {
            "名称 *": name,
            "辖区 *": "中国 某省 某市",
            "渠道": "email",
            "地址 *": "不是邮箱",
            "保存密钥的环境变量名": "CHORUS_SECRET_KEY",
            "决定是否受理的时限（工作日）": "7",
            "办结的时限（工作日）": "45",
            "规则与出处": "《市场监督管理投诉举报处理暂行办法》第十四条",
        },
    )
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator("#f-credentials_env-error")).to_have_text(
        "只能填写以 CHORUS_REGULATOR_KEY_ 开头、后面是大写字母、数字或下划线的变量名。"
    )
    expect(page.get_by_label("保存密钥的环境变量名")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("名称 *")).to_have_value(name)  # what was typed stays
    expect_refusals(page, 422)
    look(page, "admin-regulator-errors")

    fill_regulator(page, {"保存密钥的环境变量名": ""})
    page.get_by_role("button", name="添加", exact=True).click()  # the schema passed; the address is next
    expect(page.locator("#f-address-error")).to_have_text("电子邮件渠道的地址必须是有效的邮箱。")
    expect_refusals(page, 422)
    fill_regulator(page, {"地址 *": "complaints@amr.example.gov.cn"})
    page.get_by_role("button", name="添加", exact=True).click()
    expect(page.locator(".notice-ok")).to_have_text("已添加该机构，组织者现在可以选择它。")
    with live_app.api() as api:
        (added,) = [r for r in ok(api.get("/api/v1/regulators"))["items"] if r["name"] == name]
    card = page.locator(f"#regulator-{added['id']}")
    expect(card).to_contain_text("complaints@amr.example.gov.cn")
    expect(card).to_contain_text("第十四条")
    expect(card).to_contain_text("7 个工作日内决定是否受理，45 个工作日内办结")

    card.get_by_role("link", name=f"修改“{name}”").click()
    expect(page.get_by_label("办结的时限（工作日）")).to_have_value("45")
    fill_regulator(page, {"办结的时限（工作日）": "30"})
    page.get_by_role("button", name="保存修改").click()
    expect(page.locator(".notice-ok")).to_have_text("已保存修改。")
    expect(page.locator(f"#regulator-{added['id']}")).to_contain_text(
        "7 个工作日内决定是否受理，30 个工作日内办结"
    )
    with live_app.api() as api:
        (edited,) = [r for r in ok(api.get("/api/v1/regulators"))["items"] if r["id"] == added["id"]]
    assert edited["finish_working_days"] == 30

    # a dated, cited time-limit rule, added in the form's blank row (not yet checked: marked so)
    page.locator(f"#regulator-{added['id']}").get_by_role("link", name=f"修改“{name}”").click()
    page.get_by_text("添加一条规则").click()
    row = page.locator("#rule-0")
    row.get_by_label("时限").fill("10")
    row.get_by_label("规定名称").fill("《某市消费投诉处理规定》")
    row.get_by_label("条款").fill("第八条")
    row.get_by_label("生效日期").fill("2026-01-01")
    look(page, "admin-regulator-edit-rule")
    page.get_by_role("button", name="保存修改").click()
    card = page.locator(f"#regulator-{added['id']}")
    expect(card).to_contain_text("决定是否受理：10 个工作日")
    expect(card).to_contain_text("《某市消费投诉处理规定》 第八条")
    expect(card.locator("summary .status")).to_have_text("1 条未经核实")
    card.get_by_text("时限规则 1 条").click()
    expect(card.locator("li .status")).to_have_text("未经核实")
    look(page, "admin-regulators-with-rule")
    page.goto(f"/admin/regulators/{added['id']}")
    expect(page.locator("#rule-0")).to_be_visible()
    expect(page.locator("#f-time_limits-0-limit")).to_have_value("10")

    english = staff_user(live_app, "admin", name="Admin", locale="en")
    context_en = new_context(locale="en", viewport=DESKTOP)
    login_browser(context_en, live_app, english)
    page = context_en.new_page()
    page.goto("/admin/regulators")
    expect(page.get_by_role("heading", level=1)).to_have_text("Regulators")
    look(page, "admin-regulators-en")
    page.goto(f"/admin/regulators/{added['id']}")
    fill_regulator(page, {"Channel": "http", "Address *": "ftp://gateway.example.com"})
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-address-error")).to_have_text("An HTTP channel's address must be an http(s) URL.")
    expect_refusals(page, 422)
    look(page, "admin-regulator-errors-en")


def test_an_admin_appoints_a_moderator_from_the_desk(
    new_context: Callable[..., BrowserContext], live_app: LiveApp
) -> None:
    """/admin, reached from the header, says what waits and leads to the staff roles; a
    volunteer's account, found by its address, is made a moderator, and the header shows them
    the moderation link once they sign in."""
    admin = staff_user(live_app, "admin", name="管理员")
    volunteer = verified_user(live_app, name="志愿者")
    context = new_context()
    login_browser(context, live_app, admin)
    page = context.new_page()
    page.goto("/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="管理", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("管理")
    expect(page.get_by_role("heading", name="来信隔离区")).to_be_visible()
    look(page, "admin-desk")

    page.get_by_role("link", name="管理员与审核员").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("管理员与审核员")
    page.get_by_label("对方账户的电子邮箱").fill(volunteer.email)
    page.get_by_role("button", name="查找").click()
    found = page.locator("article.staff-account", has_text=volunteer.email)
    expect(found.get_by_role("heading", name="志愿者")).to_be_visible()
    found.get_by_label("审核员").check()
    found.get_by_role("button", name="保存角色").click()
    saved = page.get_by_role("status").filter(has_text="角色已保存。")
    expect(saved).to_be_in_viewport()
    expect(
        page.locator("article.staff-account", has_text=volunteer.email).get_by_label("审核员")
    ).to_be_checked()
    look(page, "admin-users")

    # the desk's log says who appointed whom
    page.goto("/admin")
    page.get_by_role("link", name="管理操作记录").click()
    expect(page.locator(".activity li").first).to_contain_text("把 志愿者 的角色设为：审核员。")
    expect(page.locator(".activity li").first).to_contain_text("管理员")
    look(page, "admin-activity")
    # only the regulators' changes: not the appointment (the form works without a script)
    page.get_by_label("涉及").select_option(label="投诉受理机构")
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(re.compile(r"area=regulators"))
    expect(page.get_by_label("涉及")).to_have_value("regulators")
    expect(page.locator(".activity li", has_text="把 志愿者 的角色设为")).to_have_count(0)
    # only the appointments: hers first
    page.get_by_label("涉及").select_option(label="角色任命")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator(".activity li").first).to_contain_text("把 志愿者 的角色设为：审核员。")
    page.get_by_role("link", name="显示全部操作").click()
    expect(page).to_have_url(re.compile(r"/admin/activity$"))

    theirs = new_context()
    login_browser(theirs, live_app, volunteer)
    mine = theirs.new_page()
    mine.goto("/")
    expect(mine.get_by_role("link", name="审核", exact=True)).to_be_visible()
    expect(mine.get_by_role("link", name="管理", exact=True)).to_have_count(0)
