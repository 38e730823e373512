"""GET /healthz: is the database reachable, is Redis, can the evidence store take an upload?"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from chorus import db
from chorus.evidence import service as evidence
from chorus.evidence.storage import check_writable
from chorus.settings import Settings


async def _database() -> str:
    try:
        await asyncio.wait_for(db.engine().run_ddl("SELECT 1"), timeout=3)
    except Exception:
        return "error"
    return "ok"


async def _redis(request: Request[Any, Any, Any]) -> str:
    client = request.app.state.get("redis")
    if client is None:
        return "not_configured"
    try:
        await asyncio.wait_for(client.ping(), timeout=3)
    except Exception:
        return "error"
    return "ok"


async def _storage(settings: Settings) -> str:
    """Where uploads are received (the local directory; with an object store, its local
    spool): ``ok``, ``full`` (less free than one upload of CHORUS_UPLOAD_MAX_BYTES), ``read_only``
    or ``error``."""
    folder = evidence.tmp_dir(settings)
    try:
        state = await asyncio.wait_for(
            asyncio.to_thread(check_writable, folder, settings.upload_max_bytes), timeout=3
        )
    except TimeoutError:
        return "error"
    return state.state


@get("/healthz", operation_id="health", tags=["ops"])
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """200 when the database and Redis answer and the evidence store can take an upload; 503
    (with the failing part named) otherwise."""
    settings: Settings = request.app.state["settings"]
    database, redis, storage = await asyncio.gather(_database(), _redis(request), _storage(settings))
    ok = database == "ok" and redis in ("ok", "not_configured") and storage == "ok"
    return Response(
        {"status": "ok" if ok else "degraded", "database": database, "redis": redis, "storage": storage},
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )
