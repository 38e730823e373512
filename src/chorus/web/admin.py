"""``/admin``: the admins' desk. What each part of the platform an admin looks after has waiting
(quarantined mail, open moderation proposals), the size of the regulator registry and of the
staff, each with its page. Admins only; counts, no one's personal data."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get
from litestar.response import Template

from chorus.accounts import service as accounts
from chorus.filings import inbound
from chorus.moderation import service as moderation
from chorus.regulators import service as regulators
from chorus.web.guards import requires_role
from chorus.web.pages import page, page_router


@get("/admin", guards=[requires_role("admin")], name="admin_home")
async def admin_home(request: Request[Any, Any, Any]) -> Template:
    registry = await regulators.list_all()
    staff = await accounts.list_staff()
    admins = sum("admin" in s.roles for s in staff)
    return await page(
        request,
        "admin/home.html",
        quarantine_open=await inbound.waiting(),
        merges=len((await moderation.list_proposals("open")).items),
        links=len((await moderation.list_link_proposals("open")).items),
        regulators=len(registry),
        inactive=sum(not r.active for r in registry),
        admins=admins,
        moderators=len(staff) - admins,
    )


def page_routers() -> list[Router]:
    return [page_router(admin_home)]
