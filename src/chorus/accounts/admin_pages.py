"""The admins' page of staff roles: ``/admin/users`` lists the moderators and admins, finds an
account by its exact e-mail address, and grants or withdraws the two roles
(``/admin/users/{id}/roles``, the API's setUserRoles).

Admins only. An admin sees the e-mail addresses of staff and of the one account they looked up
by its address, nothing more: no list of members, who are victims and not staff. Organizers are
appointed inside each case by its organizers, not here. The last admin keeps the role (409
``last_admin``, shown on that account's form)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from pydantic import ValidationError

from chorus.accounts import service
from chorus.accounts.schemas import RolesUpdate, UserRead
from chorus.errors import DomainError
from chorus.web.guards import requires_role
from chorus.web.pages import FormData, form_error, page, page_router, redirect

ADMIN = [requires_role("admin")]
STAFF_ROLES = ("moderator", "admin")  # the roles this page grants, in the order shown


def staff(account: UserRead) -> bool:
    return any(role in account.roles for role in STAFF_ROLES)


async def _context(email: str, failed: UserRead | None = None) -> dict[str, Any]:
    """The staff, and the account looked up by ``email`` (or the one whose form was refused)."""
    wanted = email.strip().lower()
    found = failed or (await service.get_by_email(wanted) if wanted else None)
    return {"staff": await service.list_staff(), "email": email.strip(), "found": found, "failed": failed}


@get("/admin/users", guards=ADMIN, name="admin_users")
async def users(
    request: Request[Any, Any, Any], email: Annotated[str, QueryParameter(max_length=254)] = ""
) -> Template:
    """Moderators and admins, each with the form of their roles; ``?email=`` finds one account."""
    return await page(request, "admin/users.html", **await _context(email))


@post("/admin/users/{user_id:int}/roles", guards=ADMIN)
async def set_roles(
    request: Request[Any, Any, Any], user_id: FromPath[int], data: FormData, user: NamedDependency[UserRead]
) -> Template | Redirect:
    """The ticked roles (``moderator``, ``admin``) replace the account's; ``user`` stays."""
    target = await service.get_or_raise(user_id)  # an unknown or deleted account: the 404 page
    ticked = [role for role in STAFF_ROLES if data.get(role)]
    try:
        change = RolesUpdate.model_validate({"roles": ticked})  # the API's schema
        changed = await service.set_roles(user_id=user_id, roles=list(change.roles), actor_id=user.id)
    except (ValidationError, DomainError) as exc:
        context = await _context(target.email, failed=target)
        return await form_error(request, "admin/users.html", exc, values={}, **context)
    if user_id == user.id and not changed.has_role("admin"):  # an admin who stepped down
        return redirect(request, "/", flash="page.admin_users.flash.stepped_down")
    # back to the account's form: in the staff list, or (no role left) looked up by its address
    to = "/admin/users" if staff(changed) else f"/admin/users?{urlencode({'email': changed.email})}"
    return redirect(request, f"{to}#user-{user_id}", flash="page.admin_users.flash.saved")


def page_routers() -> list[Router]:
    return [page_router(users, set_roles)]
