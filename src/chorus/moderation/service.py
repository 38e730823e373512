"""Moderator use cases: merge duplicate merchants (and their open cases), decide proposals,
review what reporters claimed about a merchant."""

from __future__ import annotations

from chorus import db, freshness
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import Forbidden, Invalid
from chorus.evidence import service as evidence
from chorus.merchants import reappearance
from chorus.merchants import service as merchants
from chorus.merchants.schemas import (
    ClaimList,
    LinkProposalList,
    MerchantRead,
    MergeProposalList,
    ReviewedAliasRead,
    ReviewedIdentifierRead,
)
from chorus.moderation.schemas import ProposalDecision


async def list_proposals(status: str | None = "open") -> MergeProposalList:
    return await merchants.list_proposals(status)


async def waiting() -> tuple[int, int]:
    """Open merge proposals and open name link proposals: how many wait for a moderator."""
    return await merchants.proposals_waiting()


async def decide_merge(*, proposal_id: int, actor: UserRead, data: ProposalDecision) -> MerchantRead:
    pair = set(await merchants.open_proposal(proposal_id))
    target = data.target_id if data.target_id is not None else min(pair)  # the older merchant survives
    if target not in pair:
        raise Invalid("target_not_in_proposal", field="target_id")
    (source,) = pair - {target}
    return await merge(source_id=source, target_id=target, actor=actor, note=data.note)


async def reject(*, proposal_id: int, actor: UserRead, data: ProposalDecision) -> None:
    async with db.transaction():
        pair = await merchants.open_proposal(proposal_id)
        # an open proposal ties the two on their pages (the reappearance alerts); nothing else
        freshness.merchant_pages_changed(pair)
        await merchants.reject_proposal(proposal_id, actor_id=actor.id, note=data.note)
        await audit.record(
            "merchant.merge_rejected", actor_id=actor.id, object_type="merge_proposal", object_id=proposal_id
        )


async def merge(*, source_id: int, target_id: int, actor: UserRead, note: str | None = None) -> MerchantRead:
    """Fold ``source`` into ``target``: identifiers, aliases and open cases combined (see
    :func:`chorus.cases.service.fold_members` for roles and consent), history kept (the source
    stays, marked merged)."""
    if source_id == target_id:
        raise Invalid("merge_same", field="source_id")
    async with db.transaction():
        await merchants.lock_for_merge(source_id, target_id)
        open_cases = await cases.open_cases([source_id, target_id])
        src_case, tgt_case = open_cases.get(source_id), open_cases.get(target_id)
        await _merge_shown_anew(source_id, target_id, tgt_case)
        await merchants.move_names_and_identifiers(source_id, target_id)

        moved = 0
        if src_case is not None and tgt_case is not None:
            moved = await cases.fold_members(src_case, tgt_case)
            evidence_moved = await evidence.move_to_case(src_case, tgt_case)
            await cases.close_merged(src_case, tgt_case, members_moved=moved, evidence_moved=evidence_moved)
        await cases.move_to_merchant(source_id, target_id)

        await merchants.mark_merged(source_id, target_id)
        await merchants.settle_proposals(source_id, target_id, actor_id=actor.id, note=note)
        surviving_case = tgt_case or src_case
        if surviving_case is not None:
            await cases.add_event(
                surviving_case, "merchant_merged", merged_merchant_id=source_id, members_moved=moved
            )
        await audit.record(
            "merchant.merged",
            actor_id=actor.id,
            object_type="merchant",
            object_id=target_id,
            source_id=source_id,
            source_case=src_case,
            target_case=tgt_case,
        )
    return await cases.merchant_page(target_id)


async def _merge_shown_anew(source_id: int, target_id: int, target_case: int | None) -> None:
    """Inside the merge, before it moves anything: what the public sees anew. Both merchants and
    the search; every case of the source (each now names the target; its open one is folded or
    moved) and the target's open case (members, filings and events arrive); the pages of the
    merchants an open proposal ties to either (their reappearance alerts now show the target with
    the source's cases). The target's other cases are as they were."""
    tied = {*await reappearance.tied_merchants(source_id), *await reappearance.tied_merchants(target_id)}
    shown = await cases.case_ids_of(source_id)
    freshness.merchant_changed(source_id, [*shown, *([target_case] if target_case is not None else [])])
    freshness.merchant_changed(target_id)
    freshness.merchant_pages_changed(tied - {source_id, target_id})


# --- link proposals (issue 16 item 2) ---------------------------------------------------------


async def list_link_proposals(status: str | None = "open") -> LinkProposalList:
    """Names reports gave merchants they reached by a strong identifier, for a moderator."""
    return await merchants.list_link_proposals(status)


async def decide_link(*, proposal_id: int, actor: UserRead, confirm: bool) -> None:
    """Confirm that the name is the same seller's, or reject it (it leaves the merchant's public
    names). Nothing is merged either way."""
    async with db.transaction():
        merchant_id = await merchants.decide_link(proposal_id, confirm=confirm, actor_id=actor.id)
        if confirm:  # the name was listed already: it stays
            freshness.nothing_public()
        else:  # the name leaves the merchant's public names (its page and the search)
            freshness.merchant_changed(merchant_id)
        await audit.record(
            "merchant.link_confirmed" if confirm else "merchant.link_rejected",
            actor_id=actor.id,
            object_type="link_proposal",
            object_id=proposal_id,
        )


# --- claims ------------------------------------------------------------------------------------


async def claims(*, merchant_id: int, actor: UserRead) -> ClaimList:
    """What reporters claimed about a merchant and nobody confirmed yet: for moderators and
    the organizers of the merchant's cases."""
    await merchants.require_exists(merchant_id)
    if actor.has_role("moderator"):
        return await merchants.claims(merchant_id)
    scope = await cases.claim_reviewers_scope(merchant_id, actor.id)
    if scope is None:
        raise Forbidden("organizers_only")
    return await merchants.claims(merchant_id, claimants=scope)


async def confirm_identifier(
    *, merchant_id: int, identifier_id: int, actor: UserRead
) -> ReviewedIdentifierRead:
    """A moderator confirms a claimed identifier: reports naming it join the merchant from now on."""

    async def attempt() -> ReviewedIdentifierRead:
        async with db.transaction():
            await merchants.require_exists(merchant_id)
            # shown (masked) on the merchant's page, and found by the search from now on
            freshness.merchant_changed(merchant_id)
            confirmed = await merchants.confirm_identifier(merchant_id, identifier_id)
            await audit.record(
                "merchant.identifier_confirmed",
                actor_id=actor.id,
                object_type="merchant_identifier",
                object_id=identifier_id,
                merchant_id=merchant_id,
                kind=confirmed.kind,
                claimed_by=confirmed.claimed_by.id if confirmed.claimed_by else None,
            )
            return confirmed

    # a report taking the key at the same moment: the retry answers 409 identifier_taken
    return await db.retry_on_conflict(attempt, attempts=2)


async def confirm_alias(*, merchant_id: int, alias_id: int, actor: UserRead) -> ReviewedAliasRead:
    """A moderator confirms a claimed name: it becomes a public name of the merchant."""
    async with db.transaction():
        await merchants.require_exists(merchant_id)
        freshness.merchant_changed(merchant_id)  # a public name: its page and the search
        confirmed = await merchants.confirm_alias(merchant_id, alias_id)
        await audit.record(
            "merchant.alias_confirmed",
            actor_id=actor.id,
            object_type="merchant_alias",
            object_id=alias_id,
            merchant_id=merchant_id,
        )
    return confirmed
