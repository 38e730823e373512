"""Who is calling: bearer token or session cookie → the user; dependencies for handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserRead
from chorus.errors import Forbidden, NotAuthenticated
from chorus.settings import Settings
from chorus.web.ratelimit import credential_limits

SESSION_COOKIE = "chorus_session"
_STATE_KEY = "chorus_user"


def request_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The bearer token if present, else the session cookie."""
    header = connection.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return connection.cookies.get(SESSION_COOKIE) or None


async def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> UserRead | None:
    """The authenticated user or None; resolved once per request (guards and handlers share it)."""
    if _STATE_KEY in connection.scope:
        cached: UserRead | None = connection.scope[_STATE_KEY]  # type: ignore[literal-required]
        return cached
    token = request_token(connection)
    user = await accounts.authenticate(token) if token else None
    connection.scope[_STATE_KEY] = user  # type: ignore[literal-required]
    return user


def session_cookie(token: str, settings: Settings) -> Cookie:
    """The session cookie a login sets (the API's and the login page's): the token, HttpOnly,
    SameSite=Lax, living as long as the session."""
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        httponly=True,
        secure=settings.cookies_secure,
        samesite="lax",
        max_age=settings.session_days * 86400,
        path="/",
    )


async def log_in(
    connection: ASGIConnection[Any, Any, Any, Any], *, email: str, password: str, settings: Settings
) -> tuple[UserRead, str]:
    """Check the password and open a session (the API's login and the login page's): an
    account that took too many failed logins, from any addresses, answers 429 for a while."""
    limits = credential_limits(connection)
    await limits.check_account("login", email)
    try:
        user, token = await accounts.login(email=email, password=password, settings=settings)
    except NotAuthenticated:
        await limits.account_failed("login", email)
        raise
    await limits.account_succeeded("login", email)
    return user, token


async def confirming_password(
    connection: ASGIConnection[Any, Any, Any, Any], user: UserRead, action: Callable[[], Awaitable[None]]
) -> None:
    """Run ``action``, which confirms the caller's password (changing it, deleting the account;
    the API's and the settings page's): a wrong one counts against the account as a failed login
    does, so a stolen session cannot try passwords at will (429)."""
    limits = credential_limits(connection)
    await limits.check_account("login", user.email)
    try:
        await action()
    except Forbidden as exc:
        if exc.code == "wrong_password":
            await limits.account_failed("login", user.email)
        raise


async def provide_maybe_user(request: Request[Any, Any, Any]) -> UserRead | None:
    return await current_user(request)


async def provide_user(request: Request[Any, Any, Any]) -> UserRead:
    user = await current_user(request)
    if user is None:
        raise NotAuthenticated()
    return user


DEPENDENCIES = {
    "maybe_user": Provide(provide_maybe_user),
    "user": Provide(provide_user),  # who is calling; who may call is the route's guards' (web.guards)
}


async def same_site_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of login, register, verify and password reset: no other site may make a browser
    send them (login CSRF would sign the victim into the attacker's account). ``Sec-Fetch-Site:
    cross-site`` is refused, and so is an ``Origin`` other than CHORUS_PUBLIC_URL's. Clients that
    send neither (scripts, the mail link's own page in old browsers) pass."""
    settings: Settings = connection.app.state["settings"]
    site = connection.headers.get("sec-fetch-site", "").strip().lower()
    origin = connection.headers.get("origin", "").strip().lower()
    if site == "cross-site":
        raise Forbidden("cross_site_request")
    if origin == "null":
        # sandboxed frames and strict referrer policies send "null": only the browser's own
        # same-origin mark lets it through
        if site != "same-origin":
            raise Forbidden("cross_site_request")
    elif origin and origin != settings.public_origin:
        raise Forbidden("cross_site_request")
