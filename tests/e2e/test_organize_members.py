"""The organizer console's members and evidence pages in a real browser: an organizer on a phone
opens the console from the case page, filters the members, promotes one after confirming,
downloads the CSV of consenting members and reads it, then looks at each member's evidence (the
thumbnail shows), the chain check and the shared patterns; in zh-CN and en."""

from __future__ import annotations

import csv
import io
import re
import secrets
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Page, expect

from tests.e2e.harness import LiveApp, User, login_browser, look, report, verified_user
from tests.integration.cases_support import ident, report_body


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (200, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


def organized_case(app: LiveApp) -> dict[str, Any]:
    """The organizer (agreed, a receipt), Ann (agreed to version 1, a phone photo for organizers
    only) and Bob (nothing yet): all three paid one alipay account, order numbers of one shape."""
    suffix = secrets.token_hex(3)
    merchant, payee = f"极速数码{suffix}", f"pay-{suffix}@example.com"
    org = verified_user(app, name="欧阳锋")
    ann = verified_user(app, name="安妮")
    bob = verified_user(app, name="鲍勃")
    people = (
        (org, "1288.00", "JS2026100100123", "2026-10-01"),
        (ann, "300.50", "JS2026100200456", "2026-10-02"),
    )
    people += ((bob, "99.00", "JS2026100300789", "2026-10-03"),)
    case_id = None
    for who, amount, ref, day in people:
        extra = {"case_id": case_id} if case_id else {}
        body = report_body(
            merchant, [ident("alipay", payee)], amount=amount, incident_date=day, order_refs=[ref], **extra
        )
        case_id = report(app, who, body)["case_id"]
    with app.api() as api:
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=org.headers,
                data={"kind": "payment_receipt"},
                files={"file": ("receipt.jpg", jpeg_with_gps(), "image/jpeg")},
            ),
            201,
        )
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=ann.headers,
                data={"kind": "screenshot", "description": "付款截图"},
                files={"file": ("IMG_0001.JPG", jpeg_with_gps(), "image/jpeg")},
            ),
            201,
        )
        ok(api.post(f"/api/v1/cases/{case_id}/consent", headers=org.headers, json={"consent": True}))
        regulators = ok(api.get("/api/v1/regulators"))["items"]
        regulator = next(r["id"] for r in regulators if r["template_kind"] == "samr")
        ok(
            api.post(
                f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": regulator}
            ),
            201,
        )
        ok(api.post(f"/api/v1/cases/{case_id}/consent", headers=ann.headers, json={"consent": True}))
    return {"case": case_id, "merchant": merchant, "payee": payee, "org": org, "ann": ann, "bob": bob}


def in_english(app: LiveApp, user: User) -> None:
    with app.api() as api:
        ok(api.put("/api/v1/me/preferences", headers=user.headers, json={"locale": "en"}))


def test_an_organizer_on_a_phone_filters_promotes_and_exports_the_members(
    page: Page, live_app: LiveApp, tmp_path: Path
) -> None:
    s = organized_case(live_app)
    login_browser(page.context, live_app, s["org"])
    shown = page.goto(f"/cases/{s['case']}")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    page.get_by_role("link", name="管理这个案件（组织者）").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(s["merchant"])
    nav = page.get_by_role("navigation", name="工作台各部分")
    expect(nav.get_by_role("link", name="成员")).to_have_attribute("aria-current", "page")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("tbody")).to_contain_text("已同意第 1 版")
    look(page, "organize-members")

    # only who has not agreed yet: a GET form, the address says so
    page.get_by_label("还没有同意署名的成员（1 位）").check()
    page.get_by_role("button", name="筛选").click()
    expect(page).to_have_url(f"{live_app.base}/cases/{s['case']}/organize?not_consented=1")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("鲍勃")
    expect(page.get_by_role("status")).to_contain_text("显示 1 位（共 3 位）")
    look(page, "organize-members-filtered")

    # promote Bob, after reading what it means
    rows.first.get_by_text("设为组织者…").click()
    expect(rows.first).to_contain_text("不能在这里撤销")
    rows.first.get_by_role("button", name="确认把 鲍勃 设为组织者").click()
    expect(page.get_by_role("status").first).to_contain_text("已设为组织者")
    expect(page.locator("tbody tr", has_text="鲍勃")).to_contain_text("组织者")
    look(page, "organize-members-promoted")

    # the CSV of the members who agreed
    with page.expect_download() as got:
        page.get_by_role("button", name="下载成员名单（CSV）").click()
    download = got.value
    assert download.suggested_filename == f"case-{s['case']}-members.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert table[0][:4] == ["序号", "姓名", "联系邮箱", "损失金额"]
    assert [r[1] for r in table[1:]] == ["欧阳锋", "安妮"]  # Bob never agreed: not in it
    assert table[1][2] == s["org"].email and table[2][3] == "300.50" and table[2][6] == "JS2026100200456"
    assert "鲍勃" not in raw.decode("utf-8-sig")

    in_english(live_app, s["org"])
    page.goto(f"/cases/{s['case']}/organize")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    look(page, "organize-members-en")


def test_an_organizer_sees_each_member_s_evidence_and_the_shared_patterns(
    page: Page, live_app: LiveApp
) -> None:
    s = organized_case(live_app)
    login_browser(page.context, live_app, s["org"])
    shown = page.goto(f"/cases/{s['case']}/organize")
    assert shown is not None and shown.status == 200, live_app.log_tail()
    page.get_by_role("navigation", name="工作台各部分").get_by_role("link", name="证据").click()
    expect(page.get_by_role("heading", level=2, name="各成员的证据")).to_be_visible()
    ann = page.locator("section.member-evidence", has_text="安妮")
    thumb = ann.locator("img")
    expect(thumb).to_have_count(1)
    expect(thumb).to_have_attribute("src", re.compile(r"^/api/v1/evidence/\d+/content$"))
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    expect(ann).to_contain_text("付款截图")
    expect(page.locator("section.member-evidence", has_text="鲍勃")).to_contain_text("还没有上传证据")
    expect(page.locator("#chain")).to_contain_text("证据链完整：2 条记录，未被篡改。")
    patterns = page.locator("#patterns")
    expect(patterns).to_contain_text("3 位受害者付款到同一个支付宝账号")
    expect(patterns).to_contain_text(s["payee"])
    expect(patterns).to_contain_text("3 位受害者的订单号格式相同")
    look(page, "organize-evidence")
    # Bob has none yet: one tap reminds him (and no one else), then the page says when
    remind = page.locator("#remind")
    expect(remind).to_contain_text("还没有上传证据的 1 位成员")
    remind.get_by_role("button", name="提醒这 1 位成员").click()
    expect(page.get_by_role("status")).to_contain_text("已提醒 1 位成员上传证据")
    expect(remind).to_contain_text("上次提醒")
    expect(remind.get_by_role("button")).to_have_count(0)

    in_english(live_app, s["org"])
    page.reload()
    expect(page.get_by_role("heading", level=2, name="Evidence by member")).to_be_visible()
    expect(page.locator("#patterns")).to_contain_text("3 victims paid the same")
    look(page, "organize-evidence-en")
