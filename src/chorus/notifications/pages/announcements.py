"""The organizer console's announcements (``/cases/{id}/organize/announcements``): write to every
member of the case (title and Markdown text, previewed as members will see it) and the ones
posted before.

Organizers of the case only (``opt={"rule": "organizer"}``; the services refuse anyone else with
the caller as ``actor``). Posting is ``notifications.service.announce``, the use case of
``createAnnouncement``: members hear of it through the same path as any event. The preview is
``chorus.markdown``'s sanitizer, the one that renders the announcement for members: as a
fragment for htmx (``…/announcements/preview``) and, without JavaScript, the form again with the
preview (``_action=preview``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts.schemas import UserRead
from chorus.cases import service as cases
from chorus.errors import DomainError
from chorus.notifications import service
from chorus.notifications.schemas import AnnouncementCreate
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FormData,
    form_error,
    markdown_preview,
    page,
    page_router,
    parse_form,
    redirect,
)

TEMPLATE = "organize/announcements.html"
PREVIEW_TEMPLATE = "organize/_announcements_preview.html"
MAX_BODY = 20000  # AnnouncementCreate.body's limit: a longer text is refused, its preview cut


def preview_of(data: FormData) -> dict[str, Any]:
    """The preview's context: the title as typed (escaped by the template) and the text as
    members will read it (sanitized HTML), or None when there is no text yet."""
    body = str(data.get("body") or "")
    title = " ".join(str(data.get("title") or "").split())[:200]
    html = markdown_preview(body, limit=MAX_BODY)
    return {"preview_title": title, "preview_html": html, "previewed": True}


async def _page(
    request: Request[Any, Any, Any], case_id: int, user: UserRead, *, status: int = 200, **context: Any
) -> Template:
    await cases.require_organizer(case_id, actor=user)  # before anything of the case is read
    past = (await service.announcements(case_id, actor=user)).items
    context.setdefault("previewed", False)
    return await page(
        request,
        TEMPLATE,
        status=status,
        case=await cases.summary(case_id),
        organize_section="announcements",
        past=past,
        **context,
    )


@get(
    "/cases/{case_id:int}/organize/announcements",
    guards=[requires_login],
    opt={"rule": "organizer"},
    name="organize_announcements",
)
async def announcements_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """The form, and the announcements posted so far (newest first)."""
    return await _page(request, case_id, user)


@post("/cases/{case_id:int}/organize/announcements", guards=[requires_login], opt={"rule": "organizer"})
async def post_announcement(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Post it to every member (``service.announce``); without JavaScript, the preview button
    (``_action=preview``) shows the form again with the preview. An empty or too-long field
    comes back on its field with nothing posted."""
    await cases.require_organizer(case_id, actor=user)  # anyone else: the 403 page, not the form
    values = {k: v for k, v in data.items() if k in ("title", "body")}
    if data.get("_action") == "preview":
        return await _page(request, case_id, user, values=values, **preview_of(data))
    try:
        change = parse_form(AnnouncementCreate, values)
        await service.announce(case_id, actor=user, data=change)
    except (ValidationError, DomainError) as exc:
        return await form_error(
            request,
            TEMPLATE,
            exc,
            values=values,
            case=await cases.summary(case_id),
            organize_section="announcements",
            past=(await service.announcements(case_id, actor=user)).items,
            previewed=False,
        )
    members = (await cases.summary(case_id)).member_count
    return redirect(
        request,
        f"/cases/{case_id}/organize/announcements",
        flash="page.announcements.flash.posted",
        flash_params={"n": members},
    )


@post(
    "/cases/{case_id:int}/organize/announcements/preview",
    guards=[requires_login],
    opt={"rule": "organizer"},
)
async def announcement_preview(
    request: Request[Any, Any, Any], case_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template:
    """htmx: the announcement as members will see it (the fragment of the preview region)."""
    await cases.require_organizer(case_id, actor=user)
    return await page(request, PREVIEW_TEMPLATE, **preview_of(data))


def page_routers() -> list[Router]:
    return [page_router(announcements_page, post_announcement, announcement_preview)]
