"""HTTP: moderators merge duplicate merchants (/api/v1/moderation/…)."""

from __future__ import annotations

from litestar import Controller, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from chorus.accounts.schemas import UserRead
from chorus.merchants.schemas import MerchantRead, MergeProposalList, MergeRequest, ProposalDecision
from chorus.moderation import service
from chorus.settings import Settings
from chorus.web.problems import documented


class ModerationController(Controller):
    path = "/api/v1/moderation"
    tags = ["moderation"]

    @get("/merge-proposals", operation_id="listMergeProposals")
    async def proposals(
        self, moderator: NamedDependency[UserRead], status: FromQuery[str | None] = "open"
    ) -> MergeProposalList:
        return await service.list_proposals(status)

    @post(
        "/merge-proposals/{proposal_id:int}/merge",
        status_code=HTTP_200_OK,
        operation_id="acceptMergeProposal",
    )
    async def accept(
        self,
        proposal_id: FromPath[int],
        data: JSONBody[ProposalDecision],
        moderator: NamedDependency[UserRead],
    ) -> MerchantRead:
        """Merge the two merchants of a proposal (the older survives unless ``target_id`` says)."""
        return await service.decide_merge(proposal_id=proposal_id, actor=moderator, data=data)

    @post(
        "/merge-proposals/{proposal_id:int}/reject",
        status_code=HTTP_204_NO_CONTENT,
        operation_id="rejectMergeProposal",
    )
    async def reject(
        self,
        proposal_id: FromPath[int],
        data: JSONBody[ProposalDecision],
        moderator: NamedDependency[UserRead],
    ) -> None:
        await service.reject(proposal_id=proposal_id, actor=moderator, data=data)

    @post("/merchants/merge", status_code=HTTP_200_OK, operation_id="mergeMerchants")
    async def merge(self, data: JSONBody[MergeRequest], moderator: NamedDependency[UserRead]) -> MerchantRead:
        """Fold ``source_id`` into ``target_id`` directly."""
        return await service.merge(source_id=data.source_id, target_id=data.target_id, actor=moderator)


def routers(settings: Settings) -> list[Router]:
    return documented([Router(path="/", route_handlers=[ModerationController])])
