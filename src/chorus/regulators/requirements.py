"""What a regulator requires of each complainant (issue 14 item 8): dated, cited rules read from
``data/complainant_requirements.json``. Pure: no database, no I/O beyond the packaged file.

A rule names the identity fields (``chorus.accounts.identity.FIELDS``) a complaint to that
regulator must state for each complainant; a filing uses the rule in force on the day it is
sent. A regulator with no rule requires nothing beyond the complaint itself.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ConsentBasis", "Requirement", "consent_basis", "regulator_slugs", "required_fields", "rules_for"]

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "complainant_requirements.json"
KNOWN_FIELDS = ("real_name", "phone", "id_number", "address")


class Requirement(BaseModel):
    """One rule: the fields it requires and where that was read."""

    model_config = ConfigDict(frozen=True)

    rule: str
    article: str | None
    fields: tuple[str, ...]
    text_excerpt: str
    source_url: str
    valid_from: date | None = None
    valid_to: date | None = None
    confirmed: bool
    note: str = ""

    def in_force(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


class ConsentBasis(BaseModel):
    """A legal basis of the separate consent members give for their details."""

    model_config = ConfigDict(frozen=True)

    rule: str
    article: str | None
    text_excerpt: str
    source_url: str
    confirmed: bool
    note: str = ""


@lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    for rules in raw["sets"].values():
        for rule in rules:
            unknown = set(rule["fields"]) - set(KNOWN_FIELDS)
            if unknown:
                raise ValueError(f"{DATA_FILE.name}: unknown fields {sorted(unknown)}")
    return raw


def rules_for(slug: str) -> tuple[Requirement, ...]:
    """Every rule (past, present and future) of the regulator ``slug``; none when not recorded."""
    data = _data()
    name = data["regulators"].get(slug)
    if name is None:
        return ()
    return tuple(Requirement.model_validate(r) for r in data["sets"][name])


def regulator_slugs() -> tuple[str, ...]:
    """The regulators (by slug) that have rules recorded."""
    return tuple(_data()["regulators"])


def required_fields(slug: str, on: date) -> tuple[str, ...]:
    """The fields the regulator requires of each complainant on ``on``, in :data:`KNOWN_FIELDS`
    order (the union of the rules in force that day)."""
    wanted = {f for r in rules_for(slug) if r.in_force(on) for f in r.fields}
    return tuple(f for f in KNOWN_FIELDS if f in wanted)


def consent_basis() -> tuple[ConsentBasis, ...]:
    """The articles the separate consent rests on, as read."""
    return tuple(ConsentBasis.model_validate(c) for c in _data()["consent"])
