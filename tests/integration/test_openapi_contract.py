"""The OpenAPI document at /schema/openapi.json as clients use it: it validates, a client
generated from it (openapi-python-client) builds without warnings, every error answer is a
problem+json ``Problem``, and ids no column can hold answer 404 (not 500)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from tests.integration.cases_support import TABLES, fields_of, ident, person, report, report_body
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.support import assert_problem, row_counts

pytestmark = pytest.mark.usefixtures("clean")

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
BIN = Path(sys.executable).parent


async def openapi(client: Any) -> dict[str, Any]:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200, r.text
    return dict(r.json())


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in {"get", "put", "post", "patch", "delete"}
    ]


async def test_the_document_validates(client: Any) -> None:
    validate(await openapi(client))


async def test_a_generated_client_builds_without_warnings(client: Any, tmp_path: Path) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps(await openapi(client)))
    # the generator formats its output with ruff: found on PATH, as in the venv
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--meta",
            "none",
            "--output-path",
            "client",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Warning" not in out and "WARNING" not in out, out
    # the error answers survived into the client: a Problem model, used by the operations
    models = tmp_path / "client" / "models"
    assert (models / "problem.py").is_file(), sorted(p.name for p in models.iterdir())
    assert "Problem" in (tmp_path / "client" / "api" / "cases" / "get_case.py").read_text()


async def test_every_error_answer_is_a_problem(client: Any) -> None:
    doc = await openapi(client)
    problem = doc["components"]["schemas"]["Problem"]
    assert {"status", "title", "detail", "type", "instance", "errors"} <= set(problem["properties"])
    field = doc["components"]["schemas"]["ProblemField"]
    assert set(field["properties"]) == {"field", "message"}
    ops = operations(doc)
    assert len(ops) >= 40
    documented = 0
    for method, path, op in ops:
        errors = {s: r for s, r in op["responses"].items() if s.startswith(("4", "5"))}
        documented += bool(errors)
        for status, response in errors.items():
            assert response["content"] == {"application/problem+json": {"schema": PROBLEM_REF}}, (
                f"{method} {path} {status}: {response}"
            )
    # only parameterless public reads (health, the regulator list …) cannot fail
    assert documented >= len(ops) - 5, documented


async def test_error_statuses_follow_what_a_route_needs(client: Any) -> None:
    by_id = {op["operationId"]: (m, p, op) for m, p, op in operations(await openapi(client))}

    def statuses(operation_id: str) -> set[str]:
        return set(by_id[operation_id][2]["responses"])

    # public, with an id: not found, never 401
    assert {"404"} <= statuses("getCase") and "401" not in statuses("getCase")
    # signed-in only, with a body: 401/403, malformed, too large, wrong type, invalid
    assert {"401", "403", "400", "413", "415", "422"} <= statuses("createReport")
    assert by_id["createReport"][2]["security"] == [{"BearerToken": []}]
    assert "security" not in by_id["getCase"][2]
    # organizers only on an existing case
    assert {"401", "403", "404"} <= statuses("listCaseMembers")
    # the credential endpoints are rate-limited
    assert "429" in statuses("login")


async def test_money_in_amount_admits_the_api_s_decimal_strings(client: Any) -> None:
    money_in = (await openapi(client))["components"]["schemas"]["MoneyIn"]
    jsonschema.validate({"amount": "199.00", "currency": "CNY"}, money_in)
    jsonschema.validate({"amount": "5000", "currency": "JPY"}, money_in)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"amount": "19,9", "currency": "CNY"}, money_in)


async def test_a_json_number_amount_is_still_taken(client: Any, mailbox: Any, worker: Any) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    body = report_body("星辰卡盟", [ident("qq", "12345678")])
    body["loss"] = {"amount": 199.5, "currency": "CNY"}
    made = await report(client, alice, body)
    r = await client.get(f"/api/v1/cases/{made['case_id']}")
    assert r.json()["total_loss"] == [{"amount": "199.50", "currency": "CNY"}]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/cases/3162591552258804",  # found by fuzzing: 500 before
        "/api/v1/merchants/15364902272767028",  # found by fuzzing: 500 before
        "/api/v1/cases/2147483648",  # one past PostgreSQL's integer
        "/api/v1/cases/99999999999999999999999",  # past SQLite's 64 bits too
        "/api/v1/cases/0",
    ],
)
async def test_an_id_no_column_can_hold_is_not_found(client: Any, path: str) -> None:
    assert_problem(await client.get(path), 404, "not_found")


async def test_an_id_out_of_range_in_the_query_or_on_a_page_is_not_found(client: Any) -> None:
    # a query id (the complaint diff's ``against``) and a page's path id are checked like the API's
    # path ids, before anything else (here: before asking who is calling)
    r = await client.get("/api/v1/complaints/1/diff?against=3162591552258804")
    assert_problem(r, 404, "not_found")
    r = await client.get("/api/v1/complaints/1/diff?against=2147483647")
    assert_problem(r, 401)
    r = await client.get("/cases/3162591552258804")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


async def test_an_id_out_of_range_is_not_found_for_signed_in_writes_too(
    client: Any, mailbox: Any, worker: Any
) -> None:
    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    made = await report(client, alice, report_body("星辰卡盟", [ident("qq", "12345678")]))
    r = await client.patch(
        "/api/v1/cases/3162591552258804/membership", json={"statement": "x"}, headers=alice.headers
    )
    assert_problem(r, 404, "not_found")
    # the largest id a column holds is still looked up (and simply not there)
    r = await client.get("/api/v1/cases/2147483647/members", headers=alice.headers)
    assert_problem(r, 404)
    # nothing changed on the real case
    r = await client.get(f"/api/v1/cases/{made['case_id']}/membership", headers=alice.headers)
    assert r.status_code == 200 and r.json()["statement"] == ""


async def test_an_id_out_of_range_in_a_body_is_refused_by_name(
    client: Any, mailbox: Any, worker: Any
) -> None:
    """Found by fuzzing: ``complaint_id: 624724634006`` reached PostgreSQL (a 500)."""
    s = await seeded_case(client, mailbox, worker)
    case = s["case"]
    too_big = 2**31
    cases = [
        (
            "/api/v1/reports",
            {**report_body("星辰卡盟", [ident("qq", "12345678")]), "case_id": too_big},
            "case_id",
        ),
        (f"/api/v1/cases/{case}/organizers", {"user_id": too_big}, "user_id"),
        (f"/api/v1/cases/{case}/complaints", {"regulator_id": too_big}, "regulator_id"),
        (f"/api/v1/cases/{case}/filings", {"complaint_id": too_big}, "complaint_id"),
    ]
    before = await row_counts(TABLES)
    for url, body, field in cases:
        problem = assert_problem(await client.post(url, json=body, headers=s["org"]), 422)
        assert field in fields_of(problem), (url, problem)
    assert await row_counts(TABLES) == before


async def test_an_id_out_of_range_in_a_query_is_not_found(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    r = await client.post(
        f"/api/v1/cases/{s['case']}/complaints",
        headers=s["org"],
        json={"regulator_id": await regulator_id(client)},
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/complaints/{r.json()['id']}/diff"
    assert_problem(await client.get(url, params={"against": str(2**31)}, headers=s["org"]), 404, "not_found")
    assert_problem(await client.get(url, params={"against": "2147483647"}, headers=s["org"]), 404)
    r = await client.get(url, params={"against": r.json()["id"]}, headers=s["org"])
    assert r.status_code == 200, r.text
