"""The case page's part on the representative and authorizations (``/cases/{id}#representative``):
members stand, vote, and authorize the representative to file a version for them, or revoke that.
Forms work without JavaScript: a POST, then a redirect back, or the case page again with the
refusal next to the form. Every part comes from the service the API calls, with the caller as
``actor``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.authorizations import service
from chorus.authorizations.schemas import DETAIL_FIELDS, AuthorizationCreate, VoteCreate
from chorus.errors import DomainError
from chorus.web.auth import current_user
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FormData,
    domain_errors,
    page,
    page_router,
    redirect,
    request_locale,
    validation_errors,
)

SECTION = "#representative"


async def section(case_id: int, user: UserRead) -> dict[str, Any]:
    """What the case page shows a member of this part: the election and the versions they may
    authorize (with their authorization of each)."""
    return {
        "election": await service.election(case_id, actor=user),
        "options": await service.options(case_id, actor=user),
        "detail_fields": DETAIL_FIELDS,
        "user_id": user.id,
    }


async def _refused(
    request: Request[Any, Any, Any], case_id: int, exc: ValidationError | DomainError, *, form: str
) -> Template:
    """The case page again, the refusal above the form that caused it."""
    from chorus.cases.pages.case import case_context  # the case page holds this part: no import cycle

    user = await current_user(request)
    locale = request_locale(request, user)
    if isinstance(exc, ValidationError):
        errors, status = validation_errors(exc, locale), 422
    else:
        errors, status = domain_errors(exc, locale), exc.status
    ctx = await case_context(request, case_id)
    ctx.update(errors={"": " ".join(errors.values())}, failed=form)
    return await page(request, "cases/case.html", status=status, **ctx)


@post("/cases/{case_id:int}/representative", guards=[requires_login], opt={"rule": "member"})
async def representative_form(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """``action``: ``stand``, ``withdraw`` (stand down), ``vote`` (with ``candidate_id``) or
    ``unvote``."""
    action = str(data.get("action", ""))
    try:
        if action == "stand":
            await service.stand(case_id, actor=user)
        elif action == "withdraw":
            await service.withdraw_candidacy(case_id, actor=user)
        elif action == "unvote":
            await service.unvote(case_id, actor=user)
        else:
            vote = VoteCreate.model_validate({"candidate_id": data.get("candidate_id") or None})
            await service.vote(case_id, actor=user, data=vote)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="representative")
    flash = {
        "stand": "page.representation.flash.stood",
        "withdraw": "page.representation.flash.withdrew",
        "unvote": "page.representation.flash.unvoted",
    }.get(action, "page.representation.flash.voted")
    return redirect(request, f"/cases/{case_id}{SECTION}", flash=flash)


@post("/cases/{case_id:int}/authorizations", guards=[requires_login], opt={"rule": "member"})
async def authorize_form(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Authorize the representative to file version ``complaint_id`` for me, sharing the details
    ticked (``fields.<name>``)."""
    try:
        body = AuthorizationCreate.model_validate(
            {
                "complaint_id": data.get("complaint_id") or None,
                "fields": [f for f in DETAIL_FIELDS if data.get(f"fields.{f}")],
            }
        )
        await service.give(case_id, actor=user, data=body)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="authorization")
    return redirect(request, f"/cases/{case_id}{SECTION}", flash="page.representation.flash.authorized")


@post(
    "/cases/{case_id:int}/authorizations/{authorization_id:int}/revoke",
    guards=[requires_login],
    opt={"rule": "authorization-owner"},
)
async def revoke_form(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    authorization_id: FromPath[int],
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """Revoke my authorization (before a filing used it)."""
    try:
        await service.revoke(authorization_id, actor=user)
    except DomainError as exc:
        return await _refused(request, case_id, exc, form="authorization")
    return redirect(request, f"/cases/{case_id}{SECTION}", flash="page.representation.flash.revoked")


def page_routers() -> list[Router]:
    return [page_router(representative_form, authorize_form, revoke_form)]
