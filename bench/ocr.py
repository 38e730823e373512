"""Benchmark: receipts read by one `chorus worker` while `chorus web` keeps answering (issue 19).

1. A sandbox (SQLite, as `make run` gives a newcomer; Redis of its own), `chorus web` (one
   process) and one `chorus worker`, both subprocesses with the settings' defaults
   (CHORUS_OCR_CONCURRENCY=1, CHORUS_OCR_THREADS=1).
2. A warm-up receipt: upload → extraction done (the worker loads the OCR model on its first one).
3. The 12 fixture images of tests/fixtures/ocr, --rounds times (each copy made distinct by a PNG
   text chunk, so none is deduplicated), uploaded at once through POST /api/v1/cases/{id}/evidence;
   receipts per second from the first upload to the last extraction done; meanwhile GET /healthz
   every 100 ms (its slowest answer: goal under 0.2 s), and --idle seconds of the same probe before
   any OCR runs (the baseline of a loaded machine).
4. Fields: each fixture's expected fields (tests/fixtures/ocr/expected.json) against what the API
   answers (goal: every payee account and amount).

Usage (from the repository root, the [ocr] extra installed): .venv/bin/python -m bench.ocr [--rounds 2]
Prints numbers; nothing here fails on timing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, PngImagePlugin

from bench._seed import BENCH_PASSWORD, organizer_case
from tests.toolkit import Sandbox, chorus_command, start_chorus, start_web, stop_process

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ocr"


class HealthProbe(threading.Thread):
    """GET /healthz every 100 ms: the slowest answer, how many, how many not 200."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.slowest, self.count, self.failed = base, 0.0, 0, 0
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self.halt.is_set():
                t = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.slowest = max(self.slowest, time.perf_counter() - t)
                self.count += 1
                self.failed += not ok
                self.halt.wait(0.1)


def distinct(png: bytes, n: int) -> bytes:
    """The same pixels with a text chunk naming the copy: other bytes, so another evidence item."""
    img = Image.open(io.BytesIO(png))
    info = PngImagePlugin.PngInfo()
    info.add_text("copy", str(n))
    out = io.BytesIO()
    img.save(out, "PNG", pnginfo=info)
    return out.getvalue()


async def upload(client: httpx.AsyncClient, case_id: int, headers: dict[str, str], png: bytes) -> int:
    r = await client.post(
        f"/api/v1/cases/{case_id}/evidence",
        headers=headers,
        data={"kind": "payment_receipt"},
        files={"file": ("receipt.png", png, "image/png")},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def wait_done(client: httpx.AsyncClient, ids: list[int], headers: dict[str, str]) -> dict[int, Any]:
    done: dict[int, Any] = {}
    while len(done) < len(ids):
        for i in ids:
            if i in done:
                continue
            read = (await client.get(f"/api/v1/evidence/{i}/extraction", headers=headers)).json()
            if read["status"] != "pending":
                done[i] = read
        await asyncio.sleep(0.2)
    return done


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2, help="times each of the 12 fixtures is uploaded")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of /healthz probes before any OCR")
    args = parser.parse_args()
    box = Sandbox.start(backend="sqlite", prefix="chorus_bench_ocr")
    try:
        box.enter({"CHORUS_LOG_LEVEL": "WARNING"})
        asyncio.run(bench(args, box))
    finally:
        box.finish()


async def bench(args: argparse.Namespace, box: Sandbox) -> None:
    subprocess.run(chorus_command("migrate"), check=True, capture_output=True)
    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.evidence import ocr
    from chorus.settings import get_settings

    if not ocr.available():
        print("the [ocr] extra is not installed: nothing to measure")
        return
    settings = get_settings()
    async with db.connected(settings):
        _, case_id = await organizer_case(settings, email="bench@example.com", display_name="B")
        _, token = await accounts.login(email="bench@example.com", password=BENCH_PASSWORD, settings=settings)
    headers = {"Authorization": f"Bearer {token}"}
    expected: dict[str, list[list[str]]] = json.loads((FIXTURES / "expected.json").read_text("utf-8"))
    images = {name: (FIXTURES / f"{name}.png").read_bytes() for name in expected}

    server, base = start_web(log=box.tmp / "web.log")
    worker = start_chorus(["worker"], log=box.tmp / "worker.log", env=dict(os.environ))
    try:
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            t = time.perf_counter()
            first = await upload(client, case_id, headers, distinct(images["alipay_full_zh"], -1))
            await wait_done(client, [first], headers)
            print(
                f"warm-up: first receipt read in {time.perf_counter() - t:.2f} s (worker start, model load)"
            )

            # the same probe with nothing to read first: on a loaded machine, the baseline
            idle = HealthProbe(base)
            idle.start()
            await asyncio.sleep(args.idle)
            idle.halt.set()
            idle.join()

            probe = HealthProbe(base)
            probe.start()
            started = time.perf_counter()
            names = [name for _ in range(args.rounds) for name in expected]
            ids = [
                await upload(client, case_id, headers, distinct(images[name], n))
                for n, name in enumerate(names)
            ]
            done = await wait_done(client, ids, headers)
            wall = time.perf_counter() - started
            probe.halt.set()
            probe.join()

        print(
            f"{len(ids)} receipts through 1 worker in {wall:.1f} s: {len(ids) / wall:.2f} receipts/s "
            f"({os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f})"
        )
        print(
            f"/healthz meanwhile: slowest {probe.slowest * 1000:.0f} ms over {probe.count} probes, "
            f"{probe.failed} not 200 (goal < 200 ms); with no OCR running, same run: slowest "
            f"{idle.slowest * 1000:.0f} ms over {idle.count} probes"
        )
        wanted = right = 0
        accounts_amounts = [0, 0]
        for evidence_id, name in zip(ids, names, strict=True):
            read = done[evidence_id]
            got = {
                (f["kind"], v)
                for f in read["fields"]
                for v in (f["value"], f["detail"].get("visible_digits"))
            }
            for kind, value in expected[name]:
                wanted += 1
                right += (kind, value) in got
                if kind in ("payee_account", "amount"):
                    accounts_amounts[0] += 1
                    accounts_amounts[1] += (kind, value) in got
        print(
            f"fields correct: {right}/{wanted}; payee accounts and amounts: {accounts_amounts[1]}/{accounts_amounts[0]}"
        )
    finally:
        stop_process(worker)
        stop_process(server)


if __name__ == "__main__":
    main()
