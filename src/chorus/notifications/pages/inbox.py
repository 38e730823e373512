"""The inbox pages: ``/notifications`` (newest first, each notification in words with its date,
unread ones marked; mark one or all read), ``/notifications/badge`` (the header's unread badge,
refreshed by htmx), the button of the e-mail's unsubscribe page and the page of the link that
confirms a bouncing address again (``/notifications/confirm-email``).

The inbox is ``GET /api/v1/notifications``'s (:func:`chorus.notifications.service.list_for`);
each notification says what the e-mail of its event says in its subject line
(:func:`chorus.notifications.render.subject`, from the same templates). Marking read works as a
plain form (303 back to the inbox) and, through htmx, in place: the item or the list again, with
the header's badge swapped out of band."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from chorus.accounts.schemas import UserRead
from chorus.errors import Invalid
from chorus.i18n import t
from chorus.notifications import render, service
from chorus.notifications.schemas import NotificationRead
from chorus.settings import Settings
from chorus.web.auth import current_user
from chorus.web.guards import requires_login
from chorus.web.pages import FormData, domain_errors, is_htmx, page, redirect, request_locale

INBOX_LIMIT = 100  # the newest notifications the inbox lists (the service does not page)
# Notifications about the account's own channels: their next step is on the settings page.
_ABOUT_SETTINGS = ("account.",)


@dataclass(frozen=True)
class Item:
    """One notification as the inbox shows it: the words, and where to go about it."""

    note: NotificationRead
    text: str
    link: str | None
    link_is_settings: bool


def item(note: NotificationRead, locale: str) -> Item:
    """``note`` in words in ``locale``: its e-mail's subject line (one text per kind, one place)."""
    if note.kind in render.KINDS:
        text = render.subject(note.kind, locale, case_id=note.case_id, data=note.data)
    else:  # a kind newer than this page's templates: still listed, in general words
        text = t("page.notifications.item.other", locale)
    about_settings = note.kind.startswith(_ABOUT_SETTINGS)
    link = "/settings" if about_settings else (f"/cases/{note.case_id}" if note.case_id else None)
    return Item(note=note, text=text, link=link, link_is_settings=about_settings)


async def _inbox_context(request: Request[Any, Any, Any], user: UserRead) -> dict[str, Any]:
    inbox = await service.list_for(actor=user, limit=INBOX_LIMIT)
    locale = request_locale(request, user)
    return {"items": [item(n, locale) for n in inbox.items], "listed_max": len(inbox.items) >= INBOX_LIMIT}


@get("/notifications", guards=[requires_login], name="notifications")
async def inbox_page(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    """The inbox, newest first."""
    return await page(request, "notifications/inbox.html", **await _inbox_context(request, user))


@get("/notifications/badge")
async def badge(request: Request[Any, Any, Any]) -> Template:
    """The header's unread badge alone (htmx polls it). Public on purpose: a session that ended
    gets an empty badge, not the login page swapped into the header."""
    return await page(request, "notifications/_badge.html")


@post("/notifications/{notification_id:int}/read", guards=[requires_login], opt={"rule": "recipient"})
async def mark_read(
    request: Request[Any, Any, Any], notification_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Mark one notification read (someone else's: 404, as the API). htmx: the item again."""
    await service.mark_read(notification_id, actor=user)
    if not is_htmx(request):
        return redirect(request, "/notifications")
    inbox = await service.list_for(actor=user, limit=INBOX_LIMIT)
    note = next((n for n in inbox.items if n.id == notification_id), None)
    if note is None:  # older than the inbox lists: the list again
        return await page(request, "notifications/_answer.html", **await _inbox_context(request, user))
    return await page(
        request, "notifications/_answer.html", one=item(note, request_locale(request, user)), items=[]
    )


@post("/notifications/read-all", guards=[requires_login])
async def mark_all_read(
    request: Request[Any, Any, Any], user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Mark every notification read. htmx: the list again."""
    await service.mark_all_read(actor=user)
    if not is_htmx(request):
        return redirect(request, "/notifications", flash="page.notifications.flash.all_read")
    return await page(request, "notifications/_answer.html", **await _inbox_context(request, user))


# --- unsubscribing from e-mail ----------------------------------------------------------------


@post(
    "/notifications/unsubscribe",
    # As the one-click endpoint (notifications/routes.py): the signed link in the query is the
    # only authority, never the session cookie, so a post from elsewhere gains nothing.
    opt={"csrf": False},
)
async def unsubscribe(
    request: Request[Any, Any, Any], token: FromQuery[str], settings: NamedDependency[Settings]
) -> Template:
    """The button of the e-mail's unsubscribe page (``GET /api/v1/notifications/unsubscribe``):
    e-mail turned off, said in words with the way back (mail clients' RFC 8058 one-click post
    goes to the API's endpoint instead)."""
    try:
        await service.unsubscribe(token, settings)
    except Invalid as exc:
        locale = request_locale(request, await current_user(request))
        return await page(
            request,
            "notifications/unsubscribe.html",
            status=exc.status,
            token=None,
            errors={"": next(iter(domain_errors(exc, locale).values()))},
        )
    return await page(request, "notifications/unsubscribed.html")


# --- confirming a bouncing address again ------------------------------------------------------


@get("/notifications/confirm-email")
async def confirm_email_page(request: Request[Any, Any, Any], token: FromQuery[str]) -> Template:
    """The confirmation e-mail's link (:func:`chorus.notifications.service.confirm_link`): a
    button that confirms the address. The GET uses nothing (mail scanners open links); the
    button's POST does, as the verification page's."""
    return await page(request, "notifications/confirm_email.html", token=token)


@post("/notifications/confirm-email")
async def confirm_email(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template:
    """The button: the address receives mail again (the service ``GET
    /api/v1/notifications/confirm-email`` calls), said in words; a refused link says why."""
    try:
        await service.confirm_email(str(data.get("token", "")), settings)
    except Invalid as exc:
        locale = request_locale(request, await current_user(request))
        return await page(
            request,
            "notifications/confirm_email.html",
            status=exc.status,
            token=None,
            errors={"": next(iter(domain_errors(exc, locale).values()))},
        )
    return await page(request, "notifications/email_confirmed.html")


def handlers() -> list[Any]:
    return [inbox_page, badge, mark_read, mark_all_read, unsubscribe, confirm_email_page, confirm_email]
