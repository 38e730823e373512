"""The account lifecycle over HTTP, against the real database, Redis, arq worker and SMTP server:
a forgotten password reset by the mailed link (once, in time, every session ended), a password
changed, a case left, an account deleted — and every refusal, which writes nothing."""

from __future__ import annotations

import hashlib
import io
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from PIL import Image

from chorus.accounts.tables import AuthSession, User
from chorus.evidence import service as evidence
from chorus.notifications.tables import InboxEntry, Preferences
from chorus.web.auth import SESSION_COOKIE
from tests.integration.authorization_support import represent
from tests.integration.cases_support import Person, fields_of, ident, person, report, report_body
from tests.support import PASSWORD, assert_problem, body_of, login, register, row_counts, token_from

pytestmark = pytest.mark.usefixtures("clean")

NEW_PASSWORD = "a brand new passphrase"
RESET_LINK = "http://chorus.example.com/password/reset?token="
QQ = "55667788"
ANN_STATEMENT = "安妮的陈述：卖家收款后把我拉黑。"
ANN_REF = "BM-ANN-20261003"


async def me_status(client: Any, headers: dict[str, str]) -> int:
    client.cookies.clear()
    return int((await client.get("/api/v1/me", headers=headers)).status_code)


async def login_status(client: Any, email: str, password: str) -> int:
    r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    client.cookies.clear()
    return int(r.status_code)


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (seed, 60, 120)).save(buf, "PNG")
    return buf.getvalue()


async def upload(client: Any, case_id: int, who: Person, content: bytes, description: str) -> int:
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=who.headers,
        data={"kind": "payment_receipt", "description": description, "visibility": "members"},
        files={"file": ("receipt.png", content, "image/png")},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def forgot(client: Any, email: str) -> None:
    r = await client.post("/api/v1/auth/password/forgot", json={"email": email})
    assert r.status_code == 202, r.text


# --- forgotten password ------------------------------------------------------------------------


async def test_a_mailed_link_resets_the_password_once_and_ends_every_session(
    client: Any, mailbox: Any, worker: Any
) -> None:
    ann = await person(client, mailbox, worker, "ann@example.com", "安妮")
    other_device = await login(client, "ann@example.com")
    mailbox.clear()

    await forgot(client, " ANN@example.com ")
    await worker()
    (msg,) = mailbox.to("ann@example.com")
    body = body_of(msg)
    assert "安妮" in body and "60 分钟" in body  # zh-CN, the account's language
    assert "密码" in str(msg["Subject"])
    assert body.count(RESET_LINK) == 1
    token = token_from(msg)

    # the new password follows the rules of registration: refused naming the field, nothing changed
    before = await row_counts()
    r = await client.post("/api/v1/auth/password/reset", json={"token": token, "password": "short"})
    assert "password" in fields_of(assert_problem(r, 422, "validation"))
    r = await client.post("/api/v1/auth/password/reset", json={"password": NEW_PASSWORD})
    assert "token" in fields_of(assert_problem(r, 422, "validation"))
    assert await row_counts() == before
    assert await me_status(client, ann.headers) == 200

    r = await client.post("/api/v1/auth/password/reset", json={"token": token, "password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "ann@example.com"

    # every session of the account ended: bearer tokens and the same token as a cookie
    assert await me_status(client, ann.headers) == 401
    assert await me_status(client, other_device) == 401
    cookie = {"Cookie": f"{SESSION_COOKIE}={other_device['Authorization'].removeprefix('Bearer ')}"}
    assert await me_status(client, cookie) == 401
    assert await login_status(client, "ann@example.com", PASSWORD) == 401
    assert await login_status(client, "ann@example.com", NEW_PASSWORD) == 200

    # the link worked once
    r = await client.post(
        "/api/v1/auth/password/reset", json={"token": token, "password": "yet another one!"}
    )
    assert_problem(r, 422, "token_invalid")
    assert await login_status(client, "ann@example.com", NEW_PASSWORD) == 200


async def test_an_expired_or_altered_link_is_refused(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    await person(client, mailbox, worker, "bob@example.com", "Bob")
    mailbox.clear()
    await forgot(client, "bob@example.com")
    await worker()
    token = token_from(mailbox.to("bob@example.com")[0])

    # the same link, signed as if mailed one minute more than CHORUS_PASSWORD_RESET_MINUTES ago
    class PastSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - (settings.password_reset_minutes + 1) * 60

    serializer = URLSafeTimedSerializer(settings.signing_key(), salt="password-reset")
    _, payload = serializer.loads_unsafe(token)
    old = URLSafeTimedSerializer(settings.signing_key(), salt="password-reset", signer=PastSigner).dumps(
        payload
    )
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    # a verification link is no reset link (another purpose, another salt)
    verify_token = URLSafeTimedSerializer(settings.signing_key(), salt="verify-email").dumps(payload)

    before = await row_counts()
    for bad, code in ((old, "token_expired"), (tampered, "token_invalid"), ("garbage", "token_invalid")):
        r = await client.post("/api/v1/auth/password/reset", json={"token": bad, "password": NEW_PASSWORD})
        assert "token" in fields_of(assert_problem(r, 422, code))
    r = await client.post(
        "/api/v1/auth/password/reset", json={"token": verify_token, "password": NEW_PASSWORD}
    )
    assert_problem(r, 422, "token_invalid")
    assert await row_counts() == before
    assert await login_status(client, "bob@example.com", PASSWORD) == 200


async def test_forgot_answers_alike_whether_or_not_the_address_has_an_account(
    client: Any, mailbox: Any, worker: Any
) -> None:
    await register(client, "new@example.com", name="Newcomer", locale="en")
    await worker()
    mailbox.clear()

    before = await row_counts()
    await forgot(client, "nobody@example.com")
    assert await row_counts() == before  # nothing queued for an unknown address
    await worker()
    assert mailbox.messages == []

    # an account never verified gets the link too: following it proves the address
    await forgot(client, "new@example.com")
    await worker()
    (msg,) = mailbox.to("new@example.com")
    assert "Hello Newcomer" in body_of(msg) and "60 minutes" in body_of(msg)  # English, the account's
    assert "password" in str(msg["Subject"]).lower()
    r = await client.post(
        "/api/v1/auth/password/reset", json={"token": token_from(msg), "password": NEW_PASSWORD}
    )
    assert r.status_code == 200, r.text
    assert r.json()["email_verified"] is True

    assert "email" in fields_of(
        assert_problem(await client.post("/api/v1/auth/password/forgot", json={}), 422)
    )
    r = await client.post(
        "/api/v1/auth/password/forgot", content=b"email=x", headers={"Content-Type": "text/plain"}
    )
    assert_problem(r, 415)


# --- changing the password ---------------------------------------------------------------------


async def test_a_signed_in_user_changes_their_password(client: Any, mailbox: Any, worker: Any) -> None:
    ann = await person(client, mailbox, worker, "ann@example.com", "安妮")
    other_device = await login(client, "ann@example.com")

    before = await row_counts()
    r = await client.post(
        "/api/v1/me/password",
        headers=ann.headers,
        json={"current_password": "not it", "password": NEW_PASSWORD},
    )
    assert "current_password" in fields_of(assert_problem(r, 403, "wrong_password"))
    r = await client.post(
        "/api/v1/me/password", headers=ann.headers, json={"current_password": PASSWORD, "password": "short"}
    )
    assert "password" in fields_of(assert_problem(r, 422, "validation"))
    r = await client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "password": NEW_PASSWORD}
    )
    assert_problem(r, 401, "not_authenticated")
    assert await row_counts() == before
    assert await me_status(client, other_device) == 200

    r = await client.post(
        "/api/v1/me/password",
        headers=ann.headers,
        json={"current_password": PASSWORD, "password": NEW_PASSWORD},
    )
    assert r.status_code == 204, r.text
    assert await me_status(client, ann.headers) == 200  # this session lives on
    assert await me_status(client, other_device) == 401  # the others ended
    assert await login_status(client, "ann@example.com", PASSWORD) == 401
    assert await login_status(client, "ann@example.com", NEW_PASSWORD) == 200


# --- leaving a case ----------------------------------------------------------------------------


async def filed_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """An organizer, Ann and Bob in one case, each with a receipt, all consenting; version 1 of the
    complaint filed (a manual regulator: the filing freezes the version and the receipts)."""
    org = await person(client, mailbox, worker, "org@example.com", "组织者")
    ann = await person(client, mailbox, worker, "ann@example.com", "安妮")
    bob = await person(client, mailbox, worker, "bob@example.com", "鲍勃")
    made = await report(client, org, report_body("蓝月卡盟", [ident("qq", QQ)], amount="300.00"))
    case_id = made["case_id"]
    await report(
        client,
        ann,
        report_body(
            "蓝月卡盟", [ident("qq", QQ)], amount="120.00", order_refs=[ANN_REF], statement=ANN_STATEMENT
        ),
    )
    await report(client, bob, report_body("蓝月卡盟", [ident("qq", QQ)], amount="40.00"))
    receipts = {
        who.email: await upload(client, case_id, who, png(n), f"receipt {n}")
        for n, who in enumerate((org, ann, bob))
    }
    for who in (org, ann, bob):
        r = await client.post(f"/api/v1/cases/{case_id}/consent", headers=who.headers, json={"consent": True})
        assert r.status_code == 200, r.text
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    regulator = next(r["id"] for r in regulators if r["channel"] == "manual")
    r = await client.post(
        f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": regulator}
    )
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert ANN_STATEMENT in v1["markdown"] and ANN_REF in v1["markdown"]
    await represent(client, case_id, org.headers, v1["id"], ann.headers)  # 12315 expects them
    r = await client.post(
        f"/api/v1/cases/{case_id}/filings", headers=org.headers, json={"complaint_id": v1["id"]}
    )
    assert r.status_code == 202, r.text
    await worker()
    return {
        "case": case_id,
        "org": org,
        "ann": ann,
        "bob": bob,
        "regulator": regulator,
        "v1": v1["id"],
        "receipts": receipts,
    }


async def complaint_text(client: Any, org: Person, complaint_id: int) -> str:
    r = await client.get(f"/api/v1/complaints/{complaint_id}", headers=org.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["markdown"])


async def test_a_member_leaves_and_is_gone_from_what_comes_next(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await filed_case(client, mailbox, worker)
    case_id, org, ann, bob = s["case"], s["org"], s["ann"], s["bob"]
    late_bytes = png(77)
    late = await upload(client, case_id, ann, late_bytes, "Ann's chat log, after the filing")
    outsider = await person(client, mailbox, worker, "out@example.com", "路人")

    # refusals first: none of them writes anything
    before = await row_counts()
    assert_problem(await client.delete(f"/api/v1/cases/{case_id}/membership"), 401, "not_authenticated")
    r = await client.delete(f"/api/v1/cases/{case_id}/membership", headers=outsider.headers)
    assert_problem(r, 404, "membership_not_found")
    assert_problem(await client.delete("/api/v1/cases/999999/membership", headers=ann.headers), 404)
    # the organizer is the case's only one, and others remain
    r = await client.delete(f"/api/v1/cases/{case_id}/membership", headers=org.headers)
    assert str(case_id) in assert_problem(r, 409, "last_organizer")["detail"]
    assert await row_counts() == before

    r = await client.delete(f"/api/v1/cases/{case_id}/membership", headers=ann.headers)
    assert r.status_code == 204, r.text

    # organizers no longer see her; she is no member any more
    members = (await client.get(f"/api/v1/cases/{case_id}/members", headers=org.headers)).json()["items"]
    assert {m["user_id"] for m in members} == {org.id, bob.id}
    assert_problem(await client.get(f"/api/v1/cases/{case_id}/membership", headers=ann.headers), 403)
    assert_problem(await client.delete(f"/api/v1/cases/{case_id}/membership", headers=ann.headers), 404)
    assert case_id not in {
        c["case_id"] for c in (await client.get("/api/v1/me/cases", headers=ann.headers)).json()["items"]
    }
    public = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert public["member_count"] == 2
    assert public["total_loss"] == [{"amount": "340.00", "currency": "CNY"}]
    assert public["timeline"][-1]["kind"] == "member_left" and public["timeline"][-1]["data"] == {}

    # her receipt cited by the filing stays with it; what she uploaded afterwards is withdrawn, its
    # bytes deleted
    listed = {
        i["id"]: i
        for i in (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=org.headers)).json()["items"]
    }
    assert listed[s["receipts"][ann.email]]["frozen"] is True
    assert late not in listed
    store = evidence.storage_for(settings)
    assert not await store.exists(hashlib.sha256(late_bytes).hexdigest())
    assert await store.exists(hashlib.sha256(png(1)).hexdigest())

    # the filed version keeps what was filed; a version built now holds nothing of hers
    assert ANN_STATEMENT in await complaint_text(client, org, s["v1"])
    r = await client.post(
        f"/api/v1/cases/{case_id}/complaints", headers=org.headers, json={"regulator_id": s["regulator"]}
    )
    assert r.status_code == 201, r.text
    v2 = r.json()["markdown"]
    assert ANN_STATEMENT not in v2 and ANN_REF not in v2 and "安妮" not in v2
    assert hashlib.sha256(png(1)).hexdigest() not in v2  # her receipt is not in the evidence index
    assert hashlib.sha256(png(2)).hexdigest() in v2  # Bob's is
    r = await client.get(f"/api/v1/complaints/{s['v1']}/bundle", headers=org.headers)
    assert r.status_code == 200 and png(1) in r.content  # the filed version's bundle still holds hers

    # the organizer leaves once someone else organizes; the last member to leave closes the case
    r = await client.post(
        f"/api/v1/cases/{case_id}/organizers", headers=org.headers, json={"user_id": bob.id}
    )
    assert r.status_code == 200, r.text
    assert (
        await client.delete(f"/api/v1/cases/{case_id}/membership", headers=org.headers)
    ).status_code == 204
    assert (
        await client.delete(f"/api/v1/cases/{case_id}/membership", headers=bob.headers)
    ).status_code == 204
    public = (await client.get(f"/api/v1/cases/{case_id}")).json()
    assert public["member_count"] == 0 and public["status"] == "closed"
    # the merchant's next report opens a new case, with its reporter as organizer
    again = await report(client, ann, report_body("蓝月卡盟", [ident("qq", QQ)]))
    assert again["created_case"] is True and again["case_id"] != case_id


# --- deleting an account -----------------------------------------------------------------------


async def test_a_deleted_account_is_gone_but_filed_complaints_keep_what_was_filed(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await filed_case(client, mailbox, worker)
    case_id, org, ann = s["case"], s["org"], s["ann"]
    r = await client.put("/api/v1/me/preferences", headers=ann.headers, json={"email": "digest"})
    assert r.status_code == 200, r.text
    assert await InboxEntry.count().where(InboxEntry.user == ann.id) > 0  # told of the filing
    other_device = await login(client, ann.email)

    before = await row_counts()
    r = await client.request(
        "DELETE", "/api/v1/me", headers=ann.headers, json={"password": "not my password"}
    )
    assert "password" in fields_of(assert_problem(r, 403, "wrong_password"))
    assert "password" in fields_of(
        assert_problem(await client.request("DELETE", "/api/v1/me", headers=ann.headers, json={}), 422)
    )
    assert_problem(await client.request("DELETE", "/api/v1/me", json={"password": PASSWORD}), 401)
    # the organizer organizes the case alone, with others in it
    r = await client.request("DELETE", "/api/v1/me", headers=org.headers, json={"password": PASSWORD})
    assert_problem(r, 409, "last_organizer")
    assert await row_counts() == before
    assert await me_status(client, ann.headers) == 200 and await me_status(client, org.headers) == 200

    r = await client.request("DELETE", "/api/v1/me", headers=ann.headers, json={"password": PASSWORD})
    assert r.status_code == 204, r.text

    # no session, no login (the answer of a wrong password), no reset link
    assert await me_status(client, ann.headers) == 401
    assert await me_status(client, other_device) == 401
    r = await client.post("/api/v1/auth/login", json={"email": ann.email, "password": PASSWORD})
    assert_problem(r, 401, "invalid_credentials")
    mailbox.clear()
    await forgot(client, ann.email)
    await worker()
    assert mailbox.to(ann.email) == []

    # gone from the case; her personal data gone from the account
    members = (await client.get(f"/api/v1/cases/{case_id}/members", headers=org.headers)).json()["items"]
    assert ann.id not in {m["user_id"] for m in members}
    row = await User.select().where(User.id == ann.id).first()
    assert row["deleted_at"] is not None  # a tombstone: the receipt frozen by the filing still points at it
    assert row["email"] != ann.email and row["display_name"] == "" and "安妮" not in str(row)
    assert await AuthSession.count().where(AuthSession.user == ann.id) == 0
    assert await Preferences.count().where(Preferences.user == ann.id) == 0
    assert await InboxEntry.count().where(InboxEntry.user == ann.id) == 0

    # the filed complaint keeps what was filed, her words and evidence included
    assert ANN_STATEMENT in await complaint_text(client, org, s["v1"])
    listed = (await client.get(f"/api/v1/cases/{case_id}/evidence", headers=org.headers)).json()["items"]
    assert s["receipts"][ann.email] in {i["id"] for i in listed}

    # the address is free again: a new account, in no case
    again = await register(client, ann.email, name="安妮")
    assert again["id"] != ann.id and again["email"] == ann.email
    headers = await login(client, ann.email)
    assert (await client.get("/api/v1/me/cases", headers=headers)).json()["items"] == []
