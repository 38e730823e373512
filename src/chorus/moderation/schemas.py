"""Moderation request models (what moderators decide; what they read is the merchants')."""

from __future__ import annotations

from pydantic import BaseModel, Field

from chorus.ids import Id


class MergeRequest(BaseModel):
    source_id: Id
    target_id: Id


class ProposalDecision(BaseModel):
    # which merchant survives; default: the older one
    target_id: Id | None = None
    note: str | None = Field(default=None, max_length=1000)
