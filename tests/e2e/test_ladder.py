"""The member's path to a refund in a real browser (issue 16 item 3): on a phone, Ann says how she
paid and where she bought, sees her next step (the other steps are one line each until opened),
marks the first one done and is shown the next; the organizer's page shows how far members got
(counts only). axe-core, no sideways scrolling."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.harness import LiveApp, login_browser, look, report, verified_user
from tests.integration.cases_support import ident, report_body


def test_a_member_follows_her_next_step_and_the_organizer_sees_counts(
    page: Page, live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    merchant = f"星河卡铺{secrets.token_hex(3)}"
    qq = str(10_000_000 + secrets.randbelow(89_999_999))
    org = verified_user(live_app, name="欧阳锋")
    ann = verified_user(live_app, name="安妮")
    case_id = report(live_app, org, report_body(merchant, [ident("qq", qq)]))["case_id"]
    report(live_app, ann, report_body(merchant, [ident("qq", qq)], case_id=case_id))

    login_browser(page.context, live_app, ann)
    shown = page.goto(f"/cases/{case_id}#ladder")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    expect(page.locator("#ladder-next")).to_contain_text("先向商家书面要求退款")

    page.get_by_label("付款方式").select_option("wechat_pay")
    page.get_by_label("购买平台").select_option("pinduoduo")
    page.get_by_role("button", name="按此显示我的步骤").click()
    expect(page.get_by_role("status")).to_contain_text("已按你的付款方式和购买平台更新步骤")
    # the notice is where the page lands (#ladder), not at its top out of sight
    expect(page.get_by_role("status")).to_be_in_viewport()
    expect(page.locator("#ladder-cn-wechatpay")).to_be_visible()
    expect(page.locator("#ladder-cn-alipay")).to_have_count(0)
    # each step other than the next is one line until she opens it
    wechat = page.locator("#ladder-cn-wechatpay")
    expect(wechat.get_by_label("进度")).to_be_hidden()
    wechat.locator("summary").click()
    expect(wechat.get_by_label("进度")).to_be_visible()
    expect(wechat).to_contain_text("需要准备")

    # the next step's progress form is in its box, right under what to do; its line in the list
    # points there
    box = page.locator("#ladder-next")
    expect(page.locator("#ladder-cn-merchant a")).to_have_attribute("href", "#ladder-next")
    box.get_by_label("进度").select_option("done")
    box.get_by_role("button", name="保存进度").click()
    expect(page.get_by_role("status")).to_contain_text("进度已保存")
    expect(page.get_by_role("status")).to_be_in_viewport()
    expect(box).to_contain_text("在拼多多申请售后或投诉商家")
    expect(page.locator("#ladder-cn-merchant summary")).to_contain_text("已完成")
    expect(page.locator("#ladder-cn-pinduoduo a")).to_have_attribute("href", "#ladder-next")
    look(page, "case-ladder")

    organizer = new_context().new_page()
    login_browser(organizer.context, live_app, org)
    shown = organizer.goto(f"/cases/{case_id}/organize/ladder")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    row = organizer.locator("#ladder-count-cn-merchant")
    expect(row.locator("td")).to_have_text(["2", "1", "0", "1"])
    expect(organizer.locator("main")).not_to_contain_text("安妮")
    look(organizer, "organize-ladder")
