"""The filing status machine: forward along the main line, into an end, never out of one."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chorus.filings.deadlines import is_overdue
from chorus.filings.status import ENDS, MAIN_LINE, FilingStatus, Source, can_move, is_end

statuses = st.sampled_from(list(FilingStatus))
sources = st.sampled_from(list(Source))


@pytest.mark.parametrize(
    ("current", "new", "source", "allowed"),
    [
        ("queued", "submitted", Source.worker, True),
        ("queued", "accepted", Source.organizer, True),  # a step skipped: the regulator was reached
        ("submitted", "received", Source.regulator, True),
        ("accepted", "submitted", Source.organizer, False),  # backwards
        ("received", "received", Source.organizer, False),  # no move
        ("submitted", "failed", Source.worker, True),
        ("submitted", "failed", Source.organizer, False),  # only the channel gives up
        ("submitted", "withdrawn", Source.organizer, True),
        ("submitted", "withdrawn", Source.regulator, False),
        ("in_mediation", "rejected", Source.regulator, True),
        ("resolved", "closed", Source.organizer, False),  # an end is final
        ("failed", "queued", Source.worker, False),
    ],
)
def test_examples(current: str, new: str, source: Source, allowed: bool) -> None:
    assert can_move(current, new, source) is allowed


@given(current=statuses, new=statuses, source=sources)
def test_rules_hold_for_every_pair(current: FilingStatus, new: FilingStatus, source: Source) -> None:
    ok = can_move(current, new, source)
    if current in ENDS or new == current or new == FilingStatus.queued:
        assert not ok
    if ok and new not in ENDS:
        assert MAIN_LINE.index(new) > MAIN_LINE.index(current)


@given(path=st.lists(st.tuples(statuses, sources), max_size=30))
def test_any_walk_ends_at_most_once_and_never_goes_back(path: list[tuple[FilingStatus, Source]]) -> None:
    status = FilingStatus.queued
    seen = [status]
    for new, source in path:
        if can_move(status, new, source):
            status = new
            seen.append(status)
    assert sum(1 for s in seen if is_end(s)) <= 1
    line = [MAIN_LINE.index(s) for s in seen if s in MAIN_LINE]
    assert line == sorted(line) and len(set(line)) == len(line)


def test_overdue_only_while_waiting_past_the_deadline() -> None:
    day = date(2026, 12, 1)
    assert is_overdue("submitted", date(2026, 11, 30), day) is True
    assert is_overdue("submitted", day, day) is False  # the deadline day itself is still in time
    assert is_overdue("resolved", date(2026, 11, 30), day) is False
    assert is_overdue("submitted", None, day) is False


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_next_step_has_text(locale: str) -> None:
    from chorus.filings.service import NEXT_STEP
    from chorus.i18n import catalog

    for code in NEXT_STEP.values():
        assert catalog(locale).get(f"filing.next_step.{code}"), code
