"""Each member's path to a refund (issue 16 item 3): the escalation ladder's steps as data, read
from ``data/escalation_ladder.json`` and validated by pydantic when first loaded. Pure: no
database, no I/O beyond the packaged file.

A set is one jurisdiction's ladder (``default`` is the one members are shown; an ``example`` set
is an illustration). A step applies to a member by how they paid (``paid_with``) and where they
bought (``bought_on``); a member who has not said sees every step — or, until they say, the steps
that what they reported suggests (``suggested``: the merchant's account they paid into, the shop
link). A step's time window is a list of dated, cited rules, the one in force on a day applying;
a rule without ``limit`` says a window exists or is likely and its length was not found (never
guessed)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DATA_FILE",
    "STAGES",
    "STATES",
    "Applies",
    "LadderData",
    "LadderSet",
    "Step",
    "Suggested",
    "Window",
    "data",
    "default_set",
    "effective",
    "find_step",
    "steps_for",
    "suggested",
]

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "escalation_ladder.json"
STAGES = ("merchant", "marketplace", "payment", "regulator", "police", "court")
# A member's progress on a step: not started, done (taken, whatever came of it) or refused (the
# door was closed: the platform, payment provider or bureau said no).
STATES = ("not_started", "done", "refused")
# The evidence kinds a step may ask for: chorus.evidence.service.KINDS (checked by the unit tests;
# this module imports no service).
EVIDENCE_KINDS = ("payment_receipt", "chat_log", "screenshot", "order_page", "other")
_ID = r"^[a-z0-9][a-z0-9-]{1,58}$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Frozen):
    """The time within which a step must be taken, as one dated, cited rule."""

    limit: int | None = Field(default=None, ge=1, le=3650)
    unit: Literal["days", "working_days", "months", "years"] | None = None
    # what the time is counted from: the day the member knew (or should have known) of the harm,
    # the payment, the order, the day the cause of action accrued
    starts: Literal["harm_known", "payment", "order", "cause_of_action"]
    rule: str = Field(min_length=1, max_length=300)
    article: str | None = Field(default=None, min_length=1, max_length=100)
    text_excerpt: str = Field(default="", max_length=2000)
    source_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://[^\s]+$")
    valid_from: date | None = None
    valid_to: date | None = None
    confirmed: bool = False
    note: str = Field(default="", max_length=2000)

    @model_validator(mode="after")
    def _cited(self) -> Window:
        if self.limit is None:
            if self.unit is not None or self.confirmed:
                raise ValueError("a window without a limit has no unit and is not confirmed")
        elif self.unit is None or not self.source_url or not self.text_excerpt:
            raise ValueError("a window's limit needs its unit, its source_url and the words read")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


class Applies(_Frozen):
    """Whom a step applies to: members who paid with one of ``paid_with`` and bought on one of
    ``bought_on`` (None: any)."""

    paid_with: tuple[str, ...] | None = None
    bought_on: tuple[str, ...] | None = None


class Step(_Frozen):
    id: str = Field(pattern=_ID)
    stage: Literal["merchant", "marketplace", "payment", "regulator", "police", "court"]
    text: str | None = Field(default=None, pattern=_ID)  # the catalog stem; defaults to id
    platform: str | None = None  # the platform named in a shared text (a bought_on value)
    applies: Applies = Applies()
    evidence: tuple[str, ...] = ()
    also: tuple[str, ...] = ()
    regulator: str | None = None  # a regulator registry slug: its name, address, time limits
    link: str | None = Field(default=None, max_length=500, pattern=r"^https://[^\s]+$")
    phone: str | None = Field(default=None, pattern=r"^[0-9+ -]{3,20}$")
    windows: tuple[Window, ...] = ()

    @property
    def text_key(self) -> str:
        return self.text or self.id

    @model_validator(mode="after")
    def _checked(self) -> Step:
        unknown = set(self.evidence) - set(EVIDENCE_KINDS)
        if unknown:
            raise ValueError(f"unknown evidence kinds {sorted(unknown)}")
        for n, a in enumerate(self.windows):
            for b in self.windows[n + 1 :]:
                if (a.valid_from or date.min) <= (b.valid_to or date.max) and (b.valid_from or date.min) <= (
                    a.valid_to or date.max
                ):
                    raise ValueError("two windows are in force on the same days")
        return self

    def applies_to(self, paid_with: str | None, bought_on: str | None) -> bool:
        """Whether the step is on the path of a member who paid with ``paid_with`` and bought on
        ``bought_on`` (None: not said, so not ruled out)."""
        a = self.applies
        return (paid_with is None or a.paid_with is None or paid_with in a.paid_with) and (
            bought_on is None or a.bought_on is None or bought_on in a.bought_on
        )

    def window_on(self, day: date) -> Window | None:
        """The rule in force on ``day``, if any."""
        return next((w for w in self.windows if w.in_force(day)), None)


class LadderSet(_Frozen):
    region: str = Field(min_length=2, max_length=10)
    example: bool
    paid_with: tuple[str, ...] = Field(min_length=1)
    bought_on: tuple[str, ...] = Field(min_length=1)
    # a reported shop link's platform (its identifier's prefix, "taobao:123") -> bought_on
    shop_platforms: dict[str, str] = Field(default_factory=dict)
    # the kind of a reported account of the merchant's, paid into ("alipay") -> paid_with
    payee_kinds: dict[str, str] = Field(default_factory=dict)
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> LadderSet:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError("a step id is used twice")
        for s in self.steps:
            if set(s.applies.paid_with or ()) - set(self.paid_with):
                raise ValueError(f"{s.id}: applies to a paid_with the set does not offer")
            if set(s.applies.bought_on or ()) - set(self.bought_on):
                raise ValueError(f"{s.id}: applies to a bought_on the set does not offer")
            if s.platform is not None and s.platform not in self.bought_on:
                raise ValueError(f"{s.id}: platform is not a bought_on of the set")
        if set(self.shop_platforms.values()) - set(self.bought_on):
            raise ValueError("shop_platforms names a bought_on the set does not offer")
        if set(self.payee_kinds.values()) - set(self.paid_with):
            raise ValueError("payee_kinds names a paid_with the set does not offer")
        order = [STAGES.index(s.stage) for s in self.steps]
        if order != sorted(order):
            raise ValueError("steps are not in the ladder's order (merchant … court)")
        return self


class LadderData(_Frozen):
    version: int = Field(ge=1)
    default: str
    sets: dict[str, LadderSet] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_and_ids(self) -> LadderData:
        if self.default not in self.sets:
            raise ValueError("default names no set")
        if self.sets[self.default].example:
            raise ValueError("the default set is an example")
        ids = [s.id for ladder in self.sets.values() for s in ladder.steps]
        if len(ids) != len(set(ids)):
            raise ValueError("a step id is used in two sets")
        return self


def load(text: str) -> LadderData:
    """The ladder file's text, validated (pydantic.ValidationError when it is not valid)."""
    raw = json.loads(text)
    raw.pop("_comment", None)
    return LadderData.model_validate(raw)


@lru_cache(maxsize=1)
def data() -> LadderData:
    """The packaged ladder, validated on first use."""
    return load(DATA_FILE.read_text(encoding="utf-8"))


def default_set() -> tuple[str, LadderSet]:
    """The set members are shown: its name and itself."""
    d = data()
    return d.default, d.sets[d.default]


def steps_for(paid_with: str | None, bought_on: str | None, set_name: str | None = None) -> tuple[Step, ...]:
    """The steps of a set (the default one unless named) on a member's path, in order."""
    ladder = data().sets[set_name or data().default]
    return tuple(s for s in ladder.steps if s.applies_to(paid_with, bought_on))


def find_step(step_id: str, set_name: str | None = None) -> Step | None:
    ladder = data().sets[set_name or data().default]
    return next((s for s in ladder.steps if s.id == step_id), None)


class Suggested(NamedTuple):
    """How a member paid and where they bought, as what they reported says (None: it says not)."""

    paid_with: str | None
    bought_on: str | None


def suggested(identifiers: Sequence[Mapping[str, Any]], set_name: str | None = None) -> Suggested:
    """What a member's reported identifiers say of how they paid — the first account of the
    merchant's whose kind the set maps (``payee_kinds``: an Alipay account, a bank card paid
    into) — and where they bought: the first shop link (``{"kind": "shop", "value":
    "taobao:123"}``) whose platform the set maps (``shop_platforms``)."""
    chosen = data().sets[set_name or data().default]
    paid_with = bought_on = None
    for ident in identifiers:
        kind = ident.get("kind")
        if paid_with is None and kind in chosen.payee_kinds:
            paid_with = chosen.payee_kinds[str(kind)]
        elif bought_on is None and kind == "shop":
            platform, sep, _ = str(ident.get("value", "")).partition(":")
            if sep and platform in chosen.shop_platforms:
                bought_on = chosen.shop_platforms[platform]
    return Suggested(paid_with, bought_on)


def effective(
    paid_with: str | None,
    bought_on: str | None,
    identifiers: Sequence[Mapping[str, Any]],
    set_name: str | None = None,
) -> Suggested:
    """How a member paid and where they bought, as the steps follow it: what they said, else
    what their reported identifiers suggest."""
    said = suggested(identifiers, set_name)
    return Suggested(paid_with or said.paid_with, bought_on or said.bought_on)
