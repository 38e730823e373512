"""GET /healthz: is the database reachable, is Redis?"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from chorus import db


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


@get("/healthz", operation_id="health", tags=["ops"])
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """200 when the database and Redis answer, 503 (with the failing part named) otherwise."""
    database, redis = await asyncio.gather(_database(), _redis(request))
    ok = database == "ok" and redis in ("ok", "not_configured")
    return Response(
        {"status": "ok" if ok else "degraded", "database": database, "redis": redis},
        status_code=HTTP_200_OK if ok else HTTP_503_SERVICE_UNAVAILABLE,
    )
