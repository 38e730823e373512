"""The authorization matrix's vocabulary and its one seeded world.

Actors (who calls), rules (who a route lets in, and how it refuses the others), probes (one
concrete request against a route) and ``seed_world``: one case with evidence, a complaint, a
filing whose bundle a worker stored, a notification, two merge proposals and a claim, built once per
module through the HTTP API as users would (real database, real Redis, real SMTP, real worker).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from PIL import Image

from tests.integration.cases_support import (
    Person,
    ident,
    person,
    report,
    report_body,
    staff,
    unverified_person,
)
from tests.support import PASSWORD, login, run_jobs

# --- actors ------------------------------------------------------------------------------------

ANONYMOUS = "anonymous"
UNVERIFIED = "unverified"  # registered and logged in, e-mail never confirmed
MEMBER = "member"  # a plain member of the seeded case (and the uploader of its members' evidence)
OTHER_CASE = "other_case"  # organizer of another case: no standing in the seeded one
ORGANIZER = "organizer"  # organizer of the seeded case
MODERATOR = "moderator"  # staff, not a member of the seeded case
ADMIN = "admin"  # staff, not a member of the seeded case
MAIL_SERVER = "mail_server"  # no account; holds the inbound secret (CHORUS_INBOUND_SECRET)

ACTORS = (ANONYMOUS, UNVERIFIED, MEMBER, OTHER_CASE, ORGANIZER, MODERATOR, ADMIN, MAIL_SERVER)
USERS = (UNVERIFIED, MEMBER, OTHER_CASE, ORGANIZER, MODERATOR, ADMIN)
NO_ACCOUNT = (ANONYMOUS, MAIL_SERVER)


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Who a route lets in; everyone else gets the status ``expected(actor)`` names."""

    name: str
    allowed: frozenset[str]
    # the refusal of a logged-in user who is not allowed: 403, or 404 where the route hides
    # that the object exists (another user's notification)
    refused_user: int = 403
    # the refusal of a caller without an account (anonymous, the mail server): 401
    refused_no_account: int = 401

    def expected(self, actor: str) -> int | None:
        """None when the actor is let in, else the refusal status."""
        if actor in self.allowed:
            return None
        return self.refused_no_account if actor in NO_ACCOUNT else self.refused_user


def _rule(name: str, *allowed: str, refused_user: int = 403) -> Rule:
    return Rule(name, frozenset(allowed), refused_user=refused_user)


PUBLIC = _rule("public", *ACTORS)
AUTHENTICATED = _rule("authenticated", *USERS)
VERIFIED = _rule("verified", MEMBER, OTHER_CASE, ORGANIZER, MODERATOR, ADMIN)
CASE_MEMBER = _rule("member", MEMBER, ORGANIZER)
CASE_ORGANIZER = _rule("organizer", ORGANIZER)
UPLOADER = _rule("uploader", MEMBER)  # of the seeded evidence the member uploaded
RECIPIENT = _rule("recipient", MEMBER, refused_user=404)  # of the member's notification
# the member's own authorization to file for them: anyone else is told it does not exist (404)
AUTHORIZATION_OWNER = _rule("authorization-owner", MEMBER, refused_user=404)
# leaving a case: the caller's own membership, which a non-member does not have (404)
OWN_MEMBERSHIP = _rule("member", MEMBER, ORGANIZER, refused_user=404)
STAFF_MODERATOR = _rule("moderator", MODERATOR, ADMIN)
# organizers of any case of the merchant, and staff (what reporters claimed about a merchant)
MERCHANT_REVIEWER = _rule("merchant-organizer-or-moderator", ORGANIZER, MODERATOR, ADMIN)
STAFF_ADMIN = _rule("admin", ADMIN)
# a file on a filing: the organizers of its case, and admins (who read the inbound quarantine)
CASE_ORGANIZER_OR_ADMIN = _rule("organizer-or-admin", ORGANIZER, ADMIN)
# the secret is the credential here: a user's session token is just a wrong one (401)
INBOUND_SECRET = _rule("inbound-secret", MAIL_SERVER, refused_user=401)


# --- the world the probes run against ----------------------------------------------------------

MERCHANT_A = "蓝月卡盟"
ORG_REF, ORG_STATEMENT = "BM-ORG-20261002", "组织者的私人陈述：付款后店铺失联。"
MEMBER_REF, MEMBER_STATEMENT = "BM-MEM-20261003", "成员的陈述：客服拉黑了我。"
REGULATOR_MAIL = "complaints@amr.example.gov.cn"
CLAIMED_CONFIRMED, CLAIMED_ONLY = "bluemoon_kf", "bluemoon-kefu.com"


STRANGER = "stranger@mail.example.net"  # wrote to a filing's reply address; not the regulator


def _mail(sender: str, to: str, message_id: str, attachment: bytes | None = None) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = sender, to, "关于投诉", message_id
    msg.set_content("我也被这家店骗了。")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="image", subtype="png", filename="notice.png")
    return msg.as_bytes()


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (seed, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class World:
    """What the probes address: ids for path parameters, each actor's headers, and the facts the
    view checks compare answers with."""

    ids: dict[str, int]
    headers: dict[str, dict[str, str]]
    people: dict[str, Person]
    case_status: str
    filed_bundle_sha256: str
    member_evidence: bytes  # members-visible, uploaded by the member
    organizer_evidence: bytes  # organizers-only, uploaded by the organizer
    inbound_secret: str


async def _upload(client: Any, case_id: int, who: Person, content: bytes, visibility: str) -> int:
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=who.headers,
        data={"kind": "payment_receipt", "description": "付款截图", "visibility": visibility},
        files={"file": ("receipt.png", content, "image/png")},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def seed_world(client: Any, mailbox: Any, redis_pool: Any, settings: Any) -> World:
    """Build the world through the API. The caller has emptied the tables, queue and mailbox."""
    from chorus.filings.tables import Filing, FilingAttachment
    from chorus.merchants import service as merchants

    async def worker() -> int:
        return await run_jobs(redis_pool, settings)

    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    mem = await person(client, mailbox, worker, "member@example.com", "成员甲")
    other = await person(client, mailbox, worker, "other@example.com", "别案组织者")
    spare = await person(client, mailbox, worker, "spare@example.com", "旁观者")
    unverified = await unverified_person(client, "unverified@example.com", "未验证")
    moderator = await staff(client, settings, "moderator@example.com", "moderator")
    admin = await staff(client, settings, "admin@example.com", "admin")

    ids_a = [ident("qq", "55667788"), ident("domain", "bluemoon-cards.com")]
    a = await report(
        client,
        org,
        report_body(MERCHANT_A, ids_a, amount="300.00", order_refs=[ORG_REF], statement=ORG_STATEMENT),
    )
    case_id = a["case_id"]
    joined = await report(
        client,
        mem,
        report_body(MERCHANT_A, ids_a, amount="120.00", order_refs=[MEMBER_REF], statement=MEMBER_STATEMENT),
    )
    assert joined["case_id"] == case_id and not joined["created_case"]
    b = await report(client, other, report_body("红星数码", [ident("qq", "11223344")]))
    c = await report(client, spare, report_body("黄河票务", [ident("qq", "99887766")]))
    assert len({case_id, b["case_id"], c["case_id"]}) == 3

    member_evidence, organizer_evidence = png(11), png(22)
    mem_ev = await _upload(client, case_id, mem, member_evidence, "members")
    org_ev = await _upload(client, case_id, org, organizer_evidence, "organizers")
    shared_ev = await _upload(client, case_id, org, png(33), "members")
    # a chat export the member uploaded, read by the worker: one suggested order number to decide on
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=mem.headers,
        data={"kind": "chat_log", "visibility": "organizers"},
        files={"file": ("chat.txt", "客服: 订单号 XC2026110300123".encode(), "text/plain")},
    )
    assert r.status_code == 201, r.text
    chat_ev = int(r.json()["id"])
    await worker()
    read = (await client.get(f"/api/v1/evidence/{chat_ev}/extraction", headers=mem.headers)).json()
    (suggested,) = [f for f in read["fields"] if f["kind"] == "order_number"]

    for who in (org, mem):
        r = await client.post(f"/api/v1/cases/{case_id}/consent", headers=who.headers, json={"consent": True})
        assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/regulators",
        headers=admin.headers,
        json={
            "name": "某市市场监督管理局（邮箱）",
            "jurisdiction": "某市",
            "channel": "email",
            "address": REGULATOR_MAIL,
        },
    )
    assert r.status_code == 201, r.text
    regulator_id = int(r.json()["id"])
    r = await client.post(
        f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": regulator_id}
    )
    assert r.status_code == 201, r.text
    complaint_id = int(r.json()["id"])
    r = await client.post(
        f"/api/v1/cases/{case_id}/filings", headers=org.headers, json={"complaint_id": complaint_id}
    )
    assert r.status_code == 202, r.text
    filing_id = int(r.json()["id"])
    await worker()  # mails the complaint, stores the bundle as filed, tells the members
    row = await Filing.select(Filing.bundle_sha256).where(Filing.id == filing_id).first()
    assert row is not None and row["bundle_sha256"], "the worker stored no bundle for the filing"
    # the member is elected representative (their vote alone) and authorizes the version (issue 14 item 7)
    r = await client.post(f"/api/v1/cases/{case_id}/representative/candidacy", headers=mem.headers)
    assert r.status_code == 201, r.text
    r = await client.put(
        f"/api/v1/cases/{case_id}/representative/vote", headers=mem.headers, json={"candidate_id": mem.id}
    )
    assert r.status_code == 200 and r.json()["representative"]["user_id"] == mem.id, r.text
    r = await client.post(
        f"/api/v1/cases/{case_id}/authorizations", headers=mem.headers, json={"complaint_id": complaint_id}
    )
    assert r.status_code == 201, r.text
    authorization_id = int(r.json()["id"])
    # a reply to the filing's reply address from someone who is not the regulator
    (sent,) = mailbox.to(REGULATOR_MAIL)
    secret = settings.inbound_secret.get_secret_value()
    r = await client.post(
        "/api/v1/inbound/email",
        content=_mail(STRANGER, str(sent["Reply-To"]), "<stranger-1@example.net>"),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"},
    )
    assert r.status_code == 202, r.text
    # the regulator's reply with a file (kept on the filing: its organizers and admins may fetch
    # it), and a message for no filing (kept in the quarantine: admins only)
    inbound_headers = {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}
    r = await client.post(
        "/api/v1/inbound/email",
        content=_mail(REGULATOR_MAIL, str(sent["Reply-To"]), "<notice-1@example.net>", png(77)),
        headers=inbound_headers,
    )
    assert r.status_code == 202 and r.json()["filing_id"] == filing_id, r.text
    (attached,) = await FilingAttachment.select(FilingAttachment.id)
    r = await client.post(
        "/api/v1/inbound/email",
        content=_mail(STRANGER, "nobody@example.com", "<lost-1@example.net>"),
        headers=inbound_headers,
    )
    assert r.status_code == 202 and r.json()["quarantine_id"], r.text
    quarantine_id = int(r.json()["quarantine_id"])

    # someone joins the case by its id, naming new identifiers and a name: all only claimed (a
    # moderator probe confirms the first identifier; the second stays a claim throughout)
    claimer = await person(client, mailbox, worker, "claimer@example.com", "认领者")
    claim = [ident("wechat", CLAIMED_CONFIRMED), ident("domain", CLAIMED_ONLY)]
    await report(client, claimer, report_body("蓝月客服", claim, case_id=case_id))
    claims = (
        await client.get(f"/api/v1/merchants/{a['merchant_id']}/claims", headers=moderator.headers)
    ).json()
    by_value = {i["value"]: i for i in claims["identifiers"]}
    assert set(by_value) == {CLAIMED_CONFIRMED, CLAIMED_ONLY}, claims
    claimed_identifier = by_value[CLAIMED_CONFIRMED]
    (claimed_alias,) = claims["aliases"]

    # a case for the leaving probe, with the member as its only organizer and the organizer in it:
    # the member is refused (409 last_organizer), the organizer leaves it (the seeded case untouched)
    to_leave = await report(client, mem, report_body("离队测试商户", [ident("qq", "33445566")]))
    await report(client, org, report_body("离队测试商户", [ident("qq", "33445566")]))

    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=mem.headers)).json()["items"]
    frozen = {i["id"]: i["frozen"] for i in listed}
    # the withdrawal probe relies on this: the member's attempt is answered 409, nothing withdrawn
    assert frozen.get(mem_ev) is True, listed

    inbox = (await client.get("/api/v1/notifications", headers=mem.headers)).json()["items"]
    assert inbox, "the member was told nothing about the filing"

    await merchants.propose_merge(a["merchant_id"], b["merchant_id"], ["qq:55667788"])
    await merchants.propose_merge(b["merchant_id"], c["merchant_id"], ["qq:11223344"])
    proposals = (await client.get("/api/v1/moderation/merge-proposals", headers=moderator.headers)).json()[
        "items"
    ]
    by_pair = {(p["merchant_a"]["id"], p["merchant_b"]["id"]): p["id"] for p in proposals}
    # a name a report gave merchant a with one of its strong identifiers (issue 16 item 2)
    await merchants.propose_link(a["merchant_id"], "星辰别名", ["qq:55667788"], case_id=None)
    links = (await client.get("/api/v1/moderation/link-proposals", headers=moderator.headers)).json()["items"]

    case = (await client.get(f"/api/v1/cases/{case_id}")).json()
    people = {
        ORGANIZER: org,
        MEMBER: mem,
        OTHER_CASE: other,
        UNVERIFIED: unverified,
        MODERATOR: moderator,
        ADMIN: admin,
    }
    headers = {name: p.headers for name, p in people.items()}
    headers[ANONYMOUS] = {}
    headers[MAIL_SERVER] = {"Authorization": f"Bearer {secret}"}
    return World(
        ids={
            "case_id": case_id,
            "other_case_id": b["case_id"],
            "leave_case_id": to_leave["case_id"],
            "merchant_id": a["merchant_id"],
            "evidence_id": mem_ev,
            "org_evidence_id": org_ev,
            "shared_evidence_id": shared_ev,  # the organizer's, visible to members
            "chat_evidence_id": chat_ev,  # the member's chat export (organizers-only), read for fields
            "field_id": int(suggested["id"]),  # a field suggested from it
            "complaint_id": complaint_id,
            "filing_id": filing_id,
            "authorization_id": authorization_id,
            "attachment_id": int(attached["id"]),
            "item_id": quarantine_id,
            "notification_id": int(inbox[0]["id"]),
            "proposal_id": by_pair[tuple(sorted((a["merchant_id"], b["merchant_id"])))],
            "reject_proposal_id": by_pair[tuple(sorted((b["merchant_id"], c["merchant_id"])))],
            "link_proposal_id": int(links[0]["id"]),
            "user_id": spare.id,
            "regulator_id": regulator_id,
            "identifier_id": int(claimed_identifier["id"]),
            "alias_id": int(claimed_alias["id"]),
        },
        headers=headers,
        people={**people, "spare": spare},
        case_status=case["status"],
        filed_bundle_sha256=row["bundle_sha256"],
        member_evidence=member_evidence,
        organizer_evidence=organizer_evidence,
        inbound_secret=secret,
    )


async def fresh_headers(client: Any, world: World, actor: str) -> dict[str, str]:
    """A session of its own for a probe that ends it (logout), so the actor's main one lives on."""
    if actor not in world.people:
        return dict(world.headers[actor])
    return await login(client, world.people[actor].email, PASSWORD)


# --- probes ------------------------------------------------------------------------------------

Body = Mapping[str, Any] | Callable[[World, str], Mapping[str, Any]]
ViewCheck = Callable[[World, str, Any], None]


@dataclass(frozen=True)
class Probe:
    """One request against one route: which seeded objects fill its path, what it sends (a
    minimal valid body, so that refusals come from authorization, not validation), and for
    some routes what an allowed actor must (not) see."""

    rule: Rule
    label: str = ""
    # path parameter -> World.ids key (or, when no such key, the literal value)
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)  # query parameter -> the same
    json: Body | None = None
    files: bool = False  # a multipart evidence upload
    raw: bytes | None = None  # a raw body (with content_type)
    content_type: str | None = None
    fresh_session: bool = False
    view: ViewCheck | None = None
    # the one status an allowed actor gets, where that is not a success (Litestar's catch-all
    # under /schema answers 404 to every path it does not render, whoever asks)
    answer: int | None = None

    def url(self, path_format: str, world: World) -> str:
        names = {**{p: p for p in _path_names(path_format)}, **self.params}
        return path_format.format(**{p: world.ids.get(key, key) for p, key in names.items()})

    def query_params(self, world: World) -> dict[str, int | str]:
        return {name: world.ids.get(key, key) for name, key in self.query.items()}

    def body(self, world: World, actor: str) -> Mapping[str, Any] | None:
        if callable(self.json):
            return self.json(world, actor)
        return self.json


def _path_names(path_format: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(path_format) if name]


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, but HEAD/OPTIONS and the static files."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            name = handler.name or ""
            if name == "static" or name.startswith("static/"):
                continue
            for method in handler.http_methods:
                if method not in ("HEAD", "OPTIONS"):
                    found.add((method, route.path_format))
    return found


def route_handlers(app: Litestar) -> dict[tuple[str, str], HTTPRouteHandler]:
    """The handler of each (method, path) of :func:`app_routes`."""
    found: dict[tuple[str, str], HTTPRouteHandler] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    found[(method, route.path_format)] = handler
    return {key: found[key] for key in app_routes(app)}


# --- view checks: what the seeded complaint looks like to whom --------------------------------


def zip_entries(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {name: z.read(name) for name in z.namelist()}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
