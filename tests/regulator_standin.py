"""A stand-in for a regulator's HTTP gateway (protocol v1 of API.md), served by uvicorn on a real
socket. The only system the tests imitate: a regulator we cannot reach. It speaks the protocol as
the demo's simulator does (``chorus.regulator_sim``, which it builds on), keeps what it was sent
and can be told to misbehave (server errors, slowness, refusals) for the next requests. Its
complaints stay ``received`` until a test says otherwise (``set_status``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from chorus import regulator_sim
from chorus.regulator_sim import REQUIRED, Simulator

__all__ = ["KEY_ENV", "REQUIRED", "Standin", "running"]

# The variable that holds the stand-in's API key (regulators may name only CHORUS_REGULATOR_KEY_*).
KEY_ENV = "CHORUS_REGULATOR_KEY_TEST_STANDIN"


@dataclass
class Standin(Simulator):
    api_key: str | None = "standin-key"
    step_seconds: float | None = None  # no progression: statuses change when a test says so
    messages: Mapping[str, str] = field(default_factory=dict)  # and say nothing until then
    # what the next POSTs get before a normal answer: an HTTP status, "slow", or "huge:<status>"
    # (that status with an answer of ``huge_bytes`` bytes), or "long:<status>" (a JSON refusal
    # whose message is ``long_chars`` characters)
    script: list[int | str] = field(default_factory=list)
    slow_seconds: float = 3.0
    huge_bytes: int = 100 * 1024
    long_chars: int = 20_000
    posts: list[dict[str, Any]] = field(default_factory=list)  # {"headers": ..., "body": ...}
    reads: list[str] = field(default_factory=list)  # references asked about (GET)

    def posted(self, headers: Mapping[str, str], body: Any) -> None:
        self.posts.append({"headers": dict(headers), "body": body})

    def read(self, reference: str) -> None:
        self.reads.append(reference)

    async def interfere(self) -> tuple[int, dict[str, Any]] | None:
        if not self.script:
            return None
        action = self.script.pop(0)
        if action == "slow":
            await asyncio.sleep(self.slow_seconds)
            return None
        if isinstance(action, str) and action.startswith("huge:"):
            pad = "x" * self.huge_bytes
            return int(action.split(":")[1]), {"reference": "REG-HUGE", "status": "received", "message": pad}
        if isinstance(action, str) and action.startswith("long:"):
            return int(action.split(":")[1]), {"message": "y" * self.long_chars}
        return int(action), {"message": f"scripted answer {action}"}


@asynccontextmanager
async def running(standin: Standin) -> AsyncIterator[Standin]:
    """Serve ``standin`` on 127.0.0.1 (a free port) in this event loop until the block ends."""
    async with regulator_sim.running(standin):
        yield standin
