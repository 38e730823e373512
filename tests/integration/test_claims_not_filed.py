"""What one reporter only *claimed* about a merchant (a name, a phone, joining a case by its id)
is never told a regulator: neither in the complaint text nor in what the HTTP channel sends.
Real database, Redis, worker and a stand-in regulator gateway on a real socket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.cases_support import get_ok, ident, person, report, report_body
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import http_regulator, quick
from tests.integration.test_filings import build, file
from tests.regulator_standin import Standin
from tests.support import run_jobs

pytestmark = pytest.mark.usefixtures("clean")

CLAIMED_PHONE = "+8613912345678"
CLAIMED_NAME = "Legit Bakery"


async def test_a_claimed_phone_and_name_reach_neither_the_complaint_nor_the_regulator(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, gateway: Standin
) -> None:
    s = await seeded_case(client, mailbox, worker)
    mallory = await person(client, mailbox, worker, "mallory@example.com", "Mallory")
    joined = await report(
        client,
        mallory,
        report_body(CLAIMED_NAME, [ident("phone", "139 1234 5678")], case_id=s["case"], amount="1"),
    )
    assert joined["case_id"] == s["case"]
    # the claim is recorded (organizers see it): the merchant does have a claimed phone and name
    claims = await get_ok(client, f"/api/v1/merchants/{joined['merchant_id']}/claims", s["org"])
    assert [(c["kind"], c["value"]) for c in claims["identifiers"]] == [("phone", CLAIMED_PHONE)]
    assert [a["name"] for a in claims["aliases"]] == [CLAIMED_NAME]

    await consent(client, s, "org", "ann")
    reg = await http_regulator(client, settings, gateway.base_url)
    complaint_id = (await build(client, s, reg))["id"]
    r = await file(client, s, complaint_id)
    assert r.status_code == 202, r.text
    await run_jobs(redis_pool, quick(settings))

    markdown = (await get_ok(client, f"/api/v1/complaints/{complaint_id}", s["org"]))["markdown"]
    (post,) = gateway.posts
    sent = json.dumps(post["body"], ensure_ascii=False)
    for text in (markdown, sent):
        assert "13912345678" not in text and CLAIMED_NAME not in text
        assert "55667788" in text  # the confirmed QQ number is said
    assert {i["kind"] for i in post["body"]["merchant"]["identifiers"]} == {"qq", "alipay"}
