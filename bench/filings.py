"""Benchmark: the status sweep over N live ``http`` filings (default 1,000) against the regulator
simulator (`chorus regulator-sim`, a process of its own, on a real socket).

Prints (not a test; nothing here fails on timing):
- one sweep over N unchanged filings (the simulator answers the status they have, accepted,
  with a message that says so, which the sweep reads and finds no news in): wall time,
  status requests per filing (goal: 1) and SQL statements per filing (goal: at most 2), counted
  as they are sent (Piccolo's engine, every statement but BEGIN/COMMIT; HTTP requests at httpx);
- the ceiling: a bare loop of the same N GETs over one keep-alive connection (httpx, no
  database), measured in the same run, and the ratio sweep / bare loop;
- a second sweep at once: nothing is due (each regulator's minimum interval), no request;
- a sweep in which M filings changed (their status in the database behind the simulator's):
  statements per changed filing (each goes through filings.service.apply_change: the filing,
  its event, the deadline, the case's timeline, the members told through the outbox);
- deadline computations per second: the acceptance (7) and conclusion (45) deadlines in China's
  working days from start days spread over 2025-2027 (holidays and make-up working days).

Usage (from the repository root):
    .venv/bin/python -m bench.filings [--filings 1000] [--changed 100] [--backend postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from bench._measure import Phase, QueryTrace
from bench._seed import organizer_case
from tests.toolkit import Sandbox, chorus_command, free_port, start_chorus, stop_process, wait_for_port

KEY_ENV = "CHORUS_REGULATOR_KEY_BENCH_SIM"
KEY = "bench-simulator-key"
BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--filings", type=int, default=1000)
    parser.add_argument(
        "--changed", type=int, default=100, help="filings whose status changes in the last sweep"
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    box = Sandbox.start(backend=args.backend, prefix="chorus_bench_filings")
    try:
        box.enter({"CHORUS_LOG_LEVEL": "WARNING", KEY_ENV: KEY})
        subprocess.run(chorus_command("migrate"), check=True, capture_output=True)
        port = free_port()
        sim = start_chorus(
            # every complaint answers "accepted" (and its message) from the start, and stays so
            ["regulator-sim", "--port", str(port), "--progression", "accepted", "--api-key-env", KEY_ENV],
            log=box.tmp / "simulator.log",
        )
        try:
            wait_for_port(port, proc=sim)
            asyncio.run(bench(args, f"http://127.0.0.1:{port}/v1"))
        finally:
            stop_process(sim)
    finally:
        box.finish()


@contextmanager
def counted_requests() -> Iterator[list[str]]:
    """Every HTTP request httpx sends within the block (method and URL), whoever sends it."""
    sent: list[str] = []
    original = httpx.AsyncClient.send

    async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        sent.append(f"{request.method} {request.url}")
        return await original(client, request, **kwargs)

    httpx.AsyncClient.send = send  # type: ignore[method-assign,assignment]
    try:
        yield sent
    finally:
        httpx.AsyncClient.send = original  # type: ignore[method-assign]


async def file_with_simulator(base: str, n: int) -> list[str]:
    """n complaints filed with the simulator (protocol v1, one keep-alive client): their references."""
    body = {
        "external_id": "",
        "title": "bench",
        "merchant": {"name": "Bench shop", "identifiers": []},
        "complainant_count": 1,
        "total_loss": [{"amount": "1.00", "currency": "CNY"}],
        "body_markdown": "# bench",
        "body_html": "<h1>bench</h1>",
        "evidence": [],
        "bundle_sha256": "0" * 64,
    }
    refs = []
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as c:
        for i in range(n):
            r = await c.post(
                "/complaints",
                json={**body, "external_id": f"bench-{i}"},
                headers={"Idempotency-Key": f"bench-{i}"},
            )
            r.raise_for_status()
            refs.append(r.json()["reference"])
    return refs


async def insert_returning(rows: list[Any]) -> list[int]:
    """Rows of one table, ``BATCH`` to a statement; their ids in order."""
    table, ids = type(rows[0]), []
    for start in range(0, len(rows), BATCH):
        ids += [
            r["id"]
            for r in await table.insert(*rows[start : start + BATCH]).returning(table._meta.primary_key)
        ]
    return ids


async def seed(base: str, n: int, settings: Any) -> tuple[int, list[int]]:
    """A regulator whose HTTP channel is the simulator, and n cases each with a live filing the
    simulator accepted (with its reference and the events the worker records), written in bulk.
    Returns the regulator and the filing ids."""
    from chorus.cases.tables import Case
    from chorus.complaints.tables import Complaint
    from chorus.filings.tables import Filing, FilingEvent
    from chorus.merchants.tables import Merchant
    from chorus.regulators import service as regulators
    from chorus.regulators.schemas import RegulatorCreate

    user, _ = await organizer_case(settings, email="org@bench.example.com", display_name="Org")
    regulator = await regulators.create(
        data=RegulatorCreate(
            name="模拟监管部门（bench）",
            jurisdiction="bench",
            channel="http",
            address=base,
            credentials_env=KEY_ENV,
            accept_working_days=7,
            finish_working_days=45,
        ),
        actor=user,
        settings=settings,
    )
    refs = await file_with_simulator(base, n)
    now = datetime.now(UTC)
    merchants = await insert_returning([Merchant(name=f"Bench shop {i}") for i in range(n)])
    cases = await insert_returning([Case(merchant=m, status="filing") for m in merchants])
    markdown = "# 关于 Bench shop 的集体投诉\n"
    complaints = await insert_returning(
        [
            Complaint(
                case=c,
                regulator=regulator.id,
                version=1,
                locale="zh-CN",
                markdown=markdown,
                sha256=hashlib.sha256(markdown.encode()).hexdigest(),
                chain_head="0" * 64,
                created_by=user.id,
                filed_at=now,
            )
            for c in cases
        ]
    )
    filings = await insert_returning(
        [
            Filing(
                case=c,
                complaint=k,
                regulator=regulator.id,
                status="accepted",
                reference=ref,
                created_by=user.id,
                created_at=now,
                updated_at=now,
            )
            for c, k, ref in zip(cases, complaints, refs, strict=True)
        ]
    )
    events = [
        FilingEvent(filing=f, at=now, status=status, source=source, reference=ref)
        for f, ref in zip(filings, refs, strict=True)
        for status, source in (
            ("queued", "organizer"),
            ("submitted", "worker"),
            ("received", "regulator"),
            ("accepted", "regulator"),
        )
    ]
    await insert_returning(events)
    return regulator.id, filings


async def bare_loop(base: str, refs: list[str]) -> float:
    """The ceiling: the same GETs over one keep-alive connection, nothing else."""
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {KEY}"}) as c:
        started = time.perf_counter()
        for ref in refs:
            r = await c.get(f"/complaints/{ref}")
            r.raise_for_status()
            r.json()
        return time.perf_counter() - started


async def measured_sweep(settings: Any, trace: QueryTrace, at: datetime) -> tuple[Any, float, int, int]:
    """One sweep at ``at``: (its result, seconds, statements, requests)."""
    from chorus.filings import submit

    trace.current = []
    trace.active = True
    with counted_requests() as sent:
        started = time.perf_counter()
        result = await submit.poll(settings, now=at)
        seconds = time.perf_counter() - started
    trace.active = False
    return result, seconds, len(trace.current), len(sent)


def deadline_rate(seconds: float = 2.0) -> tuple[float, int]:
    """Deadline computations per second (and how many were made) over ``seconds``."""
    from chorus.filings import deadlines

    starts = [date(2025, 1, 1) + timedelta(days=d) for d in range(0, 3 * 365)]
    for s in starts[::30]:  # the calendars loaded once, as a running process has them
        deadlines.add_working_days(s, 45, "CN")
    made, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for s in starts:
            deadlines.add_working_days(s, 7, "CN")
            deadlines.add_working_days(s, 45, "CN")
        made += 2 * len(starts)
    return made / (time.perf_counter() - started), made


async def bench(args: argparse.Namespace, base: str) -> None:
    from chorus import db
    from chorus.filings.tables import Filing
    from chorus.settings import get_settings

    settings = get_settings()
    n = args.filings
    async with db.connected(settings):
        with Phase(f"seed: {n:,} cases, each with a live filing the simulator accepted"):
            _, filing_ids = await seed(base, n, settings)
            refs = [r["reference"] for r in await Filing.select(Filing.reference).order_by(Filing.id)]

        with Phase("ceiling: a bare loop of the same GETs over one keep-alive connection"):
            await bare_loop(base, refs[:50])  # warm: connection, code paths
            bare = await bare_loop(base, refs)
            print(f"   {n:,} GETs in {bare:.2f} s ({n / bare:,.0f}/s)")

        trace = QueryTrace()
        try:
            t0 = datetime.now(UTC)
            with Phase(f"sweep: {n:,} filings due, none changed"):
                result, wall, statements, requests = await measured_sweep(settings, trace, t0)
                print(f"   {result}")
                print(f"   wall {wall:.2f} s  ({n / wall:,.0f} filings/s)")
                print(f"   status requests per filing {requests / n:.3f}   (goal 1)")
                print(f"   SQL statements {statements} = {statements / n:.4f} per filing   (goal <= 2)")
                print(f"   ratio sweep / bare loop of the same GETs: {wall / bare:.2f}")
            unchanged = (wall, statements, requests)

            with Phase("the next sweep a minute later: nothing is due (the regulator's minimum interval)"):
                result, wall, statements, requests = await measured_sweep(
                    settings, trace, t0 + timedelta(minutes=1)
                )
                print(f"   {result}: {requests} requests, {statements} statements, {wall * 1000:.1f} ms")

            m = min(args.changed, n)
            with Phase(
                f"sweep after the interval, {m:,} of {n:,} filings changed (their status behind the simulator's)"
            ):
                await Filing.update({Filing.status: "received"}).where(Filing.id.is_in(filing_ids[:m]))
                result, wall, statements, requests = await measured_sweep(
                    settings, trace, t0 + timedelta(hours=1)
                )
                per_changed = (statements - unchanged[1]) / m if m else 0.0
                print(f"   {result}")
                print(f"   wall {wall:.2f} s, requests {requests}, SQL statements {statements}")
                print(
                    f"   statements per changed filing ~{per_changed:.1f} (beyond the unchanged sweep's {unchanged[1]})"
                )
        finally:
            trace.remove()

    with Phase("deadline computations"):
        rate, made = deadline_rate()
        print(
            f"   {rate:,.0f} deadline computations/s ({made:,} made: 7 and 45 working days, CN, 2025-2027 starts)"
        )

    wall, statements, requests = unchanged
    print("\n== summary")
    print(
        f"   sweep of {n:,} unchanged live http filings: {wall:.2f} s; bare loop of the same GETs {bare:.2f} s; ratio {wall / bare:.2f}"
    )
    print(
        f"   per unchanged filing: {requests / n:.3f} status requests (goal 1), {statements / n:.4f} SQL statements (goal <= 2)"
    )
    print(f"   deadline computations: {rate:,.0f}/s")


if __name__ == "__main__":
    main()
