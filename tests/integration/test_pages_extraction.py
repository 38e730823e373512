"""The evidence page shows what was read from my files as suggestions, each with an accept and
a reject button (a plain form: no JavaScript needed); refusals are said next to the suggestion."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_pages_evidence import a_case
from tests.integration.test_pages_foundation import Page, csrf_of
from tests.support import as_user, login, register, token_from

pytestmark = pytest.mark.usefixtures("clean")

CHAT = "客服小美: 加我QQ 123456789\n客服小美: 收款账号 6222020200112233445\n".encode()


async def test_suggestions_accepted_and_rejected_from_the_evidence_page(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await a_case(client, mailbox, worker)
    r = await client.post(
        f"/api/v1/cases/{s['case']}/evidence",
        headers=s["ann"],
        data={"kind": "chat_log"},
        files={"file": ("chat.txt", CHAT, "text/plain")},
    )
    assert r.status_code == 201, r.text
    evidence_id = r.json()["id"]
    await as_user(client, s["ann"])
    page = await client.get(f"/cases/{s['case']}/evidence")
    assert "正在识别" in page.text  # before the worker ran
    await worker()

    page = await client.get(f"/cases/{s['case']}/evidence")
    assert page.status_code == 200
    assert "从这份文件识别出 2 条建议" in page.text and "123456789" in page.text
    read = (await client.get(f"/api/v1/evidence/{evidence_id}/extraction", headers=s["ann"])).json()
    qq = next(f for f in read["fields"] if f["kind"] == "qq")
    card = next(f for f in read["fields"] if f["kind"] == "payee_account")
    action = f"/cases/{s['case']}/evidence/{evidence_id}/fields/{qq['id']}"
    assert f'action="{action}"' in page.text
    token = csrf_of(Page(page.text))

    r = await client.post(action, data={"_csrf_token": token, "decision": "accept"})
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{s['case']}/evidence"
    after = await client.get(r.headers["location"])
    assert "已采纳这条建议。" in after.text and "已加入你的举报" in after.text
    mine = (await client.get(f"/api/v1/cases/{s['case']}/membership", headers=s["ann"])).json()
    assert {"kind": "qq", "value": "123456789"} in mine["identifiers"]

    # a card failing its check digit: refused in words next to it, still to decide
    card_action = f"/cases/{s['case']}/evidence/{evidence_id}/fields/{card['id']}"
    r = await client.post(card_action, data={"_csrf_token": token, "decision": "accept"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert f'action="{card_action}"' in r.text
    r = await client.post(card_action, data={"_csrf_token": token, "decision": "reject"})
    assert r.status_code == 303
    assert "未采纳" in (await client.get(f"/cases/{s['case']}/evidence")).text

    # someone else's file, or no token: refused
    await as_user(client, s["mia"])
    token_mia = csrf_of(Page((await client.get(f"/cases/{s['case']}")).text))
    r = await client.post(action, data={"_csrf_token": token_mia, "decision": "reject"})
    assert r.status_code == 403
    await as_user(client, s["ann"])
    assert (await client.post(action, data={"decision": "reject"})).status_code == 403


async def test_suggestions_in_english(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "eve@example.com", name="Eve", locale="en")
    await worker()
    (msg,) = mailbox.to("eve@example.com")
    assert (await client.post("/api/v1/auth/verify", json={"token": token_from(msg)})).status_code == 200
    eve = await login(client, "eve@example.com")
    body = {
        "merchant": {"name": "Star Cards", "identifiers": [{"kind": "qq", "value": "77889900"}]},
        "loss": {"amount": "88.00", "currency": "CNY"},
        "incident_date": "2026-10-01",
    }
    case_id = (await client.post("/api/v1/reports", json=body, headers=eve)).json()["case_id"]
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=eve,
        data={"kind": "chat_log"},
        files={"file": ("chat.txt", b"Support: add me on QQ: 987654321\n", "text/plain")},
    )
    assert r.status_code == 201, r.text
    await worker()
    await as_user(client, eve)
    page = await client.get(f"/cases/{case_id}/evidence")
    assert "Read from this file: 1 suggestion" in page.text
    assert ">Accept</button>" in page.text and ">Reject</button>" in page.text
    assert "987654321" in page.text and "from line 1:" in page.text
