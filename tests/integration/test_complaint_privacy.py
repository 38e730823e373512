"""Who sees what of a joint complaint and its bundles: organizers the full text and the bundle as
filed; plain members their member view (own row in full, other victims redacted) and a member
bundle (only evidence they may see, others' photos without EXIF/GPS); outsiders nothing."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chorus.complaints import cache as complaint_cache
from chorus.complaints.tables import Complaint
from chorus.evidence.manifest import verify_bundle
from chorus.evidence.service import storage_for
from chorus.filings.tables import Filing
from tests.integration.test_complaints import png, regulator_id
from tests.integration.test_filing_channels import add_regulator, quick
from tests.integration.test_filings import build, file
from tests.support import assert_problem, run_jobs, verified_user

pytestmark = pytest.mark.usefixtures("clean")

GPS_IFD = 0x8825
MAKE = 0x010F

# what each victim wrote about themselves: (display name, e-mail, order reference, statement)
PEOPLE = {
    "org": ("欧阳锋", "org@example.com", "BM20261002001", "欧阳锋的陈述：付款后店铺失联"),
    "ann": ("安妮", "ann@example.com", "BM20261003002", "安妮的私人陈述"),
    "bob": ("Bob Stone", "bob@example.com", "BM20261004003", "Bob's private words"),
    "carl": ("陈小明", "carl@example.com", "BM20261005004", "陈小明自己的话"),
}
DESCRIPTIONS = {
    "ann": "安妮的收据描述",
    "bob": "bob's receipt",
    "carl": "陈小明的截图",
    "org": "organizer's photo",
}
LOSSES = {"org": "300.00", "ann": "120.00", "bob": "40.00", "carl": "55.00"}  # all CNY: 515.00


def gps_jpeg(seed: int) -> bytes:
    """A phone photo: camera make and model, and where it was taken."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[0x0110] = f"Model {seed}"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (31.0, 14.0, float(seed)), 3: "E", 4: (121.0, 28.0, 1.0)})
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (seed, 90, 30)).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def has_gps(data: bytes) -> bool:
    exif = Image.open(io.BytesIO(data)).getexif()
    return bool(exif.get_ifd(GPS_IFD)) or GPS_IFD in exif or MAKE in exif


async def privacy_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for who, (name, email, _, _) in PEOPLE.items():
        s[who] = await verified_user(client, mailbox, worker, email, name)
    s["out"] = await verified_user(client, mailbox, worker, "out@example.com", "路人")
    for who, (_, _, ref, words) in PEOPLE.items():
        r = await client.post(
            "/api/v1/reports",
            headers=s[who],
            json={
                "merchant": {"name": "蓝月卡盟", "identifiers": [{"kind": "qq", "value": "55667788"}]},
                "loss": {"amount": LOSSES[who], "currency": "CNY"},
                "incident_date": "2026-10-02",
                "order_refs": [ref],
                "statement": words,
                **({"case_id": s["case"]} if "case" in s else {}),
            },
        )
        assert r.status_code == 201, r.text
        s["case"] = r.json()["case_id"]
    uploads = {
        # ann's phone photo, shown to members: they get it without its metadata
        "ann": ("ann.jpg", gps_jpeg(1), "image/jpeg", "members"),
        # bob's receipt for organizers only: never in another member's bundle
        "bob": ("bob.png", png(2), "image/png", "organizers"),
        # carl's own photo: he gets his original back
        "carl": ("carl.jpg", gps_jpeg(3), "image/jpeg", "organizers"),
        "org": ("org.jpg", gps_jpeg(4), "image/jpeg", "members"),
    }
    s["evidence"] = {}
    for who, (name, data, media, visibility) in uploads.items():
        r = await client.post(
            f"/api/v1/cases/{s['case']}/evidence",
            headers=s[who],
            data={"kind": "payment_receipt", "description": DESCRIPTIONS[who], "visibility": visibility},
            files={"file": (name, data, media)},
        )
        assert r.status_code == 201, r.text
        s["evidence"][who] = {**r.json(), "bytes": data}
    for who in PEOPLE:
        r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s[who], json={"consent": True})
        assert r.status_code == 200
    return s


def assert_member_view(text: str, me: str) -> None:
    name, _, ref, words = PEOPLE[me]
    assert name in text and ref in text and words in text
    for other, (o_name, o_email, o_ref, o_words) in PEOPLE.items():
        if other == me:
            continue
        for secret in (o_name, o_email, o_ref, o_words, o_email.split("@")[0] + "@"):
            assert secret not in text, (other, secret)
        assert f"{o_name[0]}\\*" in text or f"{o_name[0]}*" in text  # the masked name
    # others' descriptions of their evidence are their own words too
    assert all(d not in text for who, d in DESCRIPTIONS.items() if who != me)
    assert DESCRIPTIONS[me] in text


async def test_members_read_their_view_organizers_the_full_text(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await privacy_case(client, mailbox, worker)
    for kind in ("samr", "police"):  # police: contact_disclosure "full" (e-mails in full)
        built = await build(client, s, await regulator_id(client, kind))
        url = f"/api/v1/complaints/{built['id']}"

        full = (await client.get(url, headers=s["org"])).json()
        assert full["view"] == "full" and full["markdown"] == built["markdown"]
        for name, email, ref, words in PEOPLE.values():
            assert name in full["markdown"] and ref in full["markdown"] and words in full["markdown"]
            assert (email in full["markdown"]) is (kind == "police")
        assert "515.00" in full["markdown"]

        mine = (await client.get(url, headers=s["carl"])).json()
        assert mine["view"] == "member"
        assert mine["sha256"] == built["sha256"] == hashlib.sha256(built["markdown"].encode()).hexdigest()
        assert_member_view(mine["markdown"], "carl")
        assert "515.00" in mine["markdown"]  # totals unchanged
        if kind == "police":
            assert "carl@example.com" in mine["markdown"]  # his own contact, as the police get it
        assert_member_view((await client.get(url, headers=s["ann"])).json()["markdown"], "ann")

        page = await client.get(f"{url}/html", headers=s["carl"])
        assert page.status_code == 200
        assert_member_view(page.text, "carl")
        assert built["sha256"] in page.text
        org_page = (await client.get(f"{url}/html", headers=s["org"])).text
        assert all(p[0] in org_page and p[3] in org_page for p in PEOPLE.values())

        for path in ("", "/html", "/bundle"):
            assert_problem(await client.get(url + path, headers=s["out"]), 403)
            assert_problem(await client.get(url + path), 401)

    # the consent record keeps the hash of the full text consented to
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["carl"], json={"consent": True})
    assert r.json()["consented_complaint_id"] == built["id"]
    assert r.json()["consented_sha256"] == built["sha256"]
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["carl"], json={"consent": False})
    assert r.json()["consented_sha256"] is None


async def test_a_version_without_a_member_view_is_not_shown_to_members(
    client: Any, mailbox: Any, worker: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await privacy_case(client, mailbox, worker)
    monkeypatch.setattr(complaint_cache, "INLINE_AT_MOST", 200)  # a long text, in short
    built = await build(client, s, await regulator_id(client))
    await Complaint.update({Complaint.member_view: None}).where(Complaint.id == built["id"])
    await worker()  # its page job: the full page only, nothing for members to be made of
    pages_dir = settings.var_dir / "cache" / "complaint-pages"
    assert len(list(pages_dir.glob(f"{built['id']}-{built['sha256']}-*.html"))) == 1
    assert not list(pages_dir.glob(f"{built['id']}-{built['sha256']}-*-shared-*"))
    url = f"/api/v1/complaints/{built['id']}"
    for path in ("", "/html", "/bundle"):
        assert_problem(await client.get(url + path, headers=s["carl"]), 409, "complaint_member_view_missing")
    assert (await client.get(url, headers=s["org"])).json()["markdown"] == built["markdown"]


async def test_a_long_text_s_printable_page_gives_the_member_their_own_part_first(
    client: Any, mailbox: Any, worker: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complaint of thousands of members is megabytes of text, seconds of CPU to render: a named
    member's printable page of it is the text every member who is not named reads, rendered once
    for all of them (by the worker, when the version is built), with their own part as filed at
    its top, said so; their bundle carries that page and their whole member view as Markdown.
    Shorter texts show their part in place."""
    s = await privacy_case(client, mailbox, worker)
    r = await client.post(f"/api/v1/cases/{s['case']}/consent", headers=s["bob"], json={"consent": False})
    assert r.status_code == 200  # bob is counted, not named
    monkeypatch.setattr(complaint_cache, "INLINE_AT_MOST", 200)  # a text of thousands, in short
    built = await build(client, s, await regulator_id(client))
    assert len(built["markdown"]) > 200
    pages_dir = settings.var_dir / "cache" / "complaint-pages"
    assert not list(pages_dir.glob(f"{built['id']}-{built['sha256']}-*-shared-*"))
    await worker()  # the version's pages, rendered ahead: the full text, the members' shared one
    (shared,) = pages_dir.glob(f"{built['id']}-{built['sha256']}-*-shared-*")
    made = shared.stat().st_mtime_ns
    url = f"/api/v1/complaints/{built['id']}"
    mine = (await client.get(url, headers=s["carl"])).json()["markdown"]
    pages = {}
    for who in ("carl", "ann", "bob"):
        r = await client.get(f"{url}/html", headers=s[who])
        assert r.status_code == 200
        pages[who] = r.text
    top, text = pages["carl"].split('<nav class="toc">', 1)
    name, _, ref, words = PEOPLE["carl"]
    assert "您在本投诉书中的内容" in top and "下面的全文按未署名成员看到的样子列出" in top
    assert all(mine_ in top for mine_ in (name, ref, words, DESCRIPTIONS["carl"]))
    assert "<th>姓名</th>" in top and f"<td>{name}</td>" in top  # his row under its table's header
    assert name not in text and ref not in text and words not in text  # in the text: as all read it
    assert f"{name[0]}*" in text
    assert "您本人的信息完整列在本页开头" in text
    for other, (o_name, o_email, o_ref, o_words) in PEOPLE.items():  # nobody else's, anywhere
        if other != "carl":
            assert all(x not in pages["carl"] for x in (o_name, o_email, o_ref, o_words)), other
    assert built["sha256"] in text
    # ann gets hers; both read one text, the one bob (not named) reads, who has no part of his own
    ann_top, ann_text = pages["ann"].split('<nav class="toc">', 1)
    assert PEOPLE["ann"][3] in ann_top and name not in pages["ann"]
    bob_top, bob_text = pages["bob"].split('<nav class="toc">', 1)
    assert "您在本投诉书中的内容" not in bob_top and PEOPLE["bob"][0] not in pages["bob"]

    def body(page_text: str) -> str:
        return page_text.split("<main>", 1)[1].split("</main>", 1)[0]

    assert body(text) == body(ann_text) == body(bob_text)
    assert shared.stat().st_mtime_ns == made  # read, not rendered again
    # his bundle: this page, and his member view as Markdown (his part in place)
    r = await client.get(f"{url}/bundle", headers=s["carl"])
    files, _ = read_zip(r.content)
    assert files["complaint.html"].decode() == pages["carl"]
    assert files["complaint.md"].decode() == mine
    # the organizer's page is the full text, as before
    org_page = (await client.get(f"{url}/html", headers=s["org"])).text
    assert "您在本投诉书中的内容" not in org_page and name in org_page and words in org_page

    monkeypatch.undo()  # the limit as shipped: this text is short, his part is in place
    page = (await client.get(f"{url}/html", headers=s["carl"])).text
    assert "您在本投诉书中的内容" not in page and "您本人的信息完整显示" in page
    assert all(mine_ in body(page) for mine_ in (name, ref, words, DESCRIPTIONS["carl"]))
    assert PEOPLE["ann"][0] not in page and PEOPLE["ann"][3] not in page


def read_zip(data: bytes) -> tuple[dict[str, bytes], dict[str, Any]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        files = {n: z.read(n) for n in z.namelist()}
    return files, json.loads(files["manifest.json"])


def entry_of(manifest: dict[str, Any], evidence_id: int) -> dict[str, Any]:
    (entry,) = [e for e in manifest["entries"] if e["evidence_id"] == evidence_id]
    return dict(entry)


def check_member_bundle(s: dict[str, Any], data: bytes, tmp_path: Path, member_text: str) -> None:
    """carl's bundle: ann's and org's photos stripped, bob's organizers-only receipt absent,
    his own photo as he uploaded it, his member view of the complaint; consistent in itself."""
    files, manifest = read_zip(data)
    assert manifest["member_view"] is True
    assert len(manifest["entries"]) == 4  # the whole chain is listed: it still verifies
    ev = s["evidence"]

    bob = entry_of(manifest, ev["bob"]["id"])
    assert bob["file"] is None and "copy_sha256" not in bob
    assert not any(ev["bob"]["sha256"] in n for n in files)
    assert ev["bob"]["bytes"] not in files.values()

    for who in ("ann", "org"):
        entry = entry_of(manifest, ev[who]["id"])
        assert entry["sha256"] == ev[who]["sha256"]  # the chain's hash of the original
        copy = files[entry["file"]]
        assert hashlib.sha256(copy).hexdigest() == entry["copy_sha256"] != ev[who]["sha256"]
        assert len(copy) == entry["copy_size"]
        assert has_gps(ev[who]["bytes"]) and not has_gps(copy)
        assert ev[who]["bytes"] not in files.values()

    own = entry_of(manifest, ev["carl"]["id"])
    assert "copy_sha256" not in own and files[own["file"]] == ev["carl"]["bytes"]

    assert files["complaint.md"].decode() == member_text
    assert_member_view(files["complaint.md"].decode(), "carl")
    assert_member_view(files["complaint.html"].decode(), "carl")
    assert "member" in files["README.txt"].decode() or "成员" in files["README.txt"].decode()

    path = tmp_path / "member.zip"
    path.write_bytes(data)
    result = verify_bundle(path)
    assert result.ok, result.problems
    assert result.member_view
    cli = subprocess.run(
        [sys.executable, "-m", "chorus.cli", "verify-bundle", str(path)], capture_output=True, text=True
    )
    assert cli.returncode == 0 and "member view" in cli.stdout, cli.stdout + cli.stderr

    # a copy swapped for the original photo is caught
    entry = entry_of(manifest, ev["ann"]["id"])
    swapped = dict(files)
    swapped[entry["file"]] = ev["ann"]["bytes"]
    bad = tmp_path / "swapped.zip"
    with zipfile.ZipFile(bad, "w") as z:
        for name, content in swapped.items():
            z.writestr(name, content)
    assert not verify_bundle(bad).ok


async def test_complaint_bundle_members_get_only_what_they_may_see(
    client: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    s = await privacy_case(client, mailbox, worker)
    built = await build(client, s, await regulator_id(client))
    url = f"/api/v1/complaints/{built['id']}/bundle"

    r = await client.get(url, headers=s["carl"])
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    assert "member" in r.headers["content-disposition"]
    mine = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["carl"])).json()["markdown"]
    check_member_bundle(s, r.content, tmp_path, mine)

    # organizers: every consenting member's evidence as uploaded, the full text
    r = await client.get(url, headers=s["org"])
    files, manifest = read_zip(r.content)
    assert "member_view" not in manifest
    assert files["complaint.md"].decode() == built["markdown"]
    for who in PEOPLE:
        entry = entry_of(manifest, s["evidence"][who]["id"])
        assert files[entry["file"]] == s["evidence"][who]["bytes"] and "copy_sha256" not in entry
    path = tmp_path / "full.zip"
    path.write_bytes(r.content)
    result = verify_bundle(path)
    assert result.ok and not result.member_view


async def test_filed_bundle_is_for_organizers_members_get_theirs(
    client: Any, mailbox: Any, worker: Any, settings: Any, redis_pool: Any, tmp_path: Path
) -> None:
    s = await privacy_case(client, mailbox, worker)
    # an e-mail regulator that needs complainants' contact details in full
    reg = await add_regulator(
        client,
        settings,
        name="某市公安局（邮箱）",
        channel="email",
        address="police@gov.example.cn",
        contact_disclosure="full",
    )
    built = await build(client, s, reg)
    assert all(p[1] in built["markdown"] for p in PEOPLE.values())
    filing_id = (await file(client, s, built["id"])).json()["id"]
    url = f"/api/v1/filings/{filing_id}/bundle"
    assert_problem(await client.get(url, headers=s["carl"]), 404, "filing_bundle_missing")
    await run_jobs(redis_pool, quick(settings))
    row = await Filing.select(Filing.bundle_sha256).where(Filing.id == filing_id).first()
    assert row is not None and row["bundle_sha256"]

    # organizers: byte for byte the bundle whose SHA-256 the regulator was given
    r = await client.get(url, headers=s["org"])
    assert r.status_code == 200 and r.headers["etag"] == f'"{row["bundle_sha256"]}"'
    assert hashlib.sha256(r.content).hexdigest() == row["bundle_sha256"]
    assert r.content == storage_for(settings).path_for(row["bundle_sha256"]).read_bytes()  # type: ignore[attr-defined]
    files, manifest = read_zip(r.content)
    assert "member_view" not in manifest and files["complaint.md"].decode() == built["markdown"]

    # a plain member: their member bundle of the version filed, never the filed bytes
    r = await client.get(url, headers=s["carl"])
    assert r.status_code == 200 and "etag" not in r.headers
    assert hashlib.sha256(r.content).hexdigest() != row["bundle_sha256"]
    mine = (await client.get(f"/api/v1/complaints/{built['id']}", headers=s["carl"])).json()["markdown"]
    assert "carl@example.com" in mine and "ann@example.com" not in mine
    check_member_bundle(s, r.content, tmp_path, mine)

    assert_problem(await client.get(url, headers=s["out"]), 403)
    assert_problem(await client.get(url), 401)
