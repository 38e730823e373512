"""Filing on behalf of many people (issue 14 item 7), over HTTP: the case elects its
representative; members authorize that representative to file one complaint version through one
channel; a member without an authorization for the channel is left out of the version filed
there, and the authorization documents (授权委托书) are in the filing's bundle; revocation before
filing; an authorization for version 1 does not cover version 2; 12315 routes a complaint to a
bureau, and a case never files the same complaint twice through it. Every refusal writes nothing."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import pytest

from chorus.accounts import identity
from chorus.authorizations.tables import (
    Authorization,
    FilingParties,
    RepresentativeCandidate,
    RepresentativeVote,
)
from tests.integration.test_complaints import consent, seeded_case
from tests.integration.test_filing_channels import add_regulator, quick
from tests.integration.test_filings import build, written
from tests.regulator_standin import KEY_ENV, Standin
from tests.support import assert_problem, run_jobs

pytestmark = pytest.mark.usefixtures("clean")

REGULATOR_MAIL = "complaints@amr.example.gov.cn"


async def rows() -> dict[str, int]:
    """What the features of this file write, with the filings' rows."""
    return {
        **await written(),
        "authorizations": int(await Authorization.count()),
        "revoked": int(await Authorization.count().where(Authorization.revoked_at.is_not_null())),
        "candidates": int(await RepresentativeCandidate.count()),
        "votes": int(await RepresentativeVote.count()),
        "parties": int(await FilingParties.count()),
    }


async def mail_regulator(client: Any, settings: Any, **fields: Any) -> int:
    """A market regulator reached by e-mail that expects a written authorization per complainant."""
    return await add_regulator(
        client,
        settings,
        name="某市市场监督管理局（邮箱）",
        channel="email",
        address=REGULATOR_MAIL,
        authorization_required=True,
        **fields,
    )


async def user_id(client: Any, headers: dict[str, str]) -> int:
    return int((await client.get("/api/v1/me", headers=headers)).json()["id"])


async def elect(client: Any, s: dict[str, Any], who: str, *voters: str) -> None:
    """``who`` stands and the voters vote for them."""
    case = s["case"]
    r = await client.post(f"/api/v1/cases/{case}/representative/candidacy", headers=s[who])
    assert r.status_code == 201, r.text
    candidate = await user_id(client, s[who])
    for v in voters:
        r = await client.put(
            f"/api/v1/cases/{case}/representative/vote", headers=s[v], json={"candidate_id": candidate}
        )
        assert r.status_code == 200, r.text


async def authorize(client: Any, s: dict[str, Any], who: str, complaint_id: int, **body: Any) -> Any:
    return await client.post(
        f"/api/v1/cases/{s['case']}/authorizations",
        headers=s[who],
        json={"complaint_id": complaint_id, **body},
    )


async def file(client: Any, s: dict[str, Any], complaint_id: int) -> Any:
    """The organizer files a version (as it stands: no one elected or authorized on the way)."""
    return await client.post(
        f"/api/v1/cases/{s['case']}/filings", headers=s["org"], json={"complaint_id": complaint_id}
    )


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


async def test_the_case_elects_its_representative(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)  # org, ann, bob are members; out is not
    case = s["case"]
    url = f"/api/v1/cases/{case}/representative"
    r = await client.get(url, headers=s["bob"])
    assert r.status_code == 200
    assert r.json()["representative"] is None and r.json()["candidates"] == []
    assert r.json()["members"] == 3 and r.json()["quorum"] == 1
    assert_problem(await client.get(url, headers=s["out"]), 403)
    assert_problem(await client.get(url), 401)

    ann, bob = await user_id(client, s["ann"]), await user_id(client, s["bob"])
    before = await rows()
    # a vote for someone who does not stand, a stranger standing or voting: refused, nothing written
    assert_problem(
        await client.put(f"{url}/vote", headers=s["org"], json={"candidate_id": ann}),
        404,
        "candidate_not_found",
    )
    assert_problem(await client.post(f"{url}/candidacy", headers=s["out"]), 403)
    assert_problem(await client.put(f"{url}/vote", headers=s["out"], json={"candidate_id": ann}), 403)
    assert_problem(await client.put(f"{url}/vote", headers=s["org"], json={"candidate_id": 0}), 422)
    assert_problem(await client.delete(f"{url}/candidacy", headers=s["out"]), 403)
    assert_problem(await client.delete(f"{url}/vote"), 401)
    # standing down or taking back a vote one does not have changes nothing
    assert (await client.delete(f"{url}/candidacy", headers=s["ann"])).status_code == 204
    assert (await client.delete(f"{url}/vote", headers=s["ann"])).status_code == 204
    assert await rows() == before

    await elect(client, s, "ann", "org")  # one vote of one cast: more than half, quorum met
    assert (await client.post(f"{url}/candidacy", headers=s["ann"])).status_code == 201  # again: no change
    election = (await client.get(url, headers=s["bob"])).json()
    assert election["representative"] == {"user_id": ann, "display_name": "安妮"}
    assert [(c["display_name"], c["votes"]) for c in election["candidates"]] == [("安妮", 1)]
    assert election["my_vote"] is None and election["standing"] is False

    # bob stands and votes for himself: one each, no one has more than half
    await elect(client, s, "bob", "bob")
    election = (await client.get(url, headers=s["bob"])).json()
    assert election["representative"] is None and election["votes_cast"] == 2
    assert election["my_vote"] == bob and election["standing"] is True
    # ann votes for herself: two of three
    r = await client.put(f"{url}/vote", headers=s["ann"], json={"candidate_id": ann})
    assert r.json()["representative"]["user_id"] == ann
    # org changes their vote to bob: ann 1, bob 2
    r = await client.put(f"{url}/vote", headers=s["org"], json={"candidate_id": bob})
    assert r.json()["representative"]["user_id"] == bob
    assert sorted((c["display_name"], c["votes"]) for c in r.json()["candidates"]) == [
        ("安妮", 1),
        ("鲍勃", 2),
    ]
    # bob stands down: the votes for him count for no one, ann has the only vote cast
    assert (await client.delete(f"{url}/candidacy", headers=s["bob"])).status_code == 204
    election = (await client.get(url, headers=s["org"])).json()
    assert election["representative"]["user_id"] == ann and election["votes_cast"] == 1
    # a member who leaves takes their vote along
    assert (await client.delete(f"{url}/vote", headers=s["ann"])).status_code == 204
    election = (await client.get(url, headers=s["org"])).json()
    assert election["representative"] is None and election["votes_cast"] == 0


async def test_a_member_without_an_authorization_is_left_out_and_the_documents_are_in_the_bundle(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    reg = await mail_regulator(client, settings)
    await consent(client, s, "org", "ann", "bob")
    v1 = await build(client, s, reg)
    assert "鲍勃" in v1["markdown"] and "Bob's private words" in v1["markdown"]

    # no representative yet: nobody can authorize, and nothing can be filed
    before = await rows()
    assert_problem(await authorize(client, s, "ann", v1["id"]), 409, "representative_none")
    assert_problem(await file(client, s, v1["id"]), 409, "representative_none")
    assert await rows() == before

    await elect(client, s, "org", "org", "ann")
    ann = await user_id(client, s["ann"])
    # refusals: a stranger, an unknown detail, another case's version, a too large id
    before = await rows()
    assert_problem(await authorize(client, s, "out", v1["id"]), 403)
    assert_problem(await authorize(client, s, "ann", v1["id"], fields=["passport_photo"]), 422)
    assert_problem(await authorize(client, s, "ann", 999999), 404, "complaint_not_found")
    assert_problem(await authorize(client, s, "ann", 2**31), 422)
    assert await rows() == before
    # ann gives her phone for filing (with the separate consent: chorus.accounts.identity)
    r = await client.put(
        "/api/v1/me/identity",
        headers=s["ann"],
        json={"phone": "13800138000", "consent": True, "consent_version": identity.CONSENT_VERSION},
    )
    assert r.status_code == 200, r.text

    r = await authorize(client, s, "ann", v1["id"], fields=["phone", "real_name"])
    assert r.status_code == 201, r.text
    given = r.json()
    assert given["fields"] == ["real_name", "phone"] and given["complaint_version"] == 1
    assert given["representative"]["display_name"] == "组织者" and given["current"] is True
    # organizers see who authorized, not what they share; bob sees none of ann's
    listed = (await client.get(f"/api/v1/cases/{s['case']}/authorizations", headers=s["org"])).json()["items"]
    assert [(a["display_name"], a["fields"]) for a in listed] == [("安妮", [])]
    assert (await client.get(f"/api/v1/cases/{s['case']}/authorizations", headers=s["bob"])).json()[
        "items"
    ] == []
    mine = (await client.get("/api/v1/me/authorizations", headers=s["ann"])).json()["items"]
    assert [a["id"] for a in mine] == [given["id"]] and mine[0]["fields"] == ["real_name", "phone"]
    # the document, for ann alone
    doc = await client.get(f"/api/v1/authorizations/{given['id']}/document", headers=s["ann"])
    assert doc.status_code == 200 and "授权委托书" in doc.text and "第 1 版" in doc.text
    assert_problem(await client.get(f"/api/v1/authorizations/{given['id']}/document", headers=s["org"]), 404)

    # bob gave no authorization: filed without him
    r = await file(client, s, v1["id"])
    assert r.status_code == 202, r.text
    filing_id = r.json()["id"]
    parties = (await client.get(f"/api/v1/filings/{filing_id}/parties", headers=s["bob"])).json()
    assert parties["included"] == 2 and parties["named"] == 3  # the representative and ann
    assert parties["representative"]["display_name"] == "组织者" and parties["authorization_required"] is True
    assert_problem(await client.get(f"/api/v1/filings/{filing_id}/parties", headers=s["out"]), 403)
    # once used, the authorization can no longer be revoked
    assert_problem(
        await client.delete(f"/api/v1/authorizations/{given['id']}", headers=s["ann"]),
        409,
        "authorization_used",
    )

    await run_jobs(redis_pool, settings)
    (sent,) = mailbox.to(REGULATOR_MAIL)
    body = sent.get_body(preferencelist=("plain",)).get_content()
    assert "安妮" in body and "Bob's private words" not in body and "鲍勃" not in body
    assert "其中 2 名具名" in body
    # ann's 授权委托书 goes along as an attachment, with her phone; bob's does not (none given)
    attached = {a.get_filename(): a for a in sent.iter_attachments()}
    doc_name = f"authorization-{given['id']}-member-{ann}.md"
    assert set(attached) == {"complaint.md", "complaint.html", doc_name}
    assert attached[doc_name].get_content_type() == "text/markdown"
    mailed_doc = attached[doc_name].get_content()  # text/markdown; charset=utf-8
    assert mailed_doc.startswith("# 授权委托书") and "+8613800138000" in mailed_doc
    mailed_complaint = attached["complaint.md"].get_payload(decode=True).decode()
    assert "13800138000" not in body and "13800138000" not in mailed_complaint

    r = await client.get(f"/api/v1/filings/{filing_id}/bundle", headers=s["org"])
    assert r.status_code == 200
    r_bundle = r.content
    files = unzip(r.content)
    # the evidence of ann and the representative goes along; bob's upload does not (left out)
    from tests.integration.test_complaints import png

    sent = " ".join(n for n in files if n.startswith("evidence/"))
    assert hashlib.sha256(png(1)).hexdigest() in sent and hashlib.sha256(png(2)).hexdigest() in sent
    assert hashlib.sha256(png(3)).hexdigest() not in sent
    complaint = files["complaint.md"].decode()
    assert "安妮" in complaint and "付款后店铺失联" in complaint  # ann and the representative, in full
    assert "鲍勃" not in complaint and "Bob's private words" not in complaint  # bob left out
    assert "代表人" in complaint and "3 名投诉人中，2 名" in complaint
    # kept sealed under ann's key for the case (issue 14 item 8): her details are not in the stored
    # bundle in clear; they open while she is a member of the case
    sealed = {n: v for n, v in files.items() if n.startswith("authorizations/")}
    assert list(sealed) == [f"authorizations/authorization-{given['id']}-member-{ann}.md.sealed"]
    opened = await identity.open_documents(
        case_id=s["case"], documents={n: (ann, v) for n, v in sealed.items()}
    )
    (raw,) = opened.values()
    assert raw is not None
    text = raw.decode()
    assert text.startswith("# 授权委托书")
    assert "委托人（投诉人）**：安妮" in text and "受托人（代表人）**：组织者" in text
    assert "第 1 版" in text and v1["sha256"] in text and "联系电话" in text and "某市市场监督管理局" in text
    # her phone is in the version filed with that regulator, never in the case-wide text
    assert "+8613800138000" in text and "13800138000" not in complaint
    assert "13800138000" not in v1["markdown"]
    # the manifest hashes each document (a verifier holding the bundle checks them)
    manifest = json.loads(files["manifest.json"])
    for name, data in files.items():
        if name.startswith("authorizations/") or name == "complaint.md":
            assert manifest["documents"][name] == hashlib.sha256(data).hexdigest()

    # organizers filing by hand get the documents opened; plain members do not
    url = f"/api/v1/filings/{filing_id}/documents"
    (doc_item,) = (await client.get(url, headers=s["org"])).json()["items"]
    assert doc_item["user_id"] == ann and doc_item["text"] == text == mailed_doc
    assert_problem(await client.get(url, headers=s["bob"]), 403)
    # once ann leaves the case, the stored bundle is byte for byte the same, her part unreadable
    r = await client.delete(f"/api/v1/cases/{s['case']}/membership", headers=s["ann"])
    assert r.status_code == 204, r.text
    again = await client.get(f"/api/v1/filings/{filing_id}/bundle", headers=s["org"])
    assert again.content == r_bundle
    (doc_item,) = (await client.get(url, headers=s["org"])).json()["items"]
    assert doc_item["user_id"] == ann and doc_item["text"] is None


async def test_the_regulators_server_receives_each_included_members_authorization(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, gateway: Standin
) -> None:
    """Protocol v1: the submission carries ``authorizations`` — each authorizing member's
    授权委托书 with the details they gave for it — and nothing of it is in the complaint's text."""
    s = await seeded_case(client, mailbox, worker)
    reg = await add_regulator(
        client,
        settings,
        name="某市市场监督管理局（接口）",
        channel="http",
        address=gateway.base_url,
        credentials_env=KEY_ENV,
        authorization_required=True,
    )
    await consent(client, s, "org", "ann", "bob")
    v1 = await build(client, s, reg)
    await elect(client, s, "org", "org", "ann")
    ann = await user_id(client, s["ann"])
    r = await client.put(
        "/api/v1/me/identity",
        headers=s["ann"],
        json={
            "real_name": "王安妮",
            "phone": "13800138000",
            "address": "某市某区某路 1 号",
            "consent": True,
            "consent_version": identity.CONSENT_VERSION,
        },
    )
    assert r.status_code == 200, r.text
    r = await authorize(client, s, "ann", v1["id"], fields=["real_name", "phone"])
    assert r.status_code == 201, r.text
    given = r.json()
    r = await file(client, s, v1["id"])  # bob gave no authorization: left out
    assert r.status_code == 202, r.text
    filing_id = r.json()["id"]

    await run_jobs(redis_pool, quick(settings))
    (post,) = gateway.posts
    body = post["body"]
    (doc,) = body["authorizations"]
    assert doc["filename"] == f"authorization-{given['id']}-member-{ann}.md"
    assert doc["media_type"] == "text/markdown; charset=utf-8"
    text = doc["content"]
    assert text.startswith("# 授权委托书") and "委托人（投诉人）**：王安妮" in text
    assert "+8613800138000" in text and v1["sha256"] in text
    assert "某市某区某路" not in text  # the address was not among the details she gave for it
    assert "鲍勃" not in text
    # the complaint's text (and the public case) hold none of her details
    for shown in (body["body_markdown"], body["body_html"], v1["markdown"]):
        assert "13800138000" not in shown and "王安妮" not in shown
    public = (await client.get(f"/api/v1/cases/{s['case']}")).text
    assert "13800138000" not in public and "王安妮" not in public
    # what the organizers open of the stored bundle is what the regulator received
    (opened,) = (await client.get(f"/api/v1/filings/{filing_id}/documents", headers=s["org"])).json()["items"]
    assert opened["text"] == text
    got = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["org"])).json()
    assert not any("authorizations_withheld" in (e.get("note") or "") for e in got["events"])


async def test_a_member_who_left_before_the_submission_is_not_sent_and_the_filing_says_so(
    client: Any, mailbox: Any, worker: Any, redis_pool: Any, settings: Any, gateway: Standin
) -> None:
    s = await seeded_case(client, mailbox, worker)
    reg = await add_regulator(
        client,
        settings,
        name="某市市场监督管理局（接口）",
        channel="http",
        address=gateway.base_url,
        credentials_env=KEY_ENV,
        authorization_required=True,
    )
    await consent(client, s, "org", "ann", "bob")
    v1 = await build(client, s, reg)
    await elect(client, s, "org", "org", "ann")
    ann, bob = await user_id(client, s["ann"]), await user_id(client, s["bob"])
    for who, phone in (("ann", "13800138000"), ("bob", "13900139000")):
        r = await client.put(
            "/api/v1/me/identity",
            headers=s[who],
            json={"phone": phone, "consent": True, "consent_version": identity.CONSENT_VERSION},
        )
        assert r.status_code == 200, r.text
        r = await authorize(client, s, who, v1["id"], fields=["phone"])
        assert r.status_code == 201, r.text
    r = await file(client, s, v1["id"])
    assert r.status_code == 202, r.text
    filing_id = r.json()["id"]
    # bob leaves while the filing waits for the worker: his document is neither sent nor kept
    r = await client.delete(f"/api/v1/cases/{s['case']}/membership", headers=s["bob"])
    assert r.status_code == 204, r.text

    await run_jobs(redis_pool, quick(settings))
    (post,) = gateway.posts
    docs = post["body"]["authorizations"]
    assert [d["filename"].rsplit("-member-", 1)[1] for d in docs] == [f"{ann}.md"]
    assert "13900139000" not in str(post["body"])
    items = (await client.get(f"/api/v1/filings/{filing_id}/documents", headers=s["org"])).json()["items"]
    assert [i["user_id"] for i in items] == [ann] and bob not in [i["user_id"] for i in items]
    got = (await client.get(f"/api/v1/filings/{filing_id}", headers=s["org"])).json()
    assert [e["note"] for e in got["events"] if "authorizations_withheld" in (e.get("note") or "")] == [
        "authorizations_withheld:1"
    ]
    # the organizers' page says it in words
    page = await client.get(f"/cases/{s['case']}/organize/filings", headers=s["org"])
    assert page.status_code == 200 and "1 名成员在发送前退出了案件" in page.text


async def test_revocation_and_versions(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    reg = await mail_regulator(client, settings)
    await consent(client, s, "org", "ann")  # bob is not named
    v1 = await build(client, s, reg)
    await elect(client, s, "org", "org")

    assert_problem(await authorize(client, s, "bob", v1["id"]), 409, "authorization_not_named")
    given = (await authorize(client, s, "ann", v1["id"])).json()
    url = f"/api/v1/authorizations/{given['id']}"
    # only ann revokes it: anyone else is told it does not exist
    before = await rows()
    for who in ("org", "bob", "out"):
        assert_problem(await client.delete(url, headers=s[who]), 404, "authorization_not_found")
    assert_problem(await client.delete(url), 401)
    assert await rows() == before
    assert (await client.delete(url, headers=s["ann"])).status_code == 204
    assert_problem(await client.delete(url, headers=s["ann"]), 409, "authorization_revoked")
    mine = (await client.get("/api/v1/me/authorizations", headers=s["ann"])).json()["items"]
    assert mine[0]["revoked_at"] is not None and mine[0]["current"] is False
    # the organizers no longer see it
    assert (await client.get(f"/api/v1/cases/{s['case']}/authorizations", headers=s["org"])).json()[
        "items"
    ] == []

    # given again, then a version 2 is built: the authorization for version 1 does not cover it
    again = (await authorize(client, s, "ann", v1["id"])).json()
    assert again["id"] != given["id"] and again["current"] is True
    v2 = await build(client, s, reg)
    assert v2["version"] == 2
    mine = (await client.get("/api/v1/me/authorizations", headers=s["ann"])).json()["items"]
    assert [(a["complaint_version"], a["current"]) for a in mine] == [(1, False), (1, False)]
    assert_problem(await authorize(client, s, "ann", v1["id"]), 409, "complaint_outdated")
    r = await file(client, s, v2["id"])
    assert r.status_code == 202
    parties = (await client.get(f"/api/v1/filings/{r.json()['id']}/parties", headers=s["org"])).json()
    assert (parties["included"], parties["named"]) == (1, 2)  # the representative only: ann left out
    # her authorization for version 1 was not used by the filing of version 2
    assert (
        await Authorization.select(Authorization.used_by).where(Authorization.id == again["id"]).first()
    ) == {"used_by": None}


async def test_no_one_to_file_for_is_refused_whole(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """The representative is not named in the version and no one named authorized it: nothing to
    file (409), and nothing is written — no filing, no event, no frozen evidence, no parties."""
    s = await seeded_case(client, mailbox, worker)
    reg = await mail_regulator(client, settings)
    await consent(client, s, "ann")
    v1 = await build(client, s, reg)
    await elect(client, s, "bob", "bob")
    before = await rows()
    assert_problem(await file(client, s, v1["id"]), 409, "no_authorized_members")
    assert await rows() == before
    # ann authorizes: now it goes out, for her alone
    assert (await authorize(client, s, "ann", v1["id"])).status_code == 201
    r = await file(client, s, v1["id"])
    assert r.status_code == 202
    parties = (await client.get(f"/api/v1/filings/{r.json()['id']}/parties", headers=s["org"])).json()
    assert (parties["included"], parties["named"], parties["representative"]["display_name"]) == (
        1,
        1,
        "鲍勃",
    )


async def test_12315_routes_to_bureaus_and_a_case_files_once_through_it(
    client: Any, mailbox: Any, worker: Any
) -> None:
    items = {r["name"]: r for r in (await client.get("/api/v1/regulators")).json()["items"]}
    national = items["全国12315平台（国家市场监督管理总局）"]
    gd, sz = items["广东省市场监督管理局"], items["深圳市市场监督管理局"]
    assert national["routed_by"] is None and national["authorization_required"] is True
    assert gd["routed_by"] == national["id"] and sz["routed_by"] == national["id"]

    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    await elect(client, s, "org", "org")
    to_sz = await build(client, s, sz["id"])
    r = await file(client, s, to_sz["id"])
    assert r.status_code == 202, r.text
    parties = (await client.get(f"/api/v1/filings/{r.json()['id']}/parties", headers=s["org"])).json()
    assert parties["bureau"] == {"id": sz["id"], "name": "深圳市市场监督管理局"}

    # the same complaint to another bureau of the channel, or to the channel itself: refused whole
    for other in (gd, national):
        v = await build(client, s, other["id"])
        before = await rows()
        problem = assert_problem(await file(client, s, v["id"]), 409, "filing_channel_used")
        assert "深圳市市场监督管理局" in problem["detail"] and "12315" in problem["detail"]
        assert await rows() == before
    # another channel is another complaint
    cca = items["中国消费者协会"]
    v = await build(client, s, cca["id"])
    assert (await file(client, s, v["id"])).status_code == 202


async def test_the_case_page_elects_and_authorizes_without_javascript(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    """A member on the case page: the election explained, stand, vote, authorize the version with
    the details ticked, revoke; a refusal is said above the form, nothing written."""
    from tests.integration.test_pages_foundation import Page, csrf_of
    from tests.support import as_user

    s = await seeded_case(client, mailbox, worker)
    reg = await mail_regulator(client, settings)
    await consent(client, s, "org", "ann")
    v1 = await build(client, s, reg)
    case = s["case"]
    await as_user(client, s["ann"])
    r = await client.get(f"/cases/{case}")
    assert r.status_code == 200
    assert (
        "代表人与授权委托" in r.text and "得票超过已投票数一半" in r.text and "本案还没有选出代表人" in r.text
    )
    assert "选出代表人之后才能授权" in r.text  # named in version 1, nothing to authorize yet
    token = csrf_of(Page(r.text))

    # a vote for no one: refused above the form, nothing written
    before = await rows()
    r = await client.post(f"/cases/{case}/representative", data={"action": "vote", "_csrf_token": token})
    assert r.status_code == 422 and 'id="form-error"' in r.text
    assert await rows() == before

    r = await client.post(f"/cases/{case}/representative", data={"action": "stand", "_csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("#representative")
    ann = await user_id(client, s["ann"])
    r = await client.post(
        f"/cases/{case}/representative",
        data={"action": "vote", "candidate_id": str(ann), "_csrf_token": token},
    )
    assert r.status_code == 303
    page = (await client.get(f"/cases/{case}")).text
    assert "本案代表人：安妮" in page and "授权 安妮 代我提交第 1 版" in page

    # bob is not named: the page says so and the form is refused
    await as_user(client, s["bob"])
    page = (await client.get(f"/cases/{case}")).text
    assert "你没有在这一版中具名" in page
    bob_token = csrf_of(Page(page))
    r = await client.post(
        f"/cases/{case}/authorizations", data={"complaint_id": str(v1["id"]), "_csrf_token": bob_token}
    )
    assert r.status_code == 409 and "你没有在这一版投诉书中具名" in r.text

    await as_user(client, s["org"])
    org_token = csrf_of(Page((await client.get(f"/cases/{case}")).text))
    r = await client.post(
        f"/cases/{case}/authorizations",
        data={"complaint_id": str(v1["id"]), "fields.phone": "true", "_csrf_token": org_token},
    )
    assert r.status_code == 303
    (given,) = (await client.get("/api/v1/me/authorizations", headers=s["org"])).json()["items"]
    assert given["fields"] == ["phone"] and given["representative"]["display_name"] == "安妮"
    page = (await client.get(f"/cases/{case}")).text
    assert "授权 安妮 代你提交这一版" in page and f"/authorizations/{given['id']}/revoke" in page
    # ann cannot revoke the organizer's authorization: told it does not exist
    await as_user(client, s["ann"])
    token = csrf_of(Page((await client.get(f"/cases/{case}")).text))
    r = await client.post(f"/cases/{case}/authorizations/{given['id']}/revoke", data={"_csrf_token": token})
    assert r.status_code == 404 and "没有找到这份授权" in r.text
    await as_user(client, s["org"])
    org_token = csrf_of(Page((await client.get(f"/cases/{case}")).text))
    r = await client.post(
        f"/cases/{case}/authorizations/{given['id']}/revoke", data={"_csrf_token": org_token}
    )
    assert r.status_code == 303
    page = (await client.get(f"/cases/{case}")).text
    assert "授权 安妮 代我提交第 1 版" in page  # the form again
    await as_user(client, None)
