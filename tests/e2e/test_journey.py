"""The whole journey of issue 12 in one browser, as a victim walks it on a phone, against the live
app with its worker and the SMTP sink: a stranger reported a card shop under the name she knew;
小林 checks the shop's QQ, registers, confirms the address by the mailed link, reports through the
wizard (a mistyped QQ refused on its field first) under another name with the same QQ and lands in
the stranger's case as its 2nd member, uploads two files with a progress bar each; the stranger,
the case's organizer, builds a complaint version in the console and reminds 小林, who opens the
case page from the reminder e-mail and consents to exactly the text shown; forgets the password
and resets it by the mailed link; deletes the account, which then cannot log in. Pages other
tests look at are not looked at again here; the page of the link that confirms an address again
is (its own test below).

Each step is what a person does and sees; the API is used only for what the stranger does before
she opens the console, and to check what was stored."""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from chorus.markdown import render_document
from tests.e2e.harness import (
    DESKTOP,
    LiveApp,
    User,
    links_in,
    login_browser,
    look,
    report,
    unique_email,
    verified_user,
)
from tests.e2e.test_accounts import expect_refusals
from tests.e2e.test_evidence_upload import PDF, files, phone, png
from tests.e2e.test_report_wizard import INCIDENT, a_qq
from tests.integration.cases_support import ident, report_body
from tests.support import PASSWORD

NEW_PASSWORD = "another long passphrase"


def mailed_link(app: LiveApp, address: str, containing: str, timeout: float = 30) -> str:
    """The first link containing ``containing`` in any mail to ``address`` (waits for the worker)."""
    deadline = time.monotonic() + timeout
    while True:
        for msg in app.mailbox.to(address):
            found = [link for link in links_in(msg) if containing in link]
            if found:
                return found[0]
        if time.monotonic() > deadline:
            subjects = [m["Subject"] for m in app.mailbox.to(address)]
            raise AssertionError(f"no mail to {address} links {containing!r}: {subjects} {app.log_tail()}")
        time.sleep(0.1)


def words(fragment: str) -> str:
    """The text of an HTML fragment without any whitespace (how a browser lays out a table's cells
    is not the question; which characters it shows is)."""
    return re.sub(r"\s+", "", html.unescape(re.sub(r"<[^>]+>", " ", fragment)))


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def test_a_victim_from_the_merchant_check_to_a_deleted_account(
    live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    suffix, qq = secrets.token_hex(3), a_qq()
    stranger_name, my_name = f"星辰数码{suffix}", f"星辰卡盟{suffix}"

    # A stranger reported the shop under the name she knew it by: she opened its case.
    stranger = verified_user(live_app, name="周敏")
    opened = report(live_app, stranger, report_body(stranger_name, [ident("qq", qq)], amount="199.00"))
    case_id = opened["case_id"]
    assert opened["created_case"] and opened["member_number"] == 1

    # 小林, on a phone, checks the QQ the shop gave before paying: others were cheated already.
    page = phone(new_context)
    page.goto("/")
    page.get_by_label("商家名称、链接、电话、QQ、微信、支付宝账号或银行卡号").fill(qq)
    page.get_by_role("button", name="查询").click()
    results = page.get_by_role("main")
    expect(results).to_contain_text(stranger_name)
    expect(results).to_contain_text("1 位受害者举报了这个商家")

    # registers, and confirms the address by the link of the mail (the link alone changes nothing)
    me = User(unique_email("xiaolin"), PASSWORD, "小林")
    page.get_by_role("navigation").get_by_role("link", name="注册").click()
    page.get_by_label("称呼").fill(me.display_name)
    page.get_by_label("电子邮箱").fill(me.email)
    page.get_by_label("密码").fill(me.password)
    page.get_by_role("button", name="注册").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    link = mailed_link(live_app, me.email, "/verify?token=")
    assert link.startswith(live_app.base + "/verify?"), link
    page.goto(link)
    page.get_by_role("button", name="确认我的邮箱").click()
    expect(page.get_by_role("status")).to_contain_text("邮箱已验证")
    page.get_by_label("电子邮箱").fill(me.email)
    page.get_by_label("密码").fill(me.password)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("登录成功")

    # the wizard: a mistyped QQ is refused on its field in words; the right one finds the case
    page.get_by_role("navigation").get_by_role("link", name="举报").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("举报商家")
    # typed before htmx (a deferred script) has read the page, a value is checked by no one: the
    # link's click waits only for the navigation to begin (a CI run on a busy machine typed too soon)
    page.wait_for_load_state()
    value = page.locator("#f-merchant-identifiers-0-value")
    page.locator("#f-merchant-identifiers-0-kind").select_option("qq")
    value.fill(qq[:4] + "o" + qq[5:])  # a letter o for a zero
    expect(page.locator("#check-0")).to_contain_text("QQ 号应为 5–11 位数字且不以 0 开头")
    expect(value).to_have_attribute("aria-invalid", "true")
    value.fill(f"{qq[:3]} {qq[3:]}")  # written as the chat showed it
    check = page.locator("#check-0")
    expect(check).to_contain_text("同一个QQ 号，已有 1 位受害者")
    expect(check).to_contain_text(stranger_name)
    expect(value).not_to_have_attribute("aria-invalid", "true")
    page.locator("#f-merchant-name").fill(my_name)  # the name 小林 knew, not the stranger's
    page.locator("#f-loss-amount").fill("300")
    page.locator("#f-incident_date").fill(INCIDENT)
    page.locator("#f-order_refs").fill("XC-0042")
    page.locator("#f-statement").fill("付款后客服说**系统维护**，然后把我拉黑了。")
    page.get_by_role("button", name="提交举报").click()

    # the case page, as its 2nd member: the stranger's case, which now counts both
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.get_by_role("status").filter(has_text="位受害者")).to_have_text(
        "您是这个案件的第 2 位受害者。下一步：上传证据。"
    )
    expect(page.locator("main")).to_contain_text(re.compile(r"受害者\s*2 人"))
    look(page, "journey-joined")
    with live_app.api() as api:
        case = api.get(f"/api/v1/cases/{case_id}").json()
        merchant = api.get(f"/api/v1/merchants/{opened['merchant_id']}").json()
    assert case["member_count"] == 2
    assert {merchant["name"], *merchant["aliases"]} == {stranger_name, my_name}

    # two files at once, a progress bar each, then listed
    page.get_by_label("选择文件（可以一次选多个）").set_input_files(
        files(("付款截图.png", "image/png", png((40, 160, 90))), ("聊天记录.pdf", "application/pdf", PDF))
    )
    page.get_by_label("这是什么证据").select_option("payment_receipt")
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator('.ev-file[data-state="done"]')).to_have_count(2)
    for name in ("付款截图.png", "聊天记录.pdf"):
        expect(page.get_by_role("progressbar", name=name)).to_have_js_property("value", 100)
    mine = page.locator("#ev-list")
    expect(mine).to_contain_text("已上传（2 份）")
    expect(mine.get_by_role("link", name="付款截图.png")).to_be_visible()
    expect(mine.get_by_role("link", name="聊天记录.pdf")).to_be_visible()

    # the organizer (the stranger, on her computer) agrees to be named, builds the complaint in
    # the console and reminds the one who has not agreed: 小林 is told by e-mail
    with live_app.api() as api:
        r = api.post(f"/api/v1/cases/{case_id}/consent", headers=stranger.headers, json={"consent": True})
        assert r.status_code == 200, r.text
    console = new_context(viewport=DESKTOP).new_page()
    login_browser(console.context, live_app, stranger)
    console.goto(f"/cases/{case_id}/organize/complaints")
    console.get_by_label("提交给哪个监管部门").select_option(index=0)
    console.get_by_role("button", name="生成新版本").click()
    expect(console.get_by_role("status")).to_contain_text("第 1 版已生成")
    console.get_by_role("button", name="提醒这 1 位成员").click()
    expect(console.get_by_role("status")).to_contain_text("已提醒 1 位成员")
    with live_app.api() as api:
        (version,) = api.get(f"/api/v1/cases/{case_id}/complaints", headers=stranger.headers).json()["items"]
    link = mailed_link(live_app, me.email, f"/cases/{case_id}")
    assert link == f"{live_app.base}/cases/{case_id}", link  # the page, not the API's JSON
    page.goto(link)
    expect(page.locator("#needs")).to_contain_text("阅读投诉书全文")

    # the consent shows exactly the text of that version as 小林 may read it, and names it
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "chorus_session")
    with live_app.api() as api:
        r = api.get(f"/api/v1/complaints/{version['id']}", headers={"Authorization": f"Bearer {session}"})
    assert r.status_code == 200, r.text
    shown = r.json()
    assert shown["view"] == "member" and shown["sha256"] == version["sha256"]
    text = page.locator("article.complaint-text")
    assert words(text.inner_html()) == words(render_document(shown["markdown"])[0])
    expect(text).to_contain_text("投诉人总数：2 名")  # 小林 counted, not named before agreeing
    expect(text).not_to_contain_text("周敏")  # the other victim's name hidden from a member
    expect(page.locator("#consent")).to_contain_text(version["sha256"])
    page.get_by_label("我已阅读上面的第 1 版全文，同意在其中署名").check()
    page.get_by_role("button", name="同意以第 1 版署名").click()
    expect(page.get_by_role("status")).to_contain_text("已记录：您同意在投诉书中署名")
    with live_app.api() as api:
        member = api.get(
            f"/api/v1/cases/{case_id}/membership", headers={"Authorization": f"Bearer {session}"}
        ).json()
    assert member["consented_complaint_id"] == version["id"]
    assert member["consented_sha256"] == version["sha256"]

    # a forgotten password, reset by the mailed link
    page.get_by_role("navigation").get_by_role("button", name="退出").click()
    expect(page.get_by_role("status")).to_contain_text("您已退出登录")
    page.goto("/login")
    page.get_by_role("link", name="忘记密码？").click()
    page.get_by_label("电子邮箱").fill(me.email)
    page.get_by_role("button", name="发送重设链接").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("请查收邮件")
    page.goto(mailed_link(live_app, me.email, "/password/reset?token="))
    page.get_by_label("新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("status")).to_contain_text("密码已更新")
    page.get_by_label("电子邮箱").fill(me.email)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.get_by_role("status")).to_contain_text("登录成功")

    # the account deleted: signed out, and the case counts the stranger alone again
    page.get_by_role("navigation").get_by_role("link", name="设置").click()
    page.get_by_role("button", name="删除我的账户…").click()
    page.get_by_label("输入密码以确认").fill(NEW_PASSWORD)
    page.get_by_role("button", name="永久删除我的账户").click()
    expect(page.get_by_role("status")).to_have_text("您的账户已删除。")
    assert path_of(page) == "/goodbye"
    page.goto("/login")
    page.get_by_label("电子邮箱").fill(me.email)
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="登录").click()
    expect(page.locator("#form-error")).to_have_text("邮箱或密码不正确。")
    expect_refusals(page, 401)
    with live_app.api() as api:
        assert api.get(f"/api/v1/cases/{case_id}").json()["member_count"] == 1


def test_the_link_that_confirms_an_address_again_opens_a_page_with_a_button(
    page: Page, live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    """After mail to an address bounced, the member asks to confirm it again (the settings page's
    button; here its API): the mailed link opens a page whose button confirms (mail scanners open
    links, so opening it changes nothing); a damaged link is refused in words."""
    user = verified_user(live_app, name="陈静")
    with live_app.api() as api:
        assert api.post("/api/v1/me/email/confirm", headers=user.headers).status_code == 202
    link = mailed_link(live_app, user.email, "/notifications/confirm-email?token=")
    assert link.startswith(live_app.base + "/notifications/confirm-email?"), link  # a page, not JSON

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("重新确认邮箱地址")
    look(page, "confirm-email")
    page.get_by_role("button", name="确认我的邮箱").click()
    expect(page.get_by_role("status")).to_contain_text("您的邮箱已确认，通知邮件已恢复")
    assert "token=" not in page.url
    look(page, "email-confirmed")

    page.goto(link[:-4] + "xxxx")
    page.get_by_role("button", name="确认我的邮箱").click()
    expect(page.get_by_role("alert")).to_contain_text("链接无效")
    expect(page.get_by_role("button", name="打开通知设置")).to_have_attribute("href", "/settings")
    expect_refusals(page, 422)
    look(page, "confirm-email-refused")

    english = new_context(locale="en").new_page()
    english.goto(link)
    expect(english.get_by_role("heading", level=1)).to_have_text("Confirm your e-mail address again")
    look(english, "confirm-email-en")
    english.get_by_role("button", name="Confirm my address").click()
    expect(english.get_by_role("status")).to_contain_text("notification e-mails start again")
    look(english, "email-confirmed-en")
