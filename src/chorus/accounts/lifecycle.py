"""Leaving a case and deleting an account: use cases that span domains.

Each domain does its own part through a narrow function of its service (cases: the
membership; evidence: the uploads; notifications: inbox and preferences; accounts: the row and
its sessions), all in one transaction, so a refusal — the last organizer of a case, a wrong
password — leaves everything as it was. This module sits above those services in the domain
order (pyproject, import-linter); none of them imports it.

What a filed complaint keeps is not touched: its text is frozen, and the evidence it cites
(frozen by the filing) stays with it; the identity details its stored bundle holds were sealed
under the member's key for that case, which leaving destroys (:mod:`chorus.accounts.identity`).
See the README, "What deleting your account keeps".
"""

from __future__ import annotations

from chorus import db, freshness
from chorus.accounts import identity
from chorus.accounts import service as accounts
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.evidence import service as evidence
from chorus.notifications import service as notifications
from chorus.settings import Settings


async def leave_case(case_id: int, *, actor: UserRead, settings: Settings) -> None:
    """The caller leaves the case (:func:`chorus.cases.service.leave` says who may and what then
    happens to the case); what they uploaded to it is withdrawn, but what a filing cites."""
    async with db.transaction():
        # what the public sees of the case changes (cases.leave says so); nothing else done here
        freshness.nothing_public()
        await cases.leave(case_id, actor=actor)
        withdrawn = await evidence.withdraw_all_of(case_id, uploader_id=actor.id)
        # their identity details in this case's filed bundles become unreadable (their key goes)
        await identity.forget_case(case_id=case_id, user_id=actor.id)
    await evidence.delete_unreferenced(withdrawn, settings)


async def delete_account(*, actor: UserRead, password: str, settings: Settings) -> None:
    """The caller deletes their account, confirming it with their password (403
    ``wrong_password``): they leave every case as by :func:`leave_case` (409 ``last_organizer``
    naming a case they organize alone: nothing is deleted), their notifications and
    preferences go, and the account row stays as a tombstone without e-mail, name or password
    (:func:`chorus.accounts.service.erase`): it cannot log in, and its address can register
    again."""
    await accounts.check_password(actor=actor, password=password)
    async with db.transaction():
        freshness.nothing_public()  # but the cases left (cases.leave says so): no name is public
        left = await cases.leave_all(actor=actor)
        withdrawn: list[str] = []
        for case_id in left:
            withdrawn += await evidence.withdraw_all_of(case_id, uploader_id=actor.id)
        await notifications.forget_user(actor.id)
        # identity details and every key of theirs: each copy sealed under them is unreadable
        await identity.forget_user(actor.id)
        await accounts.erase(actor.id)
        await audit.record(
            "user.deleted", actor_id=actor.id, object_type="user", object_id=actor.id, cases_left=len(left)
        )
    await evidence.delete_unreferenced(withdrawn, settings)
