"""Set-up for the notification tests and bench/notify.py: a case with many members (rows written
in bulk, as the app's services would leave them), SMTP servers that hold or refuse, a webhook
receiver on a real socket, and running the queue until nothing is left."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.toolkit import free_port


async def seed_members(
    case_id: int, count: int, *, prefix: str = "m", locales: tuple[str, ...] = ("zh-CN", "en")
) -> list[int]:
    """``count`` verified users who joined ``case_id`` as plain members (bulk inserts)."""
    from chorus.accounts.tables import User
    from chorus.cases.tables import Membership

    now = datetime.now(UTC)
    ids: list[int] = []
    for start in range(0, count, 500):
        users = [
            User(
                email=f"{prefix}{i}@members.example.com",
                password_hash="-",
                display_name=f"成员{i}",
                locale=locales[i % len(locales)],
                roles="user",
                email_verified_at=now,
            )
            for i in range(start, min(count, start + 500))
        ]
        rows = await User.insert(*users).returning(User.id)
        batch = [r["id"] for r in rows]
        ids += batch
        await Membership.insert(
            *(
                Membership(
                    case=case_id,
                    user=u,
                    role="member",
                    loss_amount=Decimal("100.00"),
                    loss_currency="CNY",
                    incident_date=date(2026, 10, 1),
                    order_refs=[],
                    statement="",
                    identifiers=[],
                )
                for u in batch
            )
        )
    return ids


async def drain(worker: Any, limit: int = 50) -> int:
    """Run burst workers (each relays the outbox first) until no job and no outbox row is left."""
    from chorus import jobs

    total = 0
    for _ in range(limit):
        done = await worker()
        total += done
        if done == 0 and await jobs.pending_count() == 0:
            return total
    raise AssertionError("the queue never emptied")


# --- SMTP servers ------------------------------------------------------------------------------


@dataclass
class Sink:
    """An SMTP server that records messages; it can refuse recipients (5xx) and hold the
    ``hold_at``-th message until released, after which messages of sessions opened before the
    release are refused (their client was killed: it never heard "250")."""

    refuse: set[str] = field(default_factory=set)
    hold_at: int | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    epoch: int = 0
    port: int = 0
    stale_refused: int = 0
    sessions: set[int] = field(default_factory=set)  # SMTP connections that sent mail

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if not hasattr(session, "chorus_epoch"):
            session.chorus_epoch = self.epoch
        self.sessions.add(id(session))
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            count = len(self.messages)
        if self.hold_at is not None and count + 1 >= self.hold_at and not self.release.is_set():
            self.reached.set()
            self.release.wait(timeout=120)  # blocks this server's loop: nothing else is answered
        if getattr(session, "chorus_epoch", self.epoch) != self.epoch:
            self.stale_refused += 1
            return "451 4.3.0 try again later"
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


@contextmanager
def smtp_sink(**kwargs: Any) -> Iterator[Sink]:
    sink = Sink(**kwargs)
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        sink.release.set()
        controller.stop()


# --- a webhook receiver ------------------------------------------------------------------------


@dataclass
class Receiver:
    """Answers with ``statuses`` in turn (then the last one), verifying each signature with
    ``secret``; keeps what arrived."""

    statuses: list[int] = field(default_factory=lambda: [200])
    secret: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    calls: int = 0
    url: str = ""


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    from chorus.notifications import webhook

    box = Receiver(statuses=statuses or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = webhook.verify(
                box.secret,
                self.headers.get(webhook.TIMESTAMP_HEADER, ""),
                body,
                self.headers.get(webhook.SIGNATURE_HEADER, ""),
            )
            status = box.statuses[min(box.calls, len(box.statuses) - 1)]
            box.calls += 1
            if not ok:
                box.bad_signatures += 1
                status = 401
            elif status < 300:
                box.received.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
