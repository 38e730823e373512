"""HTTP: /api/v1/auth/* (password reset included), /api/v1/me (password change, deletion),
/api/v1/admin/users/{id}/roles."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, Router, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from chorus.accounts import identity, lifecycle, service
from chorus.accounts.schemas import (
    AccountDelete,
    IdentityRead,
    IdentityUpdate,
    LoginRead,
    LoginRequest,
    PasswordChange,
    PasswordForgot,
    PasswordReset,
    ResendRequest,
    RolesUpdate,
    UserCreate,
    UserRead,
    VerifyRequest,
)
from chorus.settings import Settings
from chorus.web.auth import (
    SESSION_COOKIE,
    confirming_password,
    log_in,
    request_token,
    same_site_only,
    session_cookie,
)
from chorus.web.guards import requires_login, requires_role
from chorus.web.problems import documented, problems
from chorus.web.ratelimit import credential_limits, limit_by_address


class CredentialsController(Controller):
    """The endpoints that take secrets: rate-limited per client address (all of them together)
    and per account e-mail, and refused when another site makes a browser send them."""

    path = "/api/v1/auth"
    tags = ["auth"]
    guards = [limit_by_address, same_site_only]

    @post("/register", status_code=HTTP_201_CREATED, operation_id="register", responses=problems(409))
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[UserCreate], settings: NamedDependency[Settings]
    ) -> UserRead:
        """Create an account; a verification e-mail follows."""
        await credential_limits(request).spend_account("register", data.email)
        return await service.register(data=data, settings=settings)

    @post("/verify", status_code=HTTP_200_OK, operation_id="verifyEmail")
    async def verify(self, data: JSONBody[VerifyRequest], settings: NamedDependency[Settings]) -> UserRead:
        """Confirm the e-mail address with the token from the verification link."""
        return await service.verify_email(token=data.token, settings=settings)

    @post("/resend-verification", status_code=HTTP_202_ACCEPTED, operation_id="resendVerification")
    async def resend(self, request: Request[Any, Any, Any], data: JSONBody[ResendRequest]) -> None:
        """Send a new verification link (the answer never tells whether the address exists)."""
        await credential_limits(request).spend_account("resend", data.email)
        await service.resend_verification(email=data.email)

    @post("/login", status_code=HTTP_200_OK, operation_id="login", responses=problems(401))
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        settings: NamedDependency[Settings],
    ) -> Response[LoginRead]:
        """Returns a bearer token and sets the same token as an HttpOnly session cookie.
        An account that took too many failed logins (from any addresses) answers 429 for a while."""
        user, token = await log_in(request, email=data.email, password=data.password, settings=settings)
        return Response(LoginRead(user=user, token=token), cookies=[session_cookie(token, settings)])

    @post("/password/forgot", status_code=HTTP_202_ACCEPTED, operation_id="forgotPassword")
    async def forgot_password(self, request: Request[Any, Any, Any], data: JSONBody[PasswordForgot]) -> None:
        """Mail a single-use link to set a new password (valid CHORUS_PASSWORD_RESET_MINUTES).
        The answer is the same whether or not the address has an account."""
        await credential_limits(request).spend_account("password-reset", data.email)
        await service.request_password_reset(email=data.email)

    @post("/password/reset", status_code=HTTP_200_OK, operation_id="resetPassword")
    async def reset_password(
        self, data: JSONBody[PasswordReset], settings: NamedDependency[Settings]
    ) -> UserRead:
        """Set a new password with the token from the link; every session of the account ends.
        A used, expired or altered token answers 422 (``token_invalid``, ``token_expired``)."""
        return await service.reset_password(token=data.token, password=data.password, settings=settings)


class SessionController(Controller):
    path = "/api/v1"
    tags = ["auth"]
    guards = [requires_login]

    @post("/auth/logout", status_code=HTTP_204_NO_CONTENT, operation_id="logout")
    async def logout(
        self, request: Request[Any, Any, Any], user: NamedDependency[UserRead]
    ) -> Response[None]:
        """Revoke the token (and so the session cookie) used for this request."""
        token = request_token(request)
        if token:
            await service.logout(token=token)
        response: Response[None] = Response(None, status_code=HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @get("/me", operation_id="me")
    async def me(self, user: NamedDependency[UserRead]) -> UserRead:
        return user

    @post(
        "/me/password",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="changePassword",
        responses=problems(429),
    )
    async def change_password(
        self, request: Request[Any, Any, Any], data: JSONBody[PasswordChange], user: NamedDependency[UserRead]
    ) -> None:
        """Change your password, giving the current one (403 ``wrong_password``): your other
        sessions end, this one lives on."""
        await confirming_password(
            request,
            user,
            lambda: service.change_password(
                actor=user,
                current_password=data.current_password,
                password=data.password,
                keep_token=request_token(request),
            ),
        )

    @delete(
        "/me", status_code=HTTP_204_NO_CONTENT, operation_id="deleteAccount", responses=problems(409, 429)
    )
    async def delete_account(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[AccountDelete],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        """Delete your account, giving your password (403 ``wrong_password``): you leave every
        case (409 ``last_organizer`` while you alone organize one with other members), your
        sessions end and your personal data goes; what filed complaints keep is in the README."""
        await confirming_password(
            request,
            user,
            lambda: lifecycle.delete_account(actor=user, password=data.password, settings=settings),
        )
        response: Response[None] = Response(None, status_code=HTTP_204_NO_CONTENT)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


class AdminUsersController(Controller):
    path = "/api/v1/admin/users"
    tags = ["admin"]
    guards = [requires_role("admin")]

    @put("/{user_id:int}/roles", operation_id="setUserRoles", responses=problems(409))
    async def set_roles(
        self, user_id: FromPath[int], data: JSONBody[RolesUpdate], user: NamedDependency[UserRead]
    ) -> UserRead:
        """Admins grant or withdraw roles (``moderator``, ``admin``); the last admin keeps the
        role (409 ``last_admin``)."""
        return await service.set_roles(user_id=user_id, roles=list(data.roles), actor_id=user.id)


class IdentityController(Controller):
    """A member's identity details for filing on their behalf (issue 14 item 8): given with a
    separate consent, kept encrypted, shown only in the version sent to a regulator that
    requires them."""

    path = "/api/v1/me/identity"
    tags = ["auth"]
    guards = [requires_login]

    @get("/", operation_id="getIdentity")
    async def get_identity(self, user: NamedDependency[UserRead]) -> IdentityRead:
        """Your details as you gave them (empty when none) and the consent version asked for."""
        return await identity.get(actor=user)

    @put("/", operation_id="setIdentity", responses=problems(409))
    async def set_identity(
        self, data: JSONBody[IdentityUpdate], user: NamedDependency[UserRead]
    ) -> IdentityRead:
        """Give or replace your details (a field left out is removed) with ``consent: true`` and
        the ``consent_version`` shown (422 ``identity_consent_required`` without consent, a bad
        value on its field; 409 ``identity_consent_outdated`` when the text changed)."""
        return await identity.put(actor=user, data=data)

    @delete("/", status_code=HTTP_204_NO_CONTENT, operation_id="deleteIdentity")
    async def delete_identity(self, user: NamedDependency[UserRead]) -> None:
        """Withdraw your consent: your details and their key are deleted (none given: nothing to do)."""
        await identity.delete(actor=user)


def routers() -> list[Router]:
    handlers = [CredentialsController, SessionController, AdminUsersController, IdentityController]
    return documented([Router(path="/", route_handlers=handlers)])
