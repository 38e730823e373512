"""The escalation ladder in the browser (issue 16 item 3): the case page's part that shows a
member their next step and their progress (``/cases/{id}#ladder``), its forms (how I paid and
where I bought; my progress on a step), and the organizers' page of how far members got
(``/cases/{id}/organize/ladder``: counts per step, never who). Forms work without JavaScript: a
POST, then a redirect back, or the case page again with the refusal above the form. Every part
comes from the service the API calls, with the caller as ``actor``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.cases.schemas import MembershipUpdate
from chorus.errors import DomainError
from chorus.ladder import service
from chorus.ladder.schemas import LadderProgressUpdate
from chorus.web.auth import current_user
from chorus.web.guards import requires_login
from chorus.web.pages import FormData, page, page_router, redirect, refusal, request_locale

SECTION = "#ladder"


async def section(case_id: int, user: UserRead, locale: str) -> dict[str, Any]:
    """What the case page shows a member of this part: their ladder, its next step."""
    mine = await service.member_ladder(case_id, actor=user, locale=locale)
    return {"ladder": mine, "next": next((s for s in mine.steps if s.id == mine.next_step), None)}


async def _refused(
    request: Request[Any, Any, Any],
    case_id: int,
    exc: ValidationError | DomainError,
    *,
    form: str,
    step: str | None = None,
) -> Template:
    """The case page again, the refusal above the form that caused it (and that step's form open
    again when it was one of the steps')."""
    from chorus.cases.pages.case import case_context  # the case page holds this part: no import cycle

    locale = request_locale(request, await current_user(request))
    errors, status = refusal(exc, locale)
    ctx = await case_context(request, case_id)
    ctx.update(errors={"": " ".join(errors.values())}, failed=form, failed_step=step)
    return await page(request, "cases/case.html", status=status, **ctx)


@post("/cases/{case_id:int}/ladder", guards=[requires_login], opt={"rule": "member"})
async def profile_form(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """How I paid (``paid_with``) and where I bought (``bought_on``): my ladder's steps follow."""
    try:
        change = MembershipUpdate.model_validate(
            {"paid_with": str(data.get("paid_with", "")), "bought_on": str(data.get("bought_on", ""))}
        )
        await cases.update_membership(case_id, actor=user, data=change)
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="ladder")
    return redirect(request, f"/cases/{case_id}{SECTION}", flash="page.ladder.flash.profile")


@post("/cases/{case_id:int}/ladder/{step:str}", guards=[requires_login], opt={"rule": "member"})
async def progress_form(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    step: FromPath[str],
    data: FormData,
    user: NamedDependency[UserRead],
) -> Template | Redirect:
    """My progress on one of my steps: ``state`` (not_started, done, refused) and the day
    (``happened_on``, today when left empty)."""
    fields: dict[str, Any] = {"state": str(data.get("state", ""))}
    if str(data.get("happened_on", "")).strip():
        fields["happened_on"] = str(data["happened_on"]).strip()
    try:
        change = LadderProgressUpdate.model_validate(fields)
        await service.set_progress(
            case_id, step, actor=user, data=change, locale=request_locale(request, user)
        )
    except (ValidationError, DomainError) as exc:
        return await _refused(request, case_id, exc, form="ladder", step=step)
    return redirect(request, f"/cases/{case_id}{SECTION}", flash="page.ladder.flash.progress")


@get("/cases/{case_id:int}/organize/ladder", guards=[requires_login], opt={"rule": "organizer"})
async def organize_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """Organizers: how far the members got on their ladders, as counts per step."""
    summary = await service.aggregate(case_id, actor=user, locale=request_locale(request, user))
    return await page(
        request,
        "organize/ladder.html",
        case=await cases.summary(case_id),
        organize_section="ladder",
        summary=summary,
    )


def page_routers() -> list[Router]:
    return [page_router(profile_form, progress_form, organize_page)]
