"""Issue 9, items 6, 9 and 10: body types of unsafe API requests (415), cross-site requests to
the credential endpoints (403), security headers, no-store on personal answers, and API docs
pages that load nothing from another host."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from chorus.accounts.tables import AuthSession, User
from chorus.web.middleware import PAGE_CSP
from tests.integration.cases_support import ident, person, report, report_body
from tests.support import PASSWORD, assert_problem, http_client, register, token_from

pytestmark = pytest.mark.usefixtures("clean")

PUBLIC_ORIGIN = "http://chorus.example.com"  # CHORUS_PUBLIC_URL of the tests
EVIL = "https://evil.example.net"


async def sessions_and_users() -> tuple[int, int]:
    return await AuthSession.count(), await User.count()


# --- item 6: body types ---------------------------------------------------------------


async def test_a_cross_site_form_body_cannot_log_in_or_register(client: Any) -> None:
    """What an HTML form on another site can send (text/plain, urlencoded, multipart) is
    refused before anything runs, even when its text is valid JSON."""
    await register(client, "victim@example.com")
    before = await sessions_and_users()
    creds = json.dumps({"email": "victim@example.com", "password": PASSWORD})
    new_user = json.dumps({"email": "new@example.com", "password": PASSWORD, "display_name": "N"})
    for url, text in (("/api/v1/auth/login", creds), ("/api/v1/auth/register", new_user)):
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/plain;charset=UTF-8"):
            r = await client.post(url, content=text, headers={"content-type": content_type})
            body = assert_problem(r, 415, "unsupported_body_type")
            assert "application/json" in body["detail"]
            assert "set-cookie" not in r.headers
        r = await client.post(url, files={"x": ("a.txt", text.encode(), "text/plain")})  # multipart
        assert_problem(r, 415, "unsupported_body_type")
        r = await client.post(url, content=text)  # a body that says nothing of its type
        assert_problem(r, 415, "unsupported_body_type")
    assert await sessions_and_users() == before
    # JSON, with or without parameters, still works
    r = await client.post(
        "/api/v1/auth/login", content=creds, headers={"content-type": "application/json; charset=utf-8"}
    )
    assert r.status_code == 200


async def test_other_unsafe_api_requests_need_json_too(client: Any, mailbox: Any, worker: Any) -> None:
    org = await person(client, mailbox, worker, "org@example.com")
    case_id = (await report(client, org, report_body("快充卡盟", [ident("qq", "88886666")])))["case_id"]
    url = f"/api/v1/cases/{case_id}/membership"
    before = (await client.get(url, headers=org.headers)).json()
    r = await client.patch(
        url,
        content=json.dumps({"statement": "changed"}),
        headers={**org.headers, "content-type": "text/plain"},
    )
    assert_problem(r, 415, "unsupported_body_type")
    assert (await client.get(url, headers=org.headers)).json() == before


async def test_requests_without_a_body_keep_working(client: Any, mailbox: Any, worker: Any) -> None:
    me = await person(client, mailbox, worker, "empty@example.com")
    # no body, no type: past the body check to the handler (no such notification)
    assert_problem(await client.post("/api/v1/notifications/999/read", headers=me.headers), 404)
    assert (await client.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
    assert_problem(await client.get("/api/v1/me", headers=me.headers), 401)  # logged out for real


async def test_uploads_take_multipart_and_the_inbound_route_its_raw_message(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    org = await person(client, mailbox, worker, "org@example.com")
    case_id = (await report(client, org, report_body("快充卡盟", [ident("qq", "88886666")])))["case_id"]
    url = f"/api/v1/cases/{case_id}/evidence"
    r = await client.post(
        url, headers=org.headers, data={"kind": "other"}, files={"file": ("a.txt", b"hello", "text/plain")}
    )
    assert r.status_code == 201, r.text
    r = await client.post(url, headers=org.headers, json={"kind": "other"})
    assert_problem(r, 415, "unsupported_body_type")
    # The inbound route is authorized by its bearer secret alone: whatever type the mail server
    # sends, the body check lets it through to that authorization (401 here, never 415).
    message = b"From: a@example.com\r\nSubject: x\r\n\r\nbody"
    for content_type in ("message/rfc822", "text/plain", "application/octet-stream", None):
        headers = {"Authorization": "Bearer wrong"}
        if content_type:
            headers["Content-Type"] = content_type
        assert_problem(await client.post("/api/v1/inbound/email", content=message, headers=headers), 401)


# --- item 6: cross-site requests to the credential endpoints -------------------------------


async def test_login_register_and_verify_refuse_other_sites(client: Any, mailbox: Any, worker: Any) -> None:
    await register(client, "site@example.com")
    await worker()
    token = token_from(mailbox.to("site@example.com")[0])
    before = await sessions_and_users()
    creds = {"email": "site@example.com", "password": PASSWORD}
    new_user = {"email": "other@example.com", "password": PASSWORD, "display_name": "O"}
    refused = (
        {"Origin": EVIL},
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},  # a sandboxed frame
        {"Origin": "http://chorus.example.com.evil.example.net"},
        {"Origin": "https://chorus.example.com"},  # another scheme is another origin
    )
    for headers in refused:
        for url, body in (
            ("/api/v1/auth/login", creds),
            ("/api/v1/auth/register", new_user),
            ("/api/v1/auth/verify", {"token": token}),
            ("/api/v1/auth/resend-verification", {"email": "site@example.com"}),
        ):
            r = await client.post(url, json=body, headers=headers)
            assert_problem(r, 403, "cross_site_request")
            assert "set-cookie" not in r.headers or "chorus_session" not in r.headers["set-cookie"]
    assert await sessions_and_users() == before
    row = await User.select(User.email_verified_at).where(User.email == "site@example.com").first()
    assert row is not None and row["email_verified_at"] is None

    # the site's own pages, and clients that send no Origin, pass
    same = {"Origin": PUBLIC_ORIGIN, "Sec-Fetch-Site": "same-origin"}
    assert (await client.post("/api/v1/auth/verify", json={"token": token}, headers=same)).status_code == 200
    assert (
        await client.post("/api/v1/auth/login", json=creds, headers={"Origin": PUBLIC_ORIGIN})
    ).status_code == 200
    client.cookies.clear()
    strict = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}  # a page with Referrer-Policy no-referrer
    assert (await client.post("/api/v1/auth/login", json=creds, headers=strict)).status_code == 200
    client.cookies.clear()
    assert (await client.post("/api/v1/auth/login", json=creds)).status_code == 200


# --- item 9: security headers ----------------------------------------------------------


def csp_of(r: Any) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in r.headers["content-security-policy"].split(";")
        if part.strip()
    }


async def test_every_answer_carries_the_security_headers(client: Any) -> None:
    answers = [
        await client.get("/healthz"),
        await client.get("/api/v1/no-such-thing"),
        await client.get("/api/v1/me"),  # 401
        await client.get("/verify"),
        await client.get("/"),
        await client.get("/schema/openapi.json"),
    ]
    for r in answers:
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert csp_of(r)["frame-ancestors"] == "'none'", r.url
        assert "strict-transport-security" not in r.headers  # the tests' public URL is http://
    page = answers[3]
    assert page.headers["content-type"].startswith("text/html")
    policy = csp_of(page)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["form-action"] == "'self'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert csp_of(answers[0])["default-src"] == "'none'"  # JSON: nothing loads


async def test_hsts_when_the_public_url_is_https(settings: Any) -> None:
    async with http_client(settings.model_copy(update={"public_url": "https://chorus.example.com"})) as c:
        for r in (await c.get("/healthz"), await c.get("/verify")):
            assert r.headers["strict-transport-security"] == "max-age=63072000"


async def test_personal_answers_are_never_stored(client: Any, mailbox: Any, worker: Any) -> None:
    org = await person(client, mailbox, worker, "org@example.com")
    mem = await person(client, mailbox, worker, "mem@example.com")
    body = report_body("快充卡盟", [ident("qq", "88886666")])
    case_id = (await report(client, org, body))["case_id"]
    await report(client, mem, body)
    ev = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=mem.headers,
        data={"kind": "other", "visibility": "members"},
        files={"file": ("a.txt", b"hello", "text/plain")},
    )
    assert ev.status_code == 201, ev.text
    answers = {
        "me": await client.get("/api/v1/me", headers=mem.headers),
        "my cases": await client.get("/api/v1/me/cases", headers=mem.headers),
        "notifications": await client.get("/api/v1/notifications", headers=mem.headers),
        "members": await client.get(f"/api/v1/cases/{case_id}/members", headers=org.headers),
        "membership": await client.patch(
            f"/api/v1/cases/{case_id}/membership", json={"statement": "付款后失联"}, headers=mem.headers
        ),
        "evidence list": await client.get(f"/api/v1/cases/{case_id}/evidence", headers=org.headers),
        "evidence content": await client.get(
            f"/api/v1/evidence/{ev.json()['id']}/content", headers=org.headers
        ),
        "login": await client.post(
            "/api/v1/auth/login", json={"email": "mem@example.com", "password": PASSWORD}
        ),
        "refused": await client.get(f"/api/v1/cases/{case_id}/members", headers=mem.headers),
    }
    client.cookies.clear()
    for name, r in answers.items():
        assert r.status_code < 500, (name, r.text)
        assert "no-store" in r.headers.get("cache-control", ""), name
    assert answers["refused"].status_code == 403
    # the shared, public files stay cacheable
    assert "no-store" not in (await client.get("/static/vendor/swagger-ui-dist/swagger-ui.css")).headers.get(
        "cache-control", ""
    )


# --- item 10: the API documentation pages ------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name):
                self.refs.append(str(found[name]))
        if tag == "script" and not found.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.inline_scripts += 1  # inline styles count too: the CSP refuses them

    def handle_data(self, data: str) -> None:
        for url in re.findall(r"(?:https?:)?//[\w.-]+", data):
            self.refs.append(url)


@pytest.mark.parametrize("page", ["/schema/", "/schema/swagger"])
async def test_docs_pages_load_only_files_of_this_site(client: Any, page: str) -> None:
    r = await client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    parser = _Refs()
    parser.feed(r.text)
    assert parser.inline_scripts == 0, r.text
    scripts = [ref for ref in parser.refs if ref.endswith(".js")]
    assert any(ref.startswith("/static/vendor/") for ref in scripts), parser.refs
    for ref in parser.refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{page} refers to {ref}"
        served = await client.get(ref)
        assert served.status_code == 200, ref
        if ref.endswith(".js"):
            assert "javascript" in served.headers["content-type"], ref
            assert len(served.content) > 0
        elif ref.endswith(".css"):
            assert served.headers["content-type"].startswith("text/css"), ref
        elif ref.endswith(".json"):
            assert served.json()["openapi"].startswith("3.")
    policy = csp_of(r)
    assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    if page == "/schema/swagger":
        assert r.headers["content-security-policy"] == PAGE_CSP  # Swagger UI needs nothing more


async def test_vendored_copies_are_the_pinned_ones(client: Any) -> None:
    """static/vendor/README.md records what was taken from npm; the served bytes match it."""
    import hashlib
    from pathlib import Path

    import chorus.app

    readme = (Path(chorus.app.STATIC_DIR) / "vendor" / "README.md").read_text()
    pinned = re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    assert len(pinned) == 6
    for digest, name in pinned:
        r = await client.get(f"/static/vendor/{name}")
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == digest, name
