"""HTTP: moderators merge duplicate merchants (/api/v1/moderation/…) and review what reporters
claimed about a merchant (/api/v1/merchants/{id}/claims, …/confirm)."""

from __future__ import annotations

from litestar import Controller, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.merchants.schemas import (
    ClaimList,
    LinkProposalList,
    MerchantRead,
    MergeProposalList,
    ReviewedAliasRead,
    ReviewedIdentifierRead,
)
from chorus.moderation import service
from chorus.moderation.schemas import MergeRequest, ProposalDecision
from chorus.web.guards import requires_login, requires_role
from chorus.web.problems import documented, problems


class ModerationController(Controller):
    path = "/api/v1/moderation"
    tags = ["moderation"]
    guards = [requires_role("moderator")]

    @get("/merge-proposals", operation_id="listMergeProposals")
    async def proposals(self, status: FromQuery[str | None] = "open") -> MergeProposalList:
        return await service.list_proposals(status)

    @post(
        "/merge-proposals/{proposal_id:int}/merge",
        status_code=HTTP_200_OK,
        operation_id="acceptMergeProposal",
        responses=problems(409),
    )
    async def accept(
        self,
        proposal_id: FromPath[int],
        data: JSONBody[ProposalDecision],
        user: NamedDependency[UserRead],
    ) -> MerchantRead:
        """Merge the two merchants of a proposal (the older survives unless ``target_id`` says)."""
        return await service.decide_merge(proposal_id=proposal_id, actor=user, data=data)

    @post(
        "/merge-proposals/{proposal_id:int}/reject",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="rejectMergeProposal",
        responses=problems(409),
    )
    async def reject(
        self,
        proposal_id: FromPath[int],
        data: JSONBody[ProposalDecision],
        user: NamedDependency[UserRead],
    ) -> None:
        await service.reject(proposal_id=proposal_id, actor=user, data=data)

    @get("/link-proposals", operation_id="listLinkProposals")
    async def link_proposals(self, status: FromQuery[str | None] = "open") -> LinkProposalList:
        """Names reports gave a merchant they reached by a strong identifier (issue 16 item 2)."""
        return await service.list_link_proposals(status)

    @post(
        "/link-proposals/{proposal_id:int}/confirm",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="confirmLinkProposal",
        responses=problems(409),
    )
    async def confirm_link(self, proposal_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        """The name is the same seller's: it stays one of the merchant's names."""
        await service.decide_link(proposal_id=proposal_id, actor=user, confirm=True)

    @post(
        "/link-proposals/{proposal_id:int}/reject",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="rejectLinkProposal",
        responses=problems(409),
    )
    async def reject_link(self, proposal_id: FromPath[int], user: NamedDependency[UserRead]) -> None:
        """The name is not the merchant's: it leaves its public names (nothing else changes)."""
        await service.decide_link(proposal_id=proposal_id, actor=user, confirm=False)

    @post("/merchants/merge", status_code=HTTP_200_OK, operation_id="mergeMerchants", responses=problems(409))
    async def merge(self, data: JSONBody[MergeRequest], user: NamedDependency[UserRead]) -> MerchantRead:
        """Fold ``source_id`` into ``target_id`` directly."""
        return await service.merge(source_id=data.source_id, target_id=data.target_id, actor=user)


class ClaimController(Controller):
    """Identifiers and names one reporter attached to a merchant by joining its case by id."""

    path = "/api/v1/merchants"
    tags = ["moderation"]

    @get(
        "/{merchant_id:int}/claims",
        operation_id="listMerchantClaims",
        guards=[requires_login],
        opt={"rule": "merchant-organizer-or-moderator"},
    )
    async def claims(self, merchant_id: FromPath[int], user: NamedDependency[UserRead]) -> ClaimList:
        """Moderators and organizers of the merchant's cases: claimed (unconfirmed) identifiers,
        unmasked, and names, with who claimed them."""
        return await service.claims(merchant_id=merchant_id, actor=user)

    @post(
        "/{merchant_id:int}/identifiers/{identifier_id:int}/confirm",
        status_code=HTTP_200_OK,
        operation_id="confirmMerchantIdentifier",
        responses=problems(409),
        guards=[requires_role("moderator")],
    )
    async def confirm_identifier(
        self, merchant_id: FromPath[int], identifier_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ReviewedIdentifierRead:
        """Moderators: a claimed identifier matches reports from now on."""
        return await service.confirm_identifier(
            merchant_id=merchant_id, identifier_id=identifier_id, actor=user
        )

    @post(
        "/{merchant_id:int}/aliases/{alias_id:int}/confirm",
        status_code=HTTP_200_OK,
        operation_id="confirmMerchantAlias",
        responses=problems(409),
        guards=[requires_role("moderator")],
    )
    async def confirm_alias(
        self, merchant_id: FromPath[int], alias_id: FromPath[int], user: NamedDependency[UserRead]
    ) -> ReviewedAliasRead:
        """Moderators: a claimed name becomes a public name of the merchant."""
        return await service.confirm_alias(merchant_id=merchant_id, alias_id=alias_id, actor=user)


def routers() -> list[Router]:
    return documented([Router(path="/", route_handlers=[ModerationController, ClaimController])])
