"""``/admin``: the admins' desk. What each part of the platform an admin looks after has waiting
(quarantined mail, open moderation proposals), the size of the regulator registry and of the
staff, each with its page. ``/admin/activity``: what staff did lately (roles, regulators,
merges and confirmations, quarantined mail), from the audit log, in words. Admins only: counts
and staff actions, none of the members' own doings (their uploads, consents, identity)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Template

from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.audit.schemas import AuditEntryRead
from chorus.errors import Invalid, NotFound
from chorus.filings import inbound
from chorus.i18n import join_list, t
from chorus.ids import MAX_ID
from chorus.merchants import service as merchants
from chorus.moderation import service as moderation
from chorus.regulators import service as regulators
from chorus.web.guards import requires_role
from chorus.web.pages import page, page_router, request_locale

ADMIN = [requires_role("admin")]


class Area(StrEnum):
    """The parts of the platform staff actions concern (``/admin/activity?area=``)."""

    roles = "roles"
    regulators = "regulators"
    merchants = "merchants"
    mail = "mail"


# What staff do that other staff should be able to look back on (the audit log's actions), by area.
AREA_ACTIONS: dict[Area, tuple[str, ...]] = {
    Area.roles: ("user.roles_set",),
    Area.regulators: (
        "regulator.created",
        "regulator.updated",
        "regulator.deactivated",
        "regulator.reactivated",
        "regulator.corrected",
    ),
    Area.merchants: (
        "merchant.merged",
        "merchant.merge_rejected",
        "merchant.link_confirmed",
        "merchant.link_rejected",
        "merchant.identifier_confirmed",
        "merchant.alias_confirmed",
    ),
    Area.mail: ("inbound.assigned", "inbound.discarded", "inbound.raw_downloaded"),
}
STAFF_ACTIONS = tuple(a for actions in AREA_ACTIONS.values() for a in actions)
SHOWN = 50  # entries per page
# the audit log's object types of proposals (an entry holds only the proposal's number)
_PROPOSALS = ("merge_proposal", "link_proposal")


@get("/admin", guards=ADMIN, name="admin_home")
async def admin_home(request: Request[Any, Any, Any]) -> Template:
    registry = await regulators.list_all()
    staff = await accounts.list_staff()
    admins = sum("admin" in s.roles for s in staff)
    merges, links = await moderation.waiting()
    return await page(
        request,
        "admin/home.html",
        quarantine_open=await inbound.waiting(),
        merges=merges,
        links=links,
        regulators=len(registry),
        inactive=sum(not r.active for r in registry),
        admins=admins,
        moderators=len(staff) - admins,
    )


def _link(e: AuditEntryRead) -> str | None:
    """The page of what an entry is about, where there is one."""
    merchant = e.data.get("merchant_id")
    return {
        "regulator": f"/admin/regulators/{e.object_id}",
        "merchant": f"/merchants/{e.object_id}",
        "inbound_quarantine": f"/admin/quarantine/{e.object_id}",
        "merchant_identifier": f"/merchants/{merchant}" if merchant else None,
        "merchant_alias": f"/merchants/{merchant}" if merchant else None,
        "link_proposal": f"/merchants/{merchant}" if merchant else None,
        "merge_proposal": f"/merchants/{e.data['merchant_a']}" if e.data.get("merchant_a") else None,
    }.get(e.object_type)


async def _with_proposals(entries: list[AuditEntryRead]) -> list[AuditEntryRead]:
    """Entries about proposals (their audit data holds no more than the proposal's number) with
    what each was about: a merge proposal's two merchants, a name link's merchant and name."""
    ids = {
        kind: [e.object_id for e in entries if e.object_type == kind and e.object_id] for kind in _PROPOSALS
    }
    if not any(ids.values()):
        return entries
    merges, links = await merchants.proposals_about(ids["merge_proposal"], ids["link_proposal"])
    about: dict[tuple[str, int], dict[str, Any]] = {
        **{("merge_proposal", i): {"merchant_a": a, "merchant_b": b} for i, (a, b) in merges.items()},
        **{("link_proposal", i): {"merchant_id": m, "link_name": n} for i, (m, n) in links.items()},
    }
    return [
        e.model_copy(update={"data": {**found, **e.data}})
        if (found := about.get((e.object_type, e.object_id or 0)))
        else e
        for e in entries
    ]


def _name(names: dict[int, str], merchant_id: Any) -> str:
    return names.get(merchant_id, f"#{merchant_id}") if isinstance(merchant_id, int) else ""


def _merchants_named(entries: list[AuditEntryRead]) -> list[int]:
    """The merchants entries speak of: the one merged into, the one merged, the one confirmed,
    the two a merge proposal was about."""
    found = [e.object_id for e in entries if e.object_type == "merchant" and e.object_id]
    for e in entries:
        keys = ("source_id", "merchant_id", "merchant_a", "merchant_b")
        found += [v for k in keys if isinstance(v := e.data.get(k), int)]
    return found


def _words(e: AuditEntryRead, names: dict[str, dict[int, str]], locale: str) -> str:
    """One entry as a sentence (``page.admin_activity.action.<action>``)."""
    staff_roles = [r for r in e.data.get("roles", []) if r != "user"]
    params: dict[str, Any] = {
        "id": e.object_id,
        "source": e.data.get("source_id"),
        "filing": e.data.get("filing_id"),
        "merchant": _name(names["merchant"], e.data.get("merchant_id")),
        "merchant_id": e.data.get("merchant_id"),
        "name": _name(names["merchant"], e.object_id) if e.object_type == "merchant" else "",
        "source_name": _name(names["merchant"], e.data.get("source_id")),
        "merchant_a": e.data.get("merchant_a"),
        "merchant_b": e.data.get("merchant_b"),
        "name_a": _name(names["merchant"], e.data.get("merchant_a")),
        "name_b": _name(names["merchant"], e.data.get("merchant_b")),
        "link_name": e.data.get("link_name", ""),
        "kind": t(f"identifier.kind.{e.data['kind']}", locale) if e.data.get("kind") else "",
        "regulator": names["regulator"].get(e.object_id or 0, f"#{e.object_id}"),
        "user": names["user"].get(e.object_id or 0, f"#{e.object_id}"),
        "roles": join_list((t(f"page.admin_users.role.{r}", locale) for r in staff_roles), locale)
        or t("page.admin_activity.no_role", locale),
    }
    return t(f"page.admin_activity.action.{e.action}", locale, **params)


def _filters(by: str, area: str) -> tuple[int | None, Area | None]:
    """The activity form's choices: an account's id or "" (everyone), an area or "" (all);
    422 for anything else, 404 for a number no account can have (as for any id)."""
    by = by.strip()
    if by and not by.isdecimal():
        raise Invalid("invalid", field="by")
    if area and area not in Area.__members__:
        raise Invalid("invalid", field="area")
    if by and not 0 < int(by) <= MAX_ID:
        raise NotFound()
    return (int(by) if by else None), (Area(area) if area else None)


def _activity_url(*, by: int | None, area: Area | None, before: int | None = None) -> str:
    """``/admin/activity`` with these filters (and page)."""
    query = urlencode(
        [(k, v) for k, v in (("by", by), ("area", area and area.value), ("before", before)) if v is not None]
    )
    return f"/admin/activity?{query}" if query else "/admin/activity"


@get("/admin/activity", guards=ADMIN, name="admin_activity")
async def activity(
    request: Request[Any, Any, Any],
    user: NamedDependency[UserRead],
    by: FromQuery[str] = "",
    area: FromQuery[str] = "",
    before: FromQuery[int] = 0,
) -> Template:
    """What staff did, newest first, a page at a time: who, when, what, and the page it
    concerns; only one person's (``by``: an account's id), only one area's (``area``), older
    than an entry (``before``: the next page; 0, none). The form sends "" for everyone,
    everything."""
    person, part = _filters(by, area)
    actions = AREA_ACTIONS[part] if part else STAFF_ACTIONS
    found = await audit.recent(actions=actions, limit=SHOWN + 1, before=before or None, actor_id=person)
    entries = await _with_proposals(found[:SHOWN])
    everyone = await audit.actors(actions=STAFF_ACTIONS)
    people = await accounts.contacts(
        [*everyone, *(e.object_id for e in entries if e.object_type == "user" and e.object_id)]
    )
    names = {
        "user": {i: c["display_name"] for i, c in people.items()},
        "regulator": {r.id: r.name for r in await regulators.list_all()},
        "merchant": await merchants.merchant_names(_merchants_named(entries)),
    }
    locale = request_locale(request, user)
    rows = [
        {
            "entry": e,
            "actor": names["user"].get(e.actor_id or 0),
            "actor_url": _activity_url(by=e.actor_id, area=part) if e.actor_id else None,
            "words": _words(e, names, locale),
            "link": _link(e),
        }
        for e in entries
    ]
    return await page(
        request,
        "admin/activity.html",
        rows=rows,
        shown=SHOWN,
        # the people the log names, to choose from; an account deleted since keeps its number
        people=[
            (i, names["user"].get(i) or t("page.admin_activity.actor_gone", locale, id=i)) for i in everyone
        ],
        areas=list(Area),
        by=person,
        area=part,
        filtered=person is not None or part is not None,
        newest=_activity_url(by=person, area=part) if before else None,
        older=_activity_url(by=person, area=part, before=entries[-1].id) if len(found) > SHOWN else None,
    )


def page_routers() -> list[Router]:
    return [page_router(admin_home, activity)]
