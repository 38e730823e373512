"""The demo (`make run`) shows the receipt reader at work: the organizer's payment screenshot that
``chorus seed-demo`` uploads is read by the real OCR worker into the facts of the organizer's own
demo report (amount, order number) and the payee's Alipay account, ready to accept."""

from __future__ import annotations

from typing import Any

import pytest

from chorus import demo
from chorus.evidence import ocr
from tests.integration.notify_support import drain
from tests.support import login

pytestmark = pytest.mark.usefixtures("clean")


async def test_the_demo_receipt_is_read_into_the_organizers_report_facts(
    client: Any, worker: Any, settings: Any, tmp_path: Any
) -> None:
    if not ocr.available():
        pytest.skip("the [ocr] extra is not installed")
    await demo.seed(settings.model_copy(update={"smtp_host": None, "var_dir": tmp_path / "var"}))
    await drain(worker)
    organizer = await login(client, "demo@example.com", demo.DEMO_PASSWORD)
    _, _, _, amount, _, order_ref, _ = demo.DEMO_REPORTS[0]

    cases = (await client.get("/api/v1/me/cases", headers=organizer)).json()["items"]
    case_id = cases[0]["case_id"]
    items = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=organizer)).json()["items"]
    (receipt,) = [e for e in items if e["kind"] == "payment_receipt"]
    r = await client.get(f"/api/v1/evidence/{receipt['id']}/extraction", headers=organizer)
    assert r.status_code == 200, r.text
    read = r.json()
    assert read["status"] == "done"
    found = {f["kind"]: f for f in read["fields"]}
    assert found["amount"]["value"] == amount
    assert found["order_number"]["value"] == order_ref
    assert found["payee_name"]["value"] == "星辰卡盟"
    account = found["payee_account"]
    assert (account["value"], account["identifier_kind"], account["status"]) == (
        "13800138000",
        "alipay",
        "suggested",
    )

    # accepted, the account joins the organizer's report as a typed identifier would
    r = await client.post(
        f"/api/v1/evidence/{receipt['id']}/extraction/fields/{account['id']}/accept", headers=organizer
    )
    assert r.status_code == 200, r.text
    mine = (await client.get(f"/api/v1/cases/{case_id}/membership", headers=organizer)).json()
    assert {"kind": "alipay", "value": "+8613800138000"} in mine["identifiers"]
