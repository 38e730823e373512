"""A member's identity details for filing (issue 14 item 8), over HTTP against the real database:
given only with the separate consent (each refusal on its field, nothing written), encrypted at
rest (the raw rows hold no plaintext), never in the case-wide text, member lists or public
views, and unreadable — with the copies sealed for a case's filed bundles — once the member
leaves the case or deletes the account."""

from __future__ import annotations

from typing import Any

import pytest

from chorus.accounts import identity
from chorus.accounts.tables import IdentityKey, MemberIdentity
from chorus.audit.tables import AuditEntry
from tests.integration.test_complaints import consent, regulator_id, seeded_case
from tests.integration.test_filings import build
from tests.support import PASSWORD, assert_problem, row_counts

pytestmark = pytest.mark.usefixtures("clean")

NAME = "王小明"
PHONE = "13800138000"
ID_NUMBER = "11010519491231002X"  # a valid check digit (GB 11643's worked example)
ADDRESS = "北京市朝阳区建国路88号3单元502室"
GIVEN = {
    "real_name": NAME,
    "phone": PHONE,
    "id_type": "cn_resident_id",
    "id_number": ID_NUMBER,
    "address": ADDRESS,
    "consent": True,
    "consent_version": identity.CONSENT_VERSION,
}
SECRETS = (NAME, PHONE, ID_NUMBER, ADDRESS, "8613800138000", "建国路")


async def raw_text(table: str) -> str:
    """Every value of every row of ``table`` as the database holds it."""
    rows = await MemberIdentity.raw(f'SELECT * FROM "{table}"')
    return repr(rows)


def assert_none_of_it(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


async def give(client: Any, headers: dict[str, str], **changes: Any) -> Any:
    return await client.put("/api/v1/me/identity", headers=headers, json={**GIVEN, **changes})


async def test_details_are_given_with_a_separate_consent_and_kept_encrypted(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    ann = s["ann"]
    empty = (await client.get("/api/v1/me/identity", headers=ann)).json()
    assert empty["real_name"] is None and empty["fields"] == [] and empty["consented_at"] is None
    assert empty["current_consent_version"] == identity.CONSENT_VERSION

    r = await give(client, ann)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["real_name"], got["id_number"], got["address"]) == (NAME, ID_NUMBER, ADDRESS)
    assert got["phone"] == "+8613800138000"  # normalized
    assert got["fields"] == ["real_name", "phone", "id_number", "address"] and got["consented_at"]
    assert (await client.get("/api/v1/me/identity", headers=ann)).json()["real_name"] == NAME

    # at rest: the rows hold ciphertext and field names only; the audit trail no values either
    assert_none_of_it(await raw_text("member_identity"))
    assert_none_of_it(await raw_text("identity_key"))
    assert_none_of_it(repr(await AuditEntry.select()))
    row = await MemberIdentity.select().first()
    assert row is not None and row["consent_sha256"] and len(row["sealed"]) > 40

    # only the member sees them: not another member, nor an organizer's member list
    assert (await client.get("/api/v1/me/identity", headers=s["bob"])).json()["real_name"] is None
    members = await client.get(f"/api/v1/cases/{s['case']}/members", headers=s["org"])
    assert members.status_code == 200
    assert_none_of_it(members.text)
    assert_none_of_it((await client.get(f"/api/v1/cases/{s['case']}")).text)

    # what other domains get: only the fields asked for
    details = await identity.complainant_details(user_ids=[*range(1, 10)], fields=["real_name", "address"])
    (mine,) = details.values()
    assert (mine.real_name, mine.address, mine.phone, mine.id_number) == (NAME, ADDRESS, None, None)
    with pytest.raises(ValueError):
        await identity.complainant_details(user_ids=[1], fields=["email"])


async def test_every_refusal_names_its_field_and_writes_nothing(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    ann = s["ann"]
    before = await row_counts()
    cases = [
        ({"consent": False}, 422, {"consent"}),
        ({"consent": None}, 422, None),  # not a boolean: the schema's refusal
        ({"id_number": "110105194912310021"}, 422, {"id_number"}),  # wrong check digit
        ({"phone": "12345"}, 422, {"phone"}),
        ({"id_type": None}, 422, {"id_type"}),  # a number without its type
        ({"consent": False, "phone": "1"}, 422, {"consent", "phone"}),  # each refusal at once
        (
            {"real_name": "", "phone": "", "id_number": "", "address": "", "id_type": None},
            422,
            {"real_name"},
        ),
        ({"real_name": "名" * 51}, 422, None),
        ({"consent_version": "0"}, 409, {"consent_version"}),  # the text changed since it was shown
    ]
    for change, status, fields in cases:
        r = await give(client, ann, **change)
        problem = assert_problem(r, status)
        if fields is not None:
            assert {e["field"] for e in problem.get("errors", [])} == fields, (change, problem)
    r = await client.put("/api/v1/me/identity", headers=ann, json={"real_name": NAME, "consent": True})
    assert_problem(r, 400 if r.status_code == 400 else 422)  # consent_version missing
    assert await row_counts() == before  # nothing half-written

    # without an account: 401 for each endpoint; withdrawing what was never given changes nothing
    for method in ("get", "put", "delete"):
        kwargs = {"json": GIVEN} if method == "put" else {}
        assert (await client.request(method.upper(), "/api/v1/me/identity", **kwargs)).status_code == 401
    assert (await client.delete("/api/v1/me/identity", headers=ann)).status_code == 204
    assert await row_counts() == before


async def test_withdrawing_the_consent_deletes_the_details_and_their_key(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    assert (await give(client, s["ann"])).status_code == 200
    # a second PUT replaces them: a field left out is removed
    r = await give(client, s["ann"], id_type=None, id_number=None)
    assert r.status_code == 200 and r.json()["fields"] == ["real_name", "phone", "address"]
    assert r.json()["id_number"] is None
    r = await client.delete("/api/v1/me/identity", headers=s["ann"])
    assert r.status_code == 204
    assert await MemberIdentity.count() == 0 and await IdentityKey.count() == 0
    assert (await client.get("/api/v1/me/identity", headers=s["ann"])).json()["fields"] == []
    assert await identity.complainant_details(user_ids=list(range(1, 10)), fields=list(identity.FIELDS)) == {}


async def test_never_in_the_complaint_text_only_where_a_regulator_gets_them(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    await give(client, s["ann"])
    await consent(client, s, "org", "ann")
    v1 = await build(client, s, await regulator_id(client))
    assert_none_of_it(v1["markdown"])  # the case-wide text (organizers and members read it)
    # its time is Beijing time, the 12315 platform's, not UTC
    assert "生成时间：" in v1["markdown"] and "+08:00" in v1["markdown"] and "+00:00" not in v1["markdown"]
    for who in ("org", "ann", "bob"):
        r = await client.get(f"/api/v1/complaints/{v1['id']}", headers=s[who])
        assert_none_of_it(r.text)
    assert_none_of_it((await client.get(f"/api/v1/cases/{s['case']}")).text)


async def sealed_part(case_id: int, user_id: int) -> dict[str, tuple[int, bytes]]:
    text = f"授权委托书：{NAME} {ID_NUMBER} {ADDRESS}".encode()
    sealed = await identity.seal_documents(case_id=case_id, documents={"authorization.md": (user_id, text)})
    ((name, blob),) = sealed.items()
    assert name == "authorization.md.sealed"
    assert_none_of_it(blob.decode("latin-1"))
    return {name: (user_id, blob)}


async def user_id(client: Any, headers: dict[str, str]) -> int:
    return int((await client.get("/api/v1/me", headers=headers)).json()["id"])


async def test_leaving_the_case_makes_its_sealed_copies_unreadable(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    ann = await user_id(client, s["ann"])
    await give(client, s["ann"])
    here = await sealed_part(s["case"], ann)
    elsewhere = await sealed_part(s["case"] + 1000, ann)  # as if filed in another case of hers
    opened = await identity.open_documents(case_id=s["case"], documents=here)
    assert opened["authorization.md"] is not None and NAME.encode() in opened["authorization.md"]

    r = await client.delete(f"/api/v1/cases/{s['case']}/membership", headers=s["ann"])
    assert r.status_code == 204
    assert await identity.open_documents(case_id=s["case"], documents=here) == {"authorization.md": None}
    # her other case and her own details are untouched
    assert (await identity.open_documents(case_id=s["case"] + 1000, documents=elsewhere))["authorization.md"]
    assert (await client.get("/api/v1/me/identity", headers=s["ann"])).json()["real_name"] == NAME


async def test_deleting_the_account_destroys_every_key_and_the_details(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await seeded_case(client, mailbox, worker)
    ann = await user_id(client, s["ann"])
    await give(client, s["ann"])
    await give(client, s["bob"], real_name="鲍勃", id_type=None, id_number=None, phone="13900139000")
    here = await sealed_part(s["case"], ann)
    before = await MemberIdentity.count()

    # a refused deletion (wrong password) keeps everything
    r = await client.request("DELETE", "/api/v1/me", headers=s["ann"], json={"password": "wrong password!"})
    assert r.status_code == 403
    assert (await identity.open_documents(case_id=s["case"], documents=here))["authorization.md"] is not None

    r = await client.request("DELETE", "/api/v1/me", headers=s["ann"], json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert await MemberIdentity.count() == before - 1
    assert await IdentityKey.count().where(IdentityKey.user == ann) == 0
    assert await identity.open_documents(case_id=s["case"], documents=here) == {"authorization.md": None}
    assert ann not in await identity.complainant_details(user_ids=[ann], fields=list(identity.FIELDS))
    # Bob's remain
    bob = await user_id(client, s["bob"])
    assert (await identity.complainant_details(user_ids=[bob], fields=["real_name"]))[bob].real_name == "鲍勃"


async def test_a_stored_bundle_keeps_its_sealed_parts_verifiable_and_unreadable_after_deletion(
    client: Any, mailbox: Any, worker: Any, settings: Any, tmp_path: Any
) -> None:
    """The shape of a filed bundle in the blob store: a member's identity part sealed under their
    key for the case, its ciphertext hashed in the manifest. After the account is deleted the
    stored bytes are the same, the bundle still verifies, and the part opens for no one."""
    import io
    import zipfile
    from datetime import UTC, datetime

    from chorus.evidence import bundle as evidence_bundle
    from chorus.evidence.manifest import verify_bundle
    from chorus.evidence.service import storage_for

    s = await seeded_case(client, mailbox, worker)
    ann = await user_id(client, s["ann"])
    await give(client, s["ann"])
    details = (await identity.complainant_details(user_ids=[ann], fields=list(identity.FIELDS)))[ann]
    part = f"# 授权委托书\n委托人：{details.real_name}，证件号码：{details.id_number}，{details.address}\n"
    name = f"authorizations/authorization-1-member-{ann}.md"
    sealed = await identity.seal_documents(case_id=s["case"], documents={name: (ann, part.encode())})
    zs = await evidence_bundle.write(
        case_id=s["case"],
        included=set(),
        documents={"complaint.md": "# 联合投诉\n".encode(), **sealed},
        generated_at=datetime.now(UTC),
        readme=lambda head: b"README",
        settings=settings,
    )
    sha, _ = await evidence_bundle.store(zs, settings, label="identity-test")
    stored = storage_for(settings).path_for(sha)  # type: ignore[attr-defined]
    data = stored.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        ciphertext = z.read(name + ".sealed")
        assert set(z.namelist()) >= {"complaint.md", name + ".sealed", "manifest.json"}
        assert name not in z.namelist()
    for secret in (NAME, ID_NUMBER, ADDRESS):
        assert secret.encode() not in data  # the ZIP (stored) holds no plaintext of it
    assert verify_bundle(stored).ok
    opened = await identity.open_documents(case_id=s["case"], documents={name + ".sealed": (ann, ciphertext)})
    assert opened[name] == part.encode()  # while she is in the case, what was filed reads back

    r = await client.request("DELETE", "/api/v1/me", headers=s["ann"], json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert stored.read_bytes() == data and verify_bundle(stored).ok  # the rest stays verifiable
    opened = await identity.open_documents(case_id=s["case"], documents={name + ".sealed": (ann, ciphertext)})
    assert opened == {name: None}


async def test_each_regulator_says_what_it_requires_of_a_complainant_with_its_source(client: Any) -> None:
    items = {r["name"]: r for r in (await client.get("/api/v1/regulators")).json()["items"]}
    platform = next(r for name, r in items.items() if "12315" in name)
    assert platform["required_details"] == ["real_name", "phone", "address"]
    rules = platform["complainant_requirements"]
    assert [r["article"] for r in rules] == ["第九条", None]  # 2022 text; the 2026 one's not found
    assert all(r["source_url"].startswith("http") and r["confirmed"] is False for r in rules)
    assert rules[0]["valid_to"] == "2026-04-14" and rules[1]["valid_from"] == "2026-04-15"
    cca = next(r for name, r in items.items() if "中国消费者协会" in name)
    assert "id_number" in cca["required_details"]
    # not looked up: nothing claimed
    ftc = next(r for name, r in items.items() if "FTC" in name)
    assert ftc["required_details"] == [] and ftc["complainant_requirements"] == []
