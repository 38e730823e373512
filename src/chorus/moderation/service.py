"""Moderator use cases: merge duplicate merchants (and their open cases), decide proposals,
review what reporters claimed about a merchant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chorus import db
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import Conflict, Forbidden, Invalid, NotFound
from chorus.evidence import service as evidence
from chorus.merchants import service as merchants
from chorus.merchants.schemas import (
    ClaimList,
    MerchantRead,
    MerchantRef,
    MergeProposalList,
    MergeProposalRead,
    ReviewedAliasRead,
    ReviewedIdentifierRead,
)
from chorus.merchants.tables import Merchant, MergeProposal
from chorus.moderation.schemas import ProposalDecision


async def list_proposals(status: str | None = "open") -> MergeProposalList:
    query = MergeProposal.select(
        MergeProposal.id,
        MergeProposal.merchant_a,
        MergeProposal.merchant_a.name,
        MergeProposal.merchant_b,
        MergeProposal.merchant_b.name,
        MergeProposal.match_keys,
        MergeProposal.status,
        MergeProposal.created_at,
        MergeProposal.decided_at,
    ).order_by(MergeProposal.id)
    if status:
        query = query.where(MergeProposal.status == status)
    rows = await query.output(load_json=True)
    return MergeProposalList(
        items=[
            MergeProposalRead(
                id=r["id"],
                merchant_a=MerchantRef(id=r["merchant_a"], name=r["merchant_a.name"]),
                merchant_b=MerchantRef(id=r["merchant_b"], name=r["merchant_b.name"]),
                # only the kinds: the values may be personal (a phone, a bank card)
                matched_on=sorted({k.split(":", 1)[0] for k in r["match_keys"] or []}),
                status=r["status"],
                created_at=r["created_at"],
                decided_at=r["decided_at"],
            )
            for r in rows
        ]
    )


async def _proposal(proposal_id: int) -> dict[str, Any]:
    row = await MergeProposal.select().where(MergeProposal.id == proposal_id).first()
    if row is None:
        raise NotFound("proposal_not_found")
    if row["status"] != "open":
        raise Conflict("proposal_decided")
    return dict(row)


async def decide_merge(*, proposal_id: int, actor: UserRead, data: ProposalDecision) -> MerchantRead:
    p = await _proposal(proposal_id)
    pair = {p["merchant_a"], p["merchant_b"]}
    target = data.target_id if data.target_id is not None else min(pair)  # the older merchant survives
    if target not in pair:
        raise Invalid("target_not_in_proposal", field="target_id")
    (source,) = pair - {target}
    return await merge(source_id=source, target_id=target, actor=actor, note=data.note)


async def reject(*, proposal_id: int, actor: UserRead, data: ProposalDecision) -> None:
    async with db.transaction():
        await _proposal(proposal_id)
        await MergeProposal.update(
            {
                MergeProposal.status: "rejected",
                MergeProposal.decided_by: actor.id,
                MergeProposal.decided_at: datetime.now(UTC),
                MergeProposal.note: data.note,
            }
        ).where(MergeProposal.id == proposal_id)
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
        query = (
            Merchant.select(Merchant.id, Merchant.merged_into)
            .where(Merchant.id.is_in([source_id, target_id]))
            .order_by(Merchant.id)
        )
        if not db.is_sqlite():
            # Concurrent merges of the same merchants queue here and see each other's result
            # (A into B and B into A at once would otherwise both pass the checks below).
            query = query.lock_rows("NO KEY UPDATE")
        rows = await query
        found = {r["id"]: r for r in rows}
        for mid, field in ((source_id, "source_id"), (target_id, "target_id")):
            if mid not in found:
                raise NotFound("merchant_not_found", field=field)
            if found[mid]["merged_into"] is not None:
                raise Conflict("merchant_already_merged", field=field)

        await merchants.move_names_and_identifiers(source_id, target_id)

        open_cases = await merchants.open_cases([source_id, target_id])
        src_case, tgt_case = open_cases.get(source_id), open_cases.get(target_id)
        moved = 0
        if src_case is not None and tgt_case is not None:
            moved = await cases.fold_members(src_case, tgt_case)
            evidence_moved = await evidence.move_to_case(src_case, tgt_case)
            await cases.close_merged(src_case, tgt_case, members_moved=moved, evidence_moved=evidence_moved)
        await cases.move_to_merchant(source_id, target_id, open_case=src_case if tgt_case is None else None)

        await Merchant.update({Merchant.merged_into: target_id, Merchant.merged_at: datetime.now(UTC)}).where(
            Merchant.id == source_id
        )
        await _settle_proposals(source_id, target_id, actor, note)
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
    return await merchants.get(target_id)


async def _settle_proposals(source_id: int, target_id: int, actor: UserRead, note: str | None) -> None:
    now = datetime.now(UTC)
    rows = await MergeProposal.select().where(
        (MergeProposal.status == "open")
        & ((MergeProposal.merchant_a == source_id) | (MergeProposal.merchant_b == source_id))
    )
    for p in rows:
        other = p["merchant_b"] if p["merchant_a"] == source_id else p["merchant_a"]
        if other == target_id:
            await MergeProposal.update(
                {
                    MergeProposal.status: "merged",
                    MergeProposal.decided_by: actor.id,
                    MergeProposal.decided_at: now,
                    MergeProposal.note: note,
                }
            ).where(MergeProposal.id == p["id"])
            continue
        # the proposal now concerns the survivor
        a, b = sorted((target_id, other))
        if await MergeProposal.exists().where(MergeProposal.pair_key == f"{a}:{b}"):
            await MergeProposal.delete().where(MergeProposal.id == p["id"])
        else:
            await MergeProposal.update(
                {MergeProposal.merchant_a: a, MergeProposal.merchant_b: b, MergeProposal.pair_key: f"{a}:{b}"}
            ).where(MergeProposal.id == p["id"])


# --- claims ------------------------------------------------------------------------------------

async def claims(*, merchant_id: int, user: UserRead) -> ClaimList:
    """What reporters claimed about a merchant and nobody confirmed yet: for moderators and
    the organizers of the merchant's cases."""
    await merchants.require_exists(merchant_id)
    if not user.has_role("moderator") and not await cases.organizes_merchant(merchant_id, user.id):
        raise Forbidden("organizers_only")
    return await merchants.claims(merchant_id)


async def confirm_identifier(
    *, merchant_id: int, identifier_id: int, actor: UserRead
) -> ReviewedIdentifierRead:
    """A moderator confirms a claimed identifier: reports naming it join the merchant from now on."""

    async def attempt() -> ReviewedIdentifierRead:
        async with db.transaction():
            await merchants.require_exists(merchant_id)
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
        confirmed = await merchants.confirm_alias(merchant_id, alias_id)
        await audit.record(
            "merchant.alias_confirmed",
            actor_id=actor.id,
            object_type="merchant_alias",
            object_id=alias_id,
            merchant_id=merchant_id,
        )
    return confirmed
