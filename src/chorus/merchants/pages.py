"""The merchant pages: ``/`` (what Chorus is, and the merchant check form). The results
(``/merchants?q=``) and the warning page (``/merchants/{id}``) join them here."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from chorus.web.pages import page, page_router


@get("/", name="home")
async def home(request: Request[Any, Any, Any]) -> Template:
    """What Chorus is in two sentences, and one box to check a merchant before paying."""
    return await page(request, "merchants/check.html")


def page_routers() -> list[Router]:
    return [page_router(home)]
