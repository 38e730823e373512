"""Deadlines in working days: China's holidays and make-up working days, and the clock per status."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.filings.deadlines import Limits, add_working_days, is_working_day, local_date, next_deadline
from chorus.filings.status import FilingStatus as S

SAMR = Limits("CN", accept_working_days=7, finish_working_days=45)


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


def test_the_clock_per_status() -> None:
    day = date(2026, 9, 29)
    acceptance = date(2026, 10, 14)
    assert next_deadline(S.queued, S.submitted, day, None, SAMR) == acceptance
    # received later: the acceptance clock already runs from the submission
    assert next_deadline(S.submitted, S.received, date(2026, 10, 9), acceptance, SAMR) == acceptance
    # received first (a manual channel): counted from that day
    assert next_deadline(S.queued, S.received, day, None, SAMR) == acceptance
    finish = next_deadline(S.received, S.accepted, date(2026, 10, 12), acceptance, SAMR)
    assert finish == add_working_days(date(2026, 10, 12), 45, "CN")
    assert next_deadline(S.accepted, S.in_mediation, date(2026, 11, 2), finish, SAMR) == finish
    assert next_deadline(S.in_mediation, S.resolved, date(2026, 11, 20), finish, SAMR) == finish
    # a regulator without time limits owes no date
    none = Limits("CN", None, None)
    assert next_deadline(S.queued, S.submitted, day, None, none) is None
    assert next_deadline(S.received, S.accepted, day, None, none) is None


def test_the_clock_runs_on_while_the_regulator_waits_for_material() -> None:
    acceptance = date(2026, 10, 14)
    asked = date(2026, 10, 9)
    # asked while deciding to accept: the acceptance deadline stays
    assert next_deadline(S.received, S.needs_info, asked, acceptance, SAMR) == acceptance
    # the material supplied, back to "received": it still runs from the first day (no new clock)
    later = date(2026, 10, 13)
    back = next_deadline(S.needs_info, S.received, later, acceptance, SAMR, asked_in=S.received)
    assert back == acceptance
    # accepted once it had the material: the conclusion clock starts that day
    accepted = next_deadline(S.needs_info, S.accepted, later, acceptance, SAMR, asked_in=S.received)
    assert accepted == add_working_days(later, 45, "CN")
    # asked after acceptance: the conclusion deadline runs on, and goes on when it resumes
    finish = add_working_days(date(2026, 10, 12), 45, "CN")
    assert next_deadline(S.accepted, S.needs_info, later, finish, SAMR) == finish
    resumed = date(2026, 11, 20)
    # back to "accepted", on to mediation, or an end (whose last deadline stays on record)
    for then in (S.accepted, S.in_mediation, S.rejected):
        assert next_deadline(S.needs_info, then, resumed, finish, SAMR, asked_in=S.accepted) == finish
    # a regulator without time limits still owes no date
    none = Limits("CN", None, None)
    assert next_deadline(S.received, S.needs_info, asked, None, none) is None
