"""The organizer console's members and evidence pages (/cases/{id}/organize,
/organize/members.csv, /organize/organizers, /organize/evidence): organizers see the members with
their loss, evidence and consent to which complaint version, filter them, promote one, export the
consenting ones as the CSV a regulator asks for, and see each member's evidence (thumbnails only
through the authorized download route), the chain's verdict and the patterns the members share.
Plain members and outsiders get a 403 page and none of it."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from chorus import db
from chorus.accounts.schemas import UserRead
from chorus.cases.pages import organize as organize_pages
from chorus.complaints import service as complaints
from chorus.errors import Forbidden
from chorus.evidence import service as evidence
from tests.integration.test_complaints import png, regulator_id
from tests.integration.test_evidence import jpeg_with_gps, upload
from tests.integration.test_pages_case import section
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, text_of, verified_user

pytestmark = pytest.mark.usefixtures("clean")

MERCHANT = "极速数码旗舰店"
PAYEE = "pay-jisu@example.com"  # the alipay account everyone paid
# (display name, e-mail, order reference, incident day)
ORG = ("欧阳锋", "org-organize@example.com", "JS2026100100123", "2026-10-01")
ANN = ("安妮", "ann-organize@example.com", "JS2026100200456", "2026-10-02")
BOB = ("鲍勃", "bob-organize@example.com", "JS2026100300789", "2026-10-03")
# a display name a spreadsheet would run as a formula, were it not quoted
CARL = (
    '=HYPERLINK("http://evil.example","卡尔")',
    "carl-organize@example.com",
    "JS2026100400999",
    "2026-10-04",
)
OUT = ("路人乙", "out-organize@example.com")


async def report(client: Any, who: dict[str, str], person: tuple[str, ...], amount: str, **extra: Any) -> int:
    r = await client.post(
        "/api/v1/reports",
        headers=who,
        json={
            "merchant": {"name": MERCHANT, "identifiers": [{"kind": "alipay", "value": PAYEE}]},
            "loss": {"amount": amount, "currency": "CNY"},
            "incident_date": person[3],
            "order_refs": [person[2]],
            "statement": f"{person[0]} 的陈述",
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return int(r.json()["case_id"])


async def consent(client: Any, case_id: int, who: dict[str, str]) -> None:
    r = await client.post(f"/api/v1/cases/{case_id}/consent", headers=who, json={"consent": True})
    assert r.status_code == 200, r.text


async def build(client: Any, s: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": s["regulator"]}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def organized_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Four members who all paid one alipay account, with order numbers of one shape, within four
    days. The organizer agreed before any text (and uploaded a receipt); Ann agreed to version 1
    and uploaded a phone photo with GPS (organizers only) and a PDF-less PNG; version 2 was built
    after her; Carl agreed to version 2; Bob has agreed to nothing and uploaded nothing."""
    s: dict[str, Any] = {
        "org": await verified_user(client, mailbox, worker, ORG[1], ORG[0]),
        "ann": await verified_user(client, mailbox, worker, ANN[1], ANN[0]),
        "bob": await verified_user(client, mailbox, worker, BOB[1], BOB[0]),
        "carl": await verified_user(client, mailbox, worker, CARL[1], CARL[0]),
        "out": await verified_user(client, mailbox, worker, OUT[1], OUT[0]),
        "regulator": await regulator_id(client),
    }
    s["case"] = await report(client, s["org"], ORG, "1288.00")
    for who, person, amount in (("ann", ANN, "300.50"), ("bob", BOB, "99.00"), ("carl", CARL, "45.00")):
        await report(client, s[who], person, amount, case_id=s["case"])
    me = (await client.get("/api/v1/me", headers=s["org"])).json()
    s["ids"] = {
        who: (await client.get("/api/v1/me", headers=s[who])).json()["id"] for who in ("ann", "bob", "carl")
    } | {"org": me["id"]}
    r = await upload(client, s["case"], s["org"], png(7), filename="receipt.png", kind="payment_receipt")
    assert r.status_code == 201, r.text
    s["org_ev"] = r.json()["id"]
    await consent(client, s["case"], s["org"])
    s["v1"] = await build(client, s)
    r = await upload(
        client, s["case"], s["ann"], jpeg_with_gps(), filename="IMG_0001.JPG", declared="image/jpeg"
    )
    assert r.status_code == 201, r.text
    s["ann_photo"] = r.json()["id"]
    r = await upload(client, s["case"], s["ann"], b"chat log\n", filename="chat.txt", declared="text/plain")
    assert r.status_code == 201, r.text
    s["ann_text"] = r.json()["id"]
    await consent(client, s["case"], s["ann"])
    s["v2"] = await build(client, s)
    await consent(client, s["case"], s["carl"])
    return s


async def english(client: Any, who: dict[str, str]) -> None:
    r = await client.put("/api/v1/me/preferences", headers=who, json={"locale": "en"})
    assert r.status_code == 200, r.text


def rows_of(html: str) -> dict[str, str]:
    """The members table: data-consent and the row's text, by the row's user id."""
    found = re.findall(r'<tr id="member-(\d+)" data-consent="(\w+)">(.*?)</tr>', html, re.S)
    return {uid: f"{state} | {' '.join(text_of(body).split())}" for uid, state, body in found}


# --- who may look ---------------------------------------------------------------------------------


async def test_only_organizers_see_the_console(client: Any, mailbox: Any, worker: Any) -> None:
    s = await organized_case(client, mailbox, worker)
    base = f"/cases/{s['case']}/organize"
    for who in ("ann", "out"):  # a plain member, and someone in no case
        await as_user(client, s[who])
        for path in (base, f"{base}/evidence", f"{base}/members.csv"):
            r = await client.get(path)
            assert r.status_code == 403, (who, path, r.status_code)
            assert r.headers["content-type"].startswith("text/html")
            assert "\ufeff" not in r.text and PAYEE not in r.text
            for person in (ORG, BOB, CARL):
                assert person[1] not in r.text and person[2] not in r.text
        page_ = await client.get(f"/cases/{s['case']}")
        token = csrf_of(Page(page_.text)) if who == "ann" else ""
        r = await client.post(
            f"{base}/organizers", data={"user_id": str(s["ids"]["bob"]), "_csrf_token": token}
        )
        assert r.status_code == 403, r.text
    await as_user(client, None)
    r = await client.get(base)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next={base}"
    members = (await client.get(f"/api/v1/cases/{s['case']}/members", headers=s["org"])).json()["items"]
    assert [m["role"] for m in members] == ["organizer", "member", "member", "member"]  # nobody promoted
    r = await client.get("/cases/999999/organize")
    await as_user(client, s["org"])
    assert (await client.get("/cases/999999/organize")).status_code == 404


# --- the members table ----------------------------------------------------------------------------


async def test_the_organizer_sees_every_member_with_loss_evidence_and_consent(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize")
    assert r.status_code == 200, r.text
    page_ = Page(r.text)
    assert page_.lang == "zh-CN" and page_.inline == 0 and page_.style_attributes == 0
    assert "/static/css/organize.css" in page_.styles
    assert re.search(rf'href="/cases/{s["case"]}/organize" aria-current="page"', r.text)
    for sub in ("evidence", "complaints", "filings", "announcements"):
        assert f'href="/cases/{s["case"]}/organize/{sub}"' in r.text
    rows = rows_of(r.text)
    ids = s["ids"]
    assert list(rows) == [str(ids[w]) for w in ("org", "ann", "bob", "carl")]  # joining order
    assert s["v2"]["version"] == 2  # both versions for one regulator
    org, ann, bob, carl = (rows[str(ids[w])] for w in ("org", "ann", "bob", "carl"))
    assert org.startswith("no_text |") and "¥1,288.00" in org and "1 份" in org and "组织者" in org
    assert "已同意（当时还没有投诉书）" in org
    assert (
        ann.startswith("older |") and "已同意第 1 版" in ann and "还没有看过最新版" in ann and "2 份" in ann
    )
    assert bob.startswith("none |") and "还没有同意" in bob and "还没有上传" in bob and "¥99.00" in bob
    assert carl.startswith("latest |") and "已同意第 2 版（最新版）" in carl and "投诉对象：" in carl
    assert ORG[1] in org and ANN[1] in ann  # organizers see contacts, as the API shows them
    assert CARL[0] not in r.text and "=HYPERLINK(&#34;http://evil.example&#34;" in r.text  # escaped
    text = " ".join(text_of(r.text).split())
    facts = dict(re.findall(r'<dd id="fact-(\w+)">([^<]*)</dd>', r.text))
    assert facts == {"members": "4 位", "consenting": "3 位", "without": "2 位"}
    assert "最新的投诉书：第 2 版" in text and "还有 1 位成员没有同意署名" in text
    # the way to ask them: the latest version's page, where its reminder is
    assert f'href="/cases/{s["case"]}/organize/complaints/{s["v2"]["id"]}"' in r.text
    assert "可以一键提醒还没有同意这一版的成员" in text and "用公告提醒" not in text
    assert "投诉越有分量。打开上面最新的投诉书" in text  # two sentences, no space between in Chinese
    # promote forms: one per plain member, none for the organizer
    promote_forms = [f for f in page_.forms if f.get("action") == f"/cases/{s['case']}/organize/organizers"]
    assert len(promote_forms) == 3
    assert f'href="/cases/{s["case"]}/organize/members.csv"' in r.text
    # English
    await english(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize")
    assert "Agreed to version 1" in r.text and "has not seen the latest" in r.text


async def test_the_filters_keep_who_has_not_agreed_and_who_has_no_evidence(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    base, ids = f"/cases/{s['case']}/organize", s["ids"]
    r = await client.get(f"{base}?not_consented=1")
    assert list(rows_of(r.text)) == [str(ids["bob"])]
    assert 'name="not_consented" value="1" checked' in r.text
    assert "显示 1 位（共 4 位）" in text_of(r.text) and f'href="{base}"' in r.text
    r = await client.get(f"{base}?no_evidence=1")
    assert list(rows_of(r.text)) == [str(ids["bob"]), str(ids["carl"])]
    r = await client.get(f"{base}?no_evidence=1&not_consented=1")
    assert list(rows_of(r.text)) == [str(ids["bob"])]
    await consent(client, s["case"], s["bob"])
    r = await client.get(f"{base}?not_consented=1")
    assert rows_of(r.text) == {} and "没有符合条件的成员" in r.text
    r = await client.get(f"{base}?not_consented=0")  # an unticked value is no filter
    assert len(rows_of(r.text)) == 4


async def test_the_members_table_is_shown_a_page_at_a_time_with_the_filters_kept(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case of thousands of members: the table shows a page of rows (here 3), in joining
    order, the counts above it are of everyone, and the links to the other pages keep the
    filters. A page beyond the last is not found."""
    s = await organized_case(client, mailbox, worker)
    monkeypatch.setattr(organize_pages, "MEMBERS_PER_PAGE", 3)
    await as_user(client, s["org"])
    base, ids = f"/cases/{s['case']}/organize", s["ids"]
    r = await client.get(base)
    assert r.status_code == 200
    assert list(rows_of(r.text)) == [str(ids[w]) for w in ("org", "ann", "bob")]
    assert '<dd id="fact-members">4 位</dd>' in r.text  # everyone, not this page only
    assert "第 1 页，共 2 页" in text_of(r.text) and "上一页" not in text_of(r.text)
    assert f'<a href="{base}?page=2" rel="next">下一页</a>' in r.text
    r = await client.get(f"{base}?page=2")
    assert list(rows_of(r.text)) == [str(ids["carl"])]
    assert "第 2 页，共 2 页" in text_of(r.text) and "下一页" not in text_of(r.text)
    assert f'<a href="{base}?page=1" rel="prev">上一页</a>' in r.text
    # the filter's rows, a page at a time, the filter in the links
    r = await client.get(f"{base}?no_evidence=1&page=1")
    assert list(rows_of(r.text)) == [str(ids["bob"]), str(ids["carl"])] and "下一页" not in text_of(r.text)
    monkeypatch.setattr(organize_pages, "MEMBERS_PER_PAGE", 1)
    r = await client.get(f"{base}?no_evidence=1")
    assert list(rows_of(r.text)) == [str(ids["bob"])]
    assert f'<a href="{base}?no_evidence=1&amp;page=2" rel="next">下一页</a>' in r.text
    r = await client.get(f"{base}?no_evidence=1&page=2")
    assert list(rows_of(r.text)) == [str(ids["carl"])]
    for beyond in ("3", "0", "-1"):
        r = await client.get(f"{base}?no_evidence=1&page={beyond}")
        assert r.status_code == 404, beyond
    r = await client.get(f"{base}?page=second")
    assert r.status_code == 422 and rows_of(r.text) == {}
    monkeypatch.undo()  # 100 a page: one page, no page links
    r = await client.get(base)
    assert len(rows_of(r.text)) == 4 and "共 1 页" not in text_of(r.text) and "下一页" not in text_of(r.text)


async def test_promote_makes_a_member_an_organizer_and_refuses_a_stranger(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    base = f"/cases/{s['case']}/organize"
    token = csrf_of(Page((await client.get(base)).text))
    # not a member of the case: said above the table, nobody changed
    r = await client.post(
        f"{base}/organizers", data={"user_id": str(s["ids"]["org"] + 1000), "_csrf_token": token}
    )
    assert r.status_code == 404 and 'id="form-error"' in r.text and "不是本案成员" in r.text
    r = await client.post(f"{base}/organizers", data={"user_id": "abc", "_csrf_token": token})
    assert r.status_code == 422 and 'id="form-error"' in r.text
    r = await client.post(f"{base}/organizers", data={"_csrf_token": token})
    assert r.status_code == 422
    members = (await client.get(f"/api/v1/cases/{s['case']}/members", headers=s["org"])).json()["items"]
    assert [m["role"] for m in members] == ["organizer", "member", "member", "member"]
    # no CSRF token: refused
    r = await client.post(f"{base}/organizers", data={"user_id": str(s["ids"]["ann"])})
    assert r.status_code == 403
    r = await client.post(f"{base}/organizers", data={"user_id": str(s["ids"]["ann"]), "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == base
    r = await client.get(base)
    assert "已设为组织者" in r.text
    assert "组织者" in rows_of(r.text)[str(s["ids"]["ann"])]
    members = (await client.get(f"/api/v1/cases/{s['case']}/members", headers=s["org"])).json()["items"]
    assert [m["role"] for m in members] == ["organizer", "organizer", "member", "member"]
    # Ann is told (the API's use case) and now opens the console herself
    await worker()
    inbox = (await client.get("/api/v1/notifications", headers=s["ann"])).json()["items"]
    assert any(n["kind"] == "case.organizer_added" for n in inbox)
    await as_user(client, s["ann"])
    assert (await client.get(base)).status_code == 200


# --- the CSV ------------------------------------------------------------------------------------


async def test_the_csv_lists_only_consenting_members_in_the_regulator_s_columns(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/members.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="case-{s["case"]}-members.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "序号",
        "姓名",
        "联系邮箱",
        "损失金额",
        "币种",
        "受损日期",
        "订单号",
        "同意日期",
        "同意的投诉书版本",
    ]
    body = rows[1:]
    assert [r_[1] for r_ in body] == [ORG[0], ANN[0], "'" + CARL[0]]  # Chinese intact, formula quoted
    assert BOB[0] not in text and BOB[1] not in text and BOB[2] not in text  # never agreed: not there
    org, ann, carl = body
    assert org[:7] == ["1", ORG[0], ORG[1], "1288.00", "CNY", "2026-10-01", ORG[2]]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", org[7]) and org[8] == ""  # agreed before any text
    assert ann[0] == "2" and ann[3] == "300.50" and ann[6] == ANN[2] and ann[8].startswith("第 1 版，")
    assert carl[0] == "3" and carl[2] == CARL[1] and carl[8].startswith("第 2 版，")
    # English headers for an English reader
    await english(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/members.csv")
    head = next(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert head[:3] == ["No.", "Name", "Contact e-mail"] and head[-1] == "Complaint version agreed to"


async def test_no_one_agreed_means_an_empty_list_and_no_download_button(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org = await verified_user(client, mailbox, worker, ORG[1], ORG[0])
    case_id = await report(client, org, ORG, "10.00")
    await as_user(client, org)
    r = await client.get(f"/cases/{case_id}/organize")
    assert "还没有成员同意署名" in r.text and "members.csv" not in r.text
    assert "还没有生成投诉书" in r.text
    # no text to agree to yet: an announcement is the way to ask
    assert "还有 1 位成员没有同意署名" in text_of(r.text) and "可以用公告提醒大家" in text_of(r.text)
    r = await client.get(f"/cases/{case_id}/organize/members.csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0][0] == "序号"


# --- evidence by member, patterns -----------------------------------------------------------------


async def test_evidence_by_member_with_thumbnails_only_through_the_authorized_route(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/evidence")
    assert r.status_code == 200, r.text
    assert Page(r.text).inline == 0
    assert re.search(rf'href="/cases/{s["case"]}/organize/evidence" aria-current="page"', r.text)
    ids = s["ids"]
    ann = section(r.text, f"ev-member-{ids['ann']}")
    assert ANN[0] in ann and "2 份" in ann
    assert f'id="org-ev-{s["ann_photo"]}"' in ann and f'id="org-ev-{s["ann_text"]}"' in ann
    assert "截图" in ann and "TXT" in ann  # kind in words; a file without a picture shows its type
    assert "还没有上传证据" in section(r.text, f"ev-member-{ids['bob']}")
    org = section(r.text, f"ev-member-{ids['org']}")
    assert f'id="org-ev-{s["org_ev"]}"' in org and "付款凭证" in org
    # every picture on the page is the download route (never a path to stored bytes) and only
    # for files with a metadata-free copy; the text file has none
    srcs = re.findall(r'<img src="([^"]+)"', r.text)
    assert sorted(srcs) == sorted(f"/api/v1/evidence/{i}/content" for i in (s["ann_photo"], s["org_ev"]))
    photo = await client.get(f"/api/v1/evidence/{s['ann_photo']}/content")  # the browser's cookie
    assert photo.status_code == 200
    exif = Image.open(io.BytesIO(photo.content)).getexif()
    assert 0x8825 not in exif and 0x010F not in exif  # the organizer's copy has no GPS, no maker
    # the same URL refuses a plain member (Ann's photo is for organizers) and an outsider
    for who in ("bob", "out"):
        await as_user(client, s[who])
        assert (await client.get(f"/api/v1/evidence/{s['ann_photo']}/content")).status_code == 403
    # the chain, in words
    await as_user(client, s["org"])
    chain = section(r.text, "chain")
    assert "证据链完整：3 条记录，未被篡改。" in text_of(chain)


async def test_evidence_a_page_of_members_at_a_time_and_a_long_chain_checked_on_request(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case of thousands of members and tens of thousands of files: the evidence page shows a
    page of members (here 2) and counts of the whole case; the chain of so many files is
    recomputed when the organizer asks."""
    s = await organized_case(client, mailbox, worker)
    ids = s["ids"]
    r = await upload(client, s["case"], s["carl"], png(9), filename="carl.png", kind="payment_receipt")
    assert r.status_code == 201, r.text
    carl_ev = r.json()["id"]
    monkeypatch.setattr(organize_pages, "EVIDENCE_MEMBERS_PER_PAGE", 2)
    monkeypatch.setattr(organize_pages, "VERIFY_ON_VIEW_AT_MOST", 3)
    await as_user(client, s["org"])
    base = f"/cases/{s['case']}/organize/evidence"
    r = await client.get(base)
    assert r.status_code == 200
    shown = re.findall(r'<section class="member-evidence" id="ev-member-(\w+)"', r.text)
    assert shown == [str(ids["org"]), str(ids["ann"])]
    assert "共 4 份证据，来自 3 位成员。" in text_of(r.text)  # the whole case, not this page
    assert (
        "第 1 页，共 2 页" in text_of(r.text) and f'<a href="{base}?page=2" rel="next">下一页</a>' in r.text
    )
    chain = section(r.text, "chain")
    assert "本案共有 4 份证据" in text_of(chain) and "证据链完整" not in text_of(chain)
    assert f'hx-get="/cases/{s["case"]}/evidence/verify"' in chain
    verdict = await client.get(f"/cases/{s['case']}/evidence/verify", headers={"HX-Request": "true"})
    assert verdict.status_code == 200 and "证据链完整：4 条记录，未被篡改。" in text_of(verdict.text)
    r = await client.get(f"{base}?page=2")
    shown = re.findall(r'<section class="member-evidence" id="ev-member-(\w+)"', r.text)
    assert shown == [str(ids["bob"]), str(ids["carl"])]
    assert f'id="org-ev-{carl_ev}"' in section(r.text, f"ev-member-{ids['carl']}")
    assert "还没有上传证据" in section(r.text, f"ev-member-{ids['bob']}")
    assert f'<a href="{base}?page=1" rel="prev">上一页</a>' in r.text
    for beyond in ("3", "0"):
        assert (await client.get(f"{base}?page={beyond}")).status_code == 404
    # a filing cites Carl's file, then he leaves: it stays, after the last page's members only
    async with db.transaction():
        assert await evidence.freeze([carl_ev], datetime.now(UTC)) == 0
    r = await client.delete(f"/api/v1/cases/{s['case']}/membership", headers=s["carl"])
    assert r.status_code == 204, r.text
    r = await client.get(base)
    assert "ev-member-left" not in r.text and "共 4 份证据，来自 2 位成员。" in text_of(r.text)
    r = await client.get(f"{base}?page=2")
    shown = re.findall(r'<section class="member-evidence" id="ev-member-(\w+)"', r.text)
    assert shown == [str(ids["bob"]), "left"]
    assert f'id="org-ev-{carl_ev}"' in section(r.text, "ev-member-left")
    monkeypatch.undo()  # as shipped: one page, the chain checked on each view
    r = await client.get(base)
    assert "证据链完整：4 条记录，未被篡改。" in text_of(section(r.text, "chain")) and "下一页" not in r.text


async def test_a_broken_chain_is_said_in_words(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    s = await organized_case(client, mailbox, worker)
    from chorus.evidence.service import storage_for

    store = storage_for(settings)
    row = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["ann"])).json()["items"]
    sha = next(e["sha256"] for e in row if e["id"] == s["ann_text"])
    await store.delete(sha)
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/evidence")
    chain = " ".join(text_of(section(r.text, "chain")).split())
    assert "证据链有问题：3 条记录中有 1 条没有通过校验" in chain and "文件不见了" in chain
    assert 'class="notice notice-error" role="alert"' in r.text


async def test_shared_patterns_are_shown_in_words(client: Any, mailbox: Any, worker: Any) -> None:
    s = await organized_case(client, mailbox, worker)
    await as_user(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/evidence")
    shared = " ".join(text_of(section(r.text, "patterns")).split())
    assert f"4 位受害者付款到同一个支付宝账号 {PAYEE}" in shared
    assert "4 位受害者的订单号格式相同 JS#############" in shared
    assert "4 位受害者在 7 天之内受损（2026年10月1日 至 2026年10月4日）" in shared
    assert "本案全部 4 位成员都是这样" in shared and "下一版投诉书会在“共同特征”一节列出这些特征" in shared
    # what the complaint cites is the same
    md = (await client.get(f"/api/v1/complaints/{s['v2']['id']}", headers=s["org"])).json()["markdown"]
    assert PAYEE in md and "JS#############" in md
    await english(client, s["org"])
    r = await client.get(f"/cases/{s['case']}/organize/evidence")
    shared = " ".join(text_of(section(r.text, "patterns")).split())
    assert "4 victims paid the same" in shared and "lost money within 7 days" in shared


async def test_the_patterns_service_is_for_organizers(client: Any, mailbox: Any, worker: Any) -> None:
    s = await organized_case(client, mailbox, worker)
    found = await complaints.patterns(s["case"], actor=await _user(client, s["org"]))
    assert found.members_total == 4
    kinds = {p.kind: p for p in found.items}
    assert set(kinds) == {"payee_account", "order_format", "burst"}
    assert kinds["payee_account"].value == PAYEE and kinds["payee_account"].identifier_kind == "alipay"
    assert kinds["burst"].window_days == 7 and str(kinds["burst"].date_to) == "2026-10-04"
    for who in ("ann", "out"):
        with pytest.raises(Forbidden):
            await complaints.patterns(s["case"], actor=await _user(client, s[who]))


async def _user(client: Any, headers: dict[str, str]) -> UserRead:
    return UserRead.model_validate((await client.get("/api/v1/me", headers=headers)).json())


# --- the pure parts -------------------------------------------------------------------------------


def test_consent_in_words_and_cells_a_spreadsheet_will_not_run() -> None:
    from datetime import UTC, date, datetime

    from chorus.cases.pages.organize import cell, consent_of
    from chorus.cases.schemas import MemberRead, MoneyRead
    from chorus.complaints.schemas import ComplaintBrief, RegulatorBrief

    now = datetime(2026, 10, 5, tzinfo=UTC)

    def member(consented: bool, *version_ids: int) -> MemberRead:
        return MemberRead(
            user_id=1,
            display_name="安妮",
            email="a@example.com",
            role="member",
            loss=MoneyRead(amount="1.00", currency="CNY"),
            incident_date=date(2026, 10, 1),
            order_refs=[],
            joined_at=now,
            consented_at=now if consented else None,
            consented_complaint_id=max(version_ids, default=None),
            consented_complaint_ids=sorted(version_ids),
        )

    def version(id_: int, n: int, regulator: int = 1) -> ComplaintBrief:
        return ComplaintBrief(
            id=id_,
            version=n,
            locale="zh-CN",
            regulator=RegulatorBrief(id=regulator, name=f"R{regulator}"),
            sha256="0" * 64,
            created_at=now,
            filed=False,
            named_members=0,
        )

    versions = {5: version(5, 1), 9: version(9, 2)}
    latest = [versions[9]]
    assert consent_of(member(False), versions, latest).state == "none"
    assert consent_of(member(True), versions, latest).state == "no_text"
    older = consent_of(member(True, 5), versions, latest)
    newest = consent_of(member(True, 5, 9), versions, latest)
    assert (older.state, older.lines, older.agreed) == ("older", [("older", versions[5])], [versions[5]])
    assert (newest.state, newest.lines) == ("latest", [("latest", versions[9])])
    assert newest.agreed == [versions[9], versions[5]]  # newest first: the CSV's column
    assert consent_of(member(True, 3), versions, latest).state == "earlier"  # a merged case's version
    # A case filed with two regulators: the latest version of each is agreed to on its own.
    two = {**versions, 11: version(11, 1, regulator=2)}
    both = [two[11], two[9]]
    one = consent_of(member(True, 9), two, both)
    assert (one.state, one.lines) == ("older", [("not_yet", two[11]), ("latest", two[9])])
    assert consent_of(member(True, 9, 11), two, both).state == "latest"
    assert consent_of(member(True, 5, 11), two, both).lines == [("latest", two[11]), ("older", two[5])]
    assert [cell(v) for v in ("=1+1", "+86", "-5", "@x", "\tx", "安妮", "1288.00")] == [
        "'=1+1",
        "'+86",
        "'-5",
        "'@x",
        "'\tx",
        "安妮",
        "1288.00",
    ]
