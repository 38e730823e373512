"""HTTP: the case's representative (/api/v1/cases/{id}/representative…) and members'
authorizations to file for them (/api/v1/cases/{id}/authorizations, /api/v1/authorizations/{id},
/api/v1/me/authorizations, /api/v1/filings/{id}/parties)."""

from __future__ import annotations

from litestar import Controller, Router, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.authorizations import service
from chorus.authorizations.schemas import (
    AuthorizationCreate,
    AuthorizationList,
    AuthorizationRead,
    FilingPartiesRead,
    RepresentativeRead,
    VoteCreate,
)
from chorus.errors import NotFound
from chorus.filings import service as filings
from chorus.web.guards import requires_login
from chorus.web.problems import documented, problems


class RepresentativeController(Controller):
    path = "/api/v1/cases/{case_id:int}/representative"
    tags = ["representative"]
    guards = [requires_login]

    @get("/", operation_id="getRepresentative", opt={"rule": "member"})
    async def read(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> RepresentativeRead:
        """Members: the candidates and their vote counts, the representative if elected, my vote."""
        return await service.election(case_id, actor=user)

    @post(
        "/candidacy",
        status_code=HTTP_201_CREATED,
        operation_id="standAsRepresentative",
        responses=problems(409),
        opt={"rule": "member"},
    )
    async def stand(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> RepresentativeRead:
        """Stand as the case's representative (standing is accepting a nomination)."""
        return await service.stand(case_id, actor=user)

    @delete(
        "/candidacy",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="withdrawCandidacy",
        responses=problems(409),
        opt={"rule": "member"},
    )
    async def withdraw(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        """Stand down (not standing: nothing changes)."""
        await service.withdraw_candidacy(case_id, actor=user)

    @put(
        "/vote",
        status_code=HTTP_200_OK,
        operation_id="voteRepresentative",
        responses=problems(409),
        opt={"rule": "member"},
    )
    async def vote(
        self, case_id: FromPath[int], data: JSONBody[VoteCreate], user: NamedDependency[UserRead]
    ) -> RepresentativeRead:
        """Vote for a candidate (voting again replaces the vote); 404 for someone not standing."""
        return await service.vote(case_id, actor=user, data=data)

    @delete(
        "/vote",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="withdrawVote",
        responses=problems(409),
        opt={"rule": "member"},
    )
    async def unvote(self, case_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        """Take my vote back (none: nothing changes)."""
        await service.unvote(case_id, actor=user)


class AuthorizationController(Controller):
    path = "/api/v1"
    tags = ["authorizations"]
    guards = [requires_login]

    @post(
        "/cases/{case_id:int}/authorizations",
        status_code=HTTP_201_CREATED,
        operation_id="giveAuthorization",
        responses=problems(409),
        opt={"rule": "member"},
    )
    async def give(
        self, case_id: FromPath[int], data: JSONBody[AuthorizationCreate], user: NamedDependency[UserRead]
    ) -> AuthorizationRead:
        """A member named in a complaint version authorizes the case's representative to file that
        version through its channel for them, sharing the identity details listed in ``fields``.
        409: not the latest version, not named in it, or no representative elected yet."""
        return await service.give(case_id, actor=user, data=data)

    @get("/cases/{case_id:int}/authorizations", operation_id="listAuthorizations", opt={"rule": "member"})
    async def list_for_case(
        self, case_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> AuthorizationList:
        """Organizers: who authorized which version for which channel (not what they share).
        Plain members: their own."""
        return await service.list_for_case(case_id, actor=user)

    @delete(
        "/authorizations/{authorization_id:int}",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="revokeAuthorization",
        responses=problems(409),
        opt={"rule": "authorization-owner"},
    )
    async def revoke(self, authorization_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        """The member revokes their own authorization (404 for anyone else's); 409 once a filing
        used it."""
        await service.revoke(authorization_id, actor=user)

    @get(
        "/authorizations/{authorization_id:int}/document",
        operation_id="authorizationDocument",
        media_type="text/markdown",
        opt={"rule": "authorization-owner"},
    )
    async def document(self, authorization_id: FromPath[int], user: NamedDependency[UserRead]) -> str:
        """The member's authorization document (授权委托书) as Markdown, as it goes to the channel."""
        return await service.document(authorization_id, actor=user)

    @get("/me/authorizations", operation_id="myAuthorizations")
    async def mine(self, user: NamedDependency[UserRead]) -> AuthorizationList:
        """My authorizations in the cases I am a member of, newest first (revoked ones too)."""
        return await service.mine(actor=user)

    @get("/filings/{filing_id:int}/parties", operation_id="filingParties", opt={"rule": "member"})
    async def parties(self, filing_id: FromPath[int], user: NamedDependency[UserRead]) -> FilingPartiesRead:
        """Members: who the filing was made for — how many of the members named in its version
        are included (those without an authorization for the channel are left out), by which
        representative, routed to which bureau."""
        filing = await filings.get_or_raise(filing_id, actor=user)  # members only
        found = await service.parties(filing_id, case_id=filing.case_id)
        if found is None:
            raise NotFound("filing_parties_missing")
        return found


def routers() -> list[Router]:
    handlers = [RepresentativeController, AuthorizationController]
    return documented([Router(path="/", route_handlers=handlers)])
