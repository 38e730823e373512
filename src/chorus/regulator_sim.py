"""A regulator's HTTP gateway, simulated: protocol v1 of API.md on a real socket, for demos
(``chorus regulator-sim --port P``) and as the base of the tests' stand-in.

    POST {base}/complaints        Authorization: Bearer {api key}, Idempotency-Key: {key}
                                  → 201 {reference, status: "received"}; a repeated key answers
                                  the first answer again (whatever the body), 4xx for a wrong key,
                                  a missing Idempotency-Key or missing fields
    GET  {base}/complaints/{ref}  → 200 {reference, status, updated_at, message}, 404 unknown

Each complaint moves along a scripted progression — received → accepted → in_mediation →
resolved — one step every ``step_seconds`` after it arrived (computed when asked: nothing runs
in the background), with the message a regulator would give at that step. ``set_status`` pins a
complaint's status (the progression stops for it); ``advance`` moves the simulator's clock.
Everything is kept in memory; with ``state_path`` (``--state FILE``, which ``chorus run
--regulator-sim`` gives it under CHORUS_VAR_DIR) what a restarted simulator must know is also kept
in that file: each complaint's reference, idempotency key, arrival and pinned status — never its
body, which names the victims. Without it a restarted simulator knows no complaint (404).

The product never imports this module (an import-linter contract): only ``chorus.cli`` does,
lazily, for the ``regulator-sim`` command.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, Router, get, post
from litestar.exceptions import SerializationException
from litestar.params import FromPath

BASE_PATH = "/v1"
STATUSES = ("received", "accepted", "rejected", "in_mediation", "resolved", "closed")  # protocol v1's
PROGRESSION = ("received", "accepted", "in_mediation", "resolved")
# What the simulated regulator says at each step (it speaks Chinese, as the regulators modelled).
MESSAGES = {
    "received": "投诉已收到，将在七个工作日内决定是否受理。",
    "accepted": "投诉已受理，我局将依法处理。",
    "in_mediation": "已通知被投诉人，调解进行中。",
    "resolved": "调解成功，本投诉已办结。",
    "rejected": "经审查，本投诉不予受理。",
    "closed": "调解不成，终止调解。",
}
REQUIRED = (
    "external_id",
    "title",
    "merchant",
    "complainant_count",
    "total_loss",
    "body_markdown",
    "body_html",
    "evidence",
    "bundle_sha256",
)


@dataclass
class Complaint:
    reference: str
    received_at: datetime
    body: dict[str, Any]  # as filed ({} once reloaded from a state file)
    pinned: tuple[str, str, datetime] | None = None  # (status, message, updated_at) set by hand
    key: str = ""  # the idempotency key it was filed under


@dataclass
class Simulator:
    """One simulated gateway. ``api_key`` None accepts any caller; ``step_seconds`` None keeps
    every complaint ``received`` until ``set_status`` says otherwise."""

    api_key: str | None = None
    step_seconds: float | None = 60.0
    progression: tuple[str, ...] = PROGRESSION
    messages: Mapping[str, str] = field(default_factory=lambda: dict(MESSAGES))
    skew: timedelta = timedelta(0)  # added to the wall clock: ``advance`` moves time on
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # by Idempotency-Key
    complaints: dict[str, Complaint] = field(default_factory=dict)  # by reference
    base_url: str = ""  # set once serving
    state_path: Path | None = None  # where what a restart must know is kept (None: nowhere)

    # --- the protocol, without HTTP ------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock ``seconds`` on (complaints progress as if time had passed)."""
        self.skew += timedelta(seconds=seconds)

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return self.api_key is None or headers.get("authorization") == f"Bearer {self.api_key}"

    def receive(self, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        """A complaint under an idempotency key: the first answer again for a key seen before,
        422 for a body missing protocol fields, else a new reference (201)."""
        if key in self.answers:
            return self.answers[key]
        missing = [f for f in REQUIRED if f not in body] if isinstance(body, dict) else list(REQUIRED)
        if missing:
            return 422, {"message": f"missing fields: {', '.join(missing)}"}
        reference = f"REG-{len(self.complaints) + 1:04d}"
        self.complaints[reference] = Complaint(reference, self.now(), body, key=key)
        answer = {"reference": reference, "status": self.progression[0]}
        self.answers[key] = (201, answer)
        self._save()
        return 201, answer

    def view(self, reference: str) -> dict[str, Any] | None:
        """A complaint as GET answers it now, or None if unknown."""
        complaint = self.complaints.get(reference)
        if complaint is None:
            return None
        if complaint.pinned is not None:
            status, message, updated_at = complaint.pinned
        else:
            step = 0
            if self.step_seconds:
                elapsed = (self.now() - complaint.received_at).total_seconds()
                step = min(int(elapsed // self.step_seconds), len(self.progression) - 1)
            status = self.progression[step]
            message = self.messages.get(status, "")
            updated_at = complaint.received_at + timedelta(seconds=(self.step_seconds or 0) * step)
        return {
            "reference": reference,
            "status": status,
            "updated_at": updated_at.isoformat(),
            "message": message,
        }

    def set_status(self, reference: str, status: str, message: str = "") -> None:
        """The regulator decides by hand: this status and message from now on."""
        self.complaints[reference].pinned = (status, message, self.now())
        self._save()

    # --- kept across restarts (``state_path``) -------------------------------------------------

    def _save(self) -> None:
        if self.state_path is None:
            return
        kept = [
            {
                "reference": c.reference,
                "key": c.key,
                "received_at": c.received_at.isoformat(),
                "pinned": [c.pinned[0], c.pinned[1], c.pinned[2].isoformat()] if c.pinned else None,
            }
            for c in self.complaints.values()
        ]
        part = self.state_path.with_name(f"{self.state_path.name}.part")
        part.write_text(json.dumps({"complaints": kept}, ensure_ascii=False), encoding="utf-8")
        os.replace(part, self.state_path)  # whole or not at all, even if stopped while writing

    def load(self) -> None:
        """What an earlier run kept in ``state_path`` (nothing when the file is not there yet):
        its complaints answer GET again, and a POST under a key seen before the same answer."""
        if self.state_path is None or not self.state_path.exists():
            return
        for c in json.loads(self.state_path.read_text(encoding="utf-8"))["complaints"]:
            pinned = c["pinned"]
            complaint = Complaint(
                c["reference"],
                datetime.fromisoformat(c["received_at"]),
                {},
                (pinned[0], pinned[1], datetime.fromisoformat(pinned[2])) if pinned else None,
                key=c["key"],
            )
            self.complaints[complaint.reference] = complaint
            answer = {"reference": complaint.reference, "status": self.progression[0]}
            self.answers[complaint.key] = (201, answer)

    # --- hooks for a stand-in built on this (tests record and misbehave) -----------------------

    def posted(self, headers: Mapping[str, str], body: Any) -> None:
        """A POST arrived (before any check)."""

    def read(self, reference: str) -> None:
        """A GET arrived (before any check)."""

    async def interfere(self) -> tuple[int, dict[str, Any]] | None:
        """An answer to give an authorized POST instead of the protocol's (None: no)."""
        return None

    # --- HTTP ----------------------------------------------------------------------------------

    def app(self) -> Litestar:
        sim = self

        def answer(code: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
            return Response(body, status_code=code)

        @post("/complaints")
        async def create(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            try:
                body = await request.json()
            except SerializationException:
                return answer(400, {"message": "the body is not JSON"})
            sim.posted(request.headers, body)
            if not sim.authorized(request.headers):
                return answer(401, {"message": "invalid API key"})
            key = request.headers.get("idempotency-key")
            if not key:
                return answer(400, {"message": "Idempotency-Key is required"})
            instead = await sim.interfere()
            return answer(*(instead or sim.receive(key, body)))

        @get("/complaints/{reference:str}")
        async def status(
            request: Request[Any, Any, Any], reference: FromPath[str]
        ) -> Response[dict[str, Any]]:
            sim.read(reference)
            if not sim.authorized(request.headers):
                return answer(401, {"message": "invalid API key"})
            found = sim.view(reference)
            return answer(200, found) if found else answer(404, {"message": "no such complaint"})

        return Litestar(route_handlers=[Router(path=BASE_PATH, route_handlers=[create, status])], debug=False)


def _config(sim: Simulator, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(sim.app(), host=host, port=port, log_level="warning", lifespan="off")


@asynccontextmanager
async def running(sim: Simulator, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Simulator]:
    """Serve ``sim`` in this event loop (port 0: a free one) until the block ends;
    ``sim.base_url`` is its protocol base URL meanwhile."""
    server = uvicorn.Server(_config(sim, host, port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the simulator stopped before it started")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    sim.base_url = f"http://{host}:{bound}{BASE_PATH}"
    try:
        yield sim
    finally:
        server.should_exit = True
        await task


def serve(sim: Simulator, host: str, port: int) -> None:
    """Serve ``sim`` until interrupted (the ``chorus regulator-sim`` command)."""
    sim.base_url = f"http://{host}:{port}{BASE_PATH}"
    steps = " → ".join(sim.progression)
    every = f"every {sim.step_seconds:g} s" if sim.step_seconds else "by hand only"
    key = "a bearer API key is required" if sim.api_key else "any caller is accepted"
    print(f"regulator simulator: protocol v1 at {sim.base_url} ({steps}, {every}; {key})", flush=True)
    uvicorn.Server(_config(sim, host, port)).run()
