"""HTTP: build and read joint complaints (/api/v1/cases/{id}/complaints, /api/v1/complaints/…)."""

from __future__ import annotations

from litestar import Controller, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from chorus.accounts.schemas import UserRead
from chorus.complaints import service
from chorus.complaints.schemas import (
    ComplaintCreate,
    ComplaintCreated,
    ComplaintDiff,
    ComplaintList,
    ComplaintRead,
)
from chorus.settings import Settings
from chorus.web.guards import requires_login
from chorus.web.problems import documented, problems

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ComplaintController(Controller):
    path = "/api/v1"
    tags = ["complaints"]

    @post(
        "/cases/{case_id:int}/complaints",
        status_code=HTTP_201_CREATED,
        operation_id="buildComplaint",
        responses={
            **problems(409),
            HTTP_201_CREATED: ResponseSpec(data_container=ComplaintCreated, description="Created"),
        },
        guards=[requires_login],
        opt={"rule": "organizer"},
    )
    async def build(
        self,
        case_id: FromPath[int],
        data: JSONBody[ComplaintCreate],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Stream:
        """Organizers build a new version for one regulator (optional narrative and demands).
        The answer (``ComplaintCreated``) is streamed: a large case's text is megabytes."""
        built = await service.build(case_id=case_id, actor=user, data=data, settings=settings, keep_text=True)
        return Stream(
            service.created_json(built), status_code=HTTP_201_CREATED, media_type="application/json"
        )

    @get(
        "/cases/{case_id:int}/complaints",
        operation_id="listComplaints",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def list_complaints(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> ComplaintList:
        """Members: the case's complaint versions, newest first, without their text."""
        return await service.list_for(case_id, actor=user)

    @get(
        "/complaints/{complaint_id:int}",
        operation_id="getComplaint",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def get_complaint(
        self,
        complaint_id: FromPath[int],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> ComplaintRead:
        """Organizers: the full text (``view: "full"``). Plain members: the member view (their own
        row in full, other victims redacted); ``sha256`` is the full text's either way."""
        return await service.get_or_raise(complaint_id, actor=user, settings=settings)

    @get(
        "/complaints/{complaint_id:int}/html",
        operation_id="getComplaintPage",
        media_type="text/html",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def page(
        self,
        complaint_id: FromPath[int],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Response[str]:
        """A standalone printable page (A4, page numbers, table of contents); members: of their view."""
        return Response(
            await service.html(complaint_id, actor=user, settings=settings),
            media_type="text/html",
            headers=PAGE_HEADERS,
        )

    @get(
        "/complaints/{complaint_id:int}/bundle",
        operation_id="getComplaintBundle",
        media_type="application/zip",
        responses=problems(409),
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def bundle(
        self,
        complaint_id: FromPath[int],
        user: NamedDependency[UserRead],
        settings: NamedDependency[Settings],
    ) -> Stream:
        """The ZIP: complaint.md, complaint.html, manifest.json, evidence/, README.txt — streamed.
        Plain members get a member bundle: evidence they may see, others' photos without metadata."""
        zs, filename = await service.bundle(complaint_id, actor=user, settings=settings)
        return Stream(
            zs,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Content-Length": str(len(zs)),
                "X-Content-Type-Options": "nosniff",
            },
        )

    @get(
        "/complaints/{complaint_id:int}/diff",
        operation_id="diffComplaint",
        guards=[requires_login],
        opt={"rule": "member"},
    )
    async def diff(
        self, complaint_id: FromPath[int], against: FromQuery[int], user: NamedDependency[UserRead]
    ) -> ComplaintDiff:
        """Members: a unified diff of this version against another of the same case, as the
        caller reads them (``view``): organizers the full texts, plain members their member views
        (what changed in the text they are asked to agree to)."""
        return await service.diff(complaint_id, against, actor=user)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[ComplaintController])])
