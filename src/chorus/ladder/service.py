"""Escalation ladder use cases (issue 16 item 3): a member's own steps and progress, their
progress on a step, and the organizers' aggregate (counts per step, never who).

The steps are data (:mod:`chorus.ladder.steps`); a step that names a regulator reads its name,
address and time limits from the regulator registry filings use, so a fact lives in one place."""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chorus import db, freshness
from chorus.accounts.schemas import UserRead
from chorus.audit import service as audit
from chorus.cases import service as cases
from chorus.errors import NotFound
from chorus.i18n import t
from chorus.ladder import steps as ladder
from chorus.ladder.schemas import (
    LadderAggregateRead,
    LadderProgressUpdate,
    LadderSetBrief,
    LadderSetList,
    LadderSetRead,
    LadderStepRead,
    MemberLadderRead,
    ProgressRead,
    StepCount,
    StepRegulator,
    WindowRead,
)
from chorus.ladder.tables import LadderProgress
from chorus.regulators import service as regulators


def _today() -> date:
    return datetime.now(UTC).date()


def _add(day: date, limit: int, unit: str) -> date | None:
    """``day`` plus ``limit`` years, months or days (the last day of a shorter month when the day
    does not exist there); None for working days (counting them needs the holiday calendar)."""
    if unit == "days":
        return day + timedelta(days=limit)
    if unit in ("years", "months"):
        months = day.month - 1 + limit * (12 if unit == "years" else 1)
        year, month = day.year + months // 12, months % 12 + 1
        return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
    return None


def _window(step: ladder.Step, incident: date | None) -> WindowRead | None:
    w = step.window_on(_today())
    if w is None:
        return None
    until = _add(incident, w.limit, w.unit) if incident and w.limit and w.unit else None
    return WindowRead.of(w, until)


async def _registry(slugs: Iterable[str | None]) -> dict[str, StepRegulator]:
    """The steps' regulators as the registry has them now, by slug (an inactive or removed one is
    left out: its step shows no address)."""
    wanted = {s for s in slugs if s}
    if not wanted:
        return {}
    ids = {slug: await regulators.id_of(slug) for slug in sorted(wanted)}
    active = {r.id: r for r in await regulators.list_active()}
    return {
        slug: StepRegulator(
            id=active[rid].id,
            name=active[rid].name,
            address=active[rid].address,
            time_limits=active[rid].time_limits,
        )
        for slug, rid in ids.items()
        if rid is not None and rid in active
    }


def title_of(step: ladder.Step, locale: str) -> str:
    platform = t(f"page.ladder.bought_on.{step.platform}", locale) if step.platform else ""
    return t(f"page.ladder.step.{step.text_key}.title", locale, platform=platform)


def _step_read(
    step: ladder.Step,
    locale: str,
    registry: dict[str, StepRegulator],
    *,
    incident: date | None = None,
    progress: ProgressRead | None = None,
) -> LadderStepRead:
    platform = t(f"page.ladder.bought_on.{step.platform}", locale) if step.platform else ""
    return LadderStepRead(
        id=step.id,
        stage=step.stage,
        title=title_of(step, locale),
        what=t(f"page.ladder.step.{step.text_key}.what", locale, platform=platform),
        evidence=list(step.evidence),
        also=list(step.also),
        link=step.link,
        phone=step.phone,
        regulator=registry.get(step.regulator) if step.regulator else None,
        window=_window(step, incident),
        progress=progress,
    )


async def _progress(membership_ids: Sequence[int]) -> list[dict[str, Any]]:
    if not membership_ids:
        return []
    rows = await LadderProgress.select(
        LadderProgress.membership,
        LadderProgress.step,
        LadderProgress.state,
        LadderProgress.happened_on,
        LadderProgress.updated_at,
    ).where(LadderProgress.membership.is_in(list(membership_ids)))
    return [dict(r) for r in rows]


def _next(path: Sequence[ladder.Step], states: dict[str, str]) -> str | None:
    """The first step of the path not started (done and refused ones are behind the member)."""
    return next((s.id for s in path if states.get(s.id, "not_started") == "not_started"), None)


async def member_ladder(case_id: int, *, actor: UserRead, locale: str) -> MemberLadderRead:
    """``GET /api/v1/cases/{id}/ladder``: the caller's own ladder (404 unknown case, 403 not a
    member)."""
    m = await cases.require_member(case_id, actor=actor)
    name, chosen = ladder.default_set()
    identifiers = db.json_value(m["identifiers"]) or []
    suggested = ladder.suggested(identifiers, name)
    path = ladder.steps_for(*ladder.effective(m["paid_with"], m["bought_on"], identifiers, name), name)
    rows = {r["step"]: r for r in await _progress([m["id"]])}
    registry = await _registry(s.regulator for s in path)
    out = []
    for s in path:
        r = rows.get(s.id)
        progress = (
            ProgressRead(state=r["state"], happened_on=r["happened_on"], updated_at=r["updated_at"])
            if r
            else ProgressRead(state="not_started")
        )
        out.append(_step_read(s, locale, registry, incident=m["incident_date"], progress=progress))
    return MemberLadderRead(
        case_id=case_id,
        set=name,
        example=chosen.example,
        paid_with=m["paid_with"],
        bought_on=m["bought_on"],
        paid_with_suggested=suggested.paid_with,
        bought_on_suggested=suggested.bought_on,
        paid_with_options=list(chosen.paid_with),
        bought_on_options=list(chosen.bought_on),
        steps=out,
        next_step=_next(path, {k: r["state"] for k, r in rows.items()}),
    )


async def set_progress(
    case_id: int, step_id: str, *, actor: UserRead, data: LadderProgressUpdate, locale: str
) -> LadderStepRead:
    """``PUT /api/v1/cases/{id}/ladder/{step}``: the caller's progress on one of their steps.
    404 ``ladder_step_not_found`` for a step not on their path (unknown, or for another way of
    paying); a day in the future or before 2000 is refused (422)."""
    day = cases.check_incident_date(data.happened_on or _today(), "happened_on")
    async with db.transaction():
        freshness.nothing_public()
        m = await cases.require_member(case_id, actor=actor)
        step = ladder.find_step(step_id)
        said = ladder.effective(m["paid_with"], m["bought_on"], db.json_value(m["identifiers"]) or [])
        if step is None or not step.applies_to(*said):
            raise NotFound("ladder_step_not_found", field="step")
        await LadderProgress.delete().where(
            (LadderProgress.membership == m["id"]) & (LadderProgress.step == step.id)
        )
        progress = ProgressRead(state="not_started")
        if data.state != "not_started":
            rows = await LadderProgress.insert(
                LadderProgress(membership=m["id"], step=step.id, state=data.state, happened_on=day)
            ).returning(LadderProgress.updated_at)
            progress = ProgressRead(state=data.state, happened_on=day, updated_at=rows[0]["updated_at"])
        await audit.record(
            "ladder.progress",
            actor_id=actor.id,
            object_type="membership",
            object_id=m["id"],
            step=step.id,
            state=data.state,
        )
    registry = await _registry([step.regulator])
    return _step_read(step, locale, registry, incident=m["incident_date"], progress=progress)


async def aggregate(case_id: int, *, actor: UserRead, locale: str) -> LadderAggregateRead:
    """Organizers: per step of the case's ladder, how many members it applies to, how many did
    it or were refused, for how many it is next; how many have no step left. Counts only."""
    await cases.require_organizer(case_id, actor=actor)
    name, chosen = ladder.default_set()
    members = await cases.ladder_profiles(case_id)
    states: dict[int, dict[str, str]] = {}
    for r in await _progress([m.membership_id for m in members]):
        states.setdefault(r["membership"], {})[r["step"]] = r["state"]
    applies: Counter[str] = Counter()
    done: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    next_for: Counter[str] = Counter()
    finished = 0
    said = {m.membership_id: ladder.effective(m.paid_with, m.bought_on, m.identifiers, name) for m in members}
    for m in members:
        path = ladder.steps_for(*said[m.membership_id], name)
        mine = states.get(m.membership_id, {})
        for s in path:
            applies[s.id] += 1
            state = mine.get(s.id)
            if state == "done":
                done[s.id] += 1
            elif state == "refused":
                refused[s.id] += 1
        upcoming = _next(path, mine)
        if upcoming is None:
            finished += 1
        else:
            next_for[upcoming] += 1
    return LadderAggregateRead(
        case_id=case_id,
        set=name,
        members=len(members),
        described=sum(1 for m in members if any(said[m.membership_id])),
        finished=finished,
        steps=[
            StepCount(
                id=s.id,
                stage=s.stage,
                title=title_of(s, locale),
                applies=applies[s.id],
                done=done[s.id],
                refused=refused[s.id],
                next_for=next_for[s.id],
            )
            for s in chosen.steps
            if applies[s.id]
        ],
    )


async def ladder_set(name: str, *, locale: str) -> LadderSetRead:
    """``GET /api/v1/ladders/{name}``: a set as data (public), its regulators from the registry."""
    d = ladder.data()
    chosen = d.sets.get(name)
    if chosen is None:
        raise NotFound("ladder_set_not_found", field="name")
    registry = await _registry(s.regulator for s in chosen.steps)
    return LadderSetRead(
        name=name,
        region=chosen.region,
        example=chosen.example,
        default=name == d.default,
        version=d.version,
        paid_with=list(chosen.paid_with),
        bought_on=list(chosen.bought_on),
        steps=[_step_read(s, locale, registry) for s in chosen.steps],
    )


def sets() -> LadderSetList:
    """``GET /api/v1/ladders``: the sets (public)."""
    d = ladder.data()
    return LadderSetList(
        items=[
            LadderSetBrief(name=n, region=s.region, example=s.example, default=n == d.default)
            for n, s in d.sets.items()
        ]
    )
