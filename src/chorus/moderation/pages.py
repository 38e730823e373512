"""The moderators' pages: ``/moderation`` (open merge proposals, both merchants side by side,
accepted or rejected with a reason), ``/moderation/merge`` (a direct merge: find two merchants
with the merchant search, confirm on a page that says what will happen) and
``/moderation/merchants/{id}`` (what reporters claimed about a merchant, confirmed one by one).

Moderators only (``requires_role("moderator")``, as the API's moderation routes; an admin holds
every role). Every decision is the moderation service the API calls (``decide_merge``,
``reject``, ``merge``, ``confirm_identifier``, ``confirm_alias``), and a merchant is shown as the
API shows it to moderators: its public page (identifiers masked) and, to review, its claims."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from pydantic import Field, ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.errors import DomainError
from chorus.merchants.schemas import CaseBrief, ClaimList, MerchantRead, MerchantSummary, MergeProposalRead
from chorus.moderation import service
from chorus.moderation.schemas import MergeRequest, ProposalDecision
from chorus.web.guards import requires_role
from chorus.web.pages import (
    FormData,
    form_error,
    page,
    page_router,
    parse_form,
    redirect,
    refusal,
    request_locale,
)

MODERATOR = [requires_role("moderator")]
SEARCH_SHOWN = 10  # merchants each search of a direct merge lists
MAX_QUERY = 200


class Rejection(ProposalDecision):
    """A rejection as the page asks for it: with the reason (the API takes it without one)."""

    note: str = Field(min_length=1, max_length=1000)  # type: ignore[assignment]


@dataclass
class Side:
    """One merchant as a moderator compares it: the public page (identifiers masked, its cases
    with their member counts), the day of its first report, and how many claims await review."""

    merchant: MerchantRead
    first_reported: datetime | None
    open_case: CaseBrief | None
    members: int  # in all its cases
    claims: int


@dataclass
class ProposalView:
    proposal: MergeProposalRead
    a: Side
    b: Side


@dataclass
class Search:
    """One of the two searches of a direct merge."""

    q: str
    found: list[MerchantSummary]


async def side(merchant_id: int, actor: UserRead) -> Side:
    merchant = await cases.merchant_page(merchant_id)
    first = await cases.get_case_row(merchant.cases[0].id) if merchant.cases else None  # ids grow with time
    claims: ClaimList = await service.claims(merchant_id=merchant_id, actor=actor)
    return Side(
        merchant=merchant,
        first_reported=first["created_at"] if first else None,
        open_case=next((c for c in merchant.cases if c.status in cases.OPEN), None),
        members=sum(c.member_count for c in merchant.cases),
        claims=len(claims.identifiers) + len(claims.aliases),
    )


async def proposal_views(actor: UserRead) -> list[ProposalView]:
    return [
        ProposalView(p, await side(p.merchant_a.id, actor), await side(p.merchant_b.id, actor))
        for p in (await service.list_proposals("open")).items
    ]


async def _queue(
    request: Request[Any, Any, Any], user: UserRead, *, status: int = 200, **context: Any
) -> Template:
    return await page(
        request,
        "moderation/queue.html",
        status=status,
        proposals=await proposal_views(user),
        links=(await service.list_link_proposals("open")).items,
        **context,
    )


@get("/moderation", guards=MODERATOR, name="moderation")
async def queue(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    """The open merge proposals, each pair side by side with its decision form."""
    return await _queue(request, user, failed=None)


async def _decided(request: Request[Any, Any, Any], merged: MerchantRead) -> Redirect:
    open_case = next((c for c in merged.cases if c.status in cases.OPEN), None)
    if open_case is None:
        return redirect(request, "/moderation", flash="page.moderation.flash.merged")
    return redirect(
        request,
        "/moderation",
        flash="page.moderation.flash.merged_case",
        flash_params={"case": open_case.id, "count": open_case.member_count},
    )


async def _refused(
    request: Request[Any, Any, Any],
    user: UserRead,
    proposal_id: int,
    exc: ValidationError | DomainError,
    data: Mapping[str, Any],
) -> Template:
    proposals = await proposal_views(user)
    return await form_error(
        request,
        "moderation/queue.html",
        exc,
        values=data,
        proposals=proposals,
        links=(await service.list_link_proposals("open")).items,
        failed=proposal_id,
    )


@post("/moderation/proposals/{proposal_id:int}/merge", guards=MODERATOR)
async def accept(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Merge the proposal's two merchants (the one chosen survives; a reason is optional)."""
    try:
        decision = parse_form(ProposalDecision, data)
        merged = await service.decide_merge(proposal_id=proposal_id, actor=user, data=decision)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, user, proposal_id, exc, data)
    return await _decided(request, merged)


@post("/moderation/proposals/{proposal_id:int}/reject", guards=MODERATOR)
async def reject(
    request: Request[Any, Any, Any],
    proposal_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Keep the two merchants apart; the reason is required here."""
    try:
        decision = parse_form(Rejection, {**data, "note": str(data.get("note") or "").strip()})
        await service.reject(proposal_id=proposal_id, actor=user, data=decision)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, user, proposal_id, exc, data)
    return redirect(request, "/moderation", flash="page.moderation.flash.rejected")


async def _decide_link(
    request: Request[Any, Any, Any], user: UserRead, proposal_id: int, *, confirm: bool
) -> Template | Redirect:
    try:
        await service.decide_link(proposal_id=proposal_id, actor=user, confirm=confirm)
    except DomainError as exc:
        errors, status = refusal(exc, request_locale(request, user))
        return await _queue(request, user, status=status, link_error=" ".join(errors.values()), failed=None)
    flash = "page.moderation.flash.link_confirmed" if confirm else "page.moderation.flash.link_rejected"
    return redirect(request, "/moderation", flash=flash)


@post("/moderation/links/{proposal_id:int}/confirm", guards=MODERATOR)
async def confirm_link(
    request: Request[Any, Any, Any], proposal_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template | Redirect:
    """The name a report gave is the same seller's (issue 16 item 2)."""
    return await _decide_link(request, user, proposal_id, confirm=True)


@post("/moderation/links/{proposal_id:int}/reject", guards=MODERATOR)
async def reject_link(
    request: Request[Any, Any, Any], proposal_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template | Redirect:
    """The name is not the merchant's: it leaves its public names; nothing is merged."""
    return await _decide_link(request, user, proposal_id, confirm=False)


# --- direct merge ------------------------------------------------------------------------------


async def _search(q: str) -> Search:
    q = q.strip()[:MAX_QUERY]
    return Search(q=q, found=await cases.search_merchants(q, limit=SEARCH_SHOWN) if q else [])


async def _finder(
    request: Request[Any, Any, Any], qa: str, qb: str, *, status: int = 200, **context: Any
) -> Template:
    return await page(
        request,
        "moderation/merge.html",
        status=status,
        a=await _search(qa),
        b=await _search(qb),
        **context,
    )


@get("/moderation/merge", guards=MODERATOR, name="moderation_merge")
async def merge_search(
    request: Request[Any, Any, Any], qa: FromQuery[str] = "", qb: FromQuery[str] = ""
) -> Template:
    """Find the two merchants (the merchant search, once for each) and pick them."""
    return await _finder(request, qa, qb)


async def _confirmation(
    request: Request[Any, Any, Any],
    user: UserRead,
    source_id: int,
    target_id: int,
    *,
    qa: str = "",
    qb: str = "",
    exc: DomainError | ValidationError | None = None,
    data: Mapping[str, Any] | None = None,
) -> Template:
    context: dict[str, Any] = {
        "source": await side(source_id, user),
        "target": await side(target_id, user),
        "qa": qa,
        "qb": qb,
    }
    if exc is not None:
        return await form_error(request, "moderation/confirm.html", exc, values=data or {}, **context)
    return await page(request, "moderation/confirm.html", **context)


def _unpicked(data: Mapping[str, Any]) -> dict[str, str]:
    """The catalog keys of the picks missing from ``data`` (a merchant id each)."""
    return {
        field: f"page.moderation.merge.pick_{field}"
        for field in ("source_id", "target_id")
        if not str(data.get(field) or "").isdigit()
    }


@get("/moderation/merge/confirm", guards=MODERATOR)
async def merge_confirm(
    request: Request[Any, Any, Any],
    user: NamedDependency[UserRead],
    source_id: FromQuery[str] = "",
    target_id: FromQuery[str] = "",
    qa: FromQuery[str] = "",
    qb: FromQuery[str] = "",
) -> Template:
    """What the merge of the two picked merchants will do, and the button that does it."""
    errors = _unpicked({"source_id": source_id, "target_id": target_id})
    if errors:
        return await _finder(request, qa, qb, status=422, pick_errors=errors, picked={})
    source, target = int(source_id), int(target_id)
    if source == target:
        return await _finder(
            request, qa, qb, status=422, pick_errors={"": "errors.merge_same"}, picked={"source_id": source}
        )
    return await _confirmation(request, user, source, target, qa=qa, qb=qb)


@post("/moderation/merge", guards=MODERATOR)
async def merge(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Fold the source into the target, as ``mergeMerchants`` does."""
    try:
        pair = parse_form(MergeRequest, {k: v for k, v in data.items() if k in ("source_id", "target_id")})
    except ValidationError:
        # the confirmation page always sends both: pick them again
        return await _finder(request, "", "", status=422, pick_errors=_unpicked(data), picked={})
    try:
        merged = await service.merge(source_id=pair.source_id, target_id=pair.target_id, actor=user)
    except DomainError as exc:
        return await _confirmation(request, user, pair.source_id, pair.target_id, exc=exc, data=data)
    return await _decided(request, merged)


# --- claims ------------------------------------------------------------------------------------


async def _claims_page(
    request: Request[Any, Any, Any], user: UserRead, merchant_id: int, *, exc: DomainError | None = None
) -> Template:
    context: dict[str, Any] = {
        "side": await side(merchant_id, user),
        "claims": await service.claims(merchant_id=merchant_id, actor=user),
    }
    if exc is not None:
        return await form_error(request, "moderation/claims.html", exc, values={}, **context)
    return await page(request, "moderation/claims.html", **context)


@get("/moderation/merchants/{merchant_id:int}", guards=MODERATOR)
async def claims(
    request: Request[Any, Any, Any], merchant_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """The identifiers and names reporters claimed for this merchant, unconfirmed, unmasked."""
    return await _claims_page(request, user, merchant_id)


@post("/moderation/merchants/{merchant_id:int}/identifiers/{identifier_id:int}/confirm", guards=MODERATOR)
async def confirm_identifier(
    request: Request[Any, Any, Any],
    merchant_id: FromPath[int],
    identifier_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    try:
        await service.confirm_identifier(merchant_id=merchant_id, identifier_id=identifier_id, actor=user)
    except DomainError as exc:
        return await _claims_page(request, user, merchant_id, exc=exc)
    back = f"/moderation/merchants/{merchant_id}"
    return redirect(request, back, flash="page.moderation.flash.confirmed_identifier")


@post("/moderation/merchants/{merchant_id:int}/aliases/{alias_id:int}/confirm", guards=MODERATOR)
async def confirm_alias(
    request: Request[Any, Any, Any],
    merchant_id: FromPath[int],
    alias_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    try:
        await service.confirm_alias(merchant_id=merchant_id, alias_id=alias_id, actor=user)
    except DomainError as exc:
        return await _claims_page(request, user, merchant_id, exc=exc)
    back = f"/moderation/merchants/{merchant_id}"
    return redirect(request, back, flash="page.moderation.flash.confirmed_alias")


def page_routers() -> list[Router]:
    return [
        page_router(
            queue,
            accept,
            reject,
            confirm_link,
            reject_link,
            merge_search,
            merge_confirm,
            merge,
            claims,
            confirm_identifier,
            confirm_alias,
        )
    ]
