"""A member's evidence on the case page (chorus.evidence.pages): the upload form without
JavaScript (multipart streamed through the API's use case, the CSRF token in its action), my
files (view, withdraw; frozen ones stay), the chain check in words. Refusals are said in words
and write nothing: no record, no chain entry, no stored bytes, no temp file. Outsiders get no
section and the section's routes refuse them."""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any

import pytest

from chorus.evidence.tables import ChainLink, Evidence
from tests.integration.authorization_support import represent
from tests.integration.test_complaints import regulator_id
from tests.integration.test_evidence import ELF, blob_files, noisy_png, png, tmp_files
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, http_client, text_of, verified_user

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT = "极速卡盟"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CHAT = "2026-10-01 客服：付款后马上发货。\n2026-10-02 客服：已拉黑。\n".encode()


async def a_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Mia opens a case (its organizer), Ann joins it, Out is verified and in no case."""
    s: dict[str, Any] = {
        "mia": await verified_user(client, mailbox, worker, "mia-ev@example.com", "米娅"),
        "ann": await verified_user(client, mailbox, worker, "ann-ev@example.com", "安妮"),
        "out": await verified_user(client, mailbox, worker, "out-ev@example.com", "路人"),
    }
    body = {
        "merchant": {"name": MERCHANT, "identifiers": [{"kind": "qq", "value": "77889900"}]},
        "loss": {"amount": "88.00", "currency": "CNY"},
        "incident_date": "2026-10-01",
    }
    r = await client.post("/api/v1/reports", json=body, headers=s["mia"])
    assert r.status_code == 201, r.text
    s["case"] = r.json()["case_id"]
    r = await client.post("/api/v1/reports", json={**body, "case_id": s["case"]}, headers=s["ann"])
    assert r.status_code == 201, r.text
    return s


async def upload_form(client: Any, who: dict[str, str] | None, case_id: int) -> tuple[Page, str]:
    """The case page as ``who`` sees it, and its upload form's action (with the CSRF token)."""
    await as_user(client, who)
    r = await client.get(f"/cases/{case_id}")
    assert r.status_code == 200, r.text
    page = Page(r.text)
    (form,) = [f for f in page.forms if f.get("id") == "ev-upload"]
    return page, str(form["action"])


def files_of(*files: tuple[str, bytes, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("file", f) for f in files]


async def post_files(
    client: Any, action: str, *files: tuple[str, bytes, str], kind: str = "screenshot", **fields: str
) -> Any:
    """What a browser without JavaScript sends: the fields first, then the files (and the empty
    part of the camera input nobody used)."""
    parts = [*files_of(*files), ("file", ("", b"", "application/octet-stream"))]
    return await client.post(action, data={"kind": kind, **fields}, files=parts)


async def nothing_written(before: tuple[int, int], settings: Any) -> None:
    assert (await Evidence.count(), await ChainLink.count()) == before
    assert blob_files(settings) == [] and tmp_files(settings) == []


# --- upload without JavaScript ----------------------------------------------------------------------


async def test_the_form_says_the_limits_and_uploads_several_files_that_are_then_listed(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    page, action = await upload_form(client, s["ann"], s["case"])
    r = await client.get(f"/cases/{s['case']}")
    words = text_of(r.text)
    # the limit and the accepted types, said before choosing (from the settings the API enforces)
    assert "每个文件最大 25 MB；支持 JPG、PNG、WEBP、GIF、PDF、TXT、ZIP" in words
    assert "您还没有上传证据" in words  # the empty state says what to do
    assert action.startswith(f"/cases/{s['case']}/evidence?_csrf_token=")
    (form,) = [f for f in page.forms if f.get("id") == "ev-upload"]
    assert form["enctype"] == "multipart/form-data" and form["method"] == "post"
    picker, camera = [i for i in page.inputs if i.get("type") == "file"]
    assert picker["name"] == camera["name"] == "file" and "multiple" in picker
    assert "image/jpeg" in str(picker["accept"]) and "application/pdf" in str(picker["accept"])
    assert camera["capture"] == "environment" and "application/pdf" not in str(camera["accept"])
    for name, label in (("kind", "这是什么证据"), ("visibility", "谁能看到"), ("description", "说明")):
        (field,) = [i for i in page.inputs if i.get("name") == name]
        assert re.search(rf'<label for="{field["id"]}">{label}', r.text), name
    assert "/static/js/evidence.js" in page.scripts and "/static/css/evidence.css" in page.styles
    assert page.inline == 0 and page.style_attributes == 0

    shot, chat = png((9, 80, 200)), CHAT
    r = await post_files(
        client,
        action,
        ("付款截图.png", shot, "image/png"),
        ("聊天记录.txt", chat, "text/plain"),
        kind="payment_receipt",
        description="3 月 5 日付款",
        visibility="members",
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{s['case']}/evidence", r.text
    r = await client.get(r.headers["location"])
    words = text_of(r.text)
    assert "已上传 2 份证据" in words and "已上传（2 份）" in words
    assert "付款截图.png" in words and "聊天记录.txt" in words and "3 月 5 日付款" in words
    assert "付款凭证" in words and "全体成员可见" in words
    items = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["ann"])).json()["items"]
    assert {(i["filename"], i["kind"], i["visibility"], i["size"]) for i in items} == {
        ("付款截图.png", "payment_receipt", "members", len(shot)),
        ("聊天记录.txt", "payment_receipt", "members", len(chat)),
    }
    image = next(i for i in items if i["media_type"] == "image/png")
    assert hashlib.sha256(shot).hexdigest()[:12] in r.text
    # the thumbnail and the download go through the API's authorized download route
    assert f'<img src="/api/v1/evidence/{image["id"]}/content"' in r.text
    assert (await client.get(f"/api/v1/evidence/{image['id']}/content")).content == shot
    assert re.search(r"SHA-256 指纹：<code title=", r.text)
    # the link's name says it downloads, to a screen reader, in Chinese brackets
    assert re.search(
        rf'href="/api/v1/evidence/{image["id"]}/content" download>付款截图.png'
        r'<span class="visually-hidden">（下载）</span></a>',
        r.text,
    )
    # the case page lists them too (newest first)
    r = await client.get(f"/cases/{s['case']}")
    words = text_of(r.text)
    assert words.index("聊天记录.txt") < words.index("付款截图.png")
    assert "#evidence" not in r.text  # nothing needed of Ann now (the case page's own test says so too)
    # htmx asks for the list alone after its uploads
    r = await client.get(f"/cases/{s['case']}/evidence", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text and 'id="ev-list"' in r.text
    assert "付款截图.png" in r.text


async def test_a_too_large_file_is_refused_in_words_and_leaves_nothing(
    settings: Any, mailbox: Any, worker: Any
) -> None:
    small = settings.model_copy(update={"upload_max_bytes": 2048})
    async with http_client(small) as c:
        s = await a_case(c, mailbox, worker)
        _, action = await upload_form(c, s["ann"], s["case"])
        r = await c.get(f"/cases/{s['case']}")
        assert "每个文件最大 2 KB" in text_of(r.text)
        before = (await Evidence.count(), await ChainLink.count())
        big = noisy_png(100)
        assert len(big) > 2048
        r = await post_files(c, action, ("大图.png", big, "image/png"))
        assert r.status_code == 413
        words = text_of(r.text)
        assert "大图.png：没有上传。文件太大：每个文件最大 2 KB。" in words
        assert "screenshot" not in words and "Traceback" not in r.text
        await nothing_written(before, small)
        # one file fits, the next does not: the first is kept, the second explained
        ok = png((1, 2, 3), size=(4, 4))
        r = await post_files(c, action, ("小图.png", ok, "image/png"), ("大图.png", big, "image/png"))
        assert r.status_code == 413
        words = text_of(r.text)
        assert "小图.png：已上传。" in words and "大图.png：没有上传。文件太大" in words
        assert await Evidence.count() == before[0] + 1
        assert [p.name for p in blob_files(small)] == [hashlib.sha256(ok).hexdigest()]
        assert tmp_files(small) == []
        # the form keeps what was chosen
        assert 'value="screenshot" selected' in r.text


def multipart_body(boundary: str, fields: dict[str, str], *files: tuple[str, bytes, str]) -> bytes:
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for filename, content, media_type in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        out += f"{head}Content-Type: {media_type}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def test_a_form_carrying_more_than_its_files_could_is_refused_as_a_whole(
    settings: Any, mailbox: Any, worker: Any
) -> None:
    """At most MAX_FILES files at the limit per form: said when the request announces more, and
    when a streamed (chunked) request turns out to carry more; what came before stays."""
    small = settings.model_copy(update={"upload_max_bytes": 2048})
    async with http_client(small) as c:
        s = await a_case(c, mailbox, worker)
        _, action = await upload_form(c, s["ann"], s["case"])
        before = (await Evidence.count(), await ChainLink.count())
        ok, huge = png((4, 5, 6), size=(4, 4)), os.urandom(2048 * 20 + 1024 * 1024)
        r = await post_files(c, action, ("小图.png", ok, "image/png"), ("录屏.mp4", huge, "video/mp4"))
        assert r.status_code == 413
        assert "一次提交的文件太多或太大，请分几次上传。" in text_of(r.text)
        await nothing_written(before, small)
        # the same without a length: the first file is kept, the second refused, then reading stops
        body = multipart_body(
            "evtest", {"kind": "screenshot"}, ("小图.png", ok, "image/png"), ("录屏.mp4", huge, "video/mp4")
        )

        async def chunks() -> Any:
            for i in range(0, len(body), 64 * 1024):
                yield body[i : i + 64 * 1024]

        r = await c.post(
            action, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=evtest"}
        )
        assert r.status_code == 413
        words = text_of(r.text)
        assert "一次提交的文件太多或太大" in words and "小图.png：已上传。" in words
        assert "录屏.mp4：没有上传。文件太大" in words
        assert await Evidence.count() == before[0] + 1
        assert [p.name for p in blob_files(small)] == [hashlib.sha256(ok).hexdigest()]
        assert tmp_files(small) == []


async def test_a_renamed_program_and_an_empty_kind_are_refused_in_words(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    _, action = await upload_form(client, s["ann"], s["case"])
    before = (await Evidence.count(), await ChainLink.count())
    r = await post_files(client, action, ("photo.jpg", ELF, "image/jpeg"))  # the bytes say otherwise
    assert r.status_code == 415
    assert "photo.jpg：没有上传。不支持这种文件。" in text_of(r.text) and "改扩展名没有用" in r.text
    await nothing_written(before, settings)
    r = await post_files(client, action, ("a.png", png(), "image/png"), kind="")
    assert r.status_code == 422
    page = Page(r.text)
    (kind,) = [i for i in page.inputs if i.get("name") == "kind"]
    assert kind.get("aria-invalid") == "true"
    assert '<small id="f-kind-error" class="field-error">请选择这是什么证据。</small>' in r.text
    await nothing_written(before, settings)
    r = await client.post(
        action, data={"kind": "screenshot"}, files=[("file", ("", b"", "application/octet-stream"))]
    )
    assert r.status_code == 422 and "请先选择要上传的文件。" in r.text
    await nothing_written(before, settings)


async def test_the_upload_needs_the_form_s_csrf_token(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    _, action = await upload_form(client, s["ann"], s["case"])
    before = (await Evidence.count(), await ChainLink.count())
    plain = action.split("?")[0]
    for target in (plain, plain + "?_csrf_token=forged"):
        r = await post_files(client, target, ("a.png", png(), "image/png"))
        assert r.status_code == 403 and "表单已过期" in r.text, target
    await nothing_written(before, settings)
    # the token of another browser does not do either
    other = http_client(settings)
    async with other as c2:
        _, foreign = await upload_form(c2, s["ann"], s["case"])
    r = await post_files(client, plain + "?" + foreign.split("?")[1], ("a.png", png(), "image/png"))
    assert r.status_code == 403
    await nothing_written(before, settings)


# --- my files: withdraw, frozen ----------------------------------------------------------------------


async def test_withdraw_asks_first_and_a_filed_file_stays(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await a_case(client, mailbox, worker)

    async def api_upload(who: str, content: bytes, name: str) -> int:
        r = await client.post(
            f"/api/v1/cases/{s['case']}/evidence",
            headers=s[who],
            data={"kind": "chat_log"},
            files={"file": (name, content, "image/png")},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    keep, drop = (
        await api_upload("mia", png((1, 1, 1)), "keep.png"),
        await api_upload("mia", png((2, 2, 2)), "drop.png"),
    )
    anns = await api_upload("ann", png((3, 3, 3)), "ann.png")
    page, _ = await upload_form(client, s["mia"], s["case"])
    r = await client.get(f"/cases/{s['case']}")
    # each of my files has its withdraw form behind a disclosure that says what it does
    assert f'action="/cases/{s["case"]}/evidence/{drop}/withdraw"' in r.text
    assert "<summary>撤回这份证据…</summary>" in r.text and "文件也会被删除" in r.text
    assert f"/evidence/{anns}/withdraw" not in r.text and "ann.png" not in r.text  # not mine
    token = csrf_of(page)
    r = await client.post(f"/cases/{s['case']}/evidence/{drop}/withdraw", data={"_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{s['case']}/evidence"
    r = await client.get(r.headers["location"])
    assert "证据已撤回" in r.text and "drop.png" not in r.text and "keep.png" in r.text
    listed = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["mia"])).json()["items"]
    assert next(i for i in listed if i["id"] == drop)["withdrawn"] is True
    # someone else's file: refused, and it stays
    await as_user(client, s["ann"])
    token_ann = csrf_of(Page((await client.get(f"/cases/{s['case']}")).text))
    r = await client.post(f"/cases/{s['case']}/evidence/{keep}/withdraw", data={"_csrf_token": token_ann})
    assert r.status_code == 403
    # without the form's token: refused
    await as_user(client, s["mia"])
    r = await client.post(f"/cases/{s['case']}/evidence/{keep}/withdraw", data={})
    assert r.status_code == 403
    # filed: the complaint cites "keep" (Mia consented, built and filed it)
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["mia"], json={"consent": True})
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints",
        headers=s["mia"],
        json={"regulator_id": await regulator_id(client)},
    )
    assert r.status_code == 201, r.text
    await represent(client, s["case"], s["mia"])  # 12315 expects an elected representative
    r = await client.post(
        f"/api/v1/cases/{s['case']}/filings", headers=s["mia"], json={"complaint_id": r.json()["id"]}
    )
    assert r.status_code == 202, r.text
    r = await client.get(f"/cases/{s['case']}/evidence")
    item = r.text[r.text.index(f'id="ev-item-{keep}"') :]
    item = item[: item.index("</li>")]
    assert "已被提交的投诉书引用，不能撤回。" in item and "/withdraw" not in item
    # a form from before the filing (this browser's token): refused in words, on the file; it stays
    token = csrf_of(Page(r.text))
    r = await client.post(f"/cases/{s['case']}/evidence/{keep}/withdraw", data={"_csrf_token": token})
    assert r.status_code == 409
    assert "这份证据已被提交的投诉引用，不能撤回。" in text_of(r.text) and "keep.png" in r.text
    listed = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["mia"])).json()["items"]
    assert next(i for i in listed if i["id"] == keep)["withdrawn"] is False


# --- the chain check ---------------------------------------------------------------------------------


async def test_the_chain_check_says_in_words_what_it_found(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from chorus.evidence.service import storage_for

    s = await a_case(client, mailbox, worker)
    await upload_form(client, s["ann"], s["case"])
    r = await client.get(f"/cases/{s['case']}/evidence/verify")
    assert r.status_code == 200 and "证据链中还没有记录" in text_of(r.text)
    shas = []
    for who, name, content in (("mia", "mia.png", png((5, 5, 5))), ("ann", "收据.png", png((6, 6, 6)))):
        r = await client.post(
            f"/api/v1/cases/{s['case']}/evidence",
            headers=s[who],
            data={"kind": "screenshot"},
            files={"file": (name, content, "image/png")},
        )
        assert r.status_code == 201
        shas.append(r.json()["sha256"])
    # the case page's button: a GET form (no JavaScript: a page; htmx: the verdict alone)
    r = await client.get(f"/cases/{s['case']}")
    assert f'action="/cases/{s["case"]}/evidence/verify"' in r.text
    r = await client.get(f"/cases/{s['case']}/evidence/verify")
    assert "证据链完整：2 条记录，未被篡改。" in text_of(r.text)
    r = await client.get(f"/cases/{s['case']}/evidence/verify", headers={"HX-Request": "true"})
    assert "<html" not in r.text and "证据链完整：2 条记录，未被篡改。" in text_of(r.text)
    # bytes altered behind the app's back: both files named by their record, mine by its name
    store = storage_for(settings)
    for sha in shas:
        path = store.path_for(sha)  # type: ignore[attr-defined]
        os.chmod(path, 0o640)
        path.write_bytes(path.read_bytes() + b"!")
    r = await client.get(f"/cases/{s['case']}/evidence/verify")
    words = text_of(r.text)
    assert "证据链有问题：2 条记录中有 2 条没有通过校验。" in words
    assert "第 2 条记录（您的文件 收据.png）：文件内容和上传时不一样。" in words
    assert "第 1 条记录：文件内容和上传时不一样。" in words and "mia.png" not in words


# --- outsiders ---------------------------------------------------------------------------------------


async def test_outsiders_get_no_section_and_the_routes_refuse_them(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    r = await client.post(
        f"/api/v1/cases/{s['case']}/evidence",
        headers=s["ann"],
        data={"kind": "screenshot", "visibility": "members"},
        files={"file": ("ann-private.png", png((7, 7, 7)), "image/png")},
    )
    ann_item = r.json()["id"]
    # another member sees only their own files here, never Ann's (not even a members-visible one)
    await as_user(client, s["mia"])
    r = await client.get(f"/cases/{s['case']}")
    assert 'id="ev-upload"' in r.text and "ann-private.png" not in r.text and "安妮" not in r.text
    assert f"/api/v1/evidence/{ann_item}/content" not in r.text
    for who in (None, s["out"]):
        await as_user(client, who)
        r = await client.get(f"/cases/{s['case']}")
        assert r.status_code == 200 and 'id="ev-upload"' not in r.text and "evidence.js" not in r.text
        assert "ann-private.png" not in r.text
    # signed out: to the login page
    await as_user(client, None)
    for path in (f"/cases/{s['case']}/evidence", f"/cases/{s['case']}/evidence/verify"):
        r = await client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    # signed in, not a member: 403 pages, nothing written
    await as_user(client, s["out"])
    token = csrf_of(Page((await client.get(f"/cases/{s['case']}")).text))
    for path in (f"/cases/{s['case']}/evidence", f"/cases/{s['case']}/evidence/verify"):
        r = await client.get(path)
        assert r.status_code == 403 and "ann-private.png" not in r.text, path
    before = (await Evidence.count(), await ChainLink.count())
    blobs = blob_files(settings)
    r = await post_files(
        client, f"/cases/{s['case']}/evidence?_csrf_token={token}", ("x.png", png((8, 8, 8)), "image/png")
    )
    assert r.status_code == 403
    r = await client.post(f"/cases/{s['case']}/evidence/{ann_item}/withdraw", data={"_csrf_token": token})
    assert r.status_code == 403
    assert (await Evidence.count(), await ChainLink.count()) == before and blob_files(settings) == blobs
    assert (await client.get("/cases/999999/evidence")).status_code == 404


async def test_the_section_in_english(client: Any, mailbox: Any, worker: Any) -> None:
    s = await a_case(client, mailbox, worker)
    page, _ = await upload_form(client, s["ann"], s["case"])
    r = await client.post("/locale", data={"locale": "en", "next": "/", "_csrf_token": csrf_of(page)})
    assert r.status_code == 303
    r = await client.get(f"/cases/{s['case']}")
    words = text_of(r.text)
    assert Page(r.text).lang == "en"
    assert "My evidence" in words and "Up to 25 MB per file. Accepted: JPG, PNG, WEBP, GIF, PDF" in words
    assert "You have not uploaded any evidence yet" in words and "Check the chain" in words
