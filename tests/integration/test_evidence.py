"""The evidence vault over HTTP: streamed uploads, sniffing, dedup, privacy, chain, access."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from chorus.audit.tables import AuditEntry
from chorus.evidence import service as evidence_service
from chorus.evidence.tables import ChainLink, Evidence
from tests.support import assert_problem, verified_user

pytestmark = pytest.mark.usefixtures("clean")


def png(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def noisy_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200


async def make_case(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    """Organizer A opens a case; B joins it; C is verified but outside it."""
    a = await verified_user(client, mailbox, worker, "org@example.com", "Org")
    b = await verified_user(client, mailbox, worker, "mem@example.com", "Mem")
    c = await verified_user(client, mailbox, worker, "out@example.com", "Out")
    report = {
        "merchant": {"name": "快充卡盟", "identifiers": [{"kind": "qq", "value": "88886666"}]},
        "loss": {"amount": "100.00", "currency": "CNY"},
        "incident_date": "2026-10-01",
    }
    r = await client.post("/api/v1/reports", json=report, headers=a)
    assert r.status_code == 201
    case_id = r.json()["case_id"]
    assert (await client.post("/api/v1/reports", json=report, headers=b)).status_code == 201
    return {"case": case_id, "org": a, "mem": b, "out": c}


async def upload(
    client: Any,
    case_id: int,
    headers: dict[str, str],
    content: bytes,
    *,
    filename: str = "shot.png",
    declared: str = "image/png",
    kind: str | None = "screenshot",
    **fields: str,
) -> Any:
    data = {"kind": kind, **fields} if kind is not None else dict(fields)
    return await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=headers,
        data=data,
        files={"file": (filename, content, declared)},
    )


def blob_files(settings: Any) -> list[Path]:
    root = Path(settings.storage_dir)
    return [p for p in root.rglob("*") if p.is_file() and "tmp" not in p.relative_to(root).parts]


def tmp_files(settings: Any) -> list[Path]:
    tmp = Path(settings.storage_dir) / "tmp"
    return [p for p in tmp.iterdir()] if tmp.exists() else []


async def counts() -> tuple[int, int]:
    return await Evidence.count(), await ChainLink.count()


async def test_upload_list_download_roundtrip(client: Any, mailbox: Any, worker: Any) -> None:
    s = await make_case(client, mailbox, worker)
    content = png()
    r = await upload(client, s["case"], s["mem"], content, visibility="members", description="付款截图")
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["media_type"] == "image/png" and ev["size"] == len(content)
    assert ev["chain_index"] == 0 and len(ev["entry_hash"]) == 64
    import hashlib

    assert ev["sha256"] == hashlib.sha256(content).hexdigest()

    listed = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["mem"])).json()["items"]
    assert [i["id"] for i in listed] == [ev["id"]]
    assert listed[0]["uploaded_by_me"] is True and listed[0]["uploader_name"] is None

    r = await client.get(f"/api/v1/evidence/{ev['id']}/content", headers=s["mem"])
    assert r.status_code == 200 and r.content == content
    assert r.headers["content-type"].startswith("image/png")
    assert r.headers["content-disposition"] == 'attachment; filename="shot.png"'
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_visibility_and_authorization_matrix(client: Any, mailbox: Any, worker: Any) -> None:
    s = await make_case(client, mailbox, worker)
    private = (await upload(client, s["case"], s["mem"], png((1, 2, 3)))).json()  # organizers (default)
    shared = (await upload(client, s["case"], s["org"], png((4, 5, 6)), visibility="members")).json()
    org_only = (await upload(client, s["case"], s["org"], png((7, 8, 9)))).json()

    def ids(r: Any) -> set[int]:
        return {i["id"] for i in r.json()["items"]}

    assert ids(await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["org"])) == {
        private["id"],
        shared["id"],
        org_only["id"],
    }
    assert ids(await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["mem"])) == {
        private["id"],
        shared["id"],
    }
    org_list = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["org"])).json()["items"]
    assert {i["uploader_name"] for i in org_list} == {"Org", "Mem"}

    assert (await client.get(f"/api/v1/evidence/{shared['id']}/content", headers=s["mem"])).status_code == 200
    assert_problem(await client.get(f"/api/v1/evidence/{org_only['id']}/content", headers=s["mem"]), 403)
    assert (
        await client.get(f"/api/v1/evidence/{private['id']}/content", headers=s["org"])
    ).status_code == 200
    for eid in (private["id"], shared["id"]):
        assert_problem(await client.get(f"/api/v1/evidence/{eid}/content", headers=s["out"]), 403)
        assert_problem(await client.get(f"/api/v1/evidence/{eid}/content"), 401)
    assert_problem(await client.get("/api/v1/evidence/999999/content", headers=s["org"]), 404)
    assert_problem(
        await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["out"]), 403, "not_a_member"
    )
    assert_problem(await client.get(f"/api/v1/cases/{s['case']}/evidence"), 401)
    assert_problem(await client.get("/api/v1/cases/999999/evidence", headers=s["org"]), 404)

    # organizers' downloads of others' evidence are audited; own downloads are not
    downloads = await AuditEntry.select(AuditEntry.actor_id, AuditEntry.object_id).where(
        AuditEntry.action == "evidence.downloaded"
    )
    assert {(d["object_id"]) for d in downloads} >= {private["id"]}
    assert await AuditEntry.count().where(AuditEntry.action == "evidence.uploaded") == 3


async def test_upload_refused_for_outsiders_and_unknown_case(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    before = await counts()
    assert_problem(await upload(client, s["case"], s["out"], png()), 403, "not_a_member")
    assert_problem(await upload(client, 999999, s["org"], png()), 404)
    assert_problem(await upload(client, s["case"], {}, png()), 401)
    assert await counts() == before
    assert blob_files(settings) == [] and tmp_files(settings) == []


async def test_same_bytes_are_one_blob_and_one_record_per_uploader(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    content = png((50, 60, 70))
    first = await upload(client, s["case"], s["mem"], content)
    again = await upload(client, s["case"], s["mem"], content, filename="again.png")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = await upload(client, s["case"], s["org"], content)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert await Evidence.count() == 2
    assert len(blob_files(settings)) == 1  # PNG without metadata: no derived copy either
    assert tmp_files(settings) == []


async def test_exif_gps_is_stripped_for_everyone_but_the_uploader(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get(0x8825)
    ev = (
        await upload(
            client,
            s["case"],
            s["mem"],
            original,
            filename="IMG_0001.JPG",
            declared="image/jpeg",
            kind="payment_receipt",
        )
    ).json()
    own = await client.get(f"/api/v1/evidence/{ev['id']}/content", headers=s["mem"])
    assert own.content == original
    seen = await client.get(f"/api/v1/evidence/{ev['id']}/content", headers=s["org"])
    assert seen.status_code == 200 and seen.content != original
    exif = Image.open(io.BytesIO(seen.content)).getexif()
    assert 0x8825 not in exif and 0x010F not in exif
    row = await Evidence.select(Evidence.sha256, Evidence.derived_sha256).first()
    assert row["derived_sha256"] and row["derived_sha256"] != row["sha256"]
    # the chain records the original
    link = await ChainLink.select(ChainLink.evidence_sha256).first()
    assert link["evidence_sha256"] == row["sha256"] == ev["sha256"]


@pytest.mark.parametrize(
    ("content", "filename", "declared", "status", "field"),
    [
        (ELF, "photo.png", "image/png", 415, "file"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
            "x.svg",
            "image/svg+xml",
            415,
            "file",
        ),
        (b"MZ" + b"\x90" * 300, "receipt.pdf", "application/pdf", 415, "file"),
        (b"", "empty.txt", "text/plain", 422, "file"),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_left(
    client: Any,
    mailbox: Any,
    worker: Any,
    settings: Any,
    content: bytes,
    filename: str,
    declared: str,
    status: int,
    field: str,
) -> None:
    s = await make_case(client, mailbox, worker)
    before = await counts()
    body = assert_problem(
        await upload(client, s["case"], s["mem"], content, filename=filename, declared=declared), status
    )
    assert body["errors"][0]["field"] == field
    assert await counts() == before
    assert blob_files(settings) == [] and tmp_files(settings) == []


async def test_bad_fields_are_refused_and_nothing_is_left(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    url = f"/api/v1/cases/{s['case']}/evidence"
    before = await counts()
    assert_problem(await upload(client, s["case"], s["mem"], png(), kind=None), 422)
    assert_problem(await upload(client, s["case"], s["mem"], png(), kind="selfie"), 422)
    assert_problem(await upload(client, s["case"], s["mem"], png(), visibility="public"), 422)
    assert_problem(await upload(client, s["case"], s["mem"], png(), description="x" * 3000), 422)
    r = await client.post(url, headers=s["mem"], files={"kind": (None, "other")})  # no file part
    assert assert_problem(r, 422)["errors"][0]["field"] == "file"
    r = await client.post(url, headers=s["mem"], json={"kind": "other"})
    assert_problem(r, 415, "unsupported_body_type")  # not multipart (chorus.web.middleware)
    r = await client.post(
        url,
        headers={**s["mem"], "content-type": "multipart/form-data; boundary=zzz"},
        content=b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nab',
    )
    assert_problem(r, 400, "malformed_form")
    assert await counts() == before
    assert blob_files(settings) == [] and tmp_files(settings) == []


async def test_declared_type_and_filename_are_never_trusted(client: Any, mailbox: Any, worker: Any) -> None:
    s = await make_case(client, mailbox, worker)
    content = png((9, 9, 9))
    for i, name in enumerate(
        ["../../etc/passwd", "/abs/path/evil.png", "a\x00b.png", "..\\..\\win.ini", "证据.png"]
    ):
        r = await upload(
            client,
            s["case"],
            s["mem"],
            content if i == 0 else png((i, i, i)),
            filename=name,
            declared="text/html",
        )
        assert r.status_code == 201, r.text
        assert r.json()["media_type"] == "image/png"
        dl = await client.get(f"/api/v1/evidence/{r.json()['id']}/content", headers=s["mem"])
        disposition = dl.headers["content-disposition"]
        fname = disposition.split('filename="', 1)[1].rstrip('"')
        assert fname.endswith(".png") and "/" not in fname and "\\" not in fname and ".." not in fname
        assert fname.isascii() and "\x00" not in fname
        assert dl.headers["content-type"].startswith("image/png")
    rows = await Evidence.select(Evidence.client_filename, Evidence.client_media_type)
    assert {r["client_media_type"] for r in rows} == {"text/html"}  # recorded, not used


async def test_text_and_html_chat_exports_are_stored_as_plain_text(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    html = "<html><body><p>卖家：付款后马上发卡</p><script>steal()</script></body></html>".encode()
    r = await upload(
        client, s["case"], s["mem"], html, filename="chat.html", declared="text/html", kind="chat_log"
    )
    assert r.status_code == 201 and r.json()["media_type"] == "text/plain"
    dl = await client.get(f"/api/v1/evidence/{r.json()['id']}/content", headers=s["mem"])
    assert dl.headers["content-type"].startswith("text/plain")
    assert dl.headers["content-disposition"].endswith('.txt"')


async def test_oversized_upload_is_413_and_leaves_nothing(
    settings: Any, mailbox: Any, worker: Any, redis_pool: Any
) -> None:
    from tests.support import http_client

    small = settings.model_copy(update={"upload_max_bytes": 2048})
    async with http_client(small) as c:
        s = await make_case(c, mailbox, worker)
        before = await counts()
        big = noisy_png(100)
        assert len(big) > 2048
        body = assert_problem(await upload(c, s["case"], s["mem"], big), 413, "evidence_too_large")
        assert "MB" in body["detail"]
        assert await counts() == before
        assert blob_files(small) == [] and tmp_files(small) == []
        assert (await upload(c, s["case"], s["mem"], png(size=(4, 4)))).status_code == 201


async def test_range_requests(client: Any, mailbox: Any, worker: Any) -> None:
    s = await make_case(client, mailbox, worker)
    content = png(size=(64, 64))
    ev = (await upload(client, s["case"], s["mem"], content)).json()
    url = f"/api/v1/evidence/{ev['id']}/content"
    r = await client.get(url, headers={**s["mem"], "Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == content[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{len(content)}"
    r = await client.get(url, headers={**s["mem"], "Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == content[-5:]
    r = await client.get(url, headers={**s["mem"], "Range": "bytes=10-"})
    assert r.status_code == 206 and r.content == content[10:]
    assert_problem(await client.get(url, headers={**s["mem"], "Range": f"bytes={len(content) + 5}-"}), 416)


async def test_chain_is_linear_under_concurrent_uploads_and_verifies(
    client: Any, mailbox: Any, worker: Any
) -> None:
    s = await make_case(client, mailbox, worker)
    results = await asyncio.gather(
        *(
            upload(client, s["case"], s["mem"] if i % 2 else s["org"], png((i, 2 * i, 3 * i)))
            for i in range(12)
        )
    )
    assert all(r.status_code == 201 for r in results), [r.text for r in results]
    assert sorted(r.json()["chain_index"] for r in results) == list(range(12))
    links = await ChainLink.select(ChainLink.index, ChainLink.prev_hash, ChainLink.entry_hash).order_by(
        ChainLink.index
    )
    for prev, nxt in itertools.pairwise(links):
        assert nxt["prev_hash"] == prev["entry_hash"]
    v = (await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["mem"])).json()
    assert v == {"ok": True, "entries": 12, "head": links[-1]["entry_hash"], "problems": []}
    assert_problem(await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["out"]), 403)


async def test_verify_names_tampered_missing_and_altered_entries(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from chorus.evidence.service import storage_for

    s = await make_case(client, mailbox, worker)
    evs = [(await upload(client, s["case"], s["mem"], png((i, 0, 0)))).json() for i in range(4)]
    store = storage_for(settings)
    # flip a byte of blob #1
    path = store.path_for(evs[1]["sha256"])  # type: ignore[attr-defined]
    os.chmod(path, 0o640)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    # lose blob #2
    store.path_for(evs[2]["sha256"]).unlink()  # type: ignore[attr-defined]
    v = (await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["org"])).json()
    assert v["ok"] is False and v["entries"] == 4
    assert {(p["index"], p["reason"]) for p in v["problems"]} == {
        (1, "content_mismatch"),
        (2, "missing_blob"),
    }
    # alter the recorded metadata of entry #3
    await ChainLink.update({ChainLink.meta: {**(await _meta(3)), "kind": "other"}}).where(
        ChainLink.index == 3
    )
    v = (await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["org"])).json()
    assert (3, "hash_mismatch") in {(p["index"], p["reason"]) for p in v["problems"]}


async def test_verify_reads_a_long_chain_a_page_at_a_time(
    client: Any, mailbox: Any, worker: Any, settings: Any, monkeypatch: Any
) -> None:
    """Pages of every size give the same answer: the same bytes in two entries (on one page and
    across pages), a withdrawn item whose bytes are gone (not a problem), a lost blob and a
    changed one, each named at its index, in chain order."""
    from chorus.evidence import service

    s = await make_case(client, mailbox, worker)
    same = png((9, 9, 9))
    items = [
        (s["mem"], same),  # 0
        (s["mem"], png((1, 0, 0))),  # 1: withdrawn, its bytes deleted
        (s["org"], png((2, 0, 0))),  # 2: lost
        (s["org"], same),  # 3: the bytes of entry 0
        (s["mem"], png((3, 0, 0))),  # 4: changed
    ]
    evs = [(await upload(client, s["case"], who, data)).json() for who, data in items]
    assert [e["chain_index"] for e in evs] == list(range(5))
    assert (await client.delete(f"/api/v1/evidence/{evs[1]['id']}", headers=s["mem"])).status_code == 204
    store = service.storage_for(settings)
    assert not await store.exists(evs[1]["sha256"])
    store.path_for(evs[2]["sha256"]).unlink()  # type: ignore[attr-defined]
    changed = store.path_for(evs[4]["sha256"])  # type: ignore[attr-defined]
    os.chmod(changed, 0o640)
    changed.write_bytes(changed.read_bytes()[:-1] + b"\x00")

    answers = []
    for page in (1, 2, 3, 5, service.VERIFY_PAGE):
        monkeypatch.setattr(service, "VERIFY_PAGE", page)
        answers.append(
            (await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["org"])).json()
        )
    assert answers[0] == {
        "ok": False,
        "entries": 5,
        "head": evs[4]["entry_hash"],
        "problems": [{"index": 2, "reason": "missing_blob"}, {"index": 4, "reason": "content_mismatch"}],
    }
    assert all(a == answers[0] for a in answers)


async def _meta(index: int) -> dict[str, Any]:
    import json

    row = await ChainLink.select(ChainLink.meta).where(ChainLink.index == index).first()
    meta = row["meta"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


async def test_the_evidence_list_whole_or_a_page_at_a_time_of_what_the_caller_may_see(
    client: Any, mailbox: Any, worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A case of thousands holds tens of thousands of items: the list is what the caller may see
    (a member: their own, withdrawn too, and what others share with members), whole or a page at
    a time in chain order, each page saying where the next starts; bad paging is refused."""
    s = await make_case(client, mailbox, worker)
    url = f"/api/v1/cases/{s['case']}/evidence"
    made = {}
    for name, who, fields in (
        ("mine", "mem", {}),  # organizers only (the default): his own
        ("shared", "org", {"visibility": "members"}),
        ("org_only", "org", {}),
        ("mine_withdrawn", "mem", {}),
        ("shared_withdrawn", "org", {"visibility": "members"}),
        ("shared_too", "org", {"visibility": "members"}),
    ):
        r = await upload(client, s["case"], s[who], png((len(made), 9, 9)), **fields)
        assert r.status_code == 201, r.text
        made[name] = r.json()
    for name, who in (("mine_withdrawn", "mem"), ("shared_withdrawn", "org")):
        r = await client.delete(f"/api/v1/evidence/{made[name]['id']}", headers=s[who])
        assert r.status_code == 204
    ids = {name: item["id"] for name, item in made.items()}
    members_see = [ids[n] for n in ("mine", "shared", "mine_withdrawn", "shared_too")]  # chain order

    whole = (await client.get(url, headers=s["mem"])).json()
    assert [i["id"] for i in whole["items"]] == members_see and whole["next_after"] is None
    org_whole = (await client.get(url, headers=s["org"])).json()
    assert org_whole["next_after"] is None
    assert [i["uploader_name"] for i in org_whole["items"]] == ["Mem"] + ["Org"] * 4
    assert [i["filename"] for i in whole["items"]] == ["shot.png", None, "shot.png", None]
    # a long list (tens of thousands of items) is made and encoded in a worker thread: the same
    monkeypatch.setattr(evidence_service, "IN_THREAD_FROM", 1)
    assert (await client.get(url, headers=s["mem"])).json() == whole
    assert (await client.get(url, headers=s["org"])).json() == org_whole
    monkeypatch.undo()

    async def paged(who: str, limit: int) -> list[int]:
        seen: list[int] = []
        after: int | None = None
        for _ in range(10):
            query = f"?limit={limit}" + (f"&after={after}" if after is not None else "")
            r = await client.get(url + query, headers=s[who])
            assert r.status_code == 200, r.text
            page = r.json()
            assert 0 < len(page["items"]) <= limit
            seen += [i["id"] for i in page["items"]]
            after = page["next_after"]
            if after is None:
                return seen
            assert after == page["items"][-1]["chain_index"]
        raise AssertionError("the pages never ended")

    assert await paged("mem", 1) == members_see
    assert await paged("mem", 3) == members_see
    assert await paged("mem", 4) == members_see
    # organizers: everything but what others withdrew, in chain order
    assert await paged("org", 2) == [made[n]["id"] for n in made if n != "mine_withdrawn"]
    first = made["mine"]["chain_index"]  # after, without limit: the rest, whole
    rest = (await client.get(f"{url}?after={first}", headers=s["mem"])).json()
    assert [i["id"] for i in rest["items"]] == members_see[1:] and rest["next_after"] is None
    last = made["shared_too"]["chain_index"]
    assert (await client.get(f"{url}?limit=5&after={last}", headers=s["mem"])).json() == {
        "items": [],
        "next_after": None,
    }
    for bad in ("limit=0", "limit=1001", "limit=ten", "after=-1", "after=99999999999", "after=x"):
        r = await client.get(f"{url}?{bad}", headers=s["mem"])
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), bad
    assert_problem(await client.get(f"{url}?limit=2", headers=s["out"]), 403, "not_a_member")
    assert_problem(await client.get(f"{url}?limit=2"), 401)


async def test_withdrawal(client: Any, mailbox: Any, worker: Any, settings: Any) -> None:
    s = await make_case(client, mailbox, worker)
    shared_bytes = png((1, 1, 1))
    mine = (await upload(client, s["case"], s["mem"], shared_bytes, visibility="members")).json()
    theirs = (await upload(client, s["case"], s["org"], shared_bytes)).json()
    solo = (await upload(client, s["case"], s["mem"], png((2, 2, 2)))).json()
    assert len(blob_files(settings)) == 2

    assert_problem(await client.delete(f"/api/v1/evidence/{mine['id']}", headers=s["org"]), 403)
    assert_problem(await client.delete(f"/api/v1/evidence/{mine['id']}", headers=s["out"]), 403)
    assert_problem(await client.delete("/api/v1/evidence/999999", headers=s["mem"]), 404)

    assert (await client.delete(f"/api/v1/evidence/{mine['id']}", headers=s["mem"])).status_code == 204
    assert len(blob_files(settings)) == 2  # the organizer's record still needs those bytes
    assert (await client.delete(f"/api/v1/evidence/{solo['id']}", headers=s["mem"])).status_code == 204
    assert len(blob_files(settings)) == 1  # unreferenced now: deleted
    assert (await client.get(f"/api/v1/evidence/{solo['id']}/content", headers=s["org"])).status_code == 403

    listed = (await client.get(f"/api/v1/cases/{s['case']}/evidence", headers=s["mem"])).json()["items"]
    assert {i["id"]: i["withdrawn"] for i in listed} == {mine["id"]: True, solo["id"]: True}
    # the chain keeps the entries and still verifies
    v = (await client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["mem"])).json()
    assert v["ok"] is True and v["entries"] == 3
    assert await AuditEntry.count().where(AuditEntry.action == "evidence.withdrawn") == 2

    # once a filed complaint cites it, evidence is frozen
    await Evidence.update({Evidence.frozen_at: Evidence.uploaded_at}).where(Evidence.id == theirs["id"])
    assert_problem(
        await client.delete(f"/api/v1/evidence/{theirs['id']}", headers=s["org"]), 409, "evidence_frozen"
    )


async def test_client_disconnect_midway_leaves_nothing(
    settings: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    """A real server on a real socket: the client sends half the body and hangs up."""
    import uvicorn

    from chorus.app import create_app
    from tests.support import http_client

    async with http_client(settings) as c:
        s = await make_case(c, mailbox, worker)
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        before = await counts()
        boundary = "chorusboundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        total = len(head) + 4_000_000
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"POST /api/v1/cases/{s['case']}/evidence HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: {s['mem']['Authorization']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {total}\r\n\r\n"
            ).encode()
            + head
        )
        for _ in range(20):
            writer.write(b"chat line\n" * 10_000)  # 2 MB of the promised 4 MB
            await writer.drain()
        for _ in range(400):  # let the server spool some of it (polled: no timing assumption)
            if tmp_files(settings):
                break
            await asyncio.sleep(0.025)
        assert tmp_files(settings), "the upload should be streaming into a temporary file"
        writer.close()
        for _ in range(400):
            if not tmp_files(settings):
                break
            await asyncio.sleep(0.05)
        assert tmp_files(settings) == []
        assert await counts() == before
    finally:
        server.should_exit = True
        await task


async def test_evidence_follows_members_when_cases_merge(
    client: Any, mailbox: Any, worker: Any, settings: Any
) -> None:
    from tests.integration.cases_support import ident, person, report, report_body, staff

    alice = await person(client, mailbox, worker, "alice@example.com", "Alice")
    bob = await person(client, mailbox, worker, "bob@example.com", "Bob")
    mod = await staff(client, settings, "mod@example.com", "moderator")
    a = await report(client, alice, report_body("甲店", [ident("qq", "11112222")]))
    b = await report(client, bob, report_body("乙店", [ident("phone", "13900139000")]))
    for who, case, seed in ((alice, a["case_id"], 1), (alice, a["case_id"], 2), (bob, b["case_id"], 3)):
        r = await upload(client, case, who.headers, png((seed, seed, seed)), visibility="members")
        assert r.status_code == 201
    r = await client.post(
        "/api/v1/moderation/merchants/merge",
        headers=mod.headers,
        json={"source_id": a["merchant_id"], "target_id": b["merchant_id"]},
    )
    assert r.status_code == 200, r.text
    items = (await client.get(f"/api/v1/cases/{b['case_id']}/evidence", headers=bob.headers)).json()["items"]
    assert len(items) == 3  # Alice's two items now support the surviving case
    assert sorted(i["chain_index"] for i in items) == [0, 1, 2]
    v = (await client.get(f"/api/v1/cases/{b['case_id']}/evidence/verify", headers=bob.headers)).json()
    assert v["ok"] is True and v["entries"] == 3, v
    # the closed source case keeps its own chain (no members are left there to ask over HTTP)
    from chorus.evidence.service import verify_case

    old = await verify_case(a["case_id"], settings)
    assert old.ok and old.entries == 2
    # Alice, now a member of the surviving case, still reads her own evidence there
    mine = (await client.get(f"/api/v1/cases/{b['case_id']}/evidence", headers=alice.headers)).json()["items"]
    assert sum(i["uploaded_by_me"] for i in mine) == 2
