"""Benchmark: evidence upload through a real `chorus web` process, and chain verification.

Prints (not a test; nothing here fails on timing):
- peak RSS growth of the server process while a 200 MB file is uploaded (goal < 32 MB);
- upload throughput, and its ratio to `sha256sum` of the same file measured in the same run
  (goal >= 0.7);
- time to verify a 10,000-entry chain through GET /evidence/verify (goal < 0.5 s): the first
  request and the best of VERIFY_ROUNDS, with the load average (the machine may be shared).

Usage (from the repository root): .venv/bin/python -m bench.upload [--mb 200] [--chain 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from bench._measure import RssSampler, proc_kb, reset_hwm
from bench._seed import BENCH_PASSWORD, Item, evidence_rows, insert_rows, organizer_case, store_blobs
from tests.toolkit import Sandbox, chorus_command, start_web, stop_process

VERIFY_ROUNDS = 3


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


async def fill_chain(case_id: int, uploader_id: int, n: int, settings: Any) -> None:
    """Append n small text items to the case's chain in bulk (bench/_seed.py): the bytes through
    the app's blob store, the chain entries made by the app's own chain code."""
    from datetime import UTC, datetime

    from chorus import db
    from chorus.evidence import service as evidence
    from chorus.evidence.tables import Evidence

    store = evidence.storage_for(settings)
    blobs = await store_blobs(store, (f"chat line {i}\n".encode() for i in range(n)))
    now = datetime.now(UTC)
    items = [
        Item(uploader_id, "chat_log", sha, size, "text/plain", "txt", now, visibility="members")
        for sha, size in blobs
    ]
    async with db.transaction():
        index, prev = await evidence.chain_tail(case_id)
        last = await Evidence.select(Evidence.id).order_by(Evidence.id, ascending=False).first()
        assert last is not None  # the warm-up upload
        seeded = await evidence_rows(case_id, items, first_id=last["id"] + 1, index=index, prev=prev)
        await insert_rows(seeded.evidence)
        await insert_rows(seeded.chain)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--chain", type=int, default=10_000)
    args = parser.parse_args()
    # SQLite, as `make run` gives a newcomer; Redis and the directory are the sandbox's own
    box = Sandbox.start(backend="sqlite", prefix="chorus_bench_upload")
    try:
        box.enter(
            {"CHORUS_UPLOAD_MAX_BYTES": str((args.mb + 10) * 1024 * 1024), "CHORUS_LOG_LEVEL": "WARNING"}
        )
        asyncio.run(bench(args, box))
    finally:
        box.finish()


async def bench(args: argparse.Namespace, box: Sandbox) -> None:
    subprocess.run(chorus_command("migrate"), check=True, capture_output=True)

    # a verified organizer with a case, made through the services (not what is measured)
    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.settings import get_settings

    settings = get_settings()
    async with db.connected(settings):
        user, case_id = await organizer_case(settings, email="bench@example.com", display_name="B")
        _, token = await accounts.login(email="bench@example.com", password=BENCH_PASSWORD, settings=settings)

    server, base = start_web(log=box.tmp / "web.log")
    headers = {"Authorization": f"Bearer {token}"}
    sampler = RssSampler(server.pid)
    try:
        big = box.tmp / "big.mp4"
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
        rss_before = sampler.window()
        hwm_ok = reset_hwm(server.pid)

        boundary = "benchboundary" + secrets.token_hex(4)
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n'
            "Content-Type: video/mp4\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        async def body() -> AsyncIterator[bytes]:
            yield head
            with big.open("rb") as fh:
                while chunk := fh.read(1 << 20):
                    yield chunk
            yield tail

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
        peak = max(sampler.peak(), proc_kb(server.pid, "VmHWM") if hwm_ok else 0)
        assert r.status_code == 201, r.text
        expected = hashlib.sha256(big.read_bytes()).hexdigest()
        assert r.json()["sha256"] == expected
        growth_mb = (peak - rss_before) / 1024

        # a long chain, written in bulk (bench/_seed.py), verified through HTTP
        async with db.connected(settings):
            started_fill = time.perf_counter()
            await fill_chain(case_id, user.id, args.chain - 2, settings)
            fill_s = time.perf_counter() - started_fill
        verify_s: list[float] = []
        for _ in range(VERIFY_ROUNDS):
            started = time.perf_counter()
            v = httpx.get(
                f"{base}/api/v1/cases/{case_id}/evidence/verify", headers=headers, timeout=600
            ).json()
            verify_s.append(time.perf_counter() - started)
            assert v["ok"], v
        load = os.getloadavg()
    finally:
        sampler.stop()
        stop_process(server)

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
    print(
        f"chain of {v['entries']} entries ({args.chain - 2} appended in bulk by the app's chain code in {fill_s:.1f} s)"
    )
    first, best = verify_s[0], min(verify_s)
    print(
        f"  verify through HTTP        {first:8.2f} s   ({first / v['entries'] * 1e6:.0f} µs/entry; goal < 0.5 s)"
    )
    print(
        f"  best of {VERIFY_ROUNDS} requests       {best:8.2f} s   ({', '.join(f'{t:.2f}' for t in verify_s)})"
    )
    print(
        f"  load average at the end    {load[0]:8.2f}     (1 min; {load[1]:.2f} over 5 min, on {os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
