"""Who may call a route, declared on the route.

Site-wide rules are Litestar guards that carry their rule's name (``requires_login``,
``requires_verified``, ``requires_role("moderator")``): they refuse before the handler runs,
whatever its parameters are called. A rule about one object (a member of *this* case, the
uploader of *this* file) is the domain service's to enforce; the route names it with
``opt={"rule": ...}`` next to the guard that signs the caller in, so every route's rule is
readable from the route (:func:`declared_rule`).
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from chorus.errors import Forbidden, NotAuthenticated
from chorus.web.auth import current_user

PUBLIC = "public"


class Requires:
    """A guard that names the rule it enforces: a signed-in caller, with a verified e-mail
    (``verified``) or holding a role (``role``)."""

    def __init__(self, rule: str, *, verified: bool = False, role: str | None = None) -> None:
        self.rule = rule
        self.verified = verified
        self.role = role

    async def __call__(self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = await current_user(connection)
        if user is None:
            raise NotAuthenticated()
        if self.verified and not user.email_verified:
            raise Forbidden("email_not_verified")
        if self.role is not None and not user.has_role(self.role):
            raise Forbidden()

    def __repr__(self) -> str:
        return f"Requires({self.rule!r})"


requires_login = Requires("authenticated")
requires_verified = Requires("verified", verified=True)


def requires_role(role: str) -> Requires:
    """Only callers holding ``role`` (an admin holds every role)."""
    return Requires(role, role=role)


def declared_rule(handler: BaseRouteHandler) -> str:
    """The rule a route declares: its ``opt["rule"]``, else the innermost naming guard's,
    else ``public``."""
    named: str | None = handler.opt.get("rule")
    if named:
        return named
    rules = [
        g.rule for layer in handler.ownership_layers for g in (layer.guards or []) if isinstance(g, Requires)
    ]
    return rules[-1] if rules else PUBLIC


def signs_in(handler: BaseRouteHandler) -> bool:
    """Whether a route refuses callers who are not signed in (401) before it runs."""
    return any(isinstance(g, Requires) for layer in handler.ownership_layers for g in (layer.guards or []))
