"""HTTP: each member's escalation ladder (issue 16 item 3): /api/v1/cases/{id}/ladder (the
caller's own steps and progress), /api/v1/cases/{id}/ladder/{step} (their progress on one),
/api/v1/cases/{id}/ladder-summary (organizers: counts per step) and /api/v1/ladders (the sets
as data, public)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Router, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from chorus.accounts.schemas import UserRead
from chorus.ladder import service
from chorus.ladder.schemas import (
    LadderAggregateRead,
    LadderProgressUpdate,
    LadderSetList,
    LadderSetRead,
    LadderStepRead,
    MemberLadderRead,
)
from chorus.web.auth import current_user
from chorus.web.guards import requires_login
from chorus.web.pages import request_locale
from chorus.web.problems import documented


class LadderController(Controller):
    path = "/api/v1/cases/{case_id:int}"
    tags = ["ladder"]
    guards = [requires_login]

    @get("/ladder", operation_id="getMyLadder", opt={"rule": "member"})
    async def mine(
        self, request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> MemberLadderRead:
        """Members: my own path to a refund (the steps for how I paid and where I bought, each with
        what it needs, its address, its time window and source) and my progress; my next step."""
        return await service.member_ladder(case_id, actor=user, locale=request_locale(request, user))

    @put("/ladder/{step:str}", operation_id="setMyLadderProgress", opt={"rule": "member"})
    async def progress(
        self,
        request: Request[Any, Any, Any],
        case_id: FromPath[int],
        step: FromPath[str],
        data: JSONBody[LadderProgressUpdate],
        user: NamedDependency[UserRead],
    ) -> LadderStepRead:
        """Members: my progress on one of my steps (not_started, done or refused, on a day); 404
        for a step not on my path."""
        return await service.set_progress(
            case_id, step, actor=user, data=data, locale=request_locale(request, user)
        )

    @get("/ladder-summary", operation_id="getLadderSummary", opt={"rule": "organizer"})
    async def summary(
        self, request: Request[Any, Any, Any], case_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> LadderAggregateRead:
        """Organizers: how far the members got, as counts per step (never who)."""
        return await service.aggregate(case_id, actor=user, locale=request_locale(request, user))


class LadderSetController(Controller):
    path = "/api/v1/ladders"
    tags = ["ladder"]

    @get("/", operation_id="listLadderSets")
    async def names(self) -> LadderSetList:
        """The ladder sets: the one members are shown (``default``) and examples."""
        return service.sets()

    @get("/{name:str}", operation_id="getLadderSet")
    async def read(self, request: Request[Any, Any, Any], name: FromPath[str]) -> LadderSetRead:
        """A set as data: its steps with what each needs, its address and its time window with
        the source (an ``example`` set is an illustration)."""
        user = await current_user(request)
        return await service.ladder_set(name, locale=request_locale(request, user))


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[LadderController, LadderSetController])])
