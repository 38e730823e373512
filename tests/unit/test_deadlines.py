"""Deadlines: working days (China's holidays and make-up working days) and calendar days, time
limits as dated rules (the rule in force the day the complaint reached the regulator), the clock a
filing's history runs (paused while the regulator waits for material), provisional dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.filings.deadlines import (
    Clock,
    Rule,
    add_units,
    add_working_days,
    arranged_through,
    clock_of,
    count_units,
    is_working_day,
    local_date,
    read,
    rule_in_force,
)
from chorus.filings.status import MAY_ASK_IN, FilingStatus, Source, can_move, status_when_asked
from chorus.filings.status import FilingStatus as S

CHANGE = date(2026, 4, 15)  # 《市场监督管理投诉举报处理办法》 in force (总局令第121号)
OLD = (
    Rule(
        "acceptance", 7, "working_days", date(2022, 11, 1), CHANGE - timedelta(days=1), "暂行办法", "第十四条"
    ),
    Rule(
        "conclusion",
        45,
        "working_days",
        date(2022, 11, 1),
        CHANGE - timedelta(days=1),
        "暂行办法",
        "第二十一条",
    ),
)
NEW = (
    Rule("acceptance", 7, "working_days", CHANGE, None, "办法"),
    Rule("conclusion", 60, "calendar_days", CHANGE, None, "办法", "第二十三条"),
)
SAMR = OLD + NEW
# a regulator's own limits, in working days and undated
OWN = (Rule("acceptance", 7), Rule("conclusion", 45))
Step = tuple[date, str]


def clock(*steps: Step) -> Clock:
    found = clock_of(steps)
    assert found is not None
    return found


def deadline(steps: Sequence[Step], rules: Sequence[Rule] = SAMR, today: date | None = None) -> date | None:
    c = clock(*steps)
    return read(c, rules, "CN", today or steps[-1][0]).deadline


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # National Day 2026: Oct 1-7 off; Sat Oct 10 is a make-up working day, Sun Oct 11 is not
        (date(2026, 9, 29), 7, date(2026, 10, 14)),
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 10, 9), 1, date(2026, 10, 10)),
        # Spring Festival 2026: Feb 15-23 off; Sat Feb 14 and Sat Feb 28 are worked
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        (date(2026, 2, 14), 1, date(2026, 2, 24)),
        # an ordinary week: Friday + 1 is Monday
        (date(2026, 11, 20), 1, date(2026, 11, 23)),
        # across the new year: Jan 1-3 2026 off, Sun Jan 4 worked
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
    ],
)
def test_chinese_working_days(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days, "CN") == expected


def test_other_calendars() -> None:
    # Thanksgiving 2026 is Thursday Nov 26: Wednesday + 1 working day is Friday
    assert add_working_days(date(2026, 11, 25), 1, "US") == date(2026, 11, 27)
    assert is_working_day(date(2026, 2, 14), "CN") and not is_working_day(date(2026, 2, 14), "US")


@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)), days=st.integers(0, 60))
def test_the_result_is_the_nth_working_day(start: date, days: int) -> None:
    end = add_working_days(start, days, "CN")
    assert is_working_day(end, "CN")
    between = sum(is_working_day(start + timedelta(n), "CN") for n in range(1, (end - start).days + 1))
    assert between == days or (days == 0 and end >= start)


def test_local_date_is_the_regulators_day() -> None:
    late_utc = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # already Nov 26 in Beijing
    assert local_date(late_utc, "CN") == date(2026, 11, 26)
    assert local_date(late_utc, "US") == date(2026, 11, 25)


def test_calendar_days_count_every_day() -> None:
    assert add_units(date(2026, 9, 30), 7, "calendar_days", "CN") == date(2026, 10, 7)  # holidays too
    assert add_units(date(2026, 9, 30), 7, "working_days", "CN") == date(2026, 10, 15)
    assert count_units(date(2026, 9, 30), date(2026, 10, 9), "calendar_days", "CN") == 9
    assert count_units(date(2026, 9, 30), date(2026, 10, 9), "working_days", "CN") == 2  # Oct 8 and 9
    assert count_units(date(2026, 10, 9), date(2026, 10, 9), "working_days", "CN") == 0


def test_the_rule_in_force_on_the_day_the_complaint_reached_the_regulator() -> None:
    assert rule_in_force(SAMR, "conclusion", date(2026, 4, 14)) == OLD[1]
    assert rule_in_force(SAMR, "conclusion", date(2026, 4, 15)) == NEW[1]
    assert rule_in_force(SAMR, "acceptance", date(2022, 10, 31)) is None  # before any rule we hold
    # a regulator's own limits, typed without a citation, apply where no dated rule does
    own = Rule("acceptance", 5)
    assert rule_in_force((*SAMR, own), "acceptance", date(2020, 1, 1)) == own
    assert rule_in_force((own, *SAMR), "acceptance", date(2026, 4, 15)) == NEW[0]
    # received on the last day of the old rule, accepted under the new one: the old rule holds
    old = deadline([(date(2026, 4, 14), "received"), (date(2026, 4, 20), "accepted")])
    assert old == add_working_days(date(2026, 4, 20), 45, "CN")
    new = deadline([(date(2026, 4, 15), "received"), (date(2026, 4, 20), "accepted")])
    assert new == date(2026, 4, 20) + timedelta(days=60)  # calendar days


def test_the_clock_per_status() -> None:
    day = date(2026, 9, 29)
    acceptance = add_working_days(day, 7, "CN")
    assert clock_of([(day, "queued")]) is None  # nothing owed before it is sent
    assert deadline([(day, "queued"), (day, "submitted")]) == acceptance == date(2026, 10, 14)
    # received later: the acceptance clock already runs from the submission
    assert deadline([(day, "submitted"), (date(2026, 10, 9), "received")]) == acceptance
    # received first (a manual channel): counted from that day; notes repeat the status
    assert deadline([(day, "queued"), (day, "received"), (date(2026, 10, 9), "received")]) == acceptance
    accepted = [(day, "received"), (date(2026, 10, 12), "accepted")]
    finish = add_working_days(date(2026, 10, 12), 45, "CN")
    assert deadline(accepted, OWN) == finish
    assert deadline([*accepted, (date(2026, 11, 2), "in_mediation")], OWN) == finish
    # mediation with acceptance unrecorded: the conclusion clock starts that day
    assert deadline([(day, "received"), (date(2026, 10, 12), "in_mediation")], OWN) == finish
    ended = read(clock(*accepted, (date(2026, 11, 20), "resolved")), OWN, "CN", date(2027, 3, 1))
    assert (ended.deadline, ended.overdue, ended.days_used) == (finish, False, 29)  # kept on record
    # a regulator without time limits owes no date
    assert deadline([(day, "received")], rules=()) is None


def test_the_clock_pauses_while_the_regulator_waits_for_material() -> None:
    received, asked, supplied = date(2026, 9, 28), date(2026, 9, 30), date(2026, 10, 9)
    before = read(clock((received, "received")), SAMR, "CN", asked)
    assert (before.deadline, before.days_used) == (date(2026, 10, 13), 2)  # Sep 29 and 30 used
    waiting = read(clock((received, "received"), (asked, "needs_info")), SAMR, "CN", date(2026, 10, 20))
    # paused: the count stops (National Day and the days after are not used), never overdue
    assert waiting.paused and waiting.days_used == 2 and not waiting.overdue
    assert waiting.deadline == before.deadline  # until it resumes
    # supplied on Oct 9: the paused span's working days (Oct 8, 9; not the holiday) move it later
    back = [(received, "received"), (asked, "needs_info"), (supplied, "received")]
    resumed = read(clock(*back), SAMR, "CN", date(2026, 10, 12))
    assert resumed.deadline == add_working_days(before.deadline, 2, "CN") == date(2026, 10, 15)
    assert not resumed.paused and resumed.days_used == 2 + 2  # + Sat Oct 10 (worked) and Mon Oct 12
    # accepted once it had the material: the conclusion clock starts that day
    assert deadline([*back[:2], (supplied, "accepted")]) == supplied + timedelta(days=60)
    # asked after acceptance, then on to mediation: the conclusion clock resumes, and moves on
    accepted = [(received, "accepted"), (asked, "needs_info"), (supplied, "in_mediation")]
    assert deadline(accepted, OWN) == add_working_days(received, 45 + 2, "CN")
    assert deadline(accepted) == received + timedelta(days=60 + 9)  # calendar days: all nine
    # ended while waiting: no deadline owed, the last one stays
    ended = read(clock(back[0], back[1], (supplied, "closed")), SAMR, "CN", date(2026, 12, 1))
    assert ended.deadline == date(2026, 10, 15) and not ended.overdue


def test_calendar_day_rules_pause_in_calendar_days() -> None:
    accepted, asked, supplied = date(2026, 5, 4), date(2026, 5, 10), date(2026, 5, 20)
    steps = [(accepted, "accepted"), (asked, "needs_info"), (supplied, "accepted")]
    got = read(clock(*steps), SAMR, "CN", date(2026, 5, 25))
    assert got.rule == NEW[1] and got.deadline == accepted + timedelta(days=60 + 10)
    assert got.days_used == 21 - 10 and not got.provisional  # calendar days need no arrangement


def test_a_deadline_in_a_year_not_yet_arranged_is_provisional() -> None:
    year = arranged_through("CN")
    assert year is not None and arranged_through("US") is None
    late = read(clock((date(year, 12, 1), "accepted")), OWN, "CN", date(year, 12, 2))
    assert late.deadline is not None and late.deadline.year == year + 1 and late.provisional
    early = read(clock((date(year, 6, 1), "accepted")), OWN, "CN", date(year, 6, 2))
    assert early.deadline is not None and early.deadline.year == year and not early.provisional
    # counted to a day in the next year (overdue since): provisional too
    assert read(clock((date(year, 12, 20), "received")), OWN, "CN", date(year + 1, 1, 5)).provisional
    # calendar days, and calendars of fixed holidays, never are
    rules = (Rule("conclusion", 60, "calendar_days"),)
    assert not read(clock((date(year, 12, 1), "accepted")), rules, "CN", date(year, 12, 2)).provisional
    assert not read(clock((date(year, 12, 1), "accepted")), OWN, "US", date(year, 12, 2)).provisional
    # an ended filing owes nothing: nothing provisional either
    done = clock((date(year, 12, 1), "accepted"), (date(year, 12, 9), "resolved"))
    assert not read(done, OWN, "CN", date(year, 12, 10)).provisional


# --- properties: random histories along the status machine -------------------------------------

DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def histories(draw: st.DrawFn) -> list[Step]:
    """A filing's status changes as an organizer may record them, days apart (same day possible)."""
    day = draw(DAYS)
    status = S.queued
    steps: list[Step] = [(day, status.value)]
    for _ in range(draw(st.integers(1, 8))):
        asked = status_when_asked(s for _, s in steps) if status == S.needs_info else None
        nexts = [s for s in FilingStatus if can_move(status, s, Source.organizer, asked_in=asked)]
        if not nexts:
            break
        status = draw(st.sampled_from(nexts))
        day += timedelta(days=draw(st.integers(0, 40)))
        steps.append((day, status.value))
    return steps


def reading(steps: Sequence[Step], today: date) -> tuple[date | None, int | None]:
    found = clock_of(steps)
    if found is None:
        return None, None
    got = read(found, SAMR, "CN", today)
    return got.deadline, got.days_used


@given(steps=histories(), gap=st.integers(0, 30))
def test_pausing_for_no_time_changes_nothing(steps: list[Step], gap: int) -> None:
    day, status = steps[-1]
    if S(status) not in MAY_ASK_IN:
        return
    today = day + timedelta(days=gap)
    paused = [*steps, (day, S.needs_info.value), (day, status)]
    assert reading(paused, today) == reading(steps, today)


@given(steps=histories(), pause=st.integers(0, 30), then=st.integers(0, 30))
def test_a_pause_moves_the_deadline_by_its_working_days_only(
    steps: list[Step], pause: int, then: int
) -> None:
    day, status = steps[-1]
    if S(status) not in MAY_ASK_IN:
        return
    resumed = day + timedelta(days=pause)
    today = resumed + timedelta(days=then)
    before, after = clock_of(steps), clock_of([*steps, (day, "needs_info"), (resumed, status)])
    assert before is not None and after is not None
    old, new = read(before, SAMR, "CN", today), read(after, SAMR, "CN", today)
    assert old.rule is not None and new.deadline is not None and old.deadline is not None
    span = count_units(day, resumed, old.rule.unit, "CN")
    assert new.deadline == add_units(old.deadline, span, old.rule.unit, "CN") >= old.deadline
    assert old.days_used is not None and new.days_used == old.days_used - span  # the days used are kept
    if old.rule.unit == "working_days":  # holidays and weekends inside the pause are not counted
        assert span == sum(is_working_day(day + timedelta(n), "CN") for n in range(1, pause + 1))


@given(steps=histories())
def test_a_deadline_never_moves_earlier(steps: list[Step]) -> None:
    seen: date | None = None
    for n in range(1, len(steps) + 1):
        found, _ = reading(steps[:n], steps[n - 1][0])
        if found is not None:
            assert seen is None or found >= seen, steps[:n]
            seen = found
