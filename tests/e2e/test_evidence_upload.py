"""Evidence on the case page in a real browser, on a phone: two files chosen at once go up with a
progress bar each and are listed; a file over the limit is explained on that file before anything
is sent, a program renamed .jpg when the server refuses it; a dropped connection shows a retry
that then works; the chain check in words; withdrawing a file. zh-CN and en."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from typing import Any

from PIL import Image
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.e2e.harness import LiveApp, User, login_browser, look, report, verified_user, watch_of
from tests.integration.cases_support import ident, report_body

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


def png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(buf, "PNG")
    return buf.getvalue()


def a_member(app: LiveApp, name: str = "韩梅梅") -> tuple[User, int]:
    """A verified person who reported a merchant of their own: the only member of its case."""
    user = verified_user(app, name=name)
    qq = str(10_000_000 + secrets.randbelow(89_999_999))
    body = report_body(f"闪电卡盟{secrets.token_hex(3)}", [ident("qq", qq)], amount="268.00")
    return user, int(report(app, user, body)["case_id"])


def phone(new_context: Callable[..., BrowserContext], locale: str = "zh-CN") -> Page:
    """A touch phone's browser: its camera input shows (a mouse pointer hides it)."""
    return new_context(locale=locale, has_touch=True, is_mobile=True).new_page()


def files(*items: tuple[str, str, bytes]) -> list[dict[str, Any]]:
    return [{"name": n, "mimeType": t, "buffer": b} for n, t, b in items]


def drop_big_file(page: Page, name: str, size: int) -> None:
    """Drag a file of ``size`` bytes (made in the page) onto the upload form's drop zone."""
    page.evaluate(
        """([name, size]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(size)], name, { type: "image/png" }));
            const zone = document.querySelector("[data-drop]");
            for (const type of ["dragenter", "dragover", "drop"]) {
                const event = new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true });
                zone.dispatchEvent(event);
            }
        }""",
        [name, size],
    )


def refused_loads(page: Page) -> None:
    """The browser logs each refused upload ("Failed to load resource"): expected here, nothing else."""
    problems = [p for p in watch_of(page).take() if "Failed to load resource" not in p]
    assert not problems, problems


def test_two_files_at_once_with_progress_then_listed_checked_and_one_withdrawn(
    live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    user, case_id = a_member(live_app)
    page = phone(new_context)
    login_browser(page.context, live_app, user)
    page.goto(f"/cases/{case_id}")
    section = page.locator("section.ev")
    expect(section.get_by_role("heading", name="我的证据")).to_be_visible()
    expect(section).to_contain_text("每个文件最大 25 MB；支持 JPG、PNG")
    expect(section).to_contain_text("您还没有上传证据")
    expect(page.get_by_label("用相机拍照上传")).to_be_visible()
    look(page, "evidence-empty")

    page.get_by_label("选择文件（可以一次选多个）").set_input_files(
        files(("付款截图.png", "image/png", png((200, 40, 40))), ("订单.pdf", "application/pdf", PDF))
    )
    queue = page.locator(".ev-queue .ev-file")
    expect(queue).to_have_count(2)
    expect(queue.first).to_contain_text("等待上传")
    page.get_by_label("这是什么证据").select_option("payment_receipt")
    page.get_by_role("button", name="上传", exact=True).click()
    expect(page.locator('.ev-file[data-state="done"]')).to_have_count(2)
    bars = page.locator(".ev-file progress")
    expect(bars).to_have_count(2)
    for i in range(2):
        expect(bars.nth(i)).to_be_visible()
        expect(bars.nth(i)).to_have_js_property("value", 100)
        expect(page.get_by_role("progressbar", name=["付款截图.png", "订单.pdf"][i])).to_be_visible()
    mine = page.locator("#ev-list")
    expect(mine).to_contain_text("已上传（2 份）")  # the list came back through htmx, no reload
    expect(mine.get_by_role("link", name="付款截图.png")).to_be_visible()
    expect(mine.get_by_role("link", name="订单.pdf")).to_be_visible()
    expect(mine.locator("img")).to_have_count(1)  # the photo's thumbnail; the PDF says PDF
    expect(mine.locator(".ev-type")).to_have_text("PDF")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#ev-list img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    look(page, "evidence-uploaded")

    # "checking…" is neither shown nor read out until a check runs, nor once it is done
    expect(page.locator("#ev-chain-busy")).to_be_hidden()
    page.get_by_role("button", name="校验证据链").click()
    expect(page.locator("#ev-chain-result")).to_have_text("证据链完整：2 条记录，未被篡改。")
    expect(page.locator("#ev-chain-busy")).to_be_hidden()
    with live_app.api() as api:
        items = api.get(f"/api/v1/cases/{case_id}/evidence", headers=user.headers).json()["items"]
    assert sorted(i["filename"] for i in items) == ["付款截图.png", "订单.pdf"]
    look(page, "evidence-items")

    # withdraw: the disclosure says what happens, then asks to confirm
    pdf_item = mine.locator(".ev-item").filter(has_text="订单.pdf")
    pdf_item.get_by_text("撤回这份证据…").click()
    expect(pdf_item).to_contain_text("文件也会被删除")
    pdf_item.get_by_role("button", name="确认撤回").click()
    expect(page.get_by_role("status").first).to_contain_text("证据已撤回")
    expect(page.locator("#ev-list")).to_contain_text("已上传（1 份）")
    expect(page.locator("#ev-list")).not_to_contain_text("订单.pdf")
    look(page, "evidence-page-withdrawn")


def test_refusals_are_explained_on_their_file_and_a_dropped_upload_is_retried(
    live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    user, case_id = a_member(live_app, name="李雷")
    page = phone(new_context)
    login_browser(page.context, live_app, user)
    page.goto(f"/cases/{case_id}")
    expect(page.locator("section.ev")).to_be_visible()

    # over the limit: said on the file at once, nothing sent
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    drop_big_file(page, "整段录屏.png", 25 * 1024 * 1024 + 1)
    big = page.locator(".ev-file").filter(has_text="整段录屏.png")
    expect(big).to_have_attribute("data-state", "refused")
    expect(big).to_contain_text("没有上传：文件太大：每个文件最大 25 MB。")
    expect(big.get_by_role("progressbar")).to_be_hidden()

    # a program renamed .jpg: the server reads the bytes and refuses; said on that file
    page.get_by_label("选择文件（可以一次选多个）").set_input_files(files(("照片.jpg", "image/jpeg", ELF)))
    page.get_by_label("这是什么证据").select_option("screenshot")
    page.get_by_role("button", name="上传", exact=True).click()
    fake = page.locator(".ev-file").filter(has_text="照片.jpg")
    expect(fake).to_have_attribute("data-state", "failed")
    expect(fake).to_contain_text("不支持这种文件")
    expect(fake.get_by_role("button", name="重试")).to_have_count(0)  # retrying would not help
    # the file over the limit never left the browser: the one upload sent was the .jpg
    assert len([u for u in sent if u.endswith(f"/api/v1/cases/{case_id}/evidence")]) == 1

    # the connection drops during the next upload: a retry button, and the retry goes through
    dropped: list[str] = []

    def drop_once(route: Route) -> None:
        if route.request.method == "POST" and not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(f"**/api/v1/cases/{case_id}/evidence", drop_once)
    page.get_by_label("选择文件（可以一次选多个）").set_input_files(
        files(("转账记录.png", "image/png", png((10, 120, 60))))
    )
    page.get_by_role("button", name="上传", exact=True).click()
    cut = page.locator(".ev-file").filter(has_text="转账记录.png")
    expect(cut).to_have_attribute("data-state", "failed")
    expect(cut).to_contain_text("网络中断，文件没有传完。")
    expect(page.locator("#ev-list")).to_contain_text("您还没有上传证据")
    refused_loads(page)
    look(page, "evidence-error")
    cut.get_by_role("button", name="重试").click()
    expect(cut).to_have_attribute("data-state", "done")
    expect(page.locator("#ev-list").get_by_role("link", name="转账记录.png")).to_be_visible()
    assert dropped, "the first upload was not intercepted"
    with live_app.api() as api:
        items = api.get(f"/api/v1/cases/{case_id}/evidence", headers=user.headers).json()["items"]
    assert [i["filename"] for i in items] == ["转账记录.png"]  # the refused ones left nothing
    refused_loads(page)


def test_the_section_in_english(live_app: LiveApp, new_context: Callable[..., BrowserContext]) -> None:
    user, case_id = a_member(live_app, name="Lucy")
    with live_app.api() as api:
        r = api.put("/api/v1/me/preferences", headers=user.headers, json={"locale": "en"})
        assert r.status_code == 200, r.text
    page = phone(new_context, locale="en")
    login_browser(page.context, live_app, user)
    page.goto(f"/cases/{case_id}")
    section = page.locator("section.ev")
    expect(section.get_by_role("heading", name="My evidence")).to_be_visible()
    expect(section).to_contain_text("Up to 25 MB per file. Accepted: JPG, PNG")
    look(page, "evidence-empty-en")
    page.get_by_label("Choose files (several at once if you like)").set_input_files(
        files(
            ("receipt.png", "image/png", png((30, 30, 160))),
            ("chat.txt", "text/plain", "客服：已发货".encode()),
        )
    )
    page.get_by_label("What is it").select_option("chat_log")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator('.ev-file[data-state="done"]')).to_have_count(2)
    expect(page.locator("#ev-list")).to_contain_text("Uploaded (2)")
    look(page, "evidence-items-en")
    drop_big_file(page, "screen-recording.png", 25 * 1024 * 1024 + 1)
    expect(page.locator(".ev-file").filter(has_text="screen-recording.png")).to_contain_text(
        "Not uploaded: The file is too large: up to 25 MB per file."
    )
    look(page, "evidence-error-en")


def test_suggestions_read_from_a_chat_export_are_decided_on_a_phone(
    live_app: LiveApp, new_context: Callable[..., BrowserContext]
) -> None:
    """The worker reads an uploaded chat export; on the evidence page each suggestion has its two
    answers side by side (not two full-width bars per field); accepting the seller's QQ adds it to
    the report, rejecting the phone number leaves it out; each is said on the field."""
    user, case_id = a_member(live_app)
    chat = "客服小美: 亲，加我QQ 123456789 领取充值码\n客服小美: 或者打电话 138 0013 8000\n"
    with live_app.api() as api:
        r = api.post(
            f"/api/v1/cases/{case_id}/evidence",
            headers=user.headers,
            data={"kind": "chat_log"},
            files={"file": ("聊天记录.txt", chat.encode(), "text/plain")},
        )
        assert r.status_code == 201, r.text
        evidence_id = r.json()["id"]

        def read() -> bool:
            got = api.get(f"/api/v1/evidence/{evidence_id}/extraction", headers=user.headers)
            return bool(got.json()["status"] == "done")

        live_app.wait_for("the chat export was not read", read)

    page = phone(new_context)
    login_browser(page.context, live_app, user)
    page.goto(f"/cases/{case_id}/evidence")
    suggestions = page.locator(f"#ev-suggestions-{evidence_id}")
    expect(suggestions).to_contain_text("从这份文件识别出 2 条建议")
    qq = suggestions.locator("li").filter(has_text="123456789")
    accept = qq.get_by_role("button", name="采纳", exact=True)
    reject = qq.get_by_role("button", name="不采纳")
    a, r, row = accept.bounding_box(), reject.bounding_box(), qq.bounding_box()
    assert a and r and row
    assert abs(a["y"] - r["y"]) < 2 and a["x"] + a["width"] <= r["x"]  # side by side
    assert max(a["width"], r["width"]) < row["width"] / 2 and min(a["height"], r["height"]) >= 24
    look(page, "evidence-suggestions")

    accept.click()
    expect(page.get_by_text("已采纳这条建议。")).to_be_visible()
    qq = page.locator(f"#ev-suggestions-{evidence_id} li").filter(has_text="123456789")
    expect(qq).to_contain_text("已加入你的举报")
    expect(qq.get_by_role("button")).to_have_count(0)
    tel = page.locator(f"#ev-suggestions-{evidence_id} li").filter(has_text="13800138000")
    tel.get_by_role("button", name="不采纳").click()
    tel = page.locator(f"#ev-suggestions-{evidence_id} li").filter(has_text="13800138000")
    expect(tel).to_contain_text("未采纳")
    expect(tel.get_by_role("button")).to_have_count(0)
    with live_app.api() as api:
        mine = api.get(f"/api/v1/cases/{case_id}/membership", headers=user.headers).json()
    assert {"kind": "qq", "value": "123456789"} in mine["identifiers"]
    assert not any(i["value"].endswith("13800138000") for i in mine["identifiers"])
