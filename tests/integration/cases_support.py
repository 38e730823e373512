"""Helpers for the merchant, case, moderation and race tests (real app, real database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chorus.audit.tables import AuditEntry
from chorus.cases.tables import Case, CaseEvent, Membership
from chorus.jobs import OutboxRow
from chorus.merchants.tables import Merchant, MerchantAlias, MerchantIdentifier, MergeProposal
from chorus.notifications.tables import InboxEntry, NotifyEvent
from tests.support import PASSWORD, login, register, verified_user

INCIDENT = (date.today() - timedelta(days=10)).isoformat()

# the tables a report, a case change or a merge may write (tests.support.row_counts(TABLES))
TABLES = {
    "merchant": Merchant,
    "identifier": MerchantIdentifier,
    "alias": MerchantAlias,
    "case": Case,
    "membership": Membership,
    "event": CaseEvent,
    "proposal": MergeProposal,
    "outbox": OutboxRow,
    "audit": AuditEntry,
    "notification": InboxEntry,
    "notify_event": NotifyEvent,
}


@dataclass
class Person:
    """A logged-in user: the bearer header and the account as GET /api/v1/me shows it."""

    headers: dict[str, str]
    id: int
    email: str
    display_name: str


async def person(client: Any, mailbox: Any, worker: Any, email: str, name: str = "Tester") -> Person:
    """A verified user, made through the HTTP flow (register, e-mailed link, login)."""
    headers = await verified_user(client, mailbox, worker, email, name=name)
    return await _me(client, headers)


async def unverified_person(client: Any, email: str, name: str = "Tester") -> Person:
    await register(client, email, name=name)
    return await _me(client, await login(client, email))


async def staff(client: Any, settings: Any, email: str, role: str, name: str = "Staff") -> Person:
    """An admin (``role="admin"``) or a moderator (an account an admin gave the role)."""
    from chorus.accounts import service

    await service.create_admin(email=email, password=PASSWORD, display_name=name, settings=settings)
    if role == "moderator":  # an admin of its own gives the role (the last admin keeps theirs)
        await service.create_admin(
            email=f"appoints-{email}", password=PASSWORD, display_name="Appointer", settings=settings
        )
        admin = await _me(client, await login(client, f"appoints-{email}"))
        moderator = await _me(client, await login(client, email))
        r = await client.put(
            f"/api/v1/admin/users/{moderator.id}/roles", json={"roles": ["moderator"]}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
    found = await _me(client, await login(client, email))
    assert role in (await client.get("/api/v1/me", headers=found.headers)).json()["roles"]
    return found


async def _me(client: Any, headers: dict[str, str]) -> Person:
    r = await client.get("/api/v1/me", headers=headers)
    assert r.status_code == 200, r.text
    me = r.json()
    return Person(headers=headers, id=me["id"], email=me["email"], display_name=me["display_name"])


def ident(kind: str, value: str) -> dict[str, str]:
    return {"kind": kind, "value": value}


def report_body(
    name: str,
    identifiers: list[dict[str, str]],
    *,
    amount: str = "199.00",
    currency: str = "CNY",
    incident_date: str = INCIDENT,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "merchant": {"name": name, "identifiers": identifiers},
        "loss": {"amount": amount, "currency": currency},
        "incident_date": incident_date,
        **extra,
    }


async def report(client: Any, who: Person, body: dict[str, Any]) -> dict[str, Any]:
    """POST /api/v1/reports, expecting 201."""
    r = await client.post("/api/v1/reports", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert set(out) >= {"case_id", "merchant_id", "membership_id", "created_case", "member_number"}
    return out


async def get_ok(client: Any, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
    r = await client.get(url, headers=headers or {}, params=params or None)
    assert r.status_code == 200, r.text
    return r.json()


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors") or []}
