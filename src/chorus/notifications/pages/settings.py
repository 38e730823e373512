"""``/settings``: notification preferences (e-mail mode, language, time zone, webhook), a
bouncing address confirmed again, the password, leaving a case and deleting the account; and
``/goodbye``, where a deleted account lands.

Each form calls the service its API endpoint calls, with the API's schema and field names:
``PUT /api/v1/me/preferences`` (:func:`chorus.notifications.service.update_preferences`),
``POST /api/v1/me/email/confirm``, ``POST /api/v1/me/password``,
``DELETE /api/v1/cases/{id}/membership`` (:func:`chorus.accounts.lifecycle.leave_case`) and
``DELETE /api/v1/me`` (:func:`chorus.accounts.lifecycle.delete_account`). A wrong password
counts against the account as the API's does (:func:`chorus.web.auth.confirming_password`)."""

from __future__ import annotations

from datetime import UTC, datetime
from math import ceil
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts import lifecycle
from chorus.accounts import service as accounts
from chorus.accounts.schemas import AccountDelete, PasswordChange, UserRead
from chorus.cases import service as cases
from chorus.cases.schemas import MyCaseRead
from chorus.errors import DomainError, NotFound
from chorus.i18n import t
from chorus.notifications import service
from chorus.notifications.schemas import PreferencesRead, PreferencesUpdate
from chorus.settings import Settings
from chorus.web.auth import SESSION_COOKIE, confirming_password, request_token
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FLASH_COOKIE,
    Formats,
    FormData,
    form_error,
    page,
    parse_form,
    redirect,
    request_locale,
)

# The time zones offered (the API takes any IANA name): where Chorus's people mostly live first.
TIME_ZONES = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Macau",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Kuala_Lumpur",
    "Asia/Bangkok",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Dubai",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Vancouver",
    "America/Toronto",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)
EMAIL_MODES = ("immediate", "digest", "off")
_PREFERENCES = ("email", "locale", "time_zone")  # the main form's fields (the webhook has its own)


def time_zone_options(locale: str, current: str) -> list[tuple[str, str]]:
    """``(IANA name, "上海（UTC+08:00）")`` for the select; the member's own zone is offered even
    when it is not a common one (set through the API)."""
    babel_locale = Formats(locale).locale
    now = datetime.now(UTC)
    zones = TIME_ZONES if current in TIME_ZONES else (current, *TIME_ZONES)
    options = []
    for name in zones:
        try:
            offset = now.astimezone(ZoneInfo(name)).strftime("%z")
        except (KeyError, ValueError):
            options.append((name, name))
            continue
        if name == "UTC":
            options.append((name, name))
            continue
        city = get_timezone_location(name, locale=babel_locale, return_city=True)
        options.append((name, t("page.settings.time_zone_option", locale, city=city, offset=_utc(offset))))
    return options


def _utc(offset: str) -> str:
    """``+0800`` → ``UTC+08:00``."""
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


async def _context(
    request: Request[Any, Any, Any], user: UserRead, prefs: PreferencesRead | None = None, **extra: Any
) -> dict[str, Any]:
    """What the settings page shows: the preferences (as ``GET /api/v1/me/preferences``, or the
    answer that just changed them) and the member's cases (to leave one)."""
    if prefs is None:
        prefs = await service.get_preferences(actor=user)
    locale = request_locale(request, user)
    values = {k: v for k, v in prefs.model_dump().items() if k != "webhook_secret" and v is not None}
    return {
        "prefs": prefs,
        "my_cases": (await cases.my_cases(actor=user)).items,
        "email_modes": EMAIL_MODES,
        "time_zones": time_zone_options(locale, prefs.time_zone),
        "values": values,
        "failed": None,  # which form came back with errors
        "secret": None,
        **extra,
    }


async def _again(
    request: Request[Any, Any, Any],
    user: UserRead,
    exc: ValidationError | DomainError,
    data: FormData,
    failed: str,
) -> Template:
    """The settings page with one form's errors next to its fields; the other forms show what
    is stored."""
    ctx = await _context(request, user, failed=failed)
    stored = ctx.pop("values")
    return await form_error(request, "settings/settings.html", exc, values={**stored, **data}, **ctx)


async def _too_many(
    request: Request[Any, Any, Any],
    user: UserRead,
    exc: TooManyRequestsException,
    template: str,
    **ctx: Any,
) -> Template:
    """A password form refused because of too many wrong passwords: said in words (429)."""
    seconds = int((exc.headers or {}).get("Retry-After", "60"))
    message = t("page.settings.too_many", request_locale(request, user), minutes=max(1, ceil(seconds / 60)))
    return await page(
        request,
        template,
        status=429,
        headers={"retry-after": str(seconds)},
        errors={"": message},
        **ctx,
    )


# --- the page and the preferences -------------------------------------------------------------


@get("/settings", guards=[requires_login], name="settings")
async def settings_page(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    return await page(request, "settings/settings.html", **await _context(request, user))


@post("/settings", guards=[requires_login])
async def save_preferences(
    request: Request[Any, Any, Any],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """E-mail mode, language and time zone (``PUT /api/v1/me/preferences``): an unknown value is
    refused on its field and nothing is changed."""
    try:
        change = parse_form(PreferencesUpdate, {k: data.get(k, "") for k in _PREFERENCES})
        await service.update_preferences(actor=user, data=change, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _again(request, user, exc, data, "preferences")
    return redirect(request, "/settings", flash="page.flash.saved")


@post("/settings/webhook", guards=[requires_login])
async def set_webhook(
    request: Request[Any, Any, Any],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template:
    """A webhook address (https, public): its new signing secret is shown on this answer only,
    as the API's answer carries it once."""
    try:
        change = PreferencesUpdate.model_validate({"webhook_url": data.get("webhook_url", "")})
        prefs = await service.update_preferences(actor=user, data=change, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await _again(request, user, exc, data, "webhook")
    ctx = await _context(request, user, prefs=prefs, secret=prefs.webhook_secret)
    return await page(request, "settings/settings.html", **ctx)


@post("/settings/webhook/remove", guards=[requires_login])
async def remove_webhook(
    request: Request[Any, Any, Any], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
) -> Redirect:
    """No more webhook (``webhook_url: null``): its address and secret are forgotten."""
    change = PreferencesUpdate.model_validate({"webhook_url": None})
    await service.update_preferences(actor=user, data=change, settings=settings)
    return redirect(request, "/settings", flash="page.settings.flash.webhook_removed")


@post("/settings/email/confirm", guards=[requires_login])
async def confirm_email(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Redirect:
    """The address bounced: mail a link that confirms it again (``POST /api/v1/me/email/confirm``)."""
    await service.request_email_confirmation(actor=user)
    return redirect(request, "/settings", flash="page.settings.flash.confirm_sent")


# --- the password -------------------------------------------------------------------------------


@post("/settings/password", guards=[requires_login])
async def change_password(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """A new password, given the current one: every other session of the account ends, this
    browser's lives on."""
    try:
        body = parse_form(PasswordChange, data)
        await confirming_password(
            request,
            user,
            lambda: accounts.change_password(
                actor=user,
                current_password=body.current_password,
                password=body.password,
                keep_token=request_token(request),
            ),
        )
    except (ValidationError, DomainError) as exc:
        return await _again(request, user, exc, data, "password")
    except TooManyRequestsException as exc:
        ctx = await _context(request, user, failed="password")
        return await _too_many(request, user, exc, "settings/settings.html", **ctx)
    return redirect(request, "/settings", flash="page.settings.flash.password_changed")


# --- leaving a case -----------------------------------------------------------------------------


async def _my_case(user: UserRead, case_id: int) -> MyCaseRead:
    """The caller's membership of ``case_id`` (404 ``membership_not_found``, as the API)."""
    found = next((c for c in (await cases.my_cases(actor=user)).items if c.case_id == case_id), None)
    if found is None:
        raise NotFound("membership_not_found")
    return found


@get("/settings/cases/{case_id:int}/leave", guards=[requires_login], opt={"rule": "member"})
async def leave_page(
    request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
) -> Template:
    """Before leaving: what goes and what a filed complaint keeps."""
    return await page(request, "settings/leave.html", case=await _my_case(user, case_id))


@post("/settings/cases/{case_id:int}/leave", guards=[requires_login], opt={"rule": "member"})
async def leave_case(
    request: Request[Any, Any, Any],
    case_id: FromPath[int],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Leave the case (``DELETE /api/v1/cases/{id}/membership``); its only organizer is told why
    not (409 ``last_organizer``) and nothing changes."""
    case = await _my_case(user, case_id)
    try:
        await lifecycle.leave_case(case_id, actor=user, settings=settings)
    except DomainError as exc:
        return await form_error(request, "settings/leave.html", exc, values=data, case=case)
    return redirect(request, "/settings", flash="page.settings.flash.left", flash_params={"case_id": case_id})


# --- deleting the account -----------------------------------------------------------------------


@get("/settings/delete", guards=[requires_login])
async def delete_page(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    """Before deleting: what a filed complaint keeps, what is deleted; the password confirms."""
    return await page(request, "settings/delete.html", my_cases=(await cases.my_cases(actor=user)).items)


@post("/settings/delete", guards=[requires_login])
async def delete_account(
    request: Request[Any, Any, Any],
    data: FormData,
    user: NamedDependency[UserRead],
    settings: NamedDependency[Settings],
) -> Template | Redirect:
    """Delete the account (``DELETE /api/v1/me``): logged out, then the goodbye page. A wrong
    password, or a case the account organizes alone, deletes nothing."""
    try:
        body = parse_form(AccountDelete, data)
        await confirming_password(
            request,
            user,
            lambda: lifecycle.delete_account(actor=user, password=body.password, settings=settings),
        )
    except (ValidationError, DomainError) as exc:
        my_cases = (await cases.my_cases(actor=user)).items
        return await form_error(request, "settings/delete.html", exc, values=data, my_cases=my_cases)
    except TooManyRequestsException as exc:
        my_cases = (await cases.my_cases(actor=user)).items
        return await _too_many(request, user, exc, "settings/delete.html", my_cases=my_cases)
    response = redirect(request, "/goodbye", flash="page.settings.flash.deleted")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@get("/goodbye")
async def goodbye(request: Request[Any, Any, Any]) -> Template | Redirect:
    """Where a deleted account lands, signed out: what stays, and that the address may register
    again. Only right after the deletion (its notice is due): anyone else goes to the home page."""
    if not request.cookies.get(FLASH_COOKIE):
        return Redirect(path="/", status_code=303)
    return await page(request, "settings/goodbye.html")


def handlers() -> list[Any]:
    return [
        settings_page,
        save_preferences,
        set_webhook,
        remove_webhook,
        confirm_email,
        change_password,
        leave_page,
        leave_case,
        delete_page,
        delete_account,
        goodbye,
    ]
