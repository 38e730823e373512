"""Receipts read for their uploader (issue 19), over HTTP with a real arq worker: an image is
read by OCR (a few fixture images only: the model loads once per test process), a chat export
as text; the suggested fields are the uploader's to accept or reject; an accepted payee account
joins the report as a typed identifier would, so a second victim naming it joins the same case."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chorus.evidence import ocr
from chorus.evidence.tables import ExtractedField, Extraction
from tests.support import assert_problem, verified_user

pytestmark = pytest.mark.usefixtures("clean")

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ocr"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
CHAT = """2026-11-01 10:02:11 客服小美: 亲，加我QQ 123456789 领取充值码
2026-11-01 10:03:40 客服小美: 或者加微信 xingchen_888，电话 138 0013 8000
2026-11-01 10:04:02 客服小美: 订单号 XC2026110300123
2026-11-01 10:05:00 客服小美: 收款账号 6222020200112233445
"""


@pytest.fixture(scope="module")
def ocr_engine() -> Any:
    """The OCR model, loaded once for the module (the worker's jobs run in this process)."""
    if not ocr.available():
        pytest.skip("the [ocr] extra is not installed")
    return ocr.engine(1)


def report_body(name: str, identifiers: list[dict[str, str]], order_refs: list[str] | None = None) -> Any:
    return {
        "merchant": {"name": name, "identifiers": identifiers},
        "loss": {"amount": "100.00", "currency": "CNY"},
        "incident_date": "2026-11-01",
        "order_refs": order_refs or [],
    }


async def upload(
    client: Any,
    case_id: int,
    headers: dict[str, str],
    content: bytes,
    *,
    filename: str,
    media_type: str,
    kind: str = "payment_receipt",
    visibility: str = "organizers",
) -> int:
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=headers,
        data={"kind": kind, "visibility": visibility},
        files={"file": (filename, content, media_type)},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def extraction(client: Any, evidence_id: int, headers: dict[str, str]) -> dict[str, Any]:
    r = await client.get(f"/api/v1/evidence/{evidence_id}/extraction", headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def field_of(read: dict[str, Any], kind: str) -> dict[str, Any]:
    (f,) = [f for f in read["fields"] if f["kind"] == kind]
    return dict(f)


async def decide(client: Any, evidence_id: int, field_id: int, headers: dict[str, str], how: str) -> Any:
    return await client.post(
        f"/api/v1/evidence/{evidence_id}/extraction/fields/{field_id}/{how}", headers=headers
    )


async def test_receipt_read_accepted_and_a_second_victim_joins_the_case(
    client: Any, mailbox: Any, worker: Any, ocr_engine: Any
) -> None:
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    bob = await verified_user(client, mailbox, worker, "bob@example.com", "Bob")
    r = await client.post(
        "/api/v1/reports", json=report_body("星辰卡盟", [{"kind": "qq", "value": "88886666"}]), headers=ann
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]

    png = (FIXTURES / "alipay_full_zh.png").read_bytes()
    evidence_id = await upload(client, case_id, ann, png, filename="receipt.png", media_type="image/png")
    pending = await extraction(client, evidence_id, ann)
    assert pending["status"] == "pending" and pending["fields"] == []

    await worker()
    read = await extraction(client, evidence_id, ann)
    assert read["status"] == "done"
    assert "星辰卡盟" in read["text"]
    account = field_of(read, "payee_account")
    assert account["value"] == "13800138000" and account["identifier_kind"] == "alipay"
    assert account["status"] == "suggested" and 0 < account["confidence"] <= 1
    assert "13800138000" in account["source_line"]
    assert read["text"].splitlines()[account["line_no"] - 1].replace(" ", "") in account[
        "source_line"
    ].replace(" ", "")
    assert field_of(read, "amount")["value"] == "560.00"
    # nothing read is used before a person accepted it
    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=ann)).json()
    assert {"kind": "alipay", "value": "+8613800138000"} not in mine["identifiers"]

    r = await decide(client, evidence_id, account["id"], ann, "accept")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["applied"] == "identifier"
    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=ann)).json()
    assert {"kind": "alipay", "value": "+8613800138000"} in mine["identifiers"]
    # accepting again answers the same; the other way is final
    again = await decide(client, evidence_id, account["id"], ann, "accept")
    assert again.status_code == 200 and again.json()["status"] == "accepted"
    assert_problem(await decide(client, evidence_id, account["id"], ann, "reject"), 409, "field_decided")

    # bob only knows the payee account, under another name: he joins ann's case
    r = await client.post(
        "/api/v1/reports",
        json=report_body("星辰充值", [{"kind": "alipay", "value": "138 0013 8000"}]),
        headers=bob,
    )
    assert r.status_code == 201, r.text
    assert r.json()["case_id"] == case_id and not r.json()["created_case"]


async def test_chat_export_read_as_text_and_each_field_decided(
    client: Any, mailbox: Any, worker: Any
) -> None:
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    r = await client.post(
        "/api/v1/reports", json=report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}]), headers=ann
    )
    case_id = r.json()["case_id"]
    evidence_id = await upload(
        client, case_id, ann, CHAT.encode(), filename="chat.txt", media_type="text/plain", kind="chat_log"
    )
    await worker()
    read = await extraction(client, evidence_id, ann)
    assert read["status"] == "done" and read["text"] == CHAT
    got = {(f["kind"], f["value"]) for f in read["fields"]}
    assert {("qq", "123456789"), ("wechat", "xingchen_888"), ("phone", "13800138000")} <= got
    assert ("order_number", "XC2026110300123") in got

    qq = field_of(read, "qq")
    r = await decide(client, evidence_id, qq["id"], ann, "accept")
    assert r.status_code == 200 and r.json()["applied"] == "identifier"
    order = field_of(read, "order_number")
    r = await decide(client, evidence_id, order["id"], ann, "accept")
    assert r.status_code == 200 and r.json()["applied"] == "order_ref"  # the report had none
    phone = field_of(read, "phone")
    r = await decide(client, evidence_id, phone["id"], ann, "reject")
    assert r.status_code == 200 and r.json()["status"] == "rejected" and r.json()["applied"] is None
    # a bank card failing its check digit cannot become an identifier: 422, still a suggestion
    card = field_of(read, "payee_account")
    assert_problem(await decide(client, evidence_id, card["id"], ann, "accept"), 422, "invalid_identifiers")

    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=ann)).json()
    assert {"kind": "qq", "value": "123456789"} in mine["identifiers"]
    assert not any(i["value"].endswith("13800138000") for i in mine["identifiers"])
    assert mine["order_refs"] == ["XC2026110300123"]
    after = {f["id"]: f["status"] for f in (await extraction(client, evidence_id, ann))["fields"]}
    assert after[card["id"]] == "suggested" and after[phone["id"]] == "rejected"


async def test_an_order_number_never_overwrites_the_reports(client: Any, mailbox: Any, worker: Any) -> None:
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    body = report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}], order_refs=["MY-0001"])
    case_id = (await client.post("/api/v1/reports", json=body, headers=ann)).json()["case_id"]
    evidence_id = await upload(
        client,
        case_id,
        ann,
        "订单号 XC2026110300123\n金额 ¥99.00\n".encode(),
        filename="c.txt",
        media_type="text/plain",
    )
    await worker()
    read = await extraction(client, evidence_id, ann)
    for kind in ("order_number", "amount"):
        r = await decide(client, evidence_id, field_of(read, kind)["id"], ann, "accept")
        assert r.status_code == 200 and r.json()["applied"] is None
    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=ann)).json()
    assert mine["order_refs"] == ["MY-0001"] and mine["loss"]["amount"] == "100.00"


async def test_authorization_follows_the_evidence(client: Any, mailbox: Any, worker: Any) -> None:
    org = await verified_user(client, mailbox, worker, "org@example.com", "Org")
    mem = await verified_user(client, mailbox, worker, "mem@example.com", "Mem")
    out = await verified_user(client, mailbox, worker, "out@example.com", "Out")
    body = report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}])
    case_id = (await client.post("/api/v1/reports", json=body, headers=org)).json()["case_id"]
    assert (await client.post("/api/v1/reports", json=body, headers=mem)).status_code == 201
    text = "加我QQ 123456789".encode()
    mem_private = await upload(client, case_id, mem, text, filename="a.txt", media_type="text/plain")
    org_private = await upload(client, case_id, org, text + b" ", filename="b.txt", media_type="text/plain")
    org_shared = await upload(
        client, case_id, org, text + b"  ", filename="c.txt", media_type="text/plain", visibility="members"
    )
    await worker()

    # who may see the evidence sees what was read from it; no one else
    assert (await extraction(client, mem_private, mem))["status"] == "done"
    assert (await extraction(client, mem_private, org))["status"] == "done"  # organizers see all
    assert (await extraction(client, org_shared, mem))["status"] == "done"
    assert_problem(await client.get(f"/api/v1/evidence/{org_private}/extraction", headers=mem), 403)
    assert_problem(await client.get(f"/api/v1/evidence/{mem_private}/extraction", headers=out), 403)
    assert_problem(await client.get(f"/api/v1/evidence/{mem_private}/extraction"), 401)
    assert_problem(
        await client.get("/api/v1/evidence/999999/extraction", headers=mem), 404, "evidence_not_found"
    )

    # only the uploader decides
    field = field_of(await extraction(client, mem_private, mem), "qq")
    assert_problem(await decide(client, mem_private, field["id"], org, "accept"), 403, "evidence_not_yours")
    assert_problem(await decide(client, mem_private, field["id"], out, "reject"), 403)
    assert_problem(await decide(client, mem_private, field["id"], {}, "accept"), 401)
    other = field_of(await extraction(client, org_shared, org), "qq")
    assert_problem(await decide(client, mem_private, other["id"], mem, "accept"), 404, "field_not_found")
    assert_problem(await decide(client, mem_private, 999999, mem, "accept"), 404, "field_not_found")
    assert field_of(await extraction(client, mem_private, mem), "qq")["status"] == "suggested"

    # a withdrawn item's suggestions are no longer accepted
    assert (await client.delete(f"/api/v1/evidence/{mem_private}", headers=mem)).status_code == 204
    assert_problem(await decide(client, mem_private, field["id"], mem, "accept"), 409, "evidence_withdrawn")
    # and what was read from it went with it: the text, the undecided suggestions
    gone = await extraction(client, mem_private, mem)
    assert gone["text"] == "" and gone["fields"] == []


async def test_without_ocr_uploads_work_and_extraction_is_unavailable(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    body = report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}])
    case_id = (await client.post("/api/v1/reports", json=body, headers=ann)).json()["case_id"]
    monkeypatch.setattr(ocr, "available", lambda: False)
    png = (FIXTURES / "bank_full_zh.png").read_bytes()
    evidence_id = await upload(client, case_id, ann, png, filename="r.png", media_type="image/png")
    await worker()
    read = await extraction(client, evidence_id, ann)
    assert read == {"evidence_id": evidence_id, "status": "unavailable", "text": "", "fields": []}
    # a PDF is not read at all
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    pdf_id = await upload(client, case_id, ann, pdf, filename="r.pdf", media_type="application/pdf")
    assert (await extraction(client, pdf_id, ann))["status"] == "unavailable"


@pytest.mark.parametrize("name", ["alipay_masked_zh", "bank_en", "chat_qq_zh"])
async def test_fixture_images_give_their_fields(
    name: str, client: Any, mailbox: Any, worker: Any, ocr_engine: Any
) -> None:
    """A few of tests/fixtures/ocr through the whole path (tests/unit covers the parsers)."""
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    body = report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}])
    case_id = (await client.post("/api/v1/reports", json=body, headers=ann)).json()["case_id"]
    png = (FIXTURES / f"{name}.png").read_bytes()
    evidence_id = await upload(client, case_id, ann, png, filename="r.png", media_type="image/png")
    await worker()
    read = await extraction(client, evidence_id, ann)
    assert read["status"] == "done"
    got = {(f["kind"], v) for f in read["fields"] for v in (f["value"], f["detail"].get("visible_digits"))}
    for kind, value in EXPECTED[name]:
        assert (kind, value) in got, (kind, value, read["fields"])


async def test_the_complaint_cites_receipts_behind_a_shared_payee_account(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Two victims accept the same payee account (and order numbers of one shape) from their
    receipts: the shared patterns count them and the complaint cites those evidence items."""
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    bob = await verified_user(client, mailbox, worker, "bob@example.com", "Bob")
    qq = [{"kind": "qq", "value": "55667788"}]
    case_id = (await client.post("/api/v1/reports", json=report_body("快充卡盟", qq), headers=ann)).json()[
        "case_id"
    ]
    r = await client.post(
        "/api/v1/reports", json=report_body("快充卡盟", qq, order_refs=["MY-1"]), headers=bob
    )
    assert r.json()["case_id"] == case_id
    chain: dict[str, int] = {}
    for who, headers, order in (("ann", ann, "XC2026110300123"), ("bob", bob, "XC2026110400456")):
        text = f"收款方 快充卡盟\n支付宝账号 13800138000\n订单号 {order}\n"
        evidence_id = await upload(
            client, case_id, headers, text.encode(), filename="r.txt", media_type="text/plain"
        )
        listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=headers)).json()["items"]
        chain[who] = next(i["chain_index"] for i in listed if i["id"] == evidence_id)
        await worker()
        read = await extraction(client, evidence_id, headers)
        for kind in ("payee_account", "order_number"):
            r = await decide(client, evidence_id, field_of(read, kind)["id"], headers, "accept")
            assert r.status_code == 200, r.text
    assert (
        await client.post(f"/api/v1/cases/{case_id}/consent", headers=ann, json={"consent": True})
    ).status_code == 200
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    reg = next(x["id"] for x in regulators if x["template_kind"] == "samr")
    r = await client.post(f"/api/v1/cases/{case_id}/complaints", headers=ann, json={"regulator_id": reg})
    assert r.status_code == 201, r.text
    md = r.json()["markdown"]
    entries = "、".join(str(i) for i in sorted(chain.values()))  # a Chinese list
    said = f"见于 2 名投诉人的付款凭证（证据索引中的证据编号 {entries}）"
    cited = [line for line in md.splitlines() if said in line]
    assert any("同一收款账户" in line for line in cited), md
    assert any("XC#############" in line for line in cited), md  # bob's report held MY-1: his receipt counts


async def test_leaving_the_case_takes_what_was_read_from_my_files(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org = await verified_user(client, mailbox, worker, "org@example.com", "Org")
    mem = await verified_user(client, mailbox, worker, "mem@example.com", "Mem")
    body = report_body("快充卡盟", [{"kind": "qq", "value": "55667788"}])
    case_id = (await client.post("/api/v1/reports", json=body, headers=org)).json()["case_id"]
    assert (await client.post("/api/v1/reports", json=body, headers=mem)).status_code == 201
    text = "客服: 加我QQ 123456789\n客服: 微信 xingchen_888\n".encode()
    evidence_id = await upload(client, case_id, mem, text, filename="a.txt", media_type="text/plain")
    await worker()
    read = await extraction(client, evidence_id, org)
    assert read["text"] and len(read["fields"]) == 2
    r = await decide(client, evidence_id, field_of(read, "qq")["id"], mem, "accept")
    assert r.status_code == 200
    assert (await client.delete(f"/api/v1/cases/{case_id}/membership", headers=mem)).status_code == 204
    rows = await ExtractedField.select(ExtractedField.kind, ExtractedField.source_line, ExtractedField.status)
    assert rows == [{"kind": "qq", "source_line": "", "status": "accepted"}]  # the record, not the words
    assert [r["text"] for r in await Extraction.select(Extraction.text)] == [""]


async def test_an_accepted_account_of_a_closed_case_raises_the_reappearance_alert(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """The payee account on ann's receipt was reported before against a merchant whose case is
    closed: accepting it ties the two merchants (a merge proposal, nothing merged) and ann's
    merchant's page warns that it came back."""
    old = await verified_user(client, mailbox, worker, "old@example.com", "Old")
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "Ann")
    r = await client.post(
        "/api/v1/reports",
        json=report_body("星辰卡盟", [{"kind": "alipay", "value": "13800138000"}]),
        headers=old,
    )
    old_case, old_merchant = r.json()["case_id"], r.json()["merchant_id"]
    r = await client.post(f"/api/v1/cases/{old_case}/status", headers=old, json={"status": "closed"})
    assert r.status_code in (200, 204), r.text
    r = await client.post(
        "/api/v1/reports", json=report_body("月光充值", [{"kind": "qq", "value": "55667788"}]), headers=ann
    )
    case_id, merchant_id = r.json()["case_id"], r.json()["merchant_id"]
    assert case_id != old_case
    text = "收款方 月光充值\n支付宝账号 13800138000\n".encode()
    evidence_id = await upload(client, case_id, ann, text, filename="r.txt", media_type="text/plain")
    await worker()
    account = field_of(await extraction(client, evidence_id, ann), "payee_account")
    assert (await decide(client, evidence_id, account["id"], ann, "accept")).json()["applied"] == "identifier"
    page = (await client.get(f"/api/v1/merchants/{merchant_id}")).json()
    assert page["reappeared"] is not None
    (earlier,) = page["reappeared"]["earlier"]
    assert earlier["merchant_id"] == old_merchant and earlier["case_id"] == old_case
    assert earlier["matched_on"]  # the account's key (a phone-number Alipay account matches as a phone)
