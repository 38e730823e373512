"""Moderation request models (what moderators decide; what they read is the merchants')."""

from __future__ import annotations

from pydantic import Field

from chorus.ids import Id
from chorus.inputs import Input


class MergeRequest(Input):
    source_id: Id
    target_id: Id


class ProposalDecision(Input):
    # which merchant survives; default: the older one
    target_id: Id | None = None
    note: str | None = Field(default=None, max_length=1000)
