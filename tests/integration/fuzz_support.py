"""What the API fuzzers share (tests/integration/test_fuzz.py, test_fuzz_invalid.py): schemathesis
generates requests from /schema/openapi.json for every operation and sends them to ``chorus web``
(the ``web_process`` fixture) on this run's database and Redis, on a seeded case whose ids it also
tries.

A bounded number of examples per operation and caller (CHORUS_FUZZ_EXAMPLES, default 25),
derandomized (the same requests every run), no shrinking. 5 took 32 s a pass and missed the NUL
that 100 found (chorus.inputs); 300 pass on both databases. The callers are split over two files
so that two test workers share them (about 95 s in all on this project's 2-core host).
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.authorization_support import represent
from tests.integration.cases_support import ident, person, report, report_body

EXAMPLES = int(os.environ.get("CHORUS_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Ending the caller's own session would leave the rest of the run anonymous; leaving the seeded case
# would leave it without the caller (and, once both left, closed) for every operation after it.
NOT_FUZZED_SIGNED_IN = {"logout", "leaveCase"}


async def seed(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """An organizer's case with a member, a piece of evidence, a consented complaint and a
    queued filing: the ids the fuzzer also tries, so requests reach past "not found"."""
    organizer = await person(client, mailbox, worker, "org@example.com", "Org")
    member = await person(client, mailbox, worker, "member@example.com", "Member")
    made = await report(client, organizer, report_body("星辰卡盟", [ident("qq", "12345678")]))
    case_id = made["case_id"]
    await report(client, member, report_body("星辰卡盟", [ident("qq", "12345678")], case_id=case_id))
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=member.headers,
        data={"kind": "chat_log", "description": "the seller's last message"},
        files={"file": ("chat.txt", "卖家：明天发货".encode(), "text/plain")},
    )
    assert r.status_code == 201, r.text
    evidence_id = r.json()["id"]
    for who in (organizer, member):
        r = await client.post(f"/api/v1/cases/{case_id}/consent", json={"consent": True}, headers=who.headers)
        assert r.status_code == 200, r.text
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    r = await client.post(
        f"/api/v1/cases/{case_id}/complaints",
        json={"regulator_id": regulators[0]["id"]},
        headers=organizer.headers,
    )
    assert r.status_code == 201, r.text
    complaint_id = r.json()["id"]
    await represent(client, case_id, organizer.headers, complaint_id, member.headers)  # 12315 expects them
    r = await client.post(
        f"/api/v1/cases/{case_id}/filings", json={"complaint_id": complaint_id}, headers=organizer.headers
    )
    assert r.status_code == 202, r.text
    ids = {
        "case_id": case_id,
        "merchant_id": made["merchant_id"],
        "user_id": member.id,
        "evidence_id": evidence_id,
        "complaint_id": complaint_id,
        "filing_id": r.json()["id"],
        "regulator_id": regulators[0]["id"],
    }
    return {"organizer": organizer.headers, "member": member.headers, "ids": ids}


def fuzz(
    schema: Any,
    base: str,
    headers: dict[str, str],
    known: dict[str, int],
    *,
    mode: GenerationMode = GenerationMode.POSITIVE,
    checks: list[Any] = CHECKS,
) -> list[str]:
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if headers and operation.definition.raw.get("operationId") in NOT_FUZZED_SIGNED_IN:
            continue
        names = {p.name for p in operation.path_parameters}
        real = {k: v for k, v in known.items() if k in names}
        strategy = operation.as_strategy(generation_mode=mode)
        if real:  # also requests on the seeded case, merchant and user
            strategy = st.one_of(strategy, operation.as_strategy(generation_mode=mode, path_parameters=real))

        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call(base_url=base, headers=headers, timeout=10)
            case.validate_response(response, checks=checks, headers=headers)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing in this operation can be made invalid
        except (Exception, BaseExceptionGroup) as exc:  # collect every operation's failures
            failures.append(f"{operation.label}: {exc}")
    return failures


def assert_no_failures(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def schema_of(server: str) -> Any:
    return schemathesis.openapi.from_url(f"{server}/schema/openapi.json")
