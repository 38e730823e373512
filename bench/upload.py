"""Benchmark: evidence upload through a real `chorus web` process, and chain verification.

Prints (not a test; nothing here fails on timing):
- peak RSS growth of the server process while a 200 MB file is uploaded (goal < 32 MB);
- upload throughput, and its ratio to `sha256sum` of the same file measured in the same run
  (goal >= 0.7);
- time to verify a 10,000-entry chain through GET /evidence/verify.

Usage: .venv/bin/python bench/upload.py [--mb 200] [--chain 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def make_file(path: Path, mb: int) -> None:
    """An MP4-looking file (a real ftyp box, then noise): an allowed type, incompressible."""
    header = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    with path.open("wb") as fh:
        fh.write(header)
        block = os.urandom(1 << 20)
        for i in range(mb):
            fh.write(block[i % 7 :] + block[: i % 7])


def sha256sum_seconds(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - started


def hashlib_seconds(path: Path) -> float:
    started = time.perf_counter()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return time.perf_counter() - started


async def fill_chain(case_id: int, uploader_id: int, n: int, settings: object) -> None:
    """Append n small text evidence items exactly as the service would, in bulk."""
    from datetime import UTC, datetime

    from chorus import db
    from chorus.evidence import service as evidence
    from chorus.evidence.chain import ChainMeta, make_entry, rfc3339
    from chorus.evidence.tables import ChainLink, Evidence

    store = evidence.storage_for(settings)  # type: ignore[arg-type]
    tmp = evidence.tmp_dir(settings)  # type: ignore[arg-type]
    head = (
        await ChainLink.select(ChainLink.index, ChainLink.entry_hash)
        .where(ChainLink.case == case_id)
        .order_by(ChainLink.index, ascending=False)
        .first()
    )
    index, prev = head["index"] + 1, head["entry_hash"]
    batch = 500
    for start in range(0, n, batch):
        async with db.transaction():
            for i in range(start, min(n, start + batch)):
                data = f"chat line {i}\n".encode()
                sha = hashlib.sha256(data).hexdigest()
                path = tmp / f"bench-{i}"
                path.write_bytes(data)
                await store.put_file(path, sha)
                now = datetime.now(UTC)
                rows = await Evidence.insert(
                    Evidence(
                        case=case_id,
                        uploader=uploader_id,
                        unique_key=f"{case_id}:{uploader_id}:{sha}",
                        kind="chat_log",
                        sha256=sha,
                        size=len(data),
                        media_type="text/plain",
                        extension="txt",
                        uploaded_at=now,
                        chain_index=index,
                        entry_hash="",
                        visibility="members",
                    )
                ).returning(Evidence.id)
                eid = rows[0]["id"]
                meta = ChainMeta(
                    case_id=case_id,
                    evidence_id=eid,
                    kind="chat_log",
                    uploader_id=uploader_id,
                    uploaded_at=rfc3339(now),
                )
                entry = make_entry(index, prev, sha, meta)
                await ChainLink.insert(
                    ChainLink(
                        case=case_id,
                        index=index,
                        unique_key=f"{case_id}:{index}",
                        evidence=eid,
                        evidence_sha256=sha,
                        meta=meta.as_dict(),
                        prev_hash=prev,
                        entry_hash=entry.entry_hash,
                    )
                )
                await Evidence.update({Evidence.entry_hash: entry.entry_hash}).where(Evidence.id == eid)
                index, prev = index + 1, entry.entry_hash


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--chain", type=int, default=10_000)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="chorus-bench-upload-"))
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    env.update(
        CHORUS_DATABASE_URL=f"sqlite:///{tmp}/bench.sqlite",
        CHORUS_VAR_DIR=str(tmp / "var"),
        CHORUS_STORAGE_DIR=str(tmp / "var" / "storage"),
        CHORUS_REDIS_URL=redis_url,
        CHORUS_SECRET_KEY=secrets.token_hex(16),
        CHORUS_UPLOAD_MAX_BYTES=str((args.mb + 10) * 1024 * 1024),
        CHORUS_LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    subprocess.run([PY, "-m", "chorus.cli", "migrate"], env=env, check=True, capture_output=True)

    # a verified organizer with a case, made through the services (not what is measured)
    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.accounts.schemas import UserCreate
    from chorus.cases import service as cases
    from chorus.cases.schemas import MerchantIn, MoneyIn, ReportCreate
    from chorus.merchants.schemas import IdentifierIn
    from chorus.settings import get_settings

    settings = get_settings()
    async with db.connected(settings):
        user = await accounts.register(
            data=UserCreate(email="bench@example.com", password="bench-password-1", display_name="B"),
            settings=settings,
            verified=True,
        )
        _, token = await accounts.login(
            email="bench@example.com", password="bench-password-1", settings=settings
        )
        case_id = (
            await cases.report(
                user=user,
                data=ReportCreate(
                    merchant=MerchantIn(
                        name="Bench shop", identifiers=[IdentifierIn(kind="qq", value="12345678")]
                    ),
                    loss=MoneyIn(amount="1.00", currency="CNY"),
                    incident_date="2026-01-01",  # type: ignore[arg-type]
                ),
            )
        ).case_id

    port = free_port()
    server = subprocess.Popen(
        [PY, "-m", "chorus.cli", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        big = tmp / "big.mp4"
        make_file(big, args.mb)
        size = big.stat().st_size
        baseline_s = min(sha256sum_seconds(big) for _ in range(2))
        hashlib_s = min(hashlib_seconds(big) for _ in range(2))

        # warm the handler once with a small file
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            r = await client.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=headers,
                data={"kind": "other"},
                files={"file": ("w.txt", b"warm up", "text/plain")},
            )
            assert r.status_code == 201, r.text
        rss_before = rss_kb(server.pid)
        hwm_before = rss_kb(server.pid, "VmHWM")

        boundary = "benchboundary" + secrets.token_hex(4)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        peak = rss_before

        async def body():  # type: ignore[no-untyped-def]
            yield head
            with big.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
            yield tail

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, rss_kb(server.pid))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=base, timeout=600) as client:
            r = await client.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers={
                    **headers,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(head) + size + len(tail)),
                },
                content=body(),
            )
        upload_s = time.perf_counter() - started
        sampler.cancel()
        assert r.status_code == 201, r.text
        expected = hashlib.sha256(big.read_bytes()).hexdigest()
        assert r.json()["sha256"] == expected
        hwm_after = rss_kb(server.pid, "VmHWM")
        growth_mb = (max(peak, hwm_after if hwm_after > hwm_before else peak) - rss_before) / 1024

        # a long chain: rows and blobs written in bulk (the same hashing code), verified through HTTP
        async with db.connected(settings):
            started_fill = time.perf_counter()
            await fill_chain(case_id, user.id, args.chain - 2, settings)
            fill_s = time.perf_counter() - started_fill
        started = time.perf_counter()
        v = httpx.get(f"{base}/api/v1/cases/{case_id}/evidence/verify", headers=headers, timeout=600).json()
        verify_s = time.perf_counter() - started
        assert v["ok"], v
    finally:
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)

    mbps = size / upload_s / 1e6
    base_mbps = size / baseline_s / 1e6
    print(f"upload of {size / 1e6:.0f} MB through `chorus web` (uvicorn, one process)")
    print(f"  server RSS before upload   {rss_before / 1024:8.1f} MB")
    print(f"  peak RSS growth            {growth_mb:8.1f} MB   (goal < 32 MB)")
    print(f"  upload time                {upload_s:8.2f} s   = {mbps:.0f} MB/s")
    print(f"  sha256sum same file        {baseline_s:8.2f} s   = {base_mbps:.0f} MB/s")
    print(f"  throughput ratio           {mbps / base_mbps:8.2f}     (goal >= 0.7)")
    print(
        f"  (Python hashlib same file  {hashlib_s:8.2f} s   = {size / hashlib_s / 1e6:.0f} MB/s; "
        f"ratio {mbps / (size / hashlib_s / 1e6):.2f})"
    )
    print(f"chain of {v['entries']} entries (written in bulk in {fill_s:.1f} s)")
    print(f"  verify through HTTP        {verify_s:8.2f} s   ({verify_s / v['entries'] * 1e6:.0f} µs/entry)")


if __name__ == "__main__":
    asyncio.run(main())
