"""Regulators and the joint complaint builder over HTTP: versions, consent gating, the printable
page, the streamed bundle that verifies offline, diffs, and who may do what."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chorus import db
from chorus.complaints.tables import Complaint
from chorus.jobs import OutboxRow
from chorus.notifications.tables import InboxEntry
from chorus.regulators.tables import Regulator
from tests.support import PASSWORD, assert_problem, login, verified_user

pytestmark = pytest.mark.usefixtures("clean")

HOSTILE = 'He said <script>alert("x")</script> and <img src=x onerror=alert(1)> [click](javascript:alert(2))'


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (seed, 40, 80)).save(buf, "PNG")
    return buf.getvalue()


async def regulator_id(client: Any, template_kind: str = "samr") -> int:
    items = (await client.get("/api/v1/regulators")).json()["items"]
    return next(r["id"] for r in items if r["template_kind"] == template_kind)


async def seeded_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    org = await verified_user(client, mailbox, worker, "org@example.com", "组织者")
    ann = await verified_user(client, mailbox, worker, "ann@example.com", "安妮")
    bob = await verified_user(client, mailbox, worker, "bob@example.com", "鲍勃")
    out = await verified_user(client, mailbox, worker, "out@example.com", "路人")
    base = {
        "merchant": {
            "name": "蓝月卡盟",
            "identifiers": [
                {"kind": "qq", "value": "55667788"},
                {"kind": "alipay", "value": "pay@bluemoon-shop.com"},
            ],
        },
        "incident_date": "2026-10-02",
    }
    r = await client.post(
        "/api/v1/reports",
        headers=org,
        json={
            **base,
            "loss": {"amount": "300.00", "currency": "CNY"},
            "order_refs": ["BM20261002001"],
            "statement": "付款后店铺失联。",
        },
    )
    case_id = r.json()["case_id"]
    await client.post(
        "/api/v1/reports",
        headers=ann,
        json={
            **base,
            "loss": {"amount": "120.00", "currency": "CNY"},
            "order_refs": ["BM20261003002"],
            "statement": HOSTILE,
            "incident_date": "2026-10-03",
        },
    )
    await client.post(
        "/api/v1/reports",
        headers=bob,
        json={
            **base,
            "loss": {"amount": "40.00", "currency": "USD"},
            "order_refs": ["BM20261004003"],
            "statement": "Bob's private words",
            "incident_date": "2026-10-04",
        },
    )
    for h, seed in ((org, 1), (ann, 2), (bob, 3)):
        await upload(client, case_id, h, "payment_receipt", f"receipt {seed}", seed)
    return {"case": case_id, "org": org, "ann": ann, "bob": bob, "out": out}


async def upload(
    client: Any, case_id: int, headers: dict[str, str], kind: str, description: str, seed: int
) -> None:
    """One evidence item: a small PNG told apart by ``seed``."""
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=headers,
        data={"kind": kind, "description": description},
        files={"file": ("r.png", png(seed), "image/png")},
    )
    assert r.status_code == 201


async def consent(client: Any, s: dict[str, Any], *who: str) -> None:
    for w in who:
        r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s[w], json={"consent": True})
        assert r.status_code == 200


async def test_regulator_registry_is_seeded_and_public(client: Any) -> None:
    items = (await client.get("/api/v1/regulators")).json()["items"]
    names = " ".join(r["name"] for r in items)
    for expected in ("12315", "市场监督管理局", "中国消费者协会", "支付宝", "微信支付", "反诈", "FTC"):
        assert expected in names
    kinds = {r["template_kind"] for r in items}
    assert kinds >= {"samr", "consumer_association", "payment_platform", "police", "ftc"}
    samr = next(r for r in items if "12315" in r["name"])
    # its time limits as dated, cited rules (data/time_limits.json), not undated numbers
    assert samr["accept_working_days"] is None and samr["finish_working_days"] is None
    assert {(r["phase"], r["limit"], r["unit"]) for r in samr["time_limits"]} >= {
        ("acceptance", 7, "working_days"),
        ("conclusion", 45, "working_days"),
        ("conclusion", 60, "calendar_days"),
    }
    assert {r["locale"] for r in items} == {"zh-CN", "en"}


async def test_admins_add_regulators(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    from chorus.accounts import service as accounts

    await accounts.create_admin(
        email="admin@example.com", password=PASSWORD, display_name="A", settings=settings
    )
    admin = await login(client, "admin@example.com")
    user = await verified_user(client, mailbox, worker, "u@example.com")
    body = {
        "name": "Test Gateway",
        "jurisdiction": "Testland",
        "channel": "http",
        "address": "https://gateway.example.com/v1/",
        "credentials_env": "CHORUS_REGULATOR_KEY_TEST_GATEWAY",
        "locale": "en",
    }
    before = await Regulator.count()
    assert_problem(await client.post("/api/v1/regulators", json=body), 401)
    assert_problem(await client.post("/api/v1/regulators", json=body, headers=user), 403)
    for bad, field in (
        ({**body, "channel": "fax"}, "channel"),
        ({**body, "channel": "email", "address": "not-an-address"}, "address"),
        ({**body, "address": "ftp://x"}, "address"),
        ({**body, "credentials_env": "lower case"}, "credentials_env"),
        ({k: v for k, v in body.items() if k != "name"}, "name"),
    ):
        problem = assert_problem(await client.post("/api/v1/regulators", json=bad, headers=admin), 422)
        assert field in {e["field"] for e in problem["errors"]}, problem
    assert await Regulator.count() == before
    r = await client.post("/api/v1/regulators", json=body, headers=admin)
    assert r.status_code == 201
    created = r.json()
    assert created["address"] == "https://gateway.example.com/v1"
    assert created["has_credentials"] is True and "TEST_GATEWAY" not in json.dumps(created)
    assert_problem(await client.post("/api/v1/regulators", json=body, headers=admin), 409)
    assert await Regulator.count() == before + 1


async def test_build_names_only_consenting_members(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    reg = await regulator_id(client)
    url = f"/api/v1/cases/{s['case']}/complaints"
    before = await Complaint.count()
    assert_problem(
        await client.post(url, headers=s["org"], json={"regulator_id": reg}), 409, "no_consenting_members"
    )
    assert await Complaint.count() == before

    await consent(client, s, "org", "ann")
    r = await client.post(url, headers=s["org"], json={"regulator_id": reg})
    assert r.status_code == 201, r.text
    built = r.json()
    assert built["version"] == 1 and len(built["sha256"]) == 64
    md = built["markdown"]
    assert "安妮" in md and "组织者" in md
    assert "鲍勃" not in md and "bob@example.com" not in md and "Bob's private words" not in md
    assert "ann@example.com" not in md  # masked for this regulator
    assert "<script" not in md and "<img" not in md and "onerror=" not in md
    assert "javascript:" not in md.lower()
    assert "55667788" in md  # the merchant's identifiers are shown to the regulator
    assert "投诉人总数：3 名" in md and "同意具名：2 名" in md and "未同意具名：1 名" in md

    got = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["org"])).json()
    assert got["version"] == 1 and got["sha256"] == built["sha256"] and got["markdown"] == md
    assert got["view"] == "full"
    # a plain member reads the same version through the member view (test_complaint_privacy.py)
    got = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["bob"])).json()
    assert got["view"] == "member" and got["sha256"] == built["sha256"] and "安妮" not in got["markdown"]
    assert got["filed"] is False and got["locale"] == "zh-CN" and got["named_members"] == 2


async def test_the_evidence_read_a_few_rows_at_a_time_gives_the_same_version(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build reads the members' evidence while it writes the text, a few thousand rows and a
    few hundred members at a time: read one row and one member at a time, the next version
    cites the same evidence, in the same order, with the same text about each member; what a
    member who left uploaded is in neither."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    # the passer-by joins, uploads twice, and leaves
    r = await client.post(
        "/api/v1/reports",
        headers=s["out"],
        json={
            "merchant": {"name": "蓝月卡盟", "identifiers": [{"kind": "qq", "value": "55667788"}]},
            "loss": {"amount": "10.00", "currency": "CNY"},
            "incident_date": "2026-10-05",
        },
    )
    assert r.json()["case_id"] == s["case"]
    for seed in (4, 5):
        await upload(client, s["case"], s["out"], "screenshot", f"passer-by {seed}", seed)
    await upload(client, s["case"], s["ann"], "chat_log", "more 6", 6)  # members with more than one item
    await upload(client, s["case"], s["bob"], "chat_log", "more 7", 7)
    assert (await client.delete(f"/api/v1/cases/{s['case']}/membership", headers=s["out"])).status_code == 204
    url = f"/api/v1/cases/{s['case']}/complaints"
    reg = await regulator_id(client)
    first = await client.post(url, headers=s["org"], json={"regulator_id": reg})
    assert first.status_code == 201, first.text

    from chorus.complaints import build as builder
    from chorus.complaints import service

    monkeypatch.setattr(service, "EVIDENCE_CHUNK", 1)
    monkeypatch.setattr(builder, "EVIDENCE_BATCH", 1)
    # and the text written, stored and answered a few characters (bytes, read back) at a time
    monkeypatch.setattr(service, "TEXT_CHUNK", 5)
    monkeypatch.setattr(service, "READ_CHUNK", 7)  # cuts the UTF-8 of Chinese characters
    second = await client.post(url, headers=s["org"], json={"regulator_id": reg})
    assert second.status_code == 201, second.text
    built = second.json()
    assert hashlib.sha256(built["markdown"].encode()).hexdigest() == built["sha256"]
    got = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["org"])).json()
    assert got["markdown"] == built["markdown"] and got["sha256"] == built["sha256"]
    rows = (
        await Complaint.select(Complaint.evidence_ids, Complaint.member_digests)
        .where(Complaint.id.is_in([first.json()["id"], second.json()["id"]]))
        .order_by(Complaint.id)
    )
    assert rows[0] == rows[1] and len(db.json_value(rows[0]["evidence_ids"])) == 3  # org's and Ann's
    index = [r.json()["markdown"].split("## 九、证据索引")[1] for r in (first, second)]
    assert index[0] == index[1]
    assert "共 5 份证据" in index[0] and "more 6" in index[0] and "passer-by" not in index[0]


async def test_authorization_and_bad_input(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "ann")
    reg = await regulator_id(client)
    url = f"/api/v1/cases/{s['case']}/complaints"
    assert_problem(await client.post(url, json={"regulator_id": reg}), 401)
    assert_problem(
        await client.post(url, headers=s["ann"], json={"regulator_id": reg}), 403, "organizers_only"
    )
    assert_problem(await client.post(url, headers=s["out"], json={"regulator_id": reg}), 403)
    assert_problem(
        await client.post("/api/v1/cases/999999/complaints", headers=s["org"], json={"regulator_id": reg}),
        404,
    )
    problem = assert_problem(await client.post(url, headers=s["org"], json={"regulator_id": 999999}), 404)
    assert problem["errors"][0]["field"] == "regulator_id"
    assert_problem(await client.post(url, headers=s["org"], json={"regulator_id": reg, "locale": "fr"}), 422)
    assert_problem(
        await client.post(url, headers=s["org"], json={"regulator_id": reg, "demands": ["revenge"]}),
        422,
        "demands_invalid",
    )
    assert_problem(await client.post(url, headers=s["org"], json={}), 422)
    assert await Complaint.count() == 0

    built = (await client.post(url, headers=s["org"], json={"regulator_id": reg})).json()
    for path in ("", "/html", "/bundle"):
        assert_problem(await client.get(f"/api/v1/complaints/{built['id']}{path}", headers=s["out"]), 403)
        assert_problem(await client.get(f"/api/v1/complaints/{built['id']}{path}"), 401)
    assert_problem(await client.get("/api/v1/complaints/999999", headers=s["org"]), 404)
    # a diff: members compare the texts as they read them, outsiders nothing
    r = await client.get(f"/api/v1/complaints/{built['id']}/diff?against={built['id']}", headers=s["ann"])
    assert r.status_code == 200 and r.json() == {
        "id": built["id"],
        "against": built["id"],
        "diff": "",
        "view": "member",
    }
    assert_problem(
        await client.get(f"/api/v1/complaints/{built['id']}/diff?against={built['id']}", headers=s["out"]),
        403,
    )


async def test_versions_diff_and_consent_notifications(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    reg = await regulator_id(client)
    url = f"/api/v1/cases/{s['case']}/complaints"
    v1 = (await client.post(url, headers=s["org"], json={"regulator_id": reg})).json()
    await worker()
    # the first version is news for every named member
    inbox = (await client.get("/api/v1/notifications", headers=s["ann"])).json()["items"]
    kinds = [n["kind"] for n in inbox]
    assert kinds.count("complaint.version_awaits_consent") == 1
    (told,) = [n for n in inbox if n["kind"] == "complaint.version_awaits_consent"]
    regulators = (await client.get("/api/v1/regulators")).json()["items"]
    assert told["data"]["regulator"] == next(r["name"] for r in regulators if r["id"] == reg)  # named

    # Ann changes her statement: only her text changed
    r = await client.patch(
        f"/api/v1/cases/{s['case']}/membership",
        headers=s["ann"],
        json={"statement": "补充：对方还冒充客服要求再付一次款。"},
    )
    assert r.status_code == 200
    v2 = (
        await client.post(
            url, headers=s["org"], json={"regulator_id": reg, "narrative": "组织者补充的说明。"}
        )
    ).json()
    assert v2["version"] == 2 and v2["sha256"] != v1["sha256"]
    assert "组织者补充的说明。" in v2["markdown"]
    await worker()
    ann_kinds = [
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=s["ann"])).json()["items"]
    ]
    org_kinds = [
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=s["org"])).json()["items"]
    ]
    assert ann_kinds.count("complaint.version_awaits_consent") == 2
    assert org_kinds.count("complaint.version_awaits_consent") == 1
    bob_kinds = [
        n["kind"] for n in (await client.get("/api/v1/notifications", headers=s["bob"])).json()["items"]
    ]
    assert "complaint.version_awaits_consent" not in bob_kinds
    assert await InboxEntry.count().where(InboxEntry.kind == "complaint.version_awaits_consent") == 3
    assert await OutboxRow.count().where(OutboxRow.job_name == "notify_users") == 2

    d = await client.get(
        f"/api/v1/complaints/{v2['id']}/diff", params={"against": v1["id"]}, headers=s["org"]
    )
    assert d.status_code == 200
    diff = d.json()["diff"]
    assert "--- v1" in diff and "+++ v2" in diff and "冒充客服" in diff
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert any("组织者补充的说明。" in line for line in added), diff  # the narrative v2 added
    assert_problem(
        await client.get(f"/api/v1/complaints/{v2['id']}/diff", params={"against": 999999}, headers=s["org"]),
        404,
    )


async def test_english_ftc_version(client: Any, mailbox: Any, worker: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org")
    reg = await regulator_id(client, "ftc")
    built = (
        await client.post(
            f"/api/v1/cases/{s['case']}/complaints", headers=s["org"], json={"regulator_id": reg}
        )
    ).json()
    got = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["org"])).json()
    assert got["locale"] == "en" and "Federal Trade Commission" in got["regulator"]["name"]
    assert built["markdown"].startswith("# Joint consumer complaint to the Federal Trade Commission")
    assert "投诉人总数" not in built["markdown"]  # English throughout
    zh = (
        await client.post(
            f"/api/v1/cases/{s['case']}/complaints",
            headers=s["org"],
            json={"regulator_id": reg, "locale": "zh-CN"},
        )
    ).json()
    assert (await client.get(f"/api/v1/complaints/{zh['id']}", headers=s["org"])).json()["locale"] == "zh-CN"
    assert zh["markdown"].startswith("# 致美国联邦贸易委员会")


async def test_printable_page(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    built = (
        await client.post(
            f"/api/v1/cases/{s['case']}/complaints",
            headers=s["org"],
            json={"regulator_id": await regulator_id(client)},
        )
    ).json()
    # a worker renders the page ahead, so the first reader does not wait for it
    pages = settings.var_dir / "cache" / "complaint-pages"
    assert not pages.exists() or not list(pages.glob(f"{built['id']}-{built['sha256']}-*.html"))
    await worker()
    assert len(list(pages.glob(f"{built['id']}-{built['sha256']}-*.html"))) == 1
    r = await client.get(f"/api/v1/complaints/{built['id']}/html", headers=s["ann"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "size: A4" in page and "counter(page)" in page
    assert 'href="#s-' in page  # table of contents links to the headings
    assert "<script" not in page.lower() and "onerror" not in page and "javascript:" not in page.lower()
    assert built["sha256"] in page
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def organizers_bundle(client: Any, mailbox: Any, worker: Any, tmp_path: Path) -> tuple[Path, str]:
    """A version whose organizer and Ann consented (Bob did not: his file stays out), its
    bundle as organizers download it, saved under ``tmp_path``; and the version's Markdown."""
    s = await seeded_case(client, mailbox, worker)
    await consent(client, s, "org", "ann")
    built = (
        await client.post(
            f"/api/v1/cases/{s['case']}/complaints",
            headers=s["org"],
            json={"regulator_id": await regulator_id(client)},
        )
    ).json()
    # organizers get the bundle whole (plain members get theirs: test_complaint_privacy.py)
    r = await client.get(f"/api/v1/complaints/{built['id']}/bundle", headers=s["org"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert int(r.headers["content-length"]) == len(r.content)
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    return path, str(built["markdown"])


def verify_bundle_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chorus.cli", "verify-bundle", str(path)], capture_output=True, text=True
    )


def rewritten(path: Path, out: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """A copy of the ZIP at ``path`` with ``change`` applied to its {name: bytes}."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    change(members)
    with zipfile.ZipFile(out, "w") as z:
        for n, b in members.items():
            z.writestr(n, b)
    return out


async def test_bundle_holds_the_version_and_verifies(
    client: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    path, markdown = await organizers_bundle(client, mailbox, worker, tmp_path)
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        assert {"complaint.md", "complaint.html", "manifest.json", "README.txt"} <= names
        assert len([n for n in names if n.startswith("evidence/")]) == 2
        assert z.read("complaint.md").decode() == markdown
        manifest = json.loads(z.read("manifest.json"))
    assert len(manifest["entries"]) == 3
    assert sum(1 for e in manifest["entries"] if e["file"] is None) == 1
    ok = verify_bundle_cli(path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout


async def test_a_flipped_byte_in_an_evidence_file_fails_verification(
    client: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    path, _ = await organizers_bundle(client, mailbox, worker, tmp_path)
    with zipfile.ZipFile(path) as z:
        victim = sorted(n for n in z.namelist() if n.startswith("evidence/"))[0]
    index = int(victim.split("/")[1].split("-")[0])

    def flip(members: dict[str, bytes]) -> None:
        data = bytearray(members[victim])
        data[len(data) // 2] ^= 0x01
        members[victim] = bytes(data)

    fail = verify_bundle_cli(rewritten(path, tmp_path / "tampered.zip", flip))
    assert fail.returncode == 1
    assert f"entry {index}" in fail.stdout and "FAILED" in fail.stdout


async def test_an_edited_complaint_text_fails_verification(
    client: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    path, _ = await organizers_bundle(client, mailbox, worker, tmp_path)

    def edit(members: dict[str, bytes]) -> None:
        assert "蓝月".encode() in members["complaint.md"]
        members["complaint.md"] = members["complaint.md"].replace("蓝月".encode(), "红日".encode())

    fail = verify_bundle_cli(rewritten(path, tmp_path / "edited.zip", edit))
    assert fail.returncode == 1 and "complaint.md" in fail.stdout
