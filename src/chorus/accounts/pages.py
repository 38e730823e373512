"""The account pages: ``/register``, ``/verify`` (the link of the verification e-mail),
``/login``, ``/logout``, ``/password/forgot`` and ``/password/reset`` (the link of the reset
e-mail).

They call the services the JSON API calls (:mod:`chorus.accounts.service`), count against the
same rate limits, and the posts that take secrets carry the API's guards (one counter per client
address, nothing posted from another site). A mailed link opens a page with a button: GET never
uses a token (mail scanners open links), the button's POST does."""

from __future__ import annotations

from datetime import UTC, datetime
from math import ceil
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import TooManyRequestsException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts import identity, service
from chorus.accounts.schemas import (
    IdentityUpdate,
    LoginRequest,
    PasswordForgot,
    PasswordReset,
    ResendRequest,
    UserCreate,
    UserRead,
    VerifyRequest,
)
from chorus.errors import DomainError
from chorus.i18n import join_list, t
from chorus.regulators import requirements
from chorus.regulators import service as regulators
from chorus.settings import Settings
from chorus.web.auth import (
    SESSION_COOKIE,
    current_user,
    log_in,
    request_token,
    same_site_only,
    session_cookie,
)
from chorus.web.guards import requires_login
from chorus.web.pages import (
    FormData,
    form_error,
    is_account_page,
    page,
    page_router,
    parse_form,
    redirect,
    request_locale,
    safe_next,
)
from chorus.web.ratelimit import credential_limits, limit_by_address

# The posts that take secrets or send mail: the API's guards on its credential endpoints.
CREDENTIALS = [limit_by_address, same_site_only]
_TOKEN_CODES = ("token_invalid", "token_expired")

Token = Annotated[str | None, QueryParameter(name="token")]


def after_login(value: str | None) -> str:
    """Where a login goes on to: ``next`` when it is a page of this site (never an open
    redirect, never back to the account pages themselves), else the home page."""
    target = safe_next(value)
    return "/" if is_account_page(target) else target


def _link_trouble(exc: ValidationError | DomainError) -> str | None:
    """``"expired"`` or ``"invalid"`` when ``exc`` refuses the token of a mailed link, else None."""
    if isinstance(exc, DomainError):
        codes = {exc.code, *(e.code for e in exc.errors)}
        if "token_expired" in codes:
            return "expired"
        return "invalid" if codes & set(_TOKEN_CODES) else None
    return "invalid" if any(e["loc"][:1] == ("token",) for e in exc.errors()) else None


# --- register ---------------------------------------------------------------------------------


Next = Annotated[str | None, QueryParameter(name="next")]


def _going_on(value: Any) -> str | None:
    """Where a form's ``next`` goes on to (:func:`after_login`), when it is not the home page."""
    target = after_login(None if value is None else str(value))
    return None if target == "/" else target


@get("/register", name="register")
async def register_page(request: Request[Any, Any, Any], next_: Next = None) -> Template:
    """The registration form: name, e-mail, password; ``next``, the page they were on their way
    to, is where the verification e-mail's link and the login after it lead."""
    return await page(request, "accounts/register.html", values={"next": after_login(next_)})


@post("/register", guards=CREDENTIALS)
async def register(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """Create the account in the language of the page (as the API's register does); then the
    "check your mailbox" page."""
    locale = request_locale(request, await current_user(request))
    then = _going_on(data.get("next"))
    try:
        account = parse_form(UserCreate, {**data, "locale": locale})
        await credential_limits(request).spend_account("register", account.email)
        await service.register(data=account, settings=settings, then=then)
    except (ValidationError, DomainError) as exc:
        taken = isinstance(exc, DomainError) and exc.code == "email_taken"
        values = {**data, "next": then or "/"}
        return await form_error(request, "accounts/register.html", exc, values=values, email_taken=taken)
    return redirect(request, _with_next("/verify", then), flash="page.accounts.flash.registered")


def _with_next(path: str, then: str | None) -> str:
    return f"{path}?{urlencode({'next': then})}" if then else path


# --- verify the address -----------------------------------------------------------------------


@get("/verify", name="verify")
async def verify_page(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    token: Token = None,
    next_: Next = None,
) -> Template:
    """The verification e-mail's link: a button that confirms the address (the token is used
    only by the button's POST). Without a token: "check your mailbox", with a resend form.
    ``next`` (where they were going) is carried on by both."""
    values = {"next": after_login(next_)}
    if token:
        return await page(request, "accounts/verify.html", token=token, values=values)
    return await page(request, "accounts/check_mail.html", hours=settings.verify_token_hours, values=values)


@post("/verify", guards=CREDENTIALS)
async def verify(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """Confirm the address; then log in (or, already signed in to it, carry on)."""
    try:
        body = parse_form(VerifyRequest, data)
        verified = await service.verify_email(token=body.token, settings=settings)
    except (ValidationError, DomainError) as exc:
        trouble = _link_trouble(exc)
        if trouble is None:
            raise
        return await page(
            request,
            "accounts/verify_failed.html",
            status=422,
            trouble=trouble,
            hours=settings.verify_token_hours,
        )
    then = _going_on(data.get("next"))
    user = await current_user(request)
    if user is not None and user.id == verified.id:
        return redirect(request, then or "/", flash="page.accounts.flash.verified_signed_in")
    return redirect(request, _with_next("/login", then), flash="page.accounts.flash.verified")


@post("/verify/resend", guards=CREDENTIALS)
async def resend_verification(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """A new verification link; the answer is the same whether or not the address has an
    account waiting (as the API's)."""
    then = _going_on(data.get("next"))
    try:
        body = parse_form(ResendRequest, data)
    except ValidationError as exc:
        values = {**data, "next": then or "/"}
        return await form_error(
            request, "accounts/check_mail.html", exc, values=values, hours=settings.verify_token_hours
        )
    await credential_limits(request).spend_account("resend", body.email)
    await service.resend_verification(email=body.email, then=then)
    return redirect(request, _with_next("/verify", then), flash="page.accounts.flash.resent")


# --- log in and out ---------------------------------------------------------------------------


@get("/login", name="login")
async def login_page(request: Request[Any, Any, Any], next_: Next = None) -> Template | Redirect:
    """The login form; someone already signed in goes straight on to ``next``."""
    target = after_login(next_)
    if await current_user(request) is not None:
        return Redirect(path=target, status_code=303)
    return await page(request, "accounts/login.html", values={"next": target})


@post("/login", guards=CREDENTIALS)
async def login(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """Open a session (the API login's session cookie), then on to ``next``. A wrong password
    and an unknown address are answered alike; an account with too many failed logins is told
    when to try again."""
    target = after_login(data.get("next"))
    values = {**data, "next": target}
    try:
        creds = parse_form(LoginRequest, data)
        _, token = await log_in(request, email=creds.email, password=creds.password, settings=settings)
    except (ValidationError, DomainError) as exc:
        return await form_error(request, "accounts/login.html", exc, values=values)
    except TooManyRequestsException as exc:
        seconds = int((exc.headers or {}).get("Retry-After", "60"))
        locale = request_locale(request, None)
        message = t("page.accounts.login.too_many", locale, minutes=max(1, ceil(seconds / 60)))
        shown = {k: v for k, v in values.items() if "password" not in k and not k.startswith("_")}
        return await page(
            request,
            "accounts/login.html",
            status=429,
            headers={"retry-after": str(seconds)},
            errors={"": message},
            values=shown,
        )
    response = redirect(request, target, flash="page.accounts.flash.logged_in")
    response.cookies.append(session_cookie(token, settings))
    return response


@post("/logout")
async def logout(request: Request[Any, Any, Any]) -> Redirect:
    """The header's logout button: the session ends (its token is revoked, not only forgotten
    by this browser)."""
    token = request_token(request)
    if token:
        await service.logout(token=token)
    response = redirect(request, "/", flash="page.accounts.flash.logged_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- a forgotten password ---------------------------------------------------------------------


@get("/password/forgot", name="password_forgot")
async def forgot_page(
    request: Request[Any, Any, Any],
    settings: NamedDependency[Settings],
    sent: Annotated[str | None, QueryParameter(name="sent")] = None,
) -> Template:
    """The form asking for the address; after it, the same "if an account exists, we sent a
    link" page whatever the address was."""
    template = "accounts/forgot_sent.html" if sent == "1" else "accounts/forgot.html"
    return await page(request, template, minutes=settings.password_reset_minutes)


@post("/password/forgot", guards=CREDENTIALS)
async def forgot(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """Mail a reset link if the address has an account (the answer never tells)."""
    try:
        body = parse_form(PasswordForgot, data)
    except ValidationError as exc:
        return await form_error(
            request, "accounts/forgot.html", exc, values=data, minutes=settings.password_reset_minutes
        )
    await credential_limits(request).spend_account("password-reset", body.email)
    await service.request_password_reset(email=body.email)
    return redirect(request, "/password/forgot?sent=1")


@get("/password/reset", name="password_reset")
async def reset_page(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings], token: Token = None
) -> Template:
    """The reset e-mail's link: the new-password form (the token is used only by its POST)."""
    if not token:
        return await _reset_failed(request, settings, "invalid", status=200)
    return await page(request, "accounts/reset.html", token=token)


@post("/password/reset", guards=CREDENTIALS)
async def reset(
    request: Request[Any, Any, Any], data: FormData, settings: NamedDependency[Settings]
) -> Template | Redirect:
    """Set the new password: every session of the account ends, this browser's too; then the
    login page."""
    try:
        body = parse_form(PasswordReset, data)
        await service.reset_password(token=body.token, password=body.password, settings=settings)
    except (ValidationError, DomainError) as exc:
        trouble = _link_trouble(exc)
        if trouble is not None:
            return await _reset_failed(request, settings, trouble)
        return await form_error(
            request, "accounts/reset.html", exc, values=data, token=str(data.get("token", ""))
        )
    response = redirect(request, "/login", flash="page.accounts.flash.password_reset")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _reset_failed(
    request: Request[Any, Any, Any], settings: Settings, trouble: str, *, status: int = 422
) -> Template:
    return await page(
        request,
        "accounts/reset_failed.html",
        status=status,
        trouble=trouble,
        minutes=settings.password_reset_minutes,
    )


# --- identity details for filing (/settings/identity) -------------------------------------------

_ID_TYPES = ("cn_resident_id", "passport", "other")
_IDENTITY_FORM = ("real_name", "phone", "id_type", "id_number", "address", "consent", "consent_version")


def _fields_text(fields: Any, locale: str) -> str:
    return join_list((t(f"page.identity.field.{f}", locale) for f in fields), locale)


async def _identity_context(request: Request[Any, Any, Any], user: UserRead) -> dict[str, Any]:
    """What the identity page shows: the member's details as given (GET /api/v1/me/identity),
    and what each regulator requires of a complainant today, with its source."""
    locale = request_locale(request, user)
    stored = await identity.get(actor=user)
    today = datetime.now(UTC).date()
    by_rule: dict[str, dict[str, Any]] = {}
    for slug in requirements.regulator_slugs():
        regulator_id = await regulators.id_of(slug)
        if regulator_id is None:
            continue
        name = (await regulators.get_or_raise(regulator_id))["name"]
        for rule in requirements.rules_for(slug):
            if rule.in_force(today):
                item = by_rule.setdefault(
                    rule.rule, {"rule": rule, "names": [], "fields_text": _fields_text(rule.fields, locale)}
                )
                item["names"].append(name)
    items = [{**i, "names": join_list(i["names"], locale)} for i in by_rule.values()]
    values = {k: v for k, v in stored.model_dump().items() if k in _IDENTITY_FORM and v is not None}
    values.pop("consent_version", None)
    return {
        "stored": stored,
        "stored_fields_text": _fields_text(stored.fields, locale),
        "requirements": items,
        "id_types": [("", t("page.identity.id_type.none", locale))]
        + [(k, t(f"page.identity.id_type.{k}", locale)) for k in _ID_TYPES],
        "consent_text": identity.consent_text(locale),
        "consent_version": identity.CONSENT_VERSION,
        "values": values,
    }


@get("/settings/identity", guards=[requires_login], name="identity")
async def identity_page(request: Request[Any, Any, Any], user: NamedDependency[UserRead]) -> Template:
    return await page(request, "accounts/identity.html", **await _identity_context(request, user))


@post("/settings/identity", guards=[requires_login])
async def save_identity(
    request: Request[Any, Any, Any], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """The details with the separate consent (``PUT /api/v1/me/identity``): without the consent
    ticked, or with a bad value, the form comes back with the refusal next to its field and
    nothing is kept."""
    fields = {k: data.get(k, "") for k in _IDENTITY_FORM}
    fields["consent"] = "true" if data.get("consent") else "false"
    try:
        await identity.put(actor=user, data=parse_form(IdentityUpdate, fields))
    except (ValidationError, DomainError) as exc:
        ctx = await _identity_context(request, user)
        ctx.pop("values")
        typed = {k: v for k, v in data.items() if k != "consent"}
        return await form_error(request, "accounts/identity.html", exc, values=typed, **ctx)
    return redirect(request, "/settings/identity", flash="page.identity.flash.saved")


@post("/settings/identity/delete", guards=[requires_login])
async def delete_identity(
    request: Request[Any, Any, Any], user: NamedDependency[UserRead]
) -> Template | Redirect:
    """Withdraw the consent (``DELETE /api/v1/me/identity``): the details and their key go."""
    try:
        await identity.delete(actor=user)
    except DomainError as exc:
        ctx = await _identity_context(request, user)
        return await form_error(request, "accounts/identity.html", exc, values=ctx.pop("values"), **ctx)
    return redirect(request, "/settings/identity", flash="page.identity.flash.withdrawn")


def page_routers() -> list[Router]:
    return [
        page_router(
            identity_page,
            save_identity,
            delete_identity,
            register_page,
            register,
            verify_page,
            verify,
            resend_verification,
            login_page,
            login,
            logout,
            forgot_page,
            forgot,
            reset_page,
            reset,
        )
    ]
