"""A stand-in for a regulator's HTTP gateway (protocol v1 of API.md), served by uvicorn on a real
socket. The only system the tests imitate: a regulator we cannot reach. It keeps what it was sent
and can be told to misbehave (server errors, slowness, refusals) for the next requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, Router, get, post
from litestar.params import FromPath

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

# The variable that holds the stand-in's API key (regulators may name only CHORUS_REGULATOR_KEY_*).
KEY_ENV = "CHORUS_REGULATOR_KEY_TEST_STANDIN"


@dataclass
class Standin:
    api_key: str = "standin-key"
    # what the next POSTs get before a normal answer: an HTTP status, "slow", or "huge:<status>"
    # (that status with an answer of ``huge_bytes`` bytes), or "long:<status>" (a JSON refusal
    # whose message is ``long_chars`` characters)
    script: list[int | str] = field(default_factory=list)
    slow_seconds: float = 3.0
    huge_bytes: int = 100 * 1024
    long_chars: int = 20_000
    posts: list[dict[str, Any]] = field(default_factory=list)  # {"headers": ..., "body": ...}
    reads: list[str] = field(default_factory=list)  # references asked about (GET)
    answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)  # by Idempotency-Key
    complaints: dict[str, dict[str, Any]] = field(default_factory=dict)  # by reference
    base_url: str = ""

    def set_status(self, reference: str, status: str, message: str = "") -> None:
        self.complaints[reference].update(
            status=status, message=message, updated_at=datetime.now(UTC).isoformat()
        )

    def app(self) -> Litestar:
        standin = self

        def refused(code: int, message: str) -> Response[dict[str, Any]]:
            return Response({"message": message}, status_code=code)

        @post("/complaints")
        async def create(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            body = await request.json()
            standin.posts.append({"headers": dict(request.headers), "body": body})
            if request.headers.get("authorization") != f"Bearer {standin.api_key}":
                return refused(401, "invalid API key")
            key = request.headers.get("idempotency-key")
            if not key:
                return refused(400, "Idempotency-Key is required")
            if standin.script:
                action = standin.script.pop(0)
                if action == "slow":
                    await asyncio.sleep(standin.slow_seconds)
                elif isinstance(action, str) and action.startswith("huge:"):
                    pad = "x" * standin.huge_bytes
                    answer = {"reference": "REG-HUGE", "status": "received", "message": pad}
                    return Response(answer, status_code=int(action.split(":")[1]))
                elif isinstance(action, str) and action.startswith("long:"):
                    return refused(int(action.split(":")[1]), "y" * standin.long_chars)
                else:
                    return refused(int(action), f"scripted answer {action}")
            if key in standin.answers:  # a repeated key returns the first answer
                code, answer = standin.answers[key]
                return Response(answer, status_code=code)
            missing = [f for f in REQUIRED if f not in body]
            if missing:
                return refused(422, f"missing fields: {', '.join(missing)}")
            reference = f"REG-{len(standin.complaints) + 1:04d}"
            standin.complaints[reference] = {
                "reference": reference,
                "status": "received",
                "updated_at": datetime.now(UTC).isoformat(),
                "message": "",
            }
            answer = {"reference": reference, "status": "received"}
            standin.answers[key] = (201, answer)
            return Response(answer, status_code=201)

        @get("/complaints/{reference:str}")
        async def read(request: Request[Any, Any, Any], reference: FromPath[str]) -> Response[dict[str, Any]]:
            standin.reads.append(reference)
            if request.headers.get("authorization") != f"Bearer {standin.api_key}":
                return refused(401, "invalid API key")
            if reference not in standin.complaints:
                return refused(404, "no such complaint")
            return Response(dict(standin.complaints[reference]), status_code=200)

        return Litestar(route_handlers=[Router(path="/v1", route_handlers=[create, read])], debug=False)


@asynccontextmanager
async def running(standin: Standin) -> AsyncIterator[Standin]:
    """Serve ``standin`` on 127.0.0.1 (a free port) in this event loop until the block ends."""
    config = uvicorn.Config(standin.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    standin.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield standin
    finally:
        server.should_exit = True
        await task
