"""HTTP: reports, cases, membership (/api/v1/reports, /api/v1/cases/…, /api/v1/me/cases)."""

from __future__ import annotations

from litestar import Controller, Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from chorus.accounts import lifecycle
from chorus.accounts.schemas import UserRead
from chorus.cases import service
from chorus.cases.schemas import (
    CaseRead,
    CaseStatusUpdate,
    ConsentRequest,
    MemberList,
    MemberRead,
    MembershipRead,
    MembershipUpdate,
    MyCaseList,
    OrganizerRequest,
    ReportCreate,
    ReportRead,
)
from chorus.complaints import service as complaints
from chorus.filings import service as filings
from chorus.settings import Settings
from chorus.web.guards import requires_login, requires_verified
from chorus.web.problems import documented, problems


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["cases"]
    guards = [requires_verified]

    @post("/", status_code=HTTP_201_CREATED, operation_id="createReport", responses=problems(409))
    async def create(self, data: JSONBody[ReportCreate], user: NamedDependency[UserRead]) -> ReportRead:
        """Report a merchant: join its open case (or ``case_id``), or open one as organizer."""
        return await service.report(actor=user, data=data)


class CaseController(Controller):
    path = "/api/v1/cases"
    tags = ["cases"]

    @get("/{case_id:int}", operation_id="getCase")
    async def get_case(self, case_id: FromPath[int]) -> CaseRead:
        """Public summary: merchant, member count, loss totals, filings, timeline."""
        return await filings.case_read(case_id)

    @get(
        "/{case_id:int}/members",
        operation_id="listCaseMembers",
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def members(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> MemberList:
        """Organizers only: who is in the case, with contact data and consent."""
        return await service.members(case_id, actor=user)

    @get(
        "/{case_id:int}/membership",
        operation_id="getMembership",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def my_membership(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> MembershipRead:
        return await service.my_membership(case_id, actor=user)

    @patch(
        "/{case_id:int}/membership",
        operation_id="updateMembership",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def update_membership(
        self, case_id: FromPath[int], data: JSONBody[MembershipUpdate], user: NamedDependency[UserRead]
    ) -> MembershipRead:
        """Change your own loss, incident date, order references or statement."""
        return await service.update_membership(case_id, actor=user, data=data)

    @delete(
        "/{case_id:int}/membership",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="leaveCase",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def leave(
        self, case_id: FromPath[int], user: NamedDependency[UserRead], settings: NamedDependency[Settings]
    ) -> None:
        """Leave the case: your loss, statement and evidence are no longer part of it (complaint
        versions already filed keep what was filed). 404 if you are not a member; 409
        ``last_organizer`` while you alone organize it and others remain (promote one first)."""
        await lifecycle.leave_case(case_id, actor=user, settings=settings)

    @post(
        "/{case_id:int}/consent",
        status_code=HTTP_200_OK,
        operation_id="setConsent",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def consent(
        self, case_id: FromPath[int], data: JSONBody[ConsentRequest], user: NamedDependency[UserRead]
    ) -> MembershipRead:
        """Agree (or no longer agree) to be named in the joint complaint. With ``complaint_id``
        (the version the member read), the agreement names that version, and 409
        ``complaint_version_changed`` if a newer one was built for its regulator; without, it
        names the latest version for each regulator."""
        return await complaints.set_consent(
            case_id,
            actor=user,
            consent=data.consent,
            shown=None if data.complaint_id is None else [data.complaint_id],
        )

    @post(
        "/{case_id:int}/organizers",
        status_code=HTTP_200_OK,
        operation_id="promoteOrganizer",
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def promote(
        self, case_id: FromPath[int], data: JSONBody[OrganizerRequest], user: NamedDependency[UserRead]
    ) -> MemberRead:
        """Organizers make another member an organizer."""
        return await service.promote(case_id, actor=user, user_id=data.user_id)

    @post(
        "/{case_id:int}/status",
        status_code=HTTP_200_OK,
        operation_id="setCaseStatus",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def set_status(
        self, case_id: FromPath[int], data: JSONBody[CaseStatusUpdate], user: NamedDependency[UserRead]
    ) -> CaseRead:
        """Organizers move the case: gathering → filing → closed."""
        await service.set_status(case_id, actor=user, data=data)
        return await filings.case_read(case_id)


class MyCasesController(Controller):
    path = "/api/v1/me/cases"
    tags = ["cases"]
    guards = [requires_login]

    @get("/", operation_id="myCases")
    async def my_cases(self, user: NamedDependency[UserRead]) -> MyCaseList:
        return await service.my_cases(actor=user)


def routers() -> list[Router]:
    handlers = [ReportController, CaseController, MyCasesController]
    return documented([Router(path="/", route_handlers=handlers)])
