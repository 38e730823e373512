"""The authorization matrix: every route of the app, each with its declared rule, tried by every
actor against one seeded case (evidence, a complaint, a filing whose bundle was stored).

A route the app serves but RULES does not declare fails ``test_every_route_has_a_rule``, naming
it: a new endpoint cannot ship without someone deciding who may call it.

Allowed means not refused: no 401/403/404 (nor a 5xx); a validation or state answer (409, 422)
to an allowed actor still shows it got past authorization. Refused means exactly the rule's
status: 401 for callers without an account, 403 for logged-in users without standing (cases
are public, so their existence is not hidden), 404 where the route hides that the object exists
(another user's notification) — as problem+json, writing nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.params import FromPath

from chorus.app import create_app
from chorus.settings import get_settings
from chorus.web.auth import SESSION_COOKIE
from chorus.web.guards import declared_rule, requires_login, requires_role, signs_in
from tests.integration.authz_support import (
    ACTORS,
    AUTHENTICATED,
    AUTHORIZATION_OWNER,
    CASE_MEMBER,
    CASE_ORGANIZER,
    CASE_ORGANIZER_OR_ADMIN,
    CLAIMED_ONLY,
    INBOUND_SECRET,
    MEMBER,
    MEMBER_REF,
    MEMBER_STATEMENT,
    MERCHANT_REVIEWER,
    ORG_REF,
    ORG_STATEMENT,
    ORGANIZER,
    OTHER_CASE,
    OWN_MEMBERSHIP,
    PUBLIC,
    RECIPIENT,
    STAFF_ADMIN,
    STAFF_MODERATOR,
    STRANGER,
    UPLOADER,
    VERIFIED,
    Probe,
    Rule,
    World,
    _path_names,
    app_routes,
    fresh_headers,
    png,
    route_handlers,
    seed_world,
    sha256,
    zip_entries,
)
from tests.integration.cases_support import ident, report_body
from tests.support import PASSWORD, assert_problem, row_counts

# --- what an allowed actor must (not) see ------------------------------------------------------


def complaint_text_view(world: World, actor: str, text: str) -> None:
    """Organizers read the full text; a plain member their own row in full, others redacted."""
    assert MEMBER_REF in text, "a member's own order reference is part of what they consent to"
    if actor == ORGANIZER:
        assert ORG_REF in text and MEMBER_STATEMENT in text, "organizers see the full text"
    elif actor == MEMBER:
        assert ORG_REF not in text, "the member view shows another victim's order reference"
        assert ORG_STATEMENT not in text, "the member view shows another victim's statement"


def complaint_json(world: World, actor: str, r: Any) -> None:
    body = r.json()
    assert body["view"] == ("full" if actor == ORGANIZER else "member")
    complaint_text_view(world, actor, body["markdown"])


def complaint_diff(world: World, actor: str, r: Any) -> None:
    assert r.json()["view"] == ("full" if actor == ORGANIZER else "member")


def complaint_html(world: World, actor: str, r: Any) -> None:
    complaint_text_view(world, actor, r.text)


def complaint_bundle(world: World, actor: str, r: Any) -> None:
    entries = zip_entries(r.content)
    complaint_text_view(world, actor, entries["complaint.md"].decode("utf-8"))
    blobs = set(entries.values())
    assert world.member_evidence in blobs  # the member's own upload, as uploaded
    if actor == MEMBER:
        assert world.organizer_evidence not in blobs, "a member's bundle holds organizers-only evidence"
    else:
        assert world.organizer_evidence in blobs


def filed_bundle(world: World, actor: str, r: Any) -> None:
    """The bundle as filed (the bytes whose SHA-256 the regulator got) is for organizers only."""
    got = sha256(r.content)
    if actor == ORGANIZER:
        assert got == world.filed_bundle_sha256
    else:
        assert got != world.filed_bundle_sha256, "a plain member got the bundle exactly as filed"
        assert world.organizer_evidence not in set(zip_entries(r.content).values())


def filing_view(world: World, actor: str, r: Any) -> None:
    """Who wrote a reply that did not come from the regulator is for organizers only."""
    assert (STRANGER in r.text) == (actor == ORGANIZER)


def evidence_list(world: World, actor: str, r: Any) -> None:
    ids = {i["id"] for i in r.json()["items"]}
    assert {world.ids["evidence_id"], world.ids["shared_evidence_id"]} <= ids
    assert (world.ids["org_evidence_id"] in ids) == (actor == ORGANIZER)


def public_page(world: World, actor: str, r: Any) -> None:
    """Public answers carry nobody's personal data: no names, addresses, order refs, statements."""
    personal = [ORG_REF, MEMBER_REF, ORG_STATEMENT, MEMBER_STATEMENT, STRANGER]
    for p in world.people.values():
        personal += [p.email, p.display_name]
    leaked = [x for x in personal if x in r.text]
    assert not leaked, f"a public answer shows {leaked}"


def case_page(world: World, actor: str, r: Any) -> None:
    public_page(world, actor, r)
    assert r.json()["member_count"] >= 2


def merchant_page(world: World, actor: str, r: Any) -> None:
    """An identifier one reporter claimed (joining the case by id) is on no public page."""
    public_page(world, actor, r)
    assert "bluemoon-cards.com" in r.text  # the reported domain: public identifiers do show
    assert CLAIMED_ONLY not in r.text, "a claimed identifier is on a public merchant page"


def merchant_search(world: World, actor: str, r: Any) -> None:
    """Searching by a claimed identifier finds nothing (a claim matches nothing until confirmed)."""
    public_page(world, actor, r)
    assert world.ids["merchant_id"] not in {m["id"] for m in r.json()["items"]}


def claims_list(world: World, actor: str, r: Any) -> None:
    assert CLAIMED_ONLY in {i["value"] for i in r.json()["identifiers"]}


def inbox(world: World, actor: str, r: Any) -> None:
    """Each user's inbox is their own."""
    mine = world.ids["notification_id"] in {n["id"] for n in r.json()["items"]}
    assert mine == (actor == MEMBER)


def my_cases(world: World, actor: str, r: Any) -> None:
    listed = world.ids["case_id"] in {c["case_id"] for c in r.json()["items"]}
    assert listed == (actor in (MEMBER, ORGANIZER))


# --- the rule of every route -------------------------------------------------------------------


def _register(world: World, actor: str) -> dict[str, Any]:
    return {
        "email": f"matrix-{actor}@example.com",
        "password": "another fine passphrase",
        "display_name": "新",
    }


def _login(world: World, actor: str) -> dict[str, Any]:
    return {"email": world.people["spare"].email, "password": PASSWORD}


def _report(world: World, actor: str) -> dict[str, Any]:
    # a new merchant: an allowed actor opens a case of their own and the seeded one is untouched
    return report_body(f"矩阵商户{actor}", [ident("qq", str(70000000 + ACTORS.index(actor)))])


def _status(world: World, actor: str) -> dict[str, Any]:
    return {"status": world.case_status}  # the current one: an allowed call changes nothing


def _promote(world: World, actor: str) -> dict[str, Any]:
    return {"user_id": world.people[ORGANIZER].id}  # already an organizer: changes nothing


def _merge(world: World, actor: str) -> dict[str, Any]:
    return {"source_id": world.ids["merchant_id"], "target_id": world.ids["merchant_id"]}  # 422


def _inbound() -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "complaints@amr.example.gov.cn"
    msg["To"] = "nobody@replies.chorus.example.com"  # matches no filing: kept in the quarantine (202)
    msg["Subject"] = "回复"
    msg["Message-ID"] = "<matrix@amr.example.gov.cn>"
    msg.set_content("已收到。")
    return msg.as_bytes()


def _complaint(world: World, actor: str) -> dict[str, Any]:
    return {"regulator_id": world.ids["regulator_id"]}


def _vote(world: World, actor: str) -> dict[str, Any]:
    return {"candidate_id": world.people[MEMBER].id}  # the member stands (seed_world)


def _filing(world: World, actor: str) -> dict[str, Any]:
    return {"complaint_id": world.ids["complaint_id"]}  # already filed: 409 for an organizer


RULES: dict[tuple[str, str], list[Probe]] = {
    # --- public pages and documents
    ("GET", "/healthz"): [Probe(PUBLIC)],
    ("GET", "/schema"): [Probe(PUBLIC)],
    ("GET", "/schema/swagger"): [Probe(PUBLIC)],
    ("GET", "/schema/openapi.json"): [Probe(PUBLIC)],
    ("GET", "/schema/oauth2-redirect.html"): [Probe(PUBLIC)],
    ("GET", "/schema/{path}"): [Probe(PUBLIC, "catch-all", params={"path": "nothing-here"}, answer=404)],
    # --- accounts
    ("POST", "/api/v1/auth/register"): [Probe(PUBLIC, json=_register)],
    ("POST", "/api/v1/auth/verify"): [Probe(PUBLIC, json={"token": "not-a-token"})],
    ("POST", "/api/v1/auth/resend-verification"): [Probe(PUBLIC, json={"email": "nobody@example.com"})],
    ("POST", "/api/v1/auth/login"): [Probe(PUBLIC, json=_login)],
    ("POST", "/api/v1/auth/logout"): [Probe(AUTHENTICATED, fresh_session=True)],
    ("GET", "/api/v1/me"): [Probe(AUTHENTICATED)],
    # the account lifecycle: allowed callers are refused by validation (422), so nothing changes
    ("POST", "/api/v1/auth/password/forgot"): [Probe(PUBLIC, json={"email": "nobody@example.com"})],
    ("POST", "/api/v1/auth/password/reset"): [
        Probe(PUBLIC, json={"token": "not-a-token", "password": "another fine passphrase"})
    ],
    ("POST", "/api/v1/me/password"): [Probe(AUTHENTICATED, json={})],
    ("DELETE", "/api/v1/me"): [Probe(AUTHENTICATED, json={})],
    ("PUT", "/api/v1/admin/users/{user_id}/roles"): [Probe(STAFF_ADMIN, json={"roles": []})],
    # --- merchants (public reads)
    ("GET", "/api/v1/merchants"): [Probe(PUBLIC, query={"q": CLAIMED_ONLY}, view=merchant_search)],
    ("GET", "/api/v1/merchants/{merchant_id}"): [Probe(PUBLIC, view=merchant_page)],
    ("POST", "/api/v1/merchants/resolve"): [
        Probe(PUBLIC, json={"identifiers": [{"kind": "qq", "value": "55667788"}]})
    ],
    # what reporters joining a case by id claimed about its merchant (not public until confirmed)
    ("GET", "/api/v1/merchants/{merchant_id}/claims"): [Probe(MERCHANT_REVIEWER, view=claims_list)],
    ("POST", "/api/v1/merchants/{merchant_id}/identifiers/{identifier_id}/confirm"): [Probe(STAFF_MODERATOR)],
    ("POST", "/api/v1/merchants/{merchant_id}/aliases/{alias_id}/confirm"): [Probe(STAFF_MODERATOR)],
    # --- reports and cases
    ("POST", "/api/v1/reports"): [Probe(VERIFIED, json=_report)],
    ("GET", "/api/v1/cases/{case_id}"): [Probe(PUBLIC, view=case_page)],
    ("GET", "/api/v1/cases/{case_id}/members"): [Probe(CASE_ORGANIZER)],
    ("GET", "/api/v1/cases/{case_id}/membership"): [Probe(CASE_MEMBER)],
    ("PATCH", "/api/v1/cases/{case_id}/membership"): [Probe(CASE_MEMBER, json={})],
    ("POST", "/api/v1/cases/{case_id}/consent"): [Probe(CASE_MEMBER, json={"consent": True})],
    ("POST", "/api/v1/cases/{case_id}/organizers"): [Probe(CASE_ORGANIZER, json=_promote)],
    # a case of its own (the member organizes it alone: 409; the organizer is in it and leaves)
    ("DELETE", "/api/v1/cases/{case_id}/membership"): [
        Probe(OWN_MEMBERSHIP, params={"case_id": "leave_case_id"})
    ],
    ("POST", "/api/v1/cases/{case_id}/status"): [Probe(CASE_ORGANIZER, json=_status)],
    ("GET", "/api/v1/me/cases"): [Probe(AUTHENTICATED, view=my_cases)],
    # --- evidence
    ("POST", "/api/v1/cases/{case_id}/evidence"): [Probe(CASE_MEMBER, files=True)],
    ("GET", "/api/v1/cases/{case_id}/evidence"): [Probe(CASE_MEMBER, view=evidence_list)],
    ("GET", "/api/v1/cases/{case_id}/evidence/verify"): [Probe(CASE_MEMBER)],
    ("GET", "/api/v1/evidence/{evidence_id}/content"): [
        Probe(CASE_MEMBER, "own upload"),
        Probe(CASE_MEMBER, "members-visible", params={"evidence_id": "shared_evidence_id"}),
        Probe(CASE_ORGANIZER, "organizers-only", params={"evidence_id": "org_evidence_id"}),
    ],
    # frozen by the filing: the uploader's attempt is answered 409 and withdraws nothing
    ("DELETE", "/api/v1/evidence/{evidence_id}"): [Probe(UPLOADER)],
    # what was read from evidence: whoever may see the evidence; deciding: its uploader only
    ("GET", "/api/v1/evidence/{evidence_id}/extraction"): [
        Probe(CASE_MEMBER, "own upload", params={"evidence_id": "chat_evidence_id"}),
        Probe(CASE_MEMBER, "members-visible", params={"evidence_id": "shared_evidence_id"}),
        Probe(CASE_ORGANIZER, "organizers-only", params={"evidence_id": "org_evidence_id"}),
    ],
    ("POST", "/api/v1/evidence/{evidence_id}/extraction/fields/{field_id}/accept"): [
        Probe(UPLOADER, params={"evidence_id": "chat_evidence_id"})
    ],
    ("POST", "/api/v1/evidence/{evidence_id}/extraction/fields/{field_id}/reject"): [
        Probe(UPLOADER, params={"evidence_id": "chat_evidence_id"})
    ],
    # --- regulators, complaints, filings
    ("GET", "/api/v1/regulators"): [Probe(PUBLIC, view=public_page)],
    ("POST", "/api/v1/regulators"): [
        Probe(
            STAFF_ADMIN,
            json={"name": "矩阵测试局", "jurisdiction": "测试", "channel": "manual", "address": "电话 12315"},
        )
    ],
    ("PATCH", "/api/v1/regulators/{regulator_id}"): [Probe(STAFF_ADMIN, json={})],  # changes nothing
    ("GET", "/api/v1/admin/regulators"): [Probe(STAFF_ADMIN)],
    ("GET", "/api/v1/admin/regulators/{regulator_id}"): [Probe(STAFF_ADMIN)],
    ("POST", "/api/v1/cases/{case_id}/complaints"): [Probe(CASE_ORGANIZER, json=_complaint)],
    ("GET", "/api/v1/cases/{case_id}/complaints"): [Probe(CASE_MEMBER)],
    ("GET", "/api/v1/complaints/{complaint_id}"): [Probe(CASE_MEMBER, view=complaint_json)],
    ("GET", "/api/v1/complaints/{complaint_id}/html"): [Probe(CASE_MEMBER, view=complaint_html)],
    ("GET", "/api/v1/complaints/{complaint_id}/bundle"): [Probe(CASE_MEMBER, view=complaint_bundle)],
    ("GET", "/api/v1/complaints/{complaint_id}/diff"): [
        Probe(CASE_MEMBER, query={"against": "complaint_id"}, view=complaint_diff)
    ],
    ("POST", "/api/v1/cases/{case_id}/filings"): [Probe(CASE_ORGANIZER, json=_filing)],
    ("GET", "/api/v1/filings/{filing_id}"): [Probe(CASE_MEMBER, view=filing_view)],
    ("GET", "/api/v1/filings/{filing_id}/bundle"): [Probe(CASE_MEMBER, view=filed_bundle)],
    ("GET", "/api/v1/filings/{filing_id}/documents"): [Probe(CASE_ORGANIZER)],
    ("POST", "/api/v1/filings/{filing_id}/events"): [Probe(CASE_ORGANIZER, json={"note": "电话确认已受理"})],
    # the representative and authorizations (chorus.authorizations; tests/integration/test_authorizations.py)
    ("GET", "/api/v1/cases/{case_id}/representative"): [Probe(CASE_MEMBER)],
    ("POST", "/api/v1/cases/{case_id}/representative/candidacy"): [Probe(CASE_MEMBER)],
    # (in this order: the vote is for the member, who stands until the candidacy row stands them down)
    ("PUT", "/api/v1/cases/{case_id}/representative/vote"): [Probe(CASE_MEMBER, json=_vote)],
    ("DELETE", "/api/v1/cases/{case_id}/representative/vote"): [Probe(CASE_MEMBER)],
    ("DELETE", "/api/v1/cases/{case_id}/representative/candidacy"): [Probe(CASE_MEMBER)],
    ("POST", "/api/v1/cases/{case_id}/authorizations"): [Probe(CASE_MEMBER, json=_filing)],
    ("GET", "/api/v1/cases/{case_id}/authorizations"): [Probe(CASE_MEMBER)],
    ("DELETE", "/api/v1/authorizations/{authorization_id}"): [Probe(AUTHORIZATION_OWNER)],
    ("GET", "/api/v1/authorizations/{authorization_id}/document"): [Probe(AUTHORIZATION_OWNER)],
    ("GET", "/api/v1/me/authorizations"): [Probe(AUTHENTICATED)],
    # each member's escalation ladder (chorus.ladder; tests/integration/test_ladder.py)
    ("GET", "/api/v1/cases/{case_id}/ladder"): [Probe(CASE_MEMBER)],
    ("PUT", "/api/v1/cases/{case_id}/ladder/{step}"): [
        Probe(CASE_MEMBER, params={"step": "cn-merchant"}, json={"state": "done"})
    ],
    ("GET", "/api/v1/cases/{case_id}/ladder-summary"): [Probe(CASE_ORGANIZER)],
    ("GET", "/api/v1/ladders"): [Probe(PUBLIC)],
    ("GET", "/api/v1/ladders/{name}"): [Probe(PUBLIC, params={"name": "cn"})],
    ("GET", "/api/v1/filings/{filing_id}/parties"): [Probe(CASE_MEMBER)],
    ("POST", "/api/v1/inbound/email"): [Probe(INBOUND_SECRET, raw=_inbound(), content_type="message/rfc822")],
    ("GET", "/api/v1/filings/{filing_id}/attachments/{attachment_id}"): [Probe(CASE_ORGANIZER_OR_ADMIN)],
    # the inbound quarantine: admins only; the decisions are refused by validation (422), so the
    # item stays as it is for every probe
    ("GET", "/api/v1/admin/inbound/quarantine"): [Probe(STAFF_ADMIN)],
    ("GET", "/api/v1/admin/inbound/quarantine/{item_id}"): [Probe(STAFF_ADMIN)],
    ("GET", "/api/v1/admin/inbound/quarantine/{item_id}/raw"): [Probe(STAFF_ADMIN)],
    ("POST", "/api/v1/admin/inbound/quarantine/{item_id}/assign"): [
        Probe(STAFF_ADMIN, json={"filing_id": 0})
    ],
    ("POST", "/api/v1/admin/inbound/quarantine/{item_id}/discard"): [
        Probe(STAFF_ADMIN, json={"note": "x" * 3000})
    ],
    # --- moderation: decisions refused by the domain after authorization, so nothing merges
    ("GET", "/api/v1/moderation/merge-proposals"): [Probe(STAFF_MODERATOR)],
    ("POST", "/api/v1/moderation/merge-proposals/{proposal_id}/merge"): [
        Probe(STAFF_MODERATOR, json={"target_id": 0})  # not one of the pair: 422
    ],
    ("POST", "/api/v1/moderation/merge-proposals/{proposal_id}/reject"): [
        Probe(STAFF_MODERATOR, json={}, params={"proposal_id": "reject_proposal_id"})
    ],
    ("POST", "/api/v1/moderation/merchants/merge"): [Probe(STAFF_MODERATOR, json=_merge)],
    ("GET", "/api/v1/moderation/link-proposals"): [Probe(STAFF_MODERATOR)],
    ("POST", "/api/v1/moderation/link-proposals/{proposal_id}/confirm"): [
        Probe(STAFF_MODERATOR, params={"proposal_id": "link_proposal_id"})  # decided once: 409 after
    ],
    ("POST", "/api/v1/moderation/link-proposals/{proposal_id}/reject"): [
        Probe(STAFF_MODERATOR, params={"proposal_id": "link_proposal_id"})
    ],
    # --- notifications
    ("GET", "/api/v1/notifications"): [Probe(AUTHENTICATED, view=inbox)],
    ("POST", "/api/v1/notifications/{notification_id}/read"): [Probe(RECIPIENT)],
    ("POST", "/api/v1/notifications/read-all"): [Probe(AUTHENTICATED)],
    # the signed link is the authority (no login): a made-up token is refused with 422
    ("GET", "/api/v1/notifications/unsubscribe"): [Probe(PUBLIC, query={"token": "made-up"})],
    ("POST", "/api/v1/notifications/unsubscribe"): [Probe(PUBLIC, query={"token": "made-up"})],
    ("GET", "/api/v1/notifications/confirm-email"): [Probe(PUBLIC, query={"token": "made-up"})],
    ("GET", "/api/v1/me/preferences"): [Probe(AUTHENTICATED)],
    ("PUT", "/api/v1/me/preferences"): [Probe(AUTHENTICATED, json={})],
    ("POST", "/api/v1/me/email/confirm"): [Probe(AUTHENTICATED)],
    ("GET", "/api/v1/me/identity"): [Probe(AUTHENTICATED)],
    ("PUT", "/api/v1/me/identity"): [Probe(AUTHENTICATED, json={})],
    ("DELETE", "/api/v1/me/identity"): [Probe(AUTHENTICATED)],
    ("POST", "/api/v1/cases/{case_id}/announcements"): [
        Probe(CASE_ORGANIZER, json={"title": "矩阵公告", "body": "**进展**"})
    ],
    ("GET", "/api/v1/cases/{case_id}/announcements"): [Probe(CASE_MEMBER)],
    # the organizer's probe reminds the member who joined by the case's id (no evidence, no consent)
    ("POST", "/api/v1/complaints/{complaint_id}/consent-reminders"): [Probe(CASE_ORGANIZER)],
    ("GET", "/api/v1/complaints/{complaint_id}/consent-reminders"): [Probe(CASE_ORGANIZER)],
    ("POST", "/api/v1/cases/{case_id}/evidence-reminders"): [Probe(CASE_ORGANIZER)],
    ("GET", "/api/v1/cases/{case_id}/evidence-reminders"): [Probe(CASE_ORGANIZER)],
    ("GET", "/api/v1/admin/notifications/failures"): [Probe(STAFF_ADMIN)],
}


# --- the HTML pages ------------------------------------------------------------------------------
# Page routes (``<domain>/pages.py``) declare who may call them exactly as API routes do (a guard
# naming its rule — requires_login, requires_verified, requires_role — and ``opt={"rule": ...}``
# for a rule about one object, enforced by the same service as the API's), and each has its row
# here. They are not probed actor by actor like the API: the answer of a page is HTML (a refused
# anonymous caller is sent to /login, 303), and what a page shows is the service's answer the API
# cells above already check; each page's own tests check what it shows to whom. Checked here:
# every page route has a row, its declaration is the row's rule, and a page that needs an
# account sends an anonymous visitor to the login page before it runs.
PAGE_RULES: dict[tuple[str, str], Rule] = {
    # accounts (chorus.accounts.pages)
    ("GET", "/register"): PUBLIC,
    ("POST", "/register"): PUBLIC,
    ("GET", "/verify"): PUBLIC,
    ("POST", "/verify"): PUBLIC,
    ("POST", "/verify/resend"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/password/forgot"): PUBLIC,
    ("POST", "/password/forgot"): PUBLIC,
    ("GET", "/password/reset"): PUBLIC,
    ("POST", "/password/reset"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/merchants"): PUBLIC,
    ("GET", "/merchants/{merchant_id}"): PUBLIC,
    ("GET", "/feeds/merchants.atom"): PUBLIC,
    ("POST", "/locale"): PUBLIC,
    ("GET", "/me"): AUTHENTICATED,  # -> /me/cases
    ("GET", "/me/cases"): AUTHENTICATED,
    ("GET", "/cases/{case_id}"): PUBLIC,  # members see more (tests/integration/test_pages_case.py)
    ("GET", "/cases/{case_id}/chart.svg"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/membership"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/consent"): CASE_MEMBER,
    # the representative and authorizations part of the case page (chorus.authorizations.pages)
    ("POST", "/cases/{case_id}/representative"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/authorizations"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/authorizations/{authorization_id}/revoke"): AUTHORIZATION_OWNER,
    # the member's path to a refund on the case page, the organizers' counts (chorus.ladder.pages)
    ("POST", "/cases/{case_id}/ladder"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/ladder/{step}"): CASE_MEMBER,
    ("GET", "/cases/{case_id}/organize/ladder"): CASE_ORGANIZER,
    # the organizer console's members and evidence (chorus.cases.pages.organize)
    ("GET", "/cases/{case_id}/organize"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/organizers"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/members.csv"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/evidence"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/evidence/remind"): CASE_ORGANIZER,
    # the console's complaint versions and announcements (chorus.complaints.pages,
    # chorus.notifications.pages.announcements; tests/integration/test_pages_complaints.py)
    ("GET", "/cases/{case_id}/organize/complaints"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/complaints"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/complaints/{complaint_id}"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/complaints/{complaint_id}/diff"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/complaints/{complaint_id}/remind"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/announcements"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/announcements"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/announcements/preview"): CASE_ORGANIZER,
    # the console's filings (chorus.filings.pages; tests/integration/test_pages_filings.py)
    ("GET", "/cases/{case_id}/organize/filings"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/filings"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/filings/confirm"): CASE_ORGANIZER,
    ("GET", "/cases/{case_id}/organize/filings/{filing_id}/live"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/filings/{filing_id}/events"): CASE_ORGANIZER,
    ("POST", "/cases/{case_id}/organize/filings/{filing_id}/withdraw"): CASE_ORGANIZER,
    # evidence (chorus.evidence.pages; tests/integration/test_pages_evidence.py)
    ("GET", "/cases/{case_id}/evidence"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/evidence"): CASE_MEMBER,
    ("GET", "/cases/{case_id}/evidence/verify"): CASE_MEMBER,
    ("POST", "/cases/{case_id}/evidence/{evidence_id}/withdraw"): UPLOADER,
    ("POST", "/cases/{case_id}/evidence/{evidence_id}/fields/{field_id}"): UPLOADER,
    ("GET", "/report"): VERIFIED,
    ("POST", "/report"): VERIFIED,
    ("POST", "/report/identifier"): VERIFIED,
    ("POST", "/report/preview"): VERIFIED,
    # notifications and settings (chorus.notifications.pages)
    ("GET", "/notifications"): AUTHENTICATED,
    ("GET", "/notifications/badge"): PUBLIC,  # signed out: an empty badge, not the login page
    ("POST", "/notifications/{notification_id}/read"): RECIPIENT,
    ("POST", "/notifications/read-all"): AUTHENTICATED,
    ("POST", "/notifications/unsubscribe"): PUBLIC,  # the signed link is the authority
    ("GET", "/notifications/confirm-email"): PUBLIC,  # the mailed link; the GET changes nothing
    ("POST", "/notifications/confirm-email"): PUBLIC,  # the signed link is the authority
    ("GET", "/settings"): AUTHENTICATED,
    ("POST", "/settings"): AUTHENTICATED,
    ("POST", "/settings/webhook"): AUTHENTICATED,
    ("POST", "/settings/webhook/remove"): AUTHENTICATED,
    ("POST", "/settings/email/confirm"): AUTHENTICATED,
    ("POST", "/settings/password"): AUTHENTICATED,
    ("GET", "/settings/cases/{case_id}/leave"): OWN_MEMBERSHIP,
    ("POST", "/settings/cases/{case_id}/leave"): OWN_MEMBERSHIP,
    ("GET", "/settings/delete"): AUTHENTICATED,
    ("POST", "/settings/delete"): AUTHENTICATED,
    ("GET", "/settings/identity"): AUTHENTICATED,
    ("POST", "/settings/identity"): AUTHENTICATED,
    ("POST", "/settings/identity/delete"): AUTHENTICATED,
    ("GET", "/goodbye"): PUBLIC,
    # moderation (chorus.moderation.pages; tests/integration/test_pages_moderation.py)
    ("GET", "/moderation"): STAFF_MODERATOR,
    ("POST", "/moderation/proposals/{proposal_id}/merge"): STAFF_MODERATOR,
    ("POST", "/moderation/proposals/{proposal_id}/reject"): STAFF_MODERATOR,
    ("POST", "/moderation/links/{proposal_id}/confirm"): STAFF_MODERATOR,
    ("POST", "/moderation/links/{proposal_id}/reject"): STAFF_MODERATOR,
    ("GET", "/moderation/merge"): STAFF_MODERATOR,
    ("GET", "/moderation/merge/confirm"): STAFF_MODERATOR,
    ("POST", "/moderation/merge"): STAFF_MODERATOR,
    ("GET", "/moderation/merchants/{merchant_id}"): STAFF_MODERATOR,
    ("POST", "/moderation/merchants/{merchant_id}/identifiers/{identifier_id}/confirm"): STAFF_MODERATOR,
    ("POST", "/moderation/merchants/{merchant_id}/aliases/{alias_id}/confirm"): STAFF_MODERATOR,
    # the admins' desk and staff roles (chorus.web.admin, chorus.accounts.admin_pages;
    # tests/integration/test_pages_admin_users.py)
    ("GET", "/admin"): STAFF_ADMIN,
    ("GET", "/admin/activity"): STAFF_ADMIN,
    ("GET", "/admin/users"): STAFF_ADMIN,
    ("POST", "/admin/users/{user_id}/roles"): STAFF_ADMIN,
    # the regulator registry (chorus.regulators.pages; tests/integration/test_pages_admin.py)
    ("GET", "/admin/regulators"): STAFF_ADMIN,
    ("GET", "/admin/regulators/new"): STAFF_ADMIN,
    ("POST", "/admin/regulators"): STAFF_ADMIN,
    ("GET", "/admin/regulators/{regulator_id}"): STAFF_ADMIN,
    ("POST", "/admin/regulators/{regulator_id}"): STAFF_ADMIN,
    ("POST", "/admin/regulators/{regulator_id}/active"): STAFF_ADMIN,
    ("POST", "/admin/regulators/{regulator_id}/restore"): STAFF_ADMIN,
    # the inbound mail quarantine (chorus.filings.quarantine_pages; test_inbound_quarantine.py)
    ("GET", "/admin/quarantine"): STAFF_ADMIN,
    ("GET", "/admin/quarantine/{item_id}"): STAFF_ADMIN,
    ("POST", "/admin/quarantine/{item_id}/assign"): STAFF_ADMIN,
    ("POST", "/admin/quarantine/{item_id}/discard"): STAFF_ADMIN,
}


def undeclared(app: Litestar) -> list[str]:
    """The routes ``app`` serves that RULES (or PAGE_RULES) gives no rule, as ``METHOD path``."""
    return [f"{m} {p}" for m, p in sorted(app_routes(app) - set(RULES) - set(PAGE_RULES))]


def test_every_route_has_a_rule() -> None:
    app = create_app(get_settings())
    missing = undeclared(app)
    assert not missing, "routes without a rule in tests/integration/test_authz_matrix.py RULES: " + ", ".join(
        missing
    )
    stale = sorted((set(RULES) | set(PAGE_RULES)) - app_routes(app))
    assert not stale, "RULES names routes the app does not serve: " + ", ".join(f"{m} {p}" for m, p in stale)
    both = sorted(set(RULES) & set(PAGE_RULES))
    assert not both, f"routes in both RULES and PAGE_RULES: {both}"


def test_a_new_route_without_a_rule_is_named() -> None:
    """What the check above does when someone adds an endpoint and no rule: it names it (and
    only it: static files, HEAD and OPTIONS are not routes to declare)."""

    @get("/api/v1/brand-new/{thing_id:int}", sync_to_thread=False)
    def brand_new(thing_id: FromPath[int]) -> dict[str, int]:
        return {"id": thing_id}

    app = create_app(get_settings())
    before = set(undeclared(app))  # empty, unless the test above is failing too
    app.register(brand_new)
    assert set(undeclared(app)) - before == {"GET /api/v1/brand-new/{thing_id}"}


def test_each_route_declares_the_rule_of_its_row() -> None:
    """Each route says who may call it (a guard naming its rule, or ``opt["rule"]`` for a rule
    about one object that its service enforces): the declaration is the table's rule (the
    route's first probe; later probes try narrower objects), whatever its parameters are named."""
    handlers = route_handlers(create_app(get_settings()))
    wrong = [
        f"{m} {p}: the route declares {declared_rule(h)!r}, RULES {RULES[(m, p)][0].rule.name!r}"
        for (m, p), h in sorted(handlers.items())
        if (m, p) in RULES and declared_rule(h) != RULES[(m, p)][0].rule.name
    ]
    assert not wrong, "\n".join(wrong)
    # every rule that needs an account is refused by a guard before the handler runs (401)
    unguarded = [
        f"{m} {p}"
        for (m, p), h in sorted(handlers.items())
        if declared_rule(h) not in (PUBLIC.name, INBOUND_SECRET.name) and not signs_in(h)
    ]
    assert not unguarded, "routes refusing anonymous callers only in their handler: " + ", ".join(unguarded)


def test_each_page_declares_the_rule_of_its_row() -> None:
    handlers = route_handlers(create_app(get_settings()))
    wrong = [
        f"{m} {p}: the page declares {declared_rule(h)!r}, PAGE_RULES {PAGE_RULES[(m, p)].name!r}"
        for (m, p), h in sorted(handlers.items())
        if (m, p) in PAGE_RULES and declared_rule(h) != PAGE_RULES[(m, p)].name
    ]
    assert not wrong, "\n".join(wrong)
    api = sorted(key for key in PAGE_RULES if key[1].startswith("/api/"))
    assert not api, f"API routes belong in RULES: {api}"


@pytest.mark.parametrize(
    ("method", "path"),
    [key for key, rule in PAGE_RULES.items() if rule is not PUBLIC and key[0] == "GET"] or [("GET", "")],
)
async def test_a_page_needing_an_account_sends_anonymous_visitors_to_login(
    method: str, path: str, client: Any
) -> None:
    if not path:
        pytest.skip("no page needs an account yet")
    url = path.format(**{name: 1 for name in _path_names(path)})
    r = await client.get(url)
    assert r.status_code == 303, f"{method} {path}: {r.status_code} {r.text[:300]}"
    assert r.headers["location"].startswith("/login?next=/"), r.headers["location"]


def test_what_a_route_declares() -> None:
    """A role's guard names its rule; a rule about one object is the route's ``opt``, next to
    the guard that signs the caller in; a route with neither is public."""

    @get("/a/{case_id:int}", sync_to_thread=False, guards=[requires_role("admin")])
    def by_role(case_id: FromPath[int]) -> None:
        return None

    @get("/b", sync_to_thread=False, guards=[requires_login], opt={"rule": CASE_ORGANIZER.name})
    def by_object() -> None:
        return None

    @get("/c", sync_to_thread=False)
    def open_to_all() -> None:
        return None

    assert (declared_rule(by_role), signs_in(by_role)) == (STAFF_ADMIN.name, True)
    assert (declared_rule(by_object), signs_in(by_object)) == (CASE_ORGANIZER.name, True)
    assert (declared_rule(open_to_all), signs_in(open_to_all)) == (PUBLIC.name, False)


CELLS = [
    pytest.param(
        method,
        path,
        probe,
        actor,
        id=f"{method} {path}{' [' + probe.label + ']' if probe.label else ''} {actor}",
    )
    for (method, path), probes in RULES.items()
    for probe in probes
    for actor in ACTORS
]


# --- the seeded world, once per module ---------------------------------------------------------


@pytest.fixture(scope="module")
async def matrix(
    database: None, redis_pool: Any, mailbox: Any, settings: Any
) -> AsyncIterator[tuple[Any, World]]:
    """One world for every cell (the conftest's ``clean`` empties the tables per test)."""
    from chorus.regulators.service import seed_defaults
    from tests.conftest import flush_keeping_lock
    from tests.support import http_client, truncate_all

    await truncate_all()
    await seed_defaults()
    await flush_keeping_lock(redis_pool)
    storage = Path(os.environ["CHORUS_STORAGE_DIR"])
    shutil.rmtree(storage, ignore_errors=True)
    (storage / "tmp").mkdir(parents=True)
    mailbox.clear()
    async with http_client(settings) as client:
        yield client, await seed_world(client, mailbox, redis_pool, settings)


@pytest.mark.parametrize(("method", "path", "probe", "actor"), CELLS)
async def test_matrix(method: str, path: str, probe: Probe, actor: str, matrix: tuple[Any, World]) -> None:
    client, world = matrix
    headers = await fresh_headers(client, world, actor) if probe.fresh_session else dict(world.headers[actor])
    await run_cell(client, world, method, path, probe, actor, headers)


COOKIE_CELLS = [
    pytest.param(
        method, path, probe, actor, id=f"{method} {path}{f' [{probe.label}]' if probe.label else ''} {actor}"
    )
    for (method, path), probes in RULES.items()
    if method == "GET"
    for probe in probes
    if probe.rule is not PUBLIC
    for actor in (MEMBER, OTHER_CASE, ORGANIZER)
]


@pytest.mark.parametrize(("method", "path", "probe", "actor"), COOKIE_CELLS)
async def test_a_session_cookie_is_let_in_and_refused_like_the_bearer_token(
    method: str, path: str, probe: Probe, actor: str, matrix: tuple[Any, World]
) -> None:
    """The web UI reads with the session cookie (the same token): the same cells, the same answers."""
    client, world = matrix
    token = world.headers[actor]["Authorization"].removeprefix("Bearer ")
    await run_cell(client, world, method, path, probe, actor, {"Cookie": f"{SESSION_COOKIE}={token}"})


async def run_cell(
    client: Any, world: World, method: str, path: str, probe: Probe, actor: str, headers: dict[str, str]
) -> None:
    """Send the probe as the actor and check the answer against the rule (and the view)."""
    kwargs: dict[str, Any] = {"headers": headers, "params": probe.query_params(world)}
    body = probe.body(world, actor)
    if body is not None:
        kwargs["json"] = body
    elif probe.files:
        kwargs["data"] = {"kind": "screenshot", "visibility": "members"}
        kwargs["files"] = {"file": ("shot.png", png(ACTORS.index(actor) + 100), "image/png")}
    elif probe.raw is not None:
        kwargs["content"] = probe.raw
        headers["Content-Type"] = probe.content_type or "application/octet-stream"
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}

    refusal = probe.rule.expected(actor)
    unsafe = method not in ("GET", "HEAD")
    before = await row_counts() if refusal is not None and unsafe else None
    client.cookies.clear()  # bearer or nothing: a session cookie a login probe set must not ride along
    r = await client.request(method, probe.url(path, world), **kwargs)
    cell = f"{method} {path} as {actor} (rule {probe.rule.name})"

    if refusal is None:
        if probe.answer is not None:
            assert r.status_code == probe.answer, f"{cell}: {r.status_code} {r.text[:500]}"
            return
        assert r.status_code < 500, f"{cell}: {r.status_code} {r.text[:500]}"
        assert r.status_code not in (401, 403, 404, 405), (
            f"{cell} was refused: {r.status_code} {r.text[:500]}"
        )
        if probe.rule is not PUBLIC:  # what only some may read, no cache may keep
            assert "no-store" in r.headers.get("cache-control", ""), f"{cell}: {r.headers}"
        if probe.view is not None:
            assert r.status_code == 200, f"{cell}: {r.status_code} {r.text[:500]}"
            probe.view(world, actor, r)
        return
    assert r.status_code == refusal, f"{cell}: expected {refusal}, got {r.status_code} {r.text[:500]}"
    assert r.headers["content-type"].startswith("application/problem+json"), cell
    assert r.json()["status"] == refusal
    if before is not None:
        assert await row_counts() == before, f"{cell}: a refused request wrote rows"


def test_the_matrix_covers_every_actor_and_both_outcomes() -> None:
    """Guard against a table that would pass vacuously: every rule named refuses someone (but
    PUBLIC) and lets someone in, and the complaint views are probed for a plain member."""
    for probes in RULES.values():
        for probe in probes:
            allowed = [a for a in ACTORS if probe.rule.expected(a) is None]
            assert allowed, probe.rule.name
            assert probe.rule is PUBLIC or len(allowed) < len(ACTORS), probe.rule.name
    member_cells = {(c.values[0], c.values[1]) for c in CELLS if c.values[3] == MEMBER}
    assert ("GET", "/api/v1/complaints/{complaint_id}") in member_cells


async def test_an_organizer_reaches_nothing_of_another_case_through_their_own(
    matrix: tuple[Any, World],
) -> None:
    """Ids of the seeded case's objects, handed to routes of a case where the caller *is* an
    organizer, reach nothing: 404 naming what was not found, and nothing written."""
    client, world = matrix
    client.cookies.clear()
    other, org = world.headers[OTHER_CASE], world.headers[ORGANIZER]
    case_b, complaint_a = world.ids["other_case_id"], world.ids["complaint_id"]

    r = await client.post(f"/api/v1/cases/{case_b}/consent", headers=other, json={"consent": True})
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/cases/{case_b}/complaints", headers=other, json={"regulator_id": world.ids["regulator_id"]}
    )
    assert r.status_code == 201, r.text
    complaint_b = r.json()["id"]
    before = await row_counts()

    r = await client.post(
        f"/api/v1/cases/{case_b}/filings", headers=other, json={"complaint_id": complaint_a}
    )
    assert_problem(r, 404, "complaint_not_found")
    r = await client.post(
        f"/api/v1/cases/{case_b}/organizers", headers=other, json={"user_id": world.people[MEMBER].id}
    )
    assert_problem(r, 404, "member_not_found")
    # a diff never pairs versions of two cases, whichever side the caller organizes
    r = await client.get(
        f"/api/v1/complaints/{complaint_b}/diff", headers=other, params={"against": complaint_a}
    )
    assert_problem(r, 404, "complaint_not_found")
    r = await client.get(
        f"/api/v1/complaints/{complaint_a}/diff", headers=org, params={"against": complaint_b}
    )
    assert_problem(r, 404, "complaint_not_found")
    assert await row_counts() == before
