"""Admins edit a regulator (PATCH /api/v1/regulators/{id}, operation updateRegulator): only the
fields sent change, checked as on creation (the address against the resulting channel, an HTTP
channel's address in production, the credentials variable's prefix); a refused change writes
nothing; everyone else is refused (real database, over HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chorus.audit.tables import AuditEntry
from chorus.regulators.tables import Regulator
from tests.integration.cases_support import fields_of, staff
from tests.integration.test_regulator_ssrf import production
from tests.support import assert_problem, http_client, login, verified_user

pytestmark = pytest.mark.usefixtures("clean")

REGULATORS = "/api/v1/regulators"
GATEWAY = {
    "name": "Test Gateway",
    "jurisdiction": "Testland",
    "channel": "http",
    "address": "https://gateway.example.com/v1",
    "credentials_env": "CHORUS_REGULATOR_KEY_TEST_GATEWAY",
    "locale": "en",
    "accept_working_days": 7,
    "finish_working_days": 45,
    "note": "Rule 1 of the Testland complaints code",
}


async def row(regulator_id: int) -> dict[str, Any]:
    found = await Regulator.select().where(Regulator.id == regulator_id).first()
    assert found is not None
    return dict(found)


async def test_an_admin_changes_only_the_fields_sent(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    r = await client.post(REGULATORS, json=GATEWAY, headers=admin.headers)
    assert r.status_code == 201, r.text
    reg = r.json()["id"]
    url = f"{REGULATORS}/{reg}"

    r = await client.patch(
        url, json={"address": "https://gw2.example.com/v2/", "accept_working_days": 10}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["address"] == "https://gw2.example.com/v2"  # normalized as on creation
    assert got["accept_working_days"] == 10 and got["finish_working_days"] == 45
    assert got["name"] == "Test Gateway" and got["has_credentials"] is True
    assert "TEST_GATEWAY" not in json.dumps(got)  # the variable's name is not in the answer
    listed = next(x for x in (await client.get(REGULATORS)).json()["items"] if x["id"] == reg)
    assert listed == got
    entry = (
        await AuditEntry.select()
        .where(AuditEntry.action == "regulator.updated")
        .output(load_json=True)
        .first()
    )
    assert entry is not None and entry["object_id"] == reg and entry["actor_id"] == admin.id
    assert entry["data"]["fields"] == ["accept_working_days", "address"]

    # null clears what may be empty; to manual (any address: a phone number, a web page)
    r = await client.patch(
        url,
        json={
            "credentials_env": None,
            "finish_working_days": None,
            "channel": "manual",
            "address": "电话 12315",
        },
        headers=admin.headers,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["has_credentials"], got["finish_working_days"], got["channel"]) == (False, None, "manual")
    assert (await row(reg))["credentials_env"] is None

    # an empty change changes nothing and records nothing
    audits = await AuditEntry.count()
    r = await client.patch(url, json={}, headers=admin.headers)
    assert r.status_code == 200 and r.json() == got
    assert await AuditEntry.count() == audits


async def test_a_refused_change_writes_nothing(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    user = await verified_user(client, mailbox, worker, "u@example.com")
    r = await client.post(REGULATORS, json=GATEWAY, headers=admin.headers)
    assert r.status_code == 201, r.text
    reg = r.json()["id"]
    url = f"{REGULATORS}/{reg}"
    twin = {**GATEWAY, "name": "Other Gateway", "address": "https://other.example.com/v1"}
    assert (await client.post(REGULATORS, json=twin, headers=admin.headers)).status_code == 201
    before, audits = await row(reg), await AuditEntry.count()

    assert_problem(await client.patch(url, json={"note": "x"}), 401)
    assert_problem(await client.patch(url, json={"note": "x"}, headers=user), 403)
    assert_problem(await client.patch(f"{REGULATORS}/999999", json={"note": "x"}, headers=admin.headers), 404)
    for bad, field in (
        ({"channel": "fax"}, "channel"),
        ({"channel": "email"}, "address"),  # the http address is no e-mail address
        ({"address": "ftp://x"}, "address"),
        ({"credentials_env": "CHORUS_SECRET_KEY"}, "credentials_env"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"accept_working_days": 0}, "accept_working_days"),
        ({"calendar": "XX"}, "calendar"),
    ):
        problem = assert_problem(await client.patch(url, json=bad, headers=admin.headers), 422)
        assert field in fields_of(problem), (bad, problem)
    problem = assert_problem(
        await client.patch(url, json={"name": "Other Gateway"}, headers=admin.headers),
        409,
        "regulator_exists",
    )
    assert fields_of(problem) == {"name"}
    assert await row(reg) == before and await AuditEntry.count() == audits


async def test_production_refuses_plain_http_and_private_addresses_on_edit(settings: Any) -> None:
    from chorus.accounts import service as accounts

    prod = production(settings)
    await accounts.create_admin(
        email="admin@example.com", password="correct horse battery", display_name="A", settings=prod
    )
    async with http_client(prod) as client:
        admin = await login(client, "admin@example.com")
        r = await client.post(REGULATORS, json={**GATEWAY, "address": "https://8.8.8.8/v1"}, headers=admin)
        assert r.status_code == 201, r.text
        url = f"{REGULATORS}/{r.json()['id']}"
        before = await row(r.json()["id"])
        for address, code in (
            ("http://8.8.8.8/v1", "regulator_address_https"),
            ("https://10.0.0.1/v1", "regulator_address_blocked"),
            ("https://localhost:8443/v1", "regulator_address_blocked"),
        ):
            problem = assert_problem(
                await client.patch(url, json={"address": address}, headers=admin), 422, code
            )
            assert fields_of(problem) == {"address"}
        # a manual regulator turned into an HTTP one: its address is checked then
        manual = await client.post(
            REGULATORS,
            json={
                "name": "人工",
                "jurisdiction": "某市",
                "channel": "manual",
                "address": "https://127.0.0.1/form",
            },
            headers=admin,
        )
        assert manual.status_code == 201, manual.text
        problem = assert_problem(
            await client.patch(
                f"{REGULATORS}/{manual.json()['id']}", json={"channel": "http"}, headers=admin
            ),
            422,
            "regulator_address_blocked",
        )
        assert await row(r.json()["id"]) == before


async def test_a_renamed_regulator_s_old_name_can_be_taken(client: Any, settings: Any) -> None:
    admin = await staff(client, settings, "admin@example.com", "admin")
    r = await client.post(REGULATORS, json=GATEWAY, headers=admin.headers)
    assert r.status_code == 201, r.text
    r = await client.patch(
        f"{REGULATORS}/{r.json()['id']}", json={"name": "Renamed Gateway"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    again = await client.post(REGULATORS, json=GATEWAY, headers=admin.headers)
    assert again.status_code == 201, again.text
    assert_problem(
        await client.post(REGULATORS, json=GATEWAY, headers=admin.headers), 409, "regulator_exists"
    )
    renamed = {**GATEWAY, "name": "Renamed Gateway"}
    assert_problem(
        await client.post(REGULATORS, json=renamed, headers=admin.headers), 409, "regulator_exists"
    )
