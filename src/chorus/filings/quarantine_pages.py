"""The admins' quarantine of inbound mail (issue 14 item 3): ``/admin/quarantine`` lists the
messages no filing took by itself (newest first, by state), ``/admin/quarantine/{id}`` shows one
(its headers, text, reason, the raw message to download) with the two decisions: assign it to a
filing (recorded there as a matched reply) or discard it.

Admins only (``requires_role("admin")``, as the API's quarantine routes: organizers are
volunteers of one case, and this mail may belong to any case or to none). The forms post the API's
schemas (QuarantineAssign, QuarantineDiscard) to the same use cases, each refusal next to its field.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.errors import DomainError
from chorus.filings import inbound
from chorus.filings.schemas import QuarantineAssign, QuarantineDiscard
from chorus.settings import Settings
from chorus.web.guards import requires_role
from chorus.web.pages import FormData, form_error, page, page_router, parse_form, redirect

ADMIN = [requires_role("admin")]
STATES = ("open", "assigned", "discarded")


@get("/admin/quarantine", guards=ADMIN, name="admin_quarantine")
async def quarantine_page(
    request: Request[Any, Any, Any], show: Annotated[str, QueryParameter(name="state")] = "open"
) -> Template:
    """The quarantine, one state at a time (open first: what waits for a decision); ``all``."""
    shown = show if show in STATES else None
    found = await inbound.list_items(state=shown)
    return await page(request, "admin/quarantine.html", found=found, state=shown or "all", states=STATES)


async def _item_page(
    request: Request[Any, Any, Any],
    item_id: int,
    *,
    exc: ValidationError | DomainError | None = None,
    values: dict[str, Any] | None = None,
    form: str = "",
) -> Template:
    item = await inbound.get(item_id)  # an unknown id: the 404 page
    context: dict[str, Any] = {"item": item, "failed": form}
    if exc is not None:
        return await form_error(request, "admin/quarantine_item.html", exc, values=values or {}, **context)
    start = {"filing_id": item.filing_hint or ""}
    return await page(request, "admin/quarantine_item.html", values=start, errors={}, **context)


@get("/admin/quarantine/{item_id:int}", guards=ADMIN)
async def item_page(request: Request[Any, Any, Any], item_id: FromPath[int]) -> Template:
    """One message: reason, headers, text, the raw download; assign or discard while open."""
    return await _item_page(request, item_id)


@post("/admin/quarantine/{item_id:int}/assign", guards=ADMIN)
async def assign(
    request: Request[Any, Any, Any],
    item_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    try:
        change = parse_form(QuarantineAssign, data)
        await inbound.assign(item_id, filing_id=change.filing_id, actor=user, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _item_page(request, item_id, exc=exc, values=dict(data), form="assign")
    return redirect(request, f"/admin/quarantine/{item_id}", flash="page.quarantine.flash.assigned")


@post("/admin/quarantine/{item_id:int}/discard", guards=ADMIN)
async def discard(
    request: Request[Any, Any, Any],
    item_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    try:
        change = parse_form(QuarantineDiscard, data)
        await inbound.discard(item_id, actor=user, note=change.note, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _item_page(request, item_id, exc=exc, values=dict(data), form="discard")
    return redirect(request, "/admin/quarantine", flash="page.quarantine.flash.discarded")


def page_routers() -> list[Router]:
    return [page_router(quarantine_page, item_page, assign, discard)]
