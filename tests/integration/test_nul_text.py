"""A text holding the NUL character (U+0000) is refused where the request is read — the field's
422, nothing written — on both databases: PostgreSQL cannot store one (it was a 500 there,
found by the fuzzer: an e-mail address asking for a reset link, an announcement's title) and
SQLite stored it, to break what is made of it later. Everything else about the same requests
still works."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.cases_support import fields_of, ident, person, report, report_body
from tests.integration.test_pages_accounts import field_error, submit
from tests.support import PASSWORD, row_counts

pytestmark = pytest.mark.usefixtures("clean")

NUL = "\x00"


async def test_api_requests_with_a_nul_are_refused_by_field_and_write_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    org = await person(client, mailbox, worker, "org-nul@example.com", "Org")
    case_id = (await report(client, org, report_body("星辰卡盟", [ident("qq", "12345678")])))["case_id"]
    before = await row_counts()
    mailbox.clear()

    refused: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        ("/api/v1/auth/password/forgot", {"email": f"org-nul@example.com{NUL}"}, {}, "email"),
        ("/api/v1/auth/resend-verification", {"email": f"a{NUL}@example.com"}, {}, "email"),
        ("/api/v1/auth/login", {"email": f"org-nul@example.com{NUL}", "password": PASSWORD}, {}, "email"),
        (f"/api/v1/cases/{case_id}/announcements", {"title": f"T{NUL}", "body": "x"}, org.headers, "title"),
        (
            "/api/v1/reports",
            report_body("星辰卡盟", [ident("qq", f"1234{NUL}5678")], case_id=case_id),
            org.headers,
            "merchant.identifiers[0].value",
        ),
        (
            "/api/v1/reports",
            report_body(f"星辰{NUL}卡盟", [ident("qq", "12345678")]),
            org.headers,
            "merchant.name",
        ),
    ]
    for path, body, headers, field in refused:
        r = await client.post(path, json=body, headers=headers)
        assert r.status_code == 422, (path, r.status_code, r.text)
        problem = r.json()
        assert problem["code"] == "validation" and field in fields_of(problem), (path, problem)
        assert "U+0000" in str(problem["errors"]), problem

    # an upload's description (a multipart field, not a model)
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=org.headers,
        data={"kind": "chat_log", "description": f"the seller{NUL}"},
        files={"file": ("chat.txt", "卖家：明天发货".encode(), "text/plain")},
    )
    assert r.status_code == 422 and fields_of(r.json()) == {"description"}, r.text
    assert r.json()["code"] == "text_nul"

    await worker()
    assert await row_counts() == before
    assert mailbox.to("org-nul@example.com") == []

    # the same requests without the NUL go through
    r = await client.post(
        f"/api/v1/cases/{case_id}/announcements", json={"title": "T", "body": "x"}, headers=org.headers
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/auth/password/forgot", json={"email": "org-nul@example.com"})
    assert r.status_code == 202, r.text


async def test_a_form_with_a_nul_shows_the_field_s_message(client: Any) -> None:
    before = await row_counts()
    r = await submit(
        client,
        "/register",
        {"display_name": f"王{NUL}强", "email": "nul-form@example.com", "password": PASSWORD},
        **{"Accept-Language": "en"},
    )
    assert r.status_code == 422, r.text
    assert field_error(r, "display_name") == "A text may not contain the NUL character (U+0000)."
    assert await row_counts() == before


async def test_a_search_with_a_nul_reads_past_it(client: Any, mailbox: Any, worker: Any) -> None:
    """A search stores nothing: the NUL is passed over (it was a 500 on PostgreSQL alone)."""
    org = await person(client, mailbox, worker, "org-nul-search@example.com", "Org")
    await report(client, org, report_body("星辰卡盟", [ident("qq", "12345678")]))
    for q, found in ((f"星辰{NUL}", ["星辰卡盟"]), (f"{NUL}12345678", ["星辰卡盟"]), (NUL, [])):
        r = await client.get("/api/v1/merchants", params={"q": q})
        assert r.status_code == 200, (q, r.text)
        assert [m["name"] for m in r.json()["items"]] == found, q
        page = await client.get("/merchants", params={"q": q})
        assert page.status_code == 200 and ("星辰卡盟" in page.text) == bool(found), q


def test_every_api_body_is_read_into_an_input_model() -> None:
    """A new route cannot forget it: each body a route reads into a model is read into an
    ``Input`` (pages' forms: ``parse_form`` takes only those, checked by mypy)."""
    from litestar.routes import HTTPRoute
    from pydantic import BaseModel

    from chorus.app import create_app
    from chorus.inputs import Input
    from chorus.settings import get_settings

    bodies: dict[str, type[BaseModel]] = {}
    for route in create_app(get_settings()).routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                data = handler.parsed_fn_signature.parameters.get("data")
                model = getattr(data, "annotation", None)
                if isinstance(model, type) and issubclass(model, BaseModel):
                    bodies[f"{sorted(handler.http_methods)} {route.path_format}"] = model
    assert len(bodies) >= 25  # the API's bodies were found
    assert not {route: m.__name__ for route, m in bodies.items() if not issubclass(m, Input)}
