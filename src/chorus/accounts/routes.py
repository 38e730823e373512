"""HTTP: /api/v1/auth/*, /api/v1/me, /api/v1/admin/users/{id}/roles."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, Router, get, post, put
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from chorus.accounts import service
from chorus.accounts.schemas import (
    LoginRead,
    LoginRequest,
    ResendRequest,
    RolesUpdate,
    UserCreate,
    UserRead,
    VerifyRequest,
)
from chorus.settings import Settings
from chorus.web.auth import SESSION_COOKIE, request_token
from chorus.web.problems import documented
from chorus.web.ratelimit import auth_rate_limit


class CredentialsController(Controller):
    """The endpoints that take secrets; rate-limited per client address."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/register", status_code=HTTP_201_CREATED, operation_id="register")
    async def register(self, data: JSONBody[UserCreate], settings: NamedDependency[Settings]) -> UserRead:
        """Create an account; a verification e-mail follows."""
        return await service.register(data=data, settings=settings)

    @post("/verify", status_code=HTTP_200_OK, operation_id="verifyEmail")
    async def verify(self, data: JSONBody[VerifyRequest], settings: NamedDependency[Settings]) -> UserRead:
        """Confirm the e-mail address with the token from the verification link."""
        return await service.verify_email(token=data.token, settings=settings)

    @post("/resend-verification", status_code=HTTP_202_ACCEPTED, operation_id="resendVerification")
    async def resend(self, data: JSONBody[ResendRequest]) -> None:
        """Send a new verification link (the answer never tells whether the address exists)."""
        await service.resend_verification(email=data.email)

    @post("/login", status_code=HTTP_200_OK, operation_id="login")
    async def login(
        self, data: JSONBody[LoginRequest], settings: NamedDependency[Settings]
    ) -> Response[LoginRead]:
        """Returns a bearer token and sets the same token as an HttpOnly session cookie."""
        user, token = await service.login(email=data.email, password=data.password, settings=settings)
        return Response(
            LoginRead(user=user, token=token),
            cookies=[
                Cookie(
                    key=SESSION_COOKIE,
                    value=token,
                    httponly=True,
                    secure=settings.cookies_secure,
                    samesite="lax",
                    max_age=settings.session_days * 86400,
                    path="/",
                )
            ],
        )


class SessionController(Controller):
    path = "/api/v1"
    tags = ["auth"]

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


class AdminUsersController(Controller):
    path = "/api/v1/admin/users"
    tags = ["admin"]

    @put("/{user_id:int}/roles", operation_id="setUserRoles")
    async def set_roles(
        self, user_id: FromPath[int], data: JSONBody[RolesUpdate], admin: NamedDependency[UserRead]
    ) -> UserRead:
        """Admins grant or withdraw roles (``moderator``, ``admin``)."""
        return await service.set_roles(user_id=user_id, roles=list(data.roles), actor_id=admin.id)


def routers(settings: Settings) -> list[Router]:
    limit = auth_rate_limit(settings.auth_rate_limit)
    return documented([
        Router(path="/", route_handlers=[CredentialsController], middleware=[limit.middleware]),
        Router(path="/", route_handlers=[SessionController, AdminUsersController]),
    ])
