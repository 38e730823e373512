"""Evidence in an S3-compatible bucket (CHORUS_STORAGE_URL=s3://bucket/prefix): a real S3 server
(moto in server mode) on a socket of 127.0.0.1, the store's contract, and the app over HTTP:
upload, download with a Range, the chain's verify reading the bucket, and the complaint bundle."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import obstore
import pytest

from chorus.evidence import stores
from chorus.evidence.s3storage import DIGEST_CONCURRENCY, PART_SIZE, S3Storage
from chorus.evidence.storage import BlobNotFound, InvalidRange, spool
from chorus.evidence.tables import Evidence
from tests.integration.test_complaints import consent, png, regulator_id, seeded_case
from tests.support import assert_problem, http_client
from tests.toolkit import free_port

pytestmark = pytest.mark.usefixtures("clean")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, with the AWS_* credentials obstore reads from the environment."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="chorus-test", AWS_SECRET_ACCESS_KEY="chorus-test-secret")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def s3_settings(s3_endpoint: str, settings: Any) -> Any:
    """The run's settings with evidence in a new bucket of its own (under a prefix)."""
    bucket = f"chorus-{secrets.token_hex(6)}"
    assert httpx.put(f"{s3_endpoint}/{bucket}").status_code == 200
    return settings.model_copy(
        update={
            "storage_url": f"s3://{bucket}/evidence",
            "s3_endpoint_url": s3_endpoint,
            "s3_region": "us-east-1",
            "s3_allow_http": True,
        }
    )


@pytest.fixture
def s3_store(s3_settings: Any) -> S3Storage:
    store = stores.store_for(s3_settings)
    assert isinstance(store, S3Storage)
    return store


@pytest.fixture
async def s3_client(s3_settings: Any) -> AsyncIterator[Any]:
    async with http_client(s3_settings) as c:
        yield c


def objects(store: S3Storage) -> dict[str, int]:
    """Every object in the store (under its prefix): name → size."""
    return {m["path"]: m["size"] for m in obstore.list(store.store).collect()}


def local_blobs(settings: Any) -> list[Path]:
    return [p for p in Path(settings.storage_dir).rglob("*") if p.is_file()]


async def chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


def key_of(digest: str) -> str:
    """Where the store keeps a blob under its prefix."""
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


async def stored_blob(store: S3Storage) -> tuple[bytes, str]:
    """More than one part's worth of random bytes, put in the store; (data, sha256)."""
    data = os.urandom(PART_SIZE + 3 * 1024 * 1024)
    sp = await spool(chunks(data), store.tmp_dir, max_bytes=len(data))
    assert await store.put_file(sp.path, sp.sha256) is True
    return data, sp.sha256


async def test_put_uploads_in_parts_once_and_keeps_nothing_on_this_host(
    s3_store: S3Storage, s3_settings: Any
) -> None:
    data = os.urandom(PART_SIZE + 3 * 1024 * 1024)  # more than one part
    digest = hashlib.sha256(data).hexdigest()
    assert not await s3_store.exists(digest)

    sp = await spool(chunks(data), s3_store.tmp_dir, max_bytes=len(data))
    assert await s3_store.put_file(sp.path, sp.sha256) is True
    assert not sp.path.exists()  # the temp file is gone once uploaded
    assert objects(s3_store) == {key_of(digest): len(data)}
    meta = await obstore.head_async(s3_store.store, key_of(digest))
    assert str(meta["e_tag"]).strip('"').endswith("-2")  # went up as a two-part upload
    assert local_blobs(s3_settings) == []  # nothing kept on this host

    again = await spool(chunks(data), s3_store.tmp_dir, max_bytes=len(data))
    assert await s3_store.put_file(again.path, again.sha256) is False
    assert not again.path.exists()


async def test_a_stored_blob_reads_whole_and_by_range(s3_store: S3Storage) -> None:
    data, digest = await stored_blob(s3_store)
    assert await s3_store.exists(digest)
    assert await s3_store.size(digest) == len(data)
    assert s3_store.local_path(digest) is None
    assert await collect(s3_store.iter_bytes(digest)) == data
    assert await collect(s3_store.iter_bytes(digest, 10, 20)) == data[10:20]
    assert await collect(s3_store.iter_bytes(digest, len(data) - 5)) == data[-5:]
    assert await collect(s3_store.iter_bytes(digest, 100, len(data) + 999)) == data[100:]  # end clamps
    assert await collect(s3_store.iter_bytes(digest, 5, 5)) == b""
    pieces = [c async for c in s3_store.iter_bytes(digest, 0, 3 << 20, chunk_size=1 << 20)]
    assert b"".join(pieces) == data[: 3 << 20] and len(pieces) >= 2  # streamed, not in one piece
    assert await s3_store.sha256_of(digest) == digest


async def test_ranges_outside_a_blob_are_refused(s3_store: S3Storage) -> None:
    data, digest = await stored_blob(s3_store)
    with pytest.raises(InvalidRange):
        await collect(s3_store.iter_bytes(digest, len(data) + 1))
    with pytest.raises(InvalidRange):
        await collect(s3_store.iter_bytes(digest, len(data)))
    with pytest.raises(ValueError):
        await collect(s3_store.iter_bytes(digest, 10, 5))


async def test_a_deleted_blob_is_gone_and_delete_is_idempotent(s3_store: S3Storage) -> None:
    _, digest = await stored_blob(s3_store)
    await s3_store.delete(digest)
    await s3_store.delete(digest)  # idempotent
    assert not await s3_store.exists(digest)
    assert await s3_store.sha256_of(digest) is None
    with pytest.raises(BlobNotFound):
        await s3_store.size(digest)
    with pytest.raises(BlobNotFound):
        await collect(s3_store.iter_bytes(digest))
    assert objects(s3_store) == {}


async def test_digests_of_many_blobs_at_once(s3_store: S3Storage) -> None:
    """A chain's page of digests at once (more names than are read at a time): each object as
    sha256_of sees it, a missing one None, a name given twice answered once, one changed in
    the bucket by its new bytes, and a multi-part object hashed whole."""
    data, big = await stored_blob(s3_store)
    small = []
    for i in range(DIGEST_CONCURRENCY + 4):
        sp = await spool(chunks(f"chat line {i}\n".encode()), s3_store.tmp_dir, max_bytes=100)
        assert await s3_store.put_file(sp.path, sp.sha256) is True
        small.append(sp.sha256)
    await obstore.put_async(s3_store.store, key_of(small[0]), b"changed in the bucket")
    missing = hashlib.sha256(b"never stored").hexdigest()

    got = await s3_store.sha256_of_many([*small, missing, big, small[1]])
    assert got == {
        small[0]: hashlib.sha256(b"changed in the bucket").hexdigest(),
        **{digest: digest for digest in small[1:]},
        missing: None,
        big: hashlib.sha256(data).hexdigest(),
    }
    assert big == hashlib.sha256(data).hexdigest()
    assert await s3_store.sha256_of_many([]) == {}
    with pytest.raises(ValueError):
        await s3_store.sha256_of_many([small[1], "../../etc/passwd"])


async def test_a_name_that_is_not_a_digest_is_refused(s3_store: S3Storage) -> None:
    with pytest.raises(ValueError):
        await s3_store.exists("../../etc/passwd")


def test_storage_url_chooses_the_backend(s3_settings: Any, settings: Any, tmp_path: Path) -> None:
    local = stores.store_for(settings)
    assert local.local_path("a" * 64) == Path(settings.storage_dir).resolve() / "aa" / "aa" / ("a" * 64)
    as_url = settings.model_copy(update={"storage_url": (tmp_path / "blobs").as_uri()})
    assert stores.store_for(as_url).local_path("b" * 64) == tmp_path / "blobs" / "bb" / "bb" / ("b" * 64)
    assert isinstance(stores.store_for(s3_settings), S3Storage)
    for bad in ("file://host/dir", "s3:///no-bucket"):
        with pytest.raises(ValueError):
            stores.store_for(settings.model_copy(update={"storage_url": bad}))


async def uploaded(s3_client: Any, mailbox: Any, worker: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``seeded_case`` over HTTP with evidence in the bucket (three receipts; the organizer's
    is ``png(1)``); and the evidence rows (id, sha256, uploader) in upload order."""
    s = await seeded_case(s3_client, mailbox, worker)
    rows = await Evidence.select(Evidence.id, Evidence.sha256, Evidence.uploader).order_by(Evidence.id)
    assert len(rows) == 3
    return s, rows


async def test_uploaded_evidence_lives_in_the_bucket_only(
    s3_client: Any, s3_store: S3Storage, s3_settings: Any, mailbox: Any, worker: Any
) -> None:
    _, rows = await uploaded(s3_client, mailbox, worker)
    stored = objects(s3_store)
    for row in rows:
        assert stored[key_of(row["sha256"])] > 0
    assert local_blobs(s3_settings) == []


async def test_evidence_downloads_from_the_bucket_whole_and_by_range(
    s3_client: Any, mailbox: Any, worker: Any
) -> None:
    s, rows = await uploaded(s3_client, mailbox, worker)
    # The organizer downloads their own receipt, whole and by a byte range.
    mine = rows[0]
    original = png(1)
    r = await s3_client.get(f"/api/v1/evidence/{mine['id']}/content", headers=s["org"])
    assert r.status_code == 200 and r.content == original
    r = await s3_client.get(
        f"/api/v1/evidence/{mine['id']}/content", headers={**s["org"], "Range": "bytes=8-23"}
    )
    assert r.status_code == 206 and r.content == original[8:24]
    assert r.headers["content-range"] == f"bytes 8-23/{len(original)}"
    r = await s3_client.get(
        f"/api/v1/evidence/{mine['id']}/content", headers={**s["org"], "Range": f"bytes={len(original)}-"}
    )
    assert r.status_code == 416


async def verify_chain(s3_client: Any, s: dict[str, Any]) -> dict[str, Any]:
    r = await s3_client.get(f"/api/v1/cases/{s['case']}/evidence/verify", headers=s["org"])
    assert r.status_code == 200, r.text
    verified: dict[str, Any] = r.json()
    return verified


async def test_verify_recomputes_the_chain_from_the_bucket(s3_client: Any, mailbox: Any, worker: Any) -> None:
    s, _ = await uploaded(s3_client, mailbox, worker)
    verified = await verify_chain(s3_client, s)
    assert verified["ok"] is True and verified["entries"] == 3 and verified["problems"] == []


async def test_bytes_altered_in_the_bucket_are_named_by_their_chain_index(
    s3_client: Any, s3_store: S3Storage, mailbox: Any, worker: Any
) -> None:
    s, rows = await uploaded(s3_client, mailbox, worker)
    await obstore.put_async(s3_store.store, key_of(rows[1]["sha256"]), b"not the receipt")
    verified = await verify_chain(s3_client, s)
    assert verified["ok"] is False
    assert [p["index"] for p in verified["problems"]] == [1]


async def test_the_complaint_bundle_carries_the_evidence_read_from_the_bucket(
    s3_client: Any, mailbox: Any, worker: Any, tmp_path: Path
) -> None:
    from chorus.evidence.manifest import verify_bundle

    s, _ = await uploaded(s3_client, mailbox, worker)
    # The consenting members' evidence bytes (the organizer's and Ann's, not Bob's).
    await consent(s3_client, s, "org", "ann")
    built = (
        await s3_client.post(
            f"/api/v1/cases/{s['case']}/complaints",
            headers=s["org"],
            json={"regulator_id": await regulator_id(s3_client)},
        )
    ).json()
    r = await s3_client.get(f"/api/v1/complaints/{built['id']}/bundle", headers=s["org"])
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        files = {n: z.read(n) for n in z.namelist() if n.startswith("evidence/")}
        manifest = json.loads(z.read("manifest.json"))
    assert len(files) == 2
    assert png(1) in files.values()
    for name, content in files.items():
        assert hashlib.sha256(content).hexdigest() in name
    assert sum(1 for e in manifest["entries"] if e["file"] is None) == 1
    result = verify_bundle(path)
    assert result.ok, result.problems


async def test_refused_upload_leaves_nothing_in_the_bucket(
    s3_settings: Any, s3_store: S3Storage, mailbox: Any, worker: Any
) -> None:
    small = s3_settings.model_copy(update={"upload_max_bytes": 1024})
    async with http_client(small) as c:
        s = await seeded_case_without_evidence(c, mailbox, worker)
        big = os.urandom(4096)
        r = await c.post(
            f"/api/v1/cases/{s['case']}/evidence",
            headers=s["org"],
            data={"kind": "other"},
            files={"file": ("big.bin", big, "application/octet-stream")},
        )
        assert_problem(r, 413)
    assert objects(s3_store) == {}
    assert list(s3_store.tmp_dir.iterdir()) == []
    assert await Evidence.count() == 0


async def seeded_case_without_evidence(client: Any, mailbox: Any, worker: Any) -> dict[str, Any]:
    from tests.support import verified_user

    org = await verified_user(client, mailbox, worker, "org@example.com", "Org")
    report = {
        "merchant": {"name": "快充卡盟", "identifiers": [{"kind": "qq", "value": "88886666"}]},
        "loss": {"amount": "100.00", "currency": "CNY"},
        "incident_date": "2026-10-01",
    }
    r = await client.post("/api/v1/reports", json=report, headers=org)
    assert r.status_code == 201, r.text
    return {"case": r.json()["case_id"], "org": org}
