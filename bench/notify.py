"""Benchmark: one status change to a case of N members (default 10,000) through real `chorus
worker` processes and a real SMTP server (aiosmtpd, in this process).

Prints (not a test; nothing here fails on timing):
- the fan-out of one event (inbox rows, deliveries, send jobs in the outbox) in process: seconds
  for N inbox rows (goal < 2 s);
- the whole path of a second event (outbox → arq → fan-out → batch jobs → SMTP): wall time from
  the commit to the last e-mail accepted (goal < 60 s), e-mails per second;
- the ceiling: a bare aiosmtplib loop sending the same N messages over one connection to the
  same server, measured in the same run, and the ratio (goal >= 0.5);
- duplicates and misses counted by recipient (goal 0 and 0).

Usage (from the repository root):
    .venv/bin/python -m bench.notify [--members 10000] [--workers 2] [--backend postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from bench._seed import organizer_case
from tests.toolkit import Sandbox, chorus_command, free_port, start_chorus, stop_process


class CountingSink:
    """An SMTP server that only counts who got what (parsing would make it the bottleneck)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.recipients: collections.Counter[str] = collections.Counter()
        self.total = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.recipients[rcpt] += 1
            self.total += 1
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.recipients.clear()
            self.total = 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="chorus worker processes")
    parser.add_argument("--batch", type=int, default=200, help="CHORUS_NOTIFY_BATCH_SIZE")
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    box = Sandbox.start(backend=args.backend, prefix="chorus_bench_notify")
    port = free_port()
    try:
        box.enter(
            {
                "CHORUS_SMTP_HOST": "127.0.0.1",
                "CHORUS_SMTP_PORT": str(port),
                "CHORUS_LOG_LEVEL": "WARNING",
                "CHORUS_NOTIFY_BATCH_SIZE": str(args.batch),
                "CHORUS_OUTBOX_RELAY_SECONDS": "0.1",
            }
        )
        asyncio.run(bench(args, box, port))
    finally:
        box.finish()


async def bench(args: argparse.Namespace, box: Sandbox, port: int) -> None:
    subprocess.run(chorus_command("migrate"), check=True, capture_output=True)
    from chorus import db
    from chorus.accounts import service as accounts
    from chorus.cases import service as cases
    from chorus.jobs import OutboxRow
    from chorus.notifications import delivery
    from chorus.notifications import service as notifications
    from chorus.notifications.tables import Delivery, InboxEntry
    from chorus.settings import get_settings
    from tests.integration.notify_support import seed_members

    settings = get_settings()
    n = args.members
    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        async with db.connected(settings):
            _, case_id = await organizer_case(settings, email="org@bench.example.com", display_name="组织者")
            started = time.perf_counter()
            await seed_members(case_id, n - 1)
            print(f"seeded a case of {n:,} members in {time.perf_counter() - started:.1f} s ({args.backend})")
            await OutboxRow.delete(force=True)  # the organizer's own set-up mails: not measured

            # 1. the fan-out alone, in process
            async with db.transaction():
                first = await notifications.record(
                    kind="case.filing_status",
                    case_id=case_id,
                    data={"filing_id": 1, "regulator_id": 1, "status": "submitted"},
                    source="bench:fan-out",
                    audience="members",
                )
            assert first is not None
            started = time.perf_counter()
            made = await notifications.fan_out(first, settings)
            fan_out_s = time.perf_counter() - started
            rows = await InboxEntry.count().where(InboxEntry.event == first)
            print(
                f"fan-out of one event: {made:,} inbox rows (+{n:,} deliveries, {-(-n // args.batch)} send jobs) "
                f"in {fan_out_s:.2f} s   (goal < 2 s)   [{rows:,} rows in the inbox]"
            )
            # not sent: this event only measured the fan-out
            await OutboxRow.delete(force=True)
            await Delivery.update({Delivery.status: "skipped"}).where(Delivery.event == first)

            # 3 (prepared now, measured last). the same messages, rendered by the app
            contacts = await accounts.contacts(await cases.member_ids(case_id))
            renderer = delivery.batch_of(
                {
                    "kind": "case.filing_status",
                    "case_id": case_id,
                    "data": {"filing_id": 1, "regulator_id": 1, "status": "accepted"},
                },
                settings,
            )
            messages = [
                delivery.email_message(
                    settings,
                    batch=renderer,
                    user_id=user_id,
                    contact=contact,
                    key=f"bare-{user_id}",
                )
                for user_id, contact in sorted(contacts.items())
            ]

        # 2. the whole path, through real worker processes
        env = {**os.environ, "CHORUS_LOG_LEVEL": "INFO"}  # its start-up line is how we know it is up
        workers = [
            start_chorus(["worker"], log=box.tmp / f"worker{i}.log", env=env) for i in range(args.workers)
        ]
        try:
            for i, proc in enumerate(workers):
                log = box.tmp / f"worker{i}.log"
                deadline = time.monotonic() + 60
                while "worker.started" not in (log.read_text() if log.exists() else ""):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"worker {i} did not start:\n{log.read_text()[-2000:]}")
                    await asyncio.sleep(0.1)
            sink.reset()
            async with db.connected(settings):
                started = time.perf_counter()
                async with db.transaction():
                    second = await notifications.record(
                        kind="case.filing_status",
                        case_id=case_id,
                        data={"filing_id": 1, "regulator_id": 1, "status": "accepted"},
                        source="bench:accepted",
                        audience="members",
                    )
                deadline = time.monotonic() + 600
                while sink.total < n and time.monotonic() < deadline:  # noqa: ASYNC110 - another thread counts
                    await asyncio.sleep(0.05)
                wall = time.perf_counter() - started
                settle = time.monotonic() + 30  # anything beyond N (a duplicate) would arrive now
                while time.monotonic() < settle:
                    if (
                        await Delivery.count().where(
                            (Delivery.event == second) & Delivery.status.is_in(["pending", "sending"])
                        )
                        == 0
                    ):
                        break
                    await asyncio.sleep(0.2)
                sent = await Delivery.count().where((Delivery.event == second) & (Delivery.status == "sent"))
        finally:
            for proc in workers:
                stop_process(proc)
        got = dict(sink.recipients)
        expected = {c["email"] for c in contacts.values()}
        duplicates = sum(c - 1 for c in got.values() if c > 1)
        misses = len(expected - set(got))
        rate = sink.total / wall if wall else 0.0
        print(
            f"status change → {sink.total:,} e-mails through {args.workers} worker(s) in {wall:.1f} s "
            f"(goal < 60 s): {rate:,.0f} e-mails/s; deliveries marked sent: {sent:,}"
        )
        print(f"duplicates: {duplicates}   misses: {misses}   (goal 0 and 0)")

        # 3. the ceiling: a bare aiosmtplib loop, one connection, the same messages, same server
        import aiosmtplib

        sink.reset()
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30)
        await client.connect()
        started = time.perf_counter()
        for message in messages:
            await client.send_message(message)
        bare = time.perf_counter() - started
        await client.quit()
        bare_rate = len(messages) / bare
        print(f"bare aiosmtplib loop: {len(messages):,} e-mails in {bare:.1f} s: {bare_rate:,.0f} e-mails/s")
        print(f"ratio Chorus / bare loop: {rate / bare_rate:.2f}   (goal >= 0.5)")
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
