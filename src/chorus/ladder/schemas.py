"""Escalation ladder request and response models (issue 16 item 3)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from chorus.inputs import Input
from chorus.ladder.steps import Window
from chorus.regulators.schemas import TimeLimitRule

State = Literal["not_started", "done", "refused"]


class LadderProgressUpdate(Input):
    """A member's progress on one of their steps: done or refused on ``happened_on`` (today when
    not given), or back to not started."""

    state: State
    happened_on: date | None = None


class ProgressRead(BaseModel):
    state: State
    happened_on: date | None = None
    updated_at: datetime | None = None


class StepRegulator(BaseModel):
    """The step's channel as the regulator registry has it (the same registry filings use)."""

    id: int
    name: str
    address: str
    # its time limits as the registry has them (dated, cited rules), e.g. 12315's acceptance
    time_limits: list[TimeLimitRule] = Field(default_factory=list)


class WindowRead(BaseModel):
    """The step's time window in force today, with its source; ``limit`` null: not found (a
    window exists or is likely; no number is given). ``until``: the last day counted from the
    member's incident date, where the unit allows counting it (years, months, days)."""

    limit: int | None
    unit: str | None
    starts: str
    rule: str
    article: str | None
    text_excerpt: str
    source_url: str | None
    valid_from: date | None
    valid_to: date | None
    confirmed: bool
    note: str
    until: date | None = None

    @classmethod
    def of(cls, w: Window, until: date | None) -> WindowRead:
        return cls(**w.model_dump(), until=until)


class LadderStepRead(BaseModel):
    id: str
    stage: str
    title: str
    what: str  # what to do, in the caller's language
    evidence: list[str]  # evidence kinds (chorus.evidence KINDS) it needs
    also: list[str]  # other things it needs (codes; their words on the page)
    link: str | None
    phone: str | None
    regulator: StepRegulator | None
    window: WindowRead | None
    progress: ProgressRead | None = None  # the member's own (none in a set read as data)


class MemberLadderRead(BaseModel):
    """A member's own ladder: the steps on their path (by how they paid and where they bought,
    or what the accounts and shop link they reported say), their progress on each, and the next
    step (the first not started; null: none left)."""

    case_id: int
    set: str
    example: bool
    paid_with: str | None  # as the member said (null: not said)
    bought_on: str | None  # as the member said (null: not said)
    # what they reported says, which the steps follow until they say: how they paid (the kind of
    # the merchant's account they paid into) and where they bought (their shop link's platform)
    paid_with_suggested: str | None = None
    bought_on_suggested: str | None = None
    paid_with_options: list[str]
    bought_on_options: list[str]
    steps: list[LadderStepRead]
    next_step: str | None


class StepCount(BaseModel):
    """How many members a step applies to, how many did it or were refused, and for how many it
    is the next step. Counts only: never who."""

    id: str
    stage: str
    title: str
    applies: int
    done: int
    refused: int
    next_for: int


class LadderAggregateRead(BaseModel):
    """Organizers: how far the case's members got on their ladders, as counts per step."""

    case_id: int
    set: str
    members: int
    described: int  # members whose way of paying or place of buying is known (said or suggested)
    finished: int  # members with no step left
    steps: list[StepCount]


class LadderSetRead(BaseModel):
    """A ladder set as data (public): its steps, each without any member's progress."""

    name: str
    region: str
    example: bool
    default: bool
    version: int
    paid_with: list[str]
    bought_on: list[str]
    steps: list[LadderStepRead]


class LadderSetBrief(BaseModel):
    name: str
    region: str
    example: bool
    default: bool


class LadderSetList(BaseModel):
    items: list[LadderSetBrief]
